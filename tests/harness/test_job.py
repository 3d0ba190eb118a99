"""The job that crosses to a comparison worker: written and read back exactly, nothing pickled."""
import dataclasses
import json

import numpy as np
import pytest

from scratchnet.harness.job import Job


def job():
    rng = np.random.default_rng(0)
    return Job(layer_sizes=[6, 4, 3], activations=["relu", "softmax"], loss="mse", n_samples=8,
               epochs=2, batch_size=4, alpha=0.1, seed=1, precision="float32", repeats=3,
               warmup=1, threads=1, rounds=2, roofline=False, dataset="synthetic",
               models={"mine": {"spec": "/x/net.py:Net", "layout": "out_in"}},
               python_path=["/x"],
               data=(rng.random((8, 6)), np.arange(8) % 3, rng.random((2, 6)), np.array([0, 2])))


def test_a_job_is_read_back_as_it_was_written(tmp_path):
    written = job()
    written.save(tmp_path)
    read = Job.load(tmp_path)
    assert read.settings() == written.settings()
    for mine, theirs in zip(read.data, written.data):
        assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs)
    assert "data" not in json.loads((tmp_path / "job.json").read_text())


def test_a_job_never_unpickles(tmp_path):
    original = job()
    written = dataclasses.replace(original, data=(np.array([object()], dtype=object),)
                                  + original.data[1:])
    with pytest.raises(ValueError, match="allow_pickle"):
        written.save(tmp_path)
        Job.load(tmp_path)


def test_a_job_names_its_user_frameworks():
    entry = job().framework("mine")
    assert (entry.spec, entry.layout) == ("/x/net.py:Net", "out_in")
    assert job().framework("pytorch").name == "pytorch"
    with pytest.raises(ValueError, match="unknown framework 'nope'"):
        job().framework("nope")


def test_a_job_is_frozen_and_its_settings_are_a_configs():
    """What the worker reads cannot change on the way: the settings are ``Config``'s fields."""
    from scratchnet.harness.config import Config
    with pytest.raises(dataclasses.FrozenInstanceError):
        job().epochs = 5
    config_fields = {field.name for field in dataclasses.fields(Config)}
    assert config_fields <= set(job().settings())
    assert set(job().settings()) - config_fields == {"models", "python_path", "regions"}


def test_a_measurement_crosses_back_as_json_and_nothing_else_is_taken():
    """The worker's answer is typed: columns, every timed run, the contention window."""
    from scratchnet.harness.result import Measured
    sent = Measured({"status": "ok", "notes": "", "train_time_per_epoch_s": 0.5},
                    {"train_time_per_epoch_s": [0.4, 0.5, 0.6]}, {"contention": 0.01})
    back = Measured.from_json(sent.to_json())
    assert back == sent and back.ok and not Measured.error("boom").ok
    for text in ('{"status": "ok"}', '[1, 2]',
                 '{"columns": {}, "runs": {}, "contention": null}'):
        with pytest.raises(ValueError, match="not a worker's measurement"):
            Measured.from_json(text)
