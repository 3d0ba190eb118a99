"""Correctness across commits: a change that breaks the function shows up here,
not only one that breaks speed. Both figures are lower-is-better, as asv reads
every figure (``scratchnet export`` reports the accuracy as 1 - error rate)."""
import numpy as np

from .common import (FRAMEWORKS, PRESET_NAMES, FrameworkPresetBenchmark, all_preset_data, build,
                     train)


class Accuracy(FrameworkPresetBenchmark):
    def setup(self, data, framework, preset):
        build(framework, preset)

    def track_error_rate(self, data, framework, preset):
        """Held-out error rate (1 - accuracy) after the preset's training: lower is better,
        as asv reads every figure."""
        X_test, y_test = data[preset][2], data[preset][3]
        model = train(build(framework, preset), preset, data[preset])
        return 1.0 - float(model.evaluate(X_test, y_test)["accuracy"])

    track_error_rate.unit = "fraction"


class Parity:
    """A property of the pair, so the only parameter is the preset."""

    params = [PRESET_NAMES]
    param_names = ["preset"]
    version = "1"
    timeout = 300

    def setup_cache(self):
        return all_preset_data()

    def setup(self, data, preset):
        for framework in FRAMEWORKS:
            build(framework, preset)

    def track_parity(self, data, preset):
        """Largest |p_scratch - p_torch| on the held-out split after identical training."""
        X_test = data[preset][2]
        probabilities = [train(build(framework, preset), preset, data[preset]).predict_proba(X_test)
                         for framework in FRAMEWORKS]
        return float(np.max(np.abs(probabilities[0].astype(np.float64) - probabilities[1])))

    track_parity.unit = "max abs diff"
