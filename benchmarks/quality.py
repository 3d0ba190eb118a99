"""Correctness across commits: a change that breaks the function shows up here,
not only one that breaks speed. Both figures are lower-is-better, as asv reads
every figure (``scratchnet export`` reports the accuracy as 1 - error rate).
"""
import numpy as np

from .common import FRAMEWORKS, PRESET_NAMES, TrainedBenchmark


class Accuracy(TrainedBenchmark):
    params = [FRAMEWORKS, PRESET_NAMES]
    param_names = ["framework", "preset"]
    version = "1"

    def setup(self, cache, framework, preset):
        self.trained(cache, framework, preset)

    def track_error_rate(self, cache, framework, preset):
        """Held-out error rate (1 - accuracy) after the preset's training."""
        return 1.0 - self.trained(cache, framework, preset)["accuracy"]

    track_error_rate.unit = "fraction"


class Parity(TrainedBenchmark):
    """A property of the pair, so the only parameter is the preset."""

    params = [PRESET_NAMES]
    param_names = ["preset"]
    version = "1"

    def setup(self, cache, preset):
        for framework in FRAMEWORKS:
            self.trained(cache, framework, preset)

    def track_parity(self, cache, preset):
        """Largest |p_scratch - p_torch| on the held-out split after identical training."""
        scratch, torch = (self.trained(cache, framework, preset)["proba"] for framework in FRAMEWORKS)
        return float(np.max(np.abs(scratch - torch)))

    track_parity.unit = "max abs diff"
