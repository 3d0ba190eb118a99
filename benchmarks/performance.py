"""Speed relative to PyTorch and to the machine's GEMM rate.

Absolute times move with the machine; these ratios are what the performance
work promises, so a regression in our speed *relative to PyTorch* shows in the
history. They are measured exactly as `scratchnet compare --roofline` does:
each framework in a fresh worker process with the same thread count, medians
of timed runs, sgemm at 2048x2048 as the roofline.
"""
from .common import FRAMEWORKS, PRESET_NAMES, PRESETS, THREADS, use_threads


def _measure_all():
    """Rows of scratchnet compare for every preset, or {} where this commit lacks it (never
    None: asv would then call setup without the cache argument)."""
    import inspect
    try:
        from scratchnet.benchmark import limit_threads, measure_sgemm_gflops
        from scratchnet.compare import add_roofline, benchmark_scratch_vs_torch
    except ImportError:
        return {}
    # each worker measures its own sgemm rate, as compare --roofline does; commits from
    # before that (no roofline argument) get one sgemm rate, measured here
    per_worker = "roofline" in inspect.signature(benchmark_scratch_vs_torch).parameters
    rows = {}
    for preset in PRESET_NAMES:
        settings = dict(**PRESETS[preset], repeats=7, warmup=2, frameworks=FRAMEWORKS,
                        threads=THREADS)
        if per_worker:
            measured = benchmark_scratch_vs_torch(**settings, roofline=True)
        else:
            measured = benchmark_scratch_vs_torch(**settings)
            with limit_threads(measured[0]["threads"]):
                add_roofline(measured, measure_sgemm_gflops())
        rows[preset] = {row["framework"]: row for row in measured}
    return rows


class _Roofline:
    version = "2"  # "2": one thread (before: all cores)
    timeout = 900

    def setup_cache(self):
        return _measure_all()

    def _rows(self, cache, preset):
        if not cache:
            raise NotImplementedError("scratchnet.compare's roofline is missing at this commit")
        rows = cache[preset]
        if any(row["status"] != "ok" for row in rows.values()):
            raise NotImplementedError(f"a framework did not run: {[r['notes'] for r in rows.values()]}")
        return rows


class TrainingRoofline(_Roofline):
    # "2": the sgemm rate is now measured in each framework's worker (before: once, here);
    # "3": one thread (before: all cores).
    version = "3"
    params = [FRAMEWORKS, PRESET_NAMES]
    param_names = ["framework", "preset"]

    def setup(self, cache, framework, preset):
        self._rows(cache, preset)
        use_threads()

    def track_train_gflops(self, cache, framework, preset):
        """Achieved training GFLOP/s (6 x sum(fan_in x fan_out) x n per epoch)."""
        return self._rows(cache, preset)[framework]["train_gflops_per_s"]

    track_train_gflops.unit = "GFLOP/s"

    def track_fraction_of_sgemm(self, cache, framework, preset):
        """Achieved training GFLOP/s over NumPy's sgemm rate at 2048x2048."""
        return self._rows(cache, preset)[framework]["fraction_of_sgemm"]

    track_fraction_of_sgemm.unit = "fraction"


class SpeedAgainstTorch(_Roofline):
    """A property of the pair, so the only parameter is the preset."""

    params = [PRESET_NAMES]
    param_names = ["preset"]

    def setup(self, cache, preset):
        self._rows(cache, preset)

    def track_train_time_ratio(self, cache, preset):
        """scratch_numpy's training time per epoch over PyTorch's (below 1: we are faster)."""
        rows = self._rows(cache, preset)
        return rows["scratch_numpy"]["train_time_per_epoch_s"] / rows["pytorch"]["train_time_per_epoch_s"]

    track_train_time_ratio.unit = "ratio"
