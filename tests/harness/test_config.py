"""A comparison's settings are checked once, in one place, whatever they come from."""
import dataclasses

import pytest

from scratchnet.harness.config import WORKER_TIMEOUT, Config
from scratchnet.harness.presets import ALL_PRESETS


def test_a_preset_becomes_a_checked_frozen_config():
    config = Config.of(**ALL_PRESETS["default"])
    assert config.layer_sizes == (784, 64, 10) and config.activations == ("relu", "softmax")
    assert config.dataset == "digits" and config.threads == 1
    assert config.time_limit == WORKER_TIMEOUT
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 9
    assert Config.of(**config.settings()) == config  # its settings round-trip


@pytest.mark.parametrize("settings,error,words", [
    ({"epoch": 3}, TypeError, "unknown setting 'epoch'; the settings are: activations"),
    ({"epochs": 0}, ValueError, "epochs"),
    ({"alpha": -1}, ValueError, "alpha"),
    ({"precision": "float8"}, ValueError, "precision"),
    ({"layer_sizes": [784, 64, 4]}, ValueError, "layer_sizes[-1] must be at least 10"),
    ({"target_accuracy": 90}, ValueError, "target_accuracy must be a held-out accuracy in (0, 1]"),
    ({"time_limit": 0}, ValueError, "time_limit"),
])
def test_a_bad_setting_is_named(settings, error, words):
    with pytest.raises(error) as raised:
        Config.of(**{**ALL_PRESETS["default"], **settings})
    assert words in str(raised.value)


def test_the_report_gets_the_settings_it_shows():
    plain = Config.of(**ALL_PRESETS["default"])
    assert "target_accuracy" not in plain.columns() and plain.columns()["n_samples"] == 512
    goal = Config.of(**ALL_PRESETS["time_to_accuracy"])
    assert goal.columns()["target_accuracy"] == 0.9 and goal.columns()["max_epochs"] == 20
