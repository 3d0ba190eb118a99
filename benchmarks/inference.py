"""Inference cost of a trained model: the whole held-out split, and one sample.

Besides the two networks, an ``onnxruntime`` row: the trained scratch network
exported to ONNX and run by ONNX Runtime's CPU provider (skipped where onnx
or onnxruntime is not installed, or the commit has no ``scratchnet.onnx_export``).
"""
import os
import tempfile

from .common import MODEL_FRAMEWORKS, PRESET_NAMES, THREADS, TrainedBenchmark, build, use_threads

INFERENCE_FRAMEWORKS = MODEL_FRAMEWORKS + ["onnxruntime"]

# Trained models of this benchmark process, built once by the first setup.
_models = {}


def onnxruntime_model(scratch_weights, preset):
    """The trained scratch network run by ONNX Runtime, or NotImplementedError saying why not."""
    try:
        from scratchnet.onnx_export import OnnxRuntimeModel, export_onnx, is_onnx_available
    except ImportError as exc:
        raise NotImplementedError(f"scratchnet.onnx_export is missing at this commit: {exc}")
    if not is_onnx_available():
        raise NotImplementedError("onnx/onnxruntime are not installed")
    model = build("scratch_numpy", preset)
    model.set_weights(scratch_weights)
    with tempfile.TemporaryDirectory() as folder:
        path = export_onnx(model, os.path.join(folder, "model.onnx"))
        return OnnxRuntimeModel(path, loss=model.loss, threads=THREADS)


class Inference(TrainedBenchmark):
    # asv_runner times one call per sample when a class has setup. That is
    # kept on purpose: setup only looks up an already built model (so it does
    # not disturb the caches the timed call uses), a forward pass of tens of
    # microseconds is far above perf_counter's resolution, and many single-call
    # samples give a median of the latency a caller sees.
    number = 1
    repeat = (20, 200, 5.0)
    warmup_time = 0.1
    params = [INFERENCE_FRAMEWORKS, PRESET_NAMES]
    param_names = ["framework", "preset"]
    version = "2"

    def setup(self, cache, framework, preset):
        data, _ = cache
        if (framework, preset) not in _models:
            if framework == "onnxruntime":
                model = onnxruntime_model(self.trained(cache, "scratch_numpy", preset)["weights"], preset)
            else:
                model = self.make_model(framework, preset)
                model.set_weights(self.trained(cache, framework, preset)["weights"])
            _models[framework, preset] = model
        self.model = _models[framework, preset]
        self.X_test = data[preset][2]
        self.one_sample = self.X_test[:1]
        use_threads()

    def time_inference(self, cache, framework, preset):
        self.model.forward(self.X_test, training=False, precision="float32")

    def time_inference_single(self, cache, framework, preset):
        self.model.forward(self.one_sample, training=False, precision="float32")
