"""train -> predict -> export-onnx -> compare, run as a user runs them (subprocesses), and
the bad input each must refuse with one line, a non-zero status and nothing written."""
import importlib.util
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from helpers import assert_close, one_line, scratchnet, scratchnet_process
from scratchnet import NeuralNetwork
from scratchnet.data import load_dataset

MARKER = "pickle-code-ran"


def assert_refused(result, *words):
    """Exit status non-zero, one line on stderr that says ``words``, no traceback."""
    assert result.returncode != 0, result.stdout
    line = one_line(result.stderr)
    for word in words:
        assert word in line, line


TRAIN = ["train", "--layer-sizes", "64,24,10", "--activations", "relu,softmax", "--loss",
         "cross_entropy", "--epochs", "3", "--alpha", "0.1", "--batch-size", "32"]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A folder with model.npz (trained by `scratchnet train`) and the held-out digits as
    X.npy and X.csv (with a header row)."""
    folder = tmp_path_factory.mktemp("commands")
    result = scratchnet_process(*TRAIN, "--out", str(folder / "model.npz"), "--validation")
    assert result.returncode == 0, result.stderr
    (folder / "train.out").write_text(result.stdout)
    X_test, y_test = load_dataset("digits", n_features=64, seed=42)[2:]
    np.save(folder / "X.npy", X_test)
    np.save(folder / "y.npy", y_test)
    header = ",".join(f"pixel{i}" for i in range(64))
    np.savetxt(folder / "X.csv", X_test, delimiter=",", header=header, comments="", fmt="%.8g")
    return folder


def test_train_prints_every_epoch_and_saves_a_loadable_checkpoint(work):
    out = (work / "train.out").read_text().splitlines()
    epochs = [line for line in out if line.startswith("epoch ")]
    assert [line.split()[1] for line in epochs] == ["1/3", "2/3", "3/3"]
    for line in epochs:
        fields = line.split()
        names = fields[2::2]
        assert names == ["loss", "accuracy", "val_loss", "val_accuracy"], line
        assert all(np.isfinite(float(value)) for value in fields[3::2])
    model = NeuralNetwork.load(work / "model.npz")
    assert model.layer_sizes == [64, 24, 10] and model.loss == "cross_entropy"
    X_test, y_test = np.load(work / "X.npy"), np.load(work / "y.npy")
    accuracy = model.evaluate(X_test, y_test)["accuracy"]
    assert f"held-out: accuracy {accuracy:.4f}" in "\n".join(out)
    assert accuracy > 0.8  # 3 epochs of cross-entropy on the digits learn them
    last_val = float(epochs[-1].split()[-1])
    assert last_val == pytest.approx(accuracy, abs=1e-4)  # --validation is the held-out split


def test_train_without_validation_prints_loss_and_accuracy_only(tmp_path):
    result = scratchnet(*TRAIN[:-6], "--epochs", "1", "--out", str(tmp_path / "m.npz"))
    assert result.returncode == 0, result.stderr
    (epoch,) = [line for line in result.stdout.splitlines() if line.startswith("epoch ")]
    assert epoch.split()[2::2] == ["loss", "accuracy"]
    assert (tmp_path / "m.npz").is_file()


def test_train_on_a_terminal_shows_a_progress_line(tmp_path):
    pty = pytest.importorskip("pty")
    controller, terminal = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "scratchnet", *TRAIN[:-6], "--epochs", "3",
                                "--out", str(tmp_path / "m.npz")], stdout=terminal,
                               stderr=subprocess.PIPE)
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        output += chunk
    assert process.wait(timeout=300) == 0, process.stderr.read()
    os.close(controller)
    text = output.decode()
    # one line rewritten in place: a bar per epoch, each after a carriage return
    assert text.count("\r[") == 3, text
    assert "[####################] epoch 3/3" in text and "left" in text


@pytest.mark.parametrize("source", ["X.npy", "X.csv"])
def test_predict_writes_the_models_labels(work, tmp_path, source):
    result = scratchnet_process("predict", str(work / "model.npz"), "--input", str(work / source),
                                "--output", str(tmp_path / "preds.csv"))
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "preds.csv").read_text().splitlines()
    assert lines[0] == "prediction"
    expected = NeuralNetwork.load(work / "model.npz").predict(np.load(work / "X.npy"))
    np.testing.assert_array_equal([int(v) for v in lines[1:]], expected)


def test_predict_proba_at_each_precision(work, tmp_path):
    model = NeuralNetwork.load(work / "model.npz")
    X = np.load(work / "X.npy")
    # float32: a few ulp, since the command's process may run BLAS with another thread count
    # (hence another summation order) than this one
    for precision, atol in (("float64", 1e-15), ("float32", 1e-6), ("float16", 1e-3)):
        result = scratchnet("predict", str(work / "model.npz"), "--input", str(work / "X.npy"),
                            "--proba", "--precision", precision)
        assert result.returncode == 0, result.stderr
        rows = result.stdout.splitlines()  # no --output: CSV on standard output
        assert rows[0] == "prediction," + ",".join(f"p_{k}" for k in range(10))
        table = np.array([[float(v) for v in row.split(",")] for row in rows[1:]])
        expected = model.forward(X, precision=precision)
        assert_close(table[:, 1:], expected, atol, f"--proba --precision {precision}")
        np.testing.assert_array_equal(table[:, 0], expected.argmax(axis=1))


def test_predict_to_npy_and_with_the_pytorch_engine(work, tmp_path):
    pytest.importorskip("torch")
    result = scratchnet("predict", str(work / "model.npz"), "--input", str(work / "X.npy"),
                        "--proba", "--framework", "pytorch", "--output", str(tmp_path / "p.npy"))
    assert result.returncode == 0, result.stderr
    saved = np.load(tmp_path / "p.npy", allow_pickle=False)
    expected = NeuralNetwork.load(work / "model.npz").forward(np.load(work / "X.npy"))
    assert_close(saved, expected, 1e-6, "torch engine on a checkpoint trained by scratch")


def test_a_pytorch_checkpoint_predicts_with_the_numpy_engine(tmp_path):
    pytest.importorskip("torch")
    result = scratchnet(*TRAIN[:-6], "--epochs", "1", "--framework", "pytorch",
                        "--out", str(tmp_path / "torch.npz"))
    assert result.returncode == 0, result.stderr
    X = load_dataset("digits", n_features=64, seed=42)[2][:50]
    np.save(tmp_path / "X.npy", X)
    outputs = {}
    for framework in ("scratch_numpy", "pytorch"):
        result = scratchnet("predict", str(tmp_path / "torch.npz"), "--input", str(tmp_path / "X.npy"),
                            "--proba", "--framework", framework, "--precision", "float64")
        assert result.returncode == 0, result.stderr
        outputs[framework] = np.array([[float(v) for v in row.split(",")[1:]]
                                       for row in result.stdout.splitlines()[1:]])
    assert_close(outputs["scratch_numpy"], outputs["pytorch"], 1e-12, "engines on one checkpoint")


def test_export_onnx_writes_a_file_onnxruntime_runs(work, tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from scratchnet.nn.onnx import OnnxRuntimeModel
    result = scratchnet_process("export-onnx", str(work / "model.npz"),
                                str(tmp_path / "model.onnx"), "--opset", "17")
    assert result.returncode == 0, result.stderr
    assert "onnx.checker passed" in result.stdout
    reported = float(result.stdout.split("[0, 1): ")[1].split()[0])
    assert reported <= 1e-5
    X = np.load(work / "X.npy")
    assert_close(OnnxRuntimeModel(tmp_path / "model.onnx").forward(X),
                 NeuralNetwork.load(work / "model.npz").forward(X), 1e-5, "exported file")


def test_compare_with_onnxruntime_adds_an_inference_only_row(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    result = scratchnet("compare", "--layer-sizes", "64,16,10", "--n-samples", "64", "--epochs", "1",
                        "--repeats", "2", "--threads", "1", "--rounds", "1", "--with-onnxruntime",
                        "--out", str(tmp_path / "reports"))
    assert result.returncode == 0, result.stderr
    rows = json.loads((tmp_path / "reports" / "comparison_metrics.json").read_text())
    assert [row["framework"] for row in rows] == ["scratch_numpy", "pytorch", "onnxruntime"]
    runtime = rows[2]
    assert runtime["status"] == "ok" and "does not train" in runtime["notes"]
    assert runtime["train_time_per_epoch_s"] is None and runtime["peak_memory_mb"] is None
    for column in ("inference_latency_per_sample_s", "single_sample_latency_s",
                   "batch_throughput_samples_per_s"):
        assert runtime[column] > 0 and runtime[f"{column}_min"] <= runtime[column] <= runtime[f"{column}_max"]
    assert runtime["parity_max_abs_diff"] <= 1e-5
    assert runtime["train_time_ratio"] is None  # scratch_numpy / onnxruntime: inference only
    for ratio, column in (("inference_latency_ratio", "inference_latency_per_sample_s"),
                          ("single_sample_latency_ratio", "single_sample_latency_s")):
        assert runtime[ratio] == pytest.approx(rows[0][column] / runtime[column], rel=1e-12)
        assert runtime[f"{ratio}_ci_low"] <= runtime[ratio] <= runtime[f"{ratio}_ci_high"]
    assert runtime["final_accuracy"] == rows[0]["final_accuracy"]
    assert "onnxruntime" in result.stdout and "p_onnxruntime" in result.stdout


# ------------------------------------------------------------------ bad input
class Smuggler:
    """Unpickling this runs ``open(MARKER, "w")``: the test checks the file never appears."""

    def __init__(self, folder):
        self.path = os.path.join(folder, MARKER)

    def __reduce__(self):
        return (open, (self.path, "w"))


def bad_checkpoints(folder, good):
    """name -> (path, words the error must contain)."""
    folder.mkdir(exist_ok=True)
    data = good.read_bytes()
    (folder / "truncated.npz").write_bytes(data[: len(data) // 2])
    (folder / "text.npz").write_text("this is not a checkpoint\n")
    np.save(folder / "array.npy", np.zeros(3))
    np.savez(folder / "foreign.npz", weights=np.zeros((3, 3)))
    (folder / "pickle.npz").write_bytes(pickle.dumps(Smuggler(folder)))
    np.savez(folder / "object.npz", format=np.array([Smuggler(folder)], dtype=object))
    with np.load(good) as archive:
        entries = {key: archive[key] for key in archive.files}
    entries["W0"] = entries["W0"][:, :5]  # an architecture its own layer_sizes contradict
    np.savez(folder / "architecture.npz", **entries)
    cases = {
        "missing": (folder / "absent.npz", "does not exist"),
        "truncated": (folder / "truncated.npz", "truncated or not an .npz"),
        "text": (folder / "text.npz", "is not an .npz archive"),
        "npy": (folder / "array.npy", "single .npy array"),
        "foreign": (folder / "foreign.npz", "has no 'format' entry"),
        "pickle": (folder / "pickle.npz", "is a Python pickle, which scratchnet never loads"),
        "object array": (folder / "object.npz", "allow_pickle=False"),
        "architecture": (folder / "architecture.npz", "layer 0 has W(64, 5)"),
    }
    try:
        import torch
        torch.save({"state_dict": Smuggler(folder)}, folder / "torch.pt")
        cases["torch pickle"] = (folder / "torch.pt", "is a torch.save file")
    except ImportError:
        pass
    return cases


@pytest.mark.parametrize("command", ["predict", "export-onnx"])
def test_bad_checkpoints_are_refused_without_running_code_or_writing(work, tmp_path, command):
    for name, (path, words) in bad_checkpoints(tmp_path / "bad", work / "model.npz").items():
        output = tmp_path / ("out.csv" if command == "predict" else "out.onnx")
        args = (["predict", str(path), "--input", str(work / "X.npy"), "--output", str(output)]
                if command == "predict" else ["export-onnx", str(path), str(output)])
        result = scratchnet(*args)
        assert_refused(result, str(path), words)
        assert not output.exists(), name
        assert not (tmp_path / "bad" / MARKER).exists(), f"{name}: unpickling ran code"


@pytest.mark.parametrize("name,content,words", [
    ("narrow.csv", "0.5," * 62 + "0.5\n", "has 63 columns, but the model takes 64"),
    ("letters.csv", ",".join(["0"] * 64) + "\n" + ",".join(["0"] * 10 + ["abc"] + ["0"] * 53) + "\n",
     "line 2, column 11: 'abc' is not a number"),
    ("ragged.csv", ",".join(["0"] * 64) + "\n" + ",".join(["0"] * 60) + "\n", "line 2 has 60 cells"),
    ("empty.csv", "", "holds no samples"),
    ("header-only.csv", "a,b,c\n", "holds no samples"),
    ("nan.csv", ",".join(["0"] * 63 + ["nan"]) + "\n", "every value must be a finite number"),
    ("binary.csv", b"\xff\xfe\x00\x81" * 20, "not a readable CSV text file"),
    ("wide.npy", np.zeros((4, 65)), "has 65 columns, but the model takes 64"),
    ("cube.npy", np.zeros((2, 2, 64)), "must hold a 2-D array"),
    ("strings.npy", np.array([["a"] * 64]), "holds dtype <U1, expected numbers"),
    ("objects.npy", "pickle", "cannot be read without unpickling"),
    ("X.txt", "1,2\n", "must end in .npy or .csv"),
    ("absent.csv", None, "does not exist"),
])
def test_bad_inputs_are_refused_and_nothing_is_written(work, tmp_path, name, content, words):
    path = tmp_path / name
    if isinstance(content, np.ndarray):
        np.save(path, content)
    elif content == "pickle":
        np.save(path, np.array([Smuggler(tmp_path)], dtype=object), allow_pickle=True)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    output = tmp_path / "preds.csv"
    output.write_text("earlier predictions\n")
    result = scratchnet("predict", str(work / "model.npz"), "--input", str(path), "--output",
                        str(output))
    assert_refused(result, str(path), words)
    assert output.read_text() == "earlier predictions\n"
    assert not (tmp_path / MARKER).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({name, "preds.csv"} - {"absent.csv"})


@pytest.mark.parametrize("args,words", [
    (["--output", "preds.txt"], "must end in .csv or .npy"),
    (["--output", "missing/preds.csv"], "does not exist"),
    (["--precision", "int8"], "precision must be one of ['float16', 'float32', 'float64']"),
])
def test_bad_predict_options_are_refused_before_any_work(work, tmp_path, args, words):
    result = scratchnet("predict", str(work / "model.npz"), "--input", str(work / "X.npy"), *args,
                        cwd=tmp_path)
    assert_refused(result, words)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args,words", [
    (["--out", "missing/model.npz"], "does not exist"),
    (["--out", "model.pt"], "must end in .npz"),
    (["--activations", "relu,gelu"], "unknown activation 'gelu'"),
    (["--epochs", "0"], "epochs must be an integer >= 1"),
    (["--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    (["--loss", "mse", "--activations", "linear,linear", "--alpha", "1e9"], "training diverged in epoch 1"),
])
def test_bad_train_arguments_write_nothing(tmp_path, args, words):
    result = scratchnet(*TRAIN, *args, cwd=tmp_path)
    assert_refused(result, words)
    assert list(tmp_path.iterdir()) == []


def test_export_onnx_refuses_a_bad_output_or_opset(work, tmp_path):
    pytest.importorskip("onnx")
    for args, words in ((["out.npz"], "must end in .onnx"),
                        (["out.onnx", "--opset", "7"], "opset must be an integer >= 13")):
        result = scratchnet("export-onnx", str(work / "model.npz"), *args, cwd=tmp_path)
        assert_refused(result, words)
        assert list(tmp_path.iterdir()) == []


def test_the_demo_and_the_export_check_are_library_functions(tmp_path):
    """What `demo` and `export-onnx` print is computed by functions a Python user can call."""
    from scratchnet.deploy.train import train_both
    run = train_both([64, 16, 10], ["relu", "softmax"], epochs=2, dataset="synthetic", seed=3)
    expected = ["scratch_numpy", "pytorch"] if importlib.util.find_spec("torch") else ["scratch_numpy"]
    assert list(run.results) == expected
    if run.largest_difference is not None:
        assert run.largest_difference[0] <= 1e-5, run.largest_difference
    if importlib.util.find_spec("onnxruntime"):
        from scratchnet import NeuralNetwork
        from scratchnet.nn.onnx import check_with_onnxruntime, export_onnx
        model = NeuralNetwork([64, 16, 10], ["relu", "softmax"], seed=3)
        path = export_onnx(model, str(tmp_path / "m.onnx"))
        diff, provider = check_with_onnxruntime(model, path)
        assert diff <= 1e-5 and provider == "CPUExecutionProvider"
