"""Inference cost of a trained model: the whole held-out split, and one sample."""
from .common import (FRAMEWORKS, PRESET_NAMES, FrameworkPresetBenchmark, all_preset_data, build,
                     train, use_all_cores)


# Trained models of this benchmark process, built once by the first setup.
_models = {}


class Inference(FrameworkPresetBenchmark):
    # asv_runner times one call per sample when a class has setup. That is
    # kept on purpose: setup only looks up an already built model (so it does
    # not disturb the caches the timed call uses), a forward pass of tens of
    # microseconds is far above perf_counter's resolution, and many single-call
    # samples give a median of the latency a caller sees.
    number = 1
    repeat = (20, 200, 5.0)
    warmup_time = 0.1

    def setup_cache(self):
        """The data, and every model's weights after the preset's training (trained once)."""
        data = all_preset_data()
        weights = {}
        for framework in FRAMEWORKS:
            for preset in PRESET_NAMES:
                try:
                    weights[framework, preset] = train(build(framework, preset), preset,
                                                       data[preset]).get_weights()
                except NotImplementedError:
                    pass
        return data, weights

    def setup(self, cache, framework, preset):
        data, weights = cache
        if (framework, preset) not in _models:
            if (framework, preset) not in weights:
                build(framework, preset)  # raises NotImplementedError with the reason
            model = build(framework, preset)
            model.set_weights(weights[framework, preset])
            _models[framework, preset] = model
        self.model = _models[framework, preset]
        self.X_test = data[preset][2]
        self.one_sample = self.X_test[:1]
        use_all_cores()

    def time_inference(self, cache, framework, preset):
        self.model.forward(self.X_test, training=False, precision="float32")

    def time_inference_single(self, cache, framework, preset):
        self.model.forward(self.one_sample, training=False, precision="float32")
