"""Training cost: one epoch from a fresh model, and memory to build and train."""
from .common import FrameworkPresetBenchmark, build, train, use_threads


class Training(FrameworkPresetBenchmark):
    # setup builds a fresh model before every timed call, so each call trains
    # an untrained model (asv_runner times such calls one at a time).
    number = 1
    repeat = (5, 20, 20.0)
    warmup_time = 0.2

    def setup(self, data, framework, preset):
        self.model = build(framework, preset)
        use_threads()

    def time_train_epoch(self, data, framework, preset):
        train(self.model, preset, data[preset], epochs=1)


class TrainingMemory(FrameworkPresetBenchmark):
    """Peak memory of building and training one model with the preset's settings."""

    def setup(self, data, framework, preset):
        build(framework, preset)  # imports the framework and fails early where it is missing
        use_threads()

    def peakmem_train(self, data, framework, preset):
        # asv's figure: the benchmark process's lifetime peak RSS, imports included.
        train(build(framework, preset), preset, data[preset])


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
        build(framework, preset)
        use_threads()

    def track_train_memory_mb(self, data, framework, preset):
        _, peak_mb = self.measure(lambda: train(build(framework, preset), preset, data[preset]))
        return peak_mb

    track_train_memory_mb.unit = "MB"
