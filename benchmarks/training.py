"""Training cost: one epoch from a fresh model, and the memory to build and train one.

There is no ``peakmem_`` benchmark: asv's figure is the benchmark process's
lifetime peak RSS, and asv forks each benchmark process from a server that has
imported the suite, so it measures what that server held as much as the
training. ``MemoryAboveBaseline`` measures the training alone, as
``scratchnet compare`` does.
"""
from .common import FrameworkPresetBenchmark, train, use_threads


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
