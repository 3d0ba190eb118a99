"""Training cost: one epoch from a fresh model, and the memory to build and train one.

There is no ``peakmem_`` benchmark: asv's figure is the benchmark process's
lifetime peak RSS, and asv forks each benchmark process from a server that has
imported the suite, so it measures what that server held as much as the
training. ``MemoryAboveBaseline`` measures the training alone, as
``scratchnet compare`` does.
"""
from .common import (FRAMEWORKS, GOAL_PRESETS, FrameworkPresetBenchmark, ModelBenchmark,
                     load_preset_data, train, use_threads)


class Training(FrameworkPresetBenchmark):
    # setup builds a fresh model before every timed call, so each call trains
    # an untrained model (asv_runner times such calls one at a time).
    number = 1
    repeat = (5, 20, 20.0)
    warmup_time = 0.2

    def setup(self, data, framework, preset):
        self.model = self.make_model(framework, preset)
        use_threads()

    def time_train_epoch(self, data, framework, preset):
        train(self.model, preset, data[preset], epochs=1)


class MemoryAboveBaseline(FrameworkPresetBenchmark):
    """scratchnet compare's peak_memory_mb: the RSS high-water mark while a model is
    built and trained, above the RSS just before (needs scratchnet.benchmark)."""

    def setup(self, data, framework, preset):
        try:
            from scratchnet import benchmark
        except ImportError:
            raise NotImplementedError("scratchnet.benchmark is missing at this commit")
        # every commit with scratchnet.benchmark has it: a rename must fail, not skip
        self.measure = benchmark._measure_peak_memory_mb
        self.skip(framework)
        use_threads()

    def track_train_memory_mb(self, data, framework, preset):
        _, peak_mb = self.measure(lambda: train(self.make_model(framework, preset), preset,
                                                data[preset]))
        return peak_mb

    track_train_memory_mb.unit = "MB"


class TimeToAccuracy(ModelBenchmark):
    """Seconds of training until the held-out accuracy, checked after each epoch, reaches
    the preset's target (DAWNBench's and MLPerf Training's time-to-accuracy), the
    evaluations left out: the median of three fresh models after one to warm up
    (``scratchnet.benchmark.measure_time_to_accuracy``, as ``compare --target-accuracy``)."""

    params = [FRAMEWORKS, list(GOAL_PRESETS)]
    param_names = ["framework", "preset"]
    version = "1"
    timeout = 300

    def setup_cache(self):
        return {name: load_preset_data(name) for name in GOAL_PRESETS}

    def setup(self, data, framework, preset):
        try:
            from scratchnet.benchmark import measure_time_to_accuracy
        except ImportError:
            raise NotImplementedError("scratchnet.benchmark.measure_time_to_accuracy is missing "
                                      "at this commit")
        self.measure = measure_time_to_accuracy
        self.skip(framework)
        use_threads()

    def track_time_to_accuracy(self, data, framework, preset):
        settings = GOAL_PRESETS[preset]
        result = self.measure(lambda: self.make_model(framework, preset), *data[preset],
                              settings["target_accuracy"], settings["max_epochs"],
                              settings["alpha"], settings["batch_size"], seed=settings["seed"],
                              repeats=3, warmup=1)
        if result["seconds"] is None:
            raise RuntimeError(f"{framework} did not reach {settings['target_accuracy']} in "
                               f"{settings['max_epochs']} epochs: best {result['best_accuracy']:.4g}")
        return float(result["seconds"])

    track_time_to_accuracy.unit = "seconds"
