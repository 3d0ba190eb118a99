"""Correctness across commits: a change that breaks the function shows up here,
not only one that breaks speed. Both figures are lower-is-better, as asv reads
every figure (``scratchnet export`` reports the accuracy as 1 - error rate).
"""
import numpy as np

from .common import FRAMEWORKS, MODEL_FRAMEWORKS, PRESET_NAMES, USER_MODELS, TrainedBenchmark


class Accuracy(TrainedBenchmark):
    params = [MODEL_FRAMEWORKS, PRESET_NAMES]
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


if USER_MODELS:  # only where SCRATCHNET_MODELS names classes: asv needs a parameter value
    class YourParity(TrainedBenchmark):
        """Each of your classes (``SCRATCHNET_MODELS``) against the PyTorch twin."""

        params = [list(USER_MODELS), PRESET_NAMES]
        param_names = ["framework", "preset"]
        version = "1"

        def setup(self, cache, framework, preset):
            for name in (framework, "pytorch"):
                self.trained(cache, name, preset)

        def track_parity_with_the_twin(self, cache, framework, preset):
            """Largest |p_yours - p_torch| on the held-out split after identical training."""
            mine, torch = (self.trained(cache, name, preset)["proba"] for name in (framework, "pytorch"))
            return float(np.max(np.abs(mine - torch)))

        track_parity_with_the_twin.unit = "max abs diff"
