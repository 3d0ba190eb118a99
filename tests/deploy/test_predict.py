"""`scratchnet predict` on hostile input files.

Every refused call exits with status 2 and prints one line on stderr that names
the argument or file, the place of the first bad value and what would be
accepted; the files it was given stay byte-identical and no output appears.
The inputs that must keep working are checked the same way. Every case runs
through the command line's ``main`` in this process; the cases of
``AS_SUBPROCESS`` also run as a user runs them, as concurrent subprocesses.
"""
import functools
import io
import os
import pickle
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pytest

from scratchnet import NeuralNetwork, PrecisionConfig
from scratchnet import cli
from scratchnet.deploy.predict import predict_file, read_features

MARKER = "pickle-code-ran"
ARCHITECTURE = ([4, 3, 10], ["relu", "softmax"])
SAMPLES = np.array([[0.5, 1.0, -2.0, 3.25], [4.0, 0.0, 1.5, -0.75], [2.0, 2.0, 2.0, 2.0]])
HEADER = "f0,f1,f2,f3"
#: a line of stderr longer than this is not "one short line".
MAX_LINE = 320


class Smuggler:
    """Unpickling this runs ``open(MARKER, "w")``: the tests check that the file never appears."""

    def __reduce__(self):
        return (open, (MARKER, "w"))


def lines(*rows):
    """CSV text: one comma-separated line per row (a row may already be a string)."""
    return "".join((row if isinstance(row, str) else ",".join(map(str, row))) + "\n" for row in rows)


def symlink_to(target):
    def make(path):
        try:
            os.symlink(target, path)
        except (OSError, NotImplementedError):
            pytest.skip("symlinks are not available here")
    return make


def hard_link_to(target):
    def make(path):
        try:
            os.link(path.parent / target, path)
        except OSError:
            pytest.skip("hard links are not available here")
    return make


def copy_of(name):
    """The module's checkpoint ``name``, copied (under another name) into the case's folder."""
    def make(path, models):
        shutil.copyfile(models / name, path)
    make.needs_models = True
    return make


def folder(path):
    path.mkdir()


def npz_archive(path):
    with open(path, "wb") as handle:
        np.savez(handle, X=SAMPLES)


def object_array(path):
    np.save(path, np.array([Smuggler(), 1.0], dtype=object), allow_pickle=True)


def truncated_npy(path):
    np.save(path, np.zeros((100, 4)))
    path.write_bytes(path.read_bytes()[:200])


@dataclass
class Case:
    """One call: files to create in an empty folder, the arguments after the checkpoint,
    and for a refusal the words its one line must hold."""
    files: dict
    args: list
    words: tuple = ()
    checkpoint: str = "model.npz"  # a module checkpoint, or a file of the case's folder
    X: np.ndarray = field(default=None, repr=False)  # for an accepted case, the samples it holds


CSV_OUT = ["--output", "preds.csv"]
BIG_ROW = "0.5,1e39,0,0"

REFUSED = {
    # values the model's dtype cannot represent
    "csv-overflows-float32": Case({"X.csv": lines(HEADER, *SAMPLES[:1], BIG_ROW)},
                                  ["--input", "X.csv", *CSV_OUT],
                                  ("input 'X.csv' line 3, column 2: '1e39' cannot be represented in "
                                   "float32 (the checkpoint's inference precision)",
                                   "3.4028235e+38")),
    "npy-overflows-float32": Case({"X.npy": np.array([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, -1e39, 0.0]])},
                                  ["--input", "X.npy", *CSV_OUT],
                                  ("input 'X.npy' row 2, column 3: -1e+39 cannot be represented in "
                                   "float32", "between -3.4028235e+38 and 3.4028235e+38")),
    "csv-overflows-float16-precision": Case({"X.csv": lines([1, 2, 3, 70000])},
                                            ["--input", "X.csv", "--precision", "float16", *CSV_OUT],
                                            ("line 1, column 4: '70000' cannot be represented in "
                                             "float16 (the precision asked for)", "65504")),
    "npy-overflows-float16-checkpoint": Case({"X.npy": np.array([[1, 2, 3, 2 ** 40]])},
                                             ["--input", "X.npy", *CSV_OUT],
                                             ("row 1, column 4: 1099511627776 cannot be represented "
                                              "in float16 (the checkpoint's inference precision)",
                                              "65504"), checkpoint="half.npz"),
    "csv-overflows-float64": Case({"X.csv": lines([1, 2, 3, "1e400"])},
                                  ["--input", "X.csv", "--precision", "float64"],
                                  ("line 1, column 4: '1e400' cannot be represented in float64",
                                   "1.7976931348623157e+308")),
    "csv-nan": Case({"X.csv": lines([1, 2, 3, 4], [1, "nan", 3, 4])}, ["--input", "X.csv"],
                    ("line 2, column 2: 'nan' is not finite; every value must be a finite number",)),
    "npy-inf": Case({"X.npy": np.array([[1, 2, np.inf, 4]])}, ["--input", "X.npy"],
                    ("row 1, column 3: inf is not finite",)),
    "outputs-overflow-float16": Case({"X.csv": lines([1000, 1000, 1000, 1000])},
                                     ["--input", "X.csv", "--precision", "float16", *CSV_OUT],
                                     ("input 'X.csv' line 1: the model's outputs overflow float16",
                                      "float32 or float64"), checkpoint="steep.npz"),
    # the output would overwrite the input, or the checkpoint
    "output-is-input": Case({"X.csv": lines(*SAMPLES)}, ["--input", "X.csv", "--output", "X.csv"],
                            ("output 'X.csv' is the same file as input 'X.csv'",)),
    "output-is-input-spelled-otherwise": Case({"X.npy": SAMPLES},
                                              ["--input", "X.npy", "--output", "./sub/../X.npy"],
                                              ("output './sub/../X.npy' is the same file as input "
                                               "'X.npy'",)),
    "output-is-a-symlink-to-input": Case({"X.csv": lines(*SAMPLES), "link.csv": symlink_to("X.csv")},
                                         ["--input", "X.csv", "--output", "link.csv"],
                                         ("output 'link.csv' is the same file as input 'X.csv'",)),
    "output-is-a-hard-link-to-input": Case({"X.csv": lines(*SAMPLES), "copy.csv": hard_link_to("X.csv")},
                                           ["--input", "copy.csv", "--output", "X.csv"],
                                           ("output 'X.csv' is the same file as input 'copy.csv'",)),
    "output-is-checkpoint": Case({"X.csv": lines(*SAMPLES), "model.npy": copy_of("model.npz")},
                                 ["--input", "X.csv", "--output", "model.npy"],
                                 ("output 'model.npy' is the same file as checkpoint 'model.npy'",),
                                 checkpoint="model.npy"),
    # CSV text that is not comma-separated numbers
    "semicolons-decimal-commas": Case({"X.csv": lines("0,5;1,25;-2;3,5", "4;0;1,5;-0,75")},
                                      ["--input", "X.csv"],
                                      ("line 1, column 2: '5;1' is not a number; the cells contain "
                                       "';', so the delimiter looks wrong: the file must be "
                                       "comma-separated, with '.' as the decimal point",)),
    "semicolons-long-lines": Case({"X.csv": lines(*[";".join(["0.123456"] * 784)] * 3)},
                                  ["--input", "X.csv"],
                                  ("line 1, column 1: '0.123456;0.123456;0.123456;...' is not a number",
                                   "delimiter looks wrong")),
    "semicolons-one-line": Case({"X.csv": lines("0.5;1.2;3.4;5.6")}, ["--input", "X.csv"],
                                ("line 1, column 1: '0.5;1.2;3.4;5.6' is not a number",
                                 "comma-separated")),
    "semicolon-header": Case({"X.csv": lines("a;b;c;d", "0.5;1.2;3.4;5.6")}, ["--input", "X.csv"],
                             ("line 1, column 1: 'a;b;c;d' is not a number", "delimiter looks wrong")),
    "excel-semicolons-with-bom": Case({"X.csv": "\ufeff" + lines("a;b;c;d", "0,5;1,25;-2;3,5")},
                                      ["--input", "X.csv"],
                                      ("line 1, column 1: 'a;b;c;d' is not a number",
                                       "with '.' as the decimal point")),
    "tabs": Case({"X.csv": lines("0.5\t1.2\t3.4\t5.6", "1\t2\t3\t4")}, ["--input", "X.csv"],
                 ("line 1, column 1: '0.5\\t1.2\\t3.4\\t5.6' is not a number; the cells contain "
                  "tabs, so the delimiter looks wrong: the file must be comma-separated",)),
    "header-then-bad-cell": Case({"X.csv": lines(HEADER, [1, 2, 3, 4], [1, 2, "abc", 4])},
                                 ["--input", "X.csv"],
                                 ("line 1, column 1: 'f0' is not a number; line 1 is not read as a "
                                  "header because line 3, column 3 ('abc') is not a number either",)),
    "empty-cell": Case({"X.csv": lines([1, 2, 3, 4], "1,,3,4")}, ["--input", "X.csv"],
                       ("line 2, column 2: an empty cell is not a number",)),
    "utf16": Case({"X.csv": lines(HEADER, *SAMPLES).encode("utf-16")}, ["--input", "X.csv"],
                  ("is not a readable CSV text file: it is UTF-16 text; save it as UTF-8",)),
    "latin1": Case({"X.csv": "caf\u00e9,1,2,3\n".encode("latin-1")}, ["--input", "X.csv"],
                   ("line 1 holds byte 0xe9, which is not UTF-8",)),
    "empty-csv": Case({"X.csv": ""}, ["--input", "X.csv", *CSV_OUT],
                      ("input 'X.csv' holds no samples: the file is empty; expected one line of 4 "
                       "comma-separated numbers per sample",)),
    "blank-lines-only": Case({"X.csv": "\n \n\r\n"}, ["--input", "X.csv"], ("holds no samples",)),
    "header-only": Case({"X.csv": lines(HEADER)}, ["--input", "X.csv", *CSV_OUT],
                        ("holds no samples: line 1 is a header and no lines follow it",)),
    "ragged": Case({"X.csv": lines(*SAMPLES[:2], [1, 2], *SAMPLES[2:])}, ["--input", "X.csv"],
                   ("input 'X.csv' line 3 has 2 cells, but the model takes 4 features per sample",)),
    "csv-too-wide": Case({"X.csv": lines(HEADER + ",f4", *np.ones((2, 5)))}, ["--input", "X.csv"],
                         ("input 'X.csv' has 5 columns, but the model takes 4 features per sample",)),
    "predictions-as-input": Case({"X.csv": lines("prediction", "3", "7")}, ["--input", "X.csv"],
                                 ("has 1 column, but the model takes 4 features per sample",)),
    # .npy files that are not a numeric array
    "npy-too-narrow": Case({"X.npy": np.zeros((2, 3))}, ["--input", "X.npy"],
                           ("input 'X.npy' has 3 columns, but the model takes 4",)),
    "npy-empty-file": Case({"X.npy": b""}, ["--input", "X.npy", *CSV_OUT],
                           ("input 'X.npy' is empty (0 bytes); expected a numeric array of shape "
                            "(N, 4)",)),
    "npy-object-array": Case({"X.npy": object_array}, ["--input", "X.npy", *CSV_OUT],
                             ("holds Python objects (dtype object), which cannot be read without "
                              "unpickling",)),
    "npy-is-a-pickle": Case({"X.npy": pickle.dumps(Smuggler())}, ["--input", "X.npy"],
                            ("input 'X.npy' is a pickle; expected a numeric array",)),
    "npy-is-an-npz": Case({"X.npy": npz_archive}, ["--input", "X.npy"], ("is an .npz archive",)),
    "npy-truncated": Case({"X.npy": truncated_npy}, ["--input", "X.npy"],
                          ("is truncated: its header promises shape (100, 4) float64 (3200 bytes)",)),
    "npy-scalar": Case({"X.npy": np.float64(3.0)}, ["--input", "X.npy"],
                       ("must hold a 2-D array of samples (N, 4), got shape ()",)),
    "npy-no-samples": Case({"X.npy": np.zeros((0, 4))}, ["--input", "X.npy"],
                           ("holds no samples (shape (0, 4))",)),
    "npy-text": Case({"X.npy": lines(*SAMPLES)}, ["--input", "X.npy"], ("is not a .npy file",)),
    # paths
    "input-is-a-folder": Case({"X.csv": folder}, ["--input", "X.csv", *CSV_OUT],
                              ("input 'X.csv' is a folder, expected a .npy or .csv file",)),
    "input-is-missing": Case({}, ["--input", "X.csv"], ("input 'X.csv' does not exist",)),
    "input-suffix": Case({"X.txt": lines(*SAMPLES)}, ["--input", "X.txt"],
                         ("input 'X.txt' must end in .npy or .csv",)),
    "output-folder-missing": Case({"X.csv": lines(*SAMPLES)},
                                  ["--input", "X.csv", "--output", "missing/preds.csv"],
                                  ("output 'missing/preds.csv'", "does not exist")),
    "output-suffix": Case({"X.csv": lines(*SAMPLES)}, ["--input", "X.csv", "--output", "preds.txt"],
                          ("output 'preds.txt' must end in .csv or .npy",)),
    "output-is-a-folder": Case({"X.csv": lines(*SAMPLES), "preds.csv": folder},
                               ["--input", "X.csv", *CSV_OUT], ("output 'preds.csv' is a folder",)),
}

LARGEST_FLOAT16 = np.vstack([SAMPLES, [65504, -65504, 0, 1]])
WITH_1E39 = np.vstack([SAMPLES, [0.5, 1e39, 0, 0]])
ACCEPTED = {
    "plain": Case({"X.csv": lines(*SAMPLES)}, ["--input", "X.csv"], X=SAMPLES),
    "header": Case({"X.csv": lines(HEADER, *SAMPLES)}, ["--input", "X.csv"], X=SAMPLES),
    "excel-utf8-bom-crlf": Case({"X.csv": ("\ufeff" + lines(HEADER, *SAMPLES)).replace("\n", "\r\n")},
                                ["--input", "X.csv"], X=SAMPLES),
    "bom-without-header": Case({"X.csv": "\ufeff" + lines(*SAMPLES)}, ["--input", "X.csv"],
                               X=SAMPLES),
    "npy": Case({"X.npy": SAMPLES}, ["--input", "X.npy"], X=SAMPLES),
    "float16-largest": Case({"X.csv": lines(*LARGEST_FLOAT16)},
                            ["--input", "X.csv", "--precision", "float16"], X=LARGEST_FLOAT16,
                            checkpoint="gentle.npz"),
    "1e39-in-float64": Case({"X.csv": lines(*WITH_1E39)},
                            ["--input", "X.csv", "--precision", "float64"], X=WITH_1E39),
}


def make_files(case, where, models):
    for name, content in case.files.items():
        path = where / name
        if isinstance(content, (np.ndarray, np.generic)):
            np.save(path, content)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8", newline="")
        elif getattr(content, "needs_models", False):
            content(path, models)
        else:
            content(path)


def snapshot(where):
    """Every entry under ``where``: a file's bytes, a link's target, None for a folder."""
    state = {}
    for root, dirs, files in os.walk(where):
        for name in dirs + files:
            path = os.path.join(root, name)
            if os.path.islink(path):
                state[path] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                state[path] = None
            else:
                with open(path, "rb") as handle:
                    state[path] = handle.read()
    return state


def prepare(case, where, models):
    """Make the case's files in ``where`` (and sub/, so that "./sub/../X.npy" resolves);
    return (the checkpoint argument, the snapshot of ``where``)."""
    (where / "sub").mkdir()
    make_files(case, where, models)
    # a checkpoint of the case's own folder is named as a user would name it
    checkpoint = case.checkpoint if (where / case.checkpoint).exists() else models / case.checkpoint
    return str(checkpoint), snapshot(where)


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


def check_refused(case, where, before, outcome):
    assert outcome.returncode == 2, (outcome.returncode, outcome.stdout, outcome.stderr)
    assert outcome.stdout == ""
    stderr = outcome.stderr.splitlines()
    assert len(stderr) == 1, outcome.stderr
    line = stderr[0]
    assert line.startswith("scratchnet predict: error: ") and len(line) <= MAX_LINE, line
    for words in case.words:
        assert words in line, line
    assert snapshot(where) == before, "a refused call changed, created or removed a file"
    assert not (where / MARKER).exists(), "unpickling ran code"


def check_accepted(case, where, before, outcome, models):
    assert outcome.returncode == 0 and outcome.stderr == "", outcome.stderr
    precision = case.args[case.args.index("--precision") + 1] if "--precision" in case.args else None
    expected = NeuralNetwork.load(models / case.checkpoint).predict(case.X, precision=precision)
    assert outcome.stdout.splitlines() == ["prediction"] + [str(label) for label in expected]
    assert snapshot(where) == before


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """model.npz (infers in float32), half.npz (infers in float16), steep.npz (weights that
    overflow float16 inside the network for inputs near 1000) and gentle.npz (weights small
    enough that float16 inputs up to 65504 stay in range)."""
    where = tmp_path_factory.mktemp("models")
    NeuralNetwork(*ARCHITECTURE).save(where / "model.npz")
    NeuralNetwork(*ARCHITECTURE, precision_config=PrecisionConfig(infer_precision="float16")).save(
        where / "half.npz")
    for name, scale in (("steep.npz", 100.0), ("gentle.npz", 1e-4)):
        model = NeuralNetwork(*ARCHITECTURE)
        model.set_weights([(np.full((4, 3), scale) * [1, -1, 1], np.zeros(3)),
                           (np.ones((3, 10)), np.arange(10.0))])
        model.save(where / name)
    return where


def run_in_process(name, case, where, models, monkeypatch, capsys):
    """The command line's ``main`` in ``where``, its standard output caught through the
    ``out`` argument of ``run_predict`` (bound to sys.stdout when the module was imported)."""
    checkpoint, before = prepare(case, where, models)
    monkeypatch.chdir(where)
    out = io.StringIO()
    monkeypatch.setattr(cli.deploy, "run_predict", functools.partial(cli.deploy.run_predict, out=out))
    returncode = cli.main(["predict", checkpoint, *case.args])
    captured = capsys.readouterr()
    return before, Outcome(returncode, out.getvalue() + captured.out, captured.err)


@pytest.mark.parametrize("name", list(REFUSED))
def test_hostile_input_is_refused_with_one_line_and_nothing_changes(name, models, tmp_path,
                                                                     monkeypatch, capsys):
    case = REFUSED[name]
    before, outcome = run_in_process(name, case, tmp_path, models, monkeypatch, capsys)
    check_refused(case, tmp_path, before, outcome)


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_accepted_input_predicts_what_the_model_predicts(name, models, tmp_path, monkeypatch,
                                                         capsys):
    case = ACCEPTED[name]
    before, outcome = run_in_process(name, case, tmp_path, models, monkeypatch, capsys)
    check_accepted(case, tmp_path, before, outcome, models)


#: the cases also run as subprocesses: each kind of refusal, and the inputs that must work.
AS_SUBPROCESS = [
    "csv-overflows-float32", "csv-overflows-float16-precision", "npy-overflows-float16-checkpoint",
    "output-is-input", "output-is-a-hard-link-to-input", "excel-utf8-bom-crlf",
    "semicolons-decimal-commas", "semicolons-long-lines", "header-then-bad-cell",
    "outputs-overflow-float16", "empty-csv", "npy-object-array", "input-is-a-folder",
    "output-folder-missing", "header",
]


@pytest.fixture(scope="module")
def subprocesses(models, tmp_path_factory):
    """name -> (case, folder, snapshot before, outcome) for every case of AS_SUBPROCESS,
    run concurrently; a case whose files cannot be made here is absent."""
    prepared = {}
    for name in AS_SUBPROCESS:
        case = {**REFUSED, **ACCEPTED}[name]
        where = tmp_path_factory.mktemp(name)
        try:
            prepared[name] = (case, where, *prepare(case, where, models))
        except pytest.skip.Exception:
            continue

    def run(name):
        case, where, checkpoint, _ = prepared[name]
        result = subprocess.run([sys.executable, "-m", "scratchnet", "predict", checkpoint,
                                 *case.args], capture_output=True, text=True, encoding="utf-8",
                                errors="replace", timeout=120, cwd=where)
        return name, Outcome(result.returncode, result.stdout, result.stderr)

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        outcomes = dict(pool.map(run, prepared))
    return {name: (case, where, before, outcomes[name])
            for name, (case, where, _, before) in prepared.items()}


@pytest.mark.parametrize("name", AS_SUBPROCESS)
def test_as_a_subprocess(name, subprocesses, models):
    if name not in subprocesses:
        pytest.skip(f"{name}: its files cannot be made on this system")
    case, where, before, outcome = subprocesses[name]
    if name in REFUSED:
        check_refused(case, where, before, outcome)
    else:
        check_accepted(case, where, before, outcome, models)


# ---------------------------------------------------------------- the Python API
def test_read_features_checks_the_range_of_the_dtype_it_is_given(tmp_path):
    path = tmp_path / "X.csv"
    path.write_text(lines([1, 2, 3, 70000]))
    assert read_features(path, 4).dtype == np.float64  # float64 by default: 70000 fits
    assert read_features(path, 4, dtype="float32")[0, 3] == 70000
    with pytest.raises(ValueError, match=r"line 1, column 4: '70000' cannot be represented in "
                                         r"float16 \(dtype float16\).* 65504"):
        read_features(path, 4, dtype="float16")
    with pytest.raises(ValueError, match=r"dtype must be one of"):
        read_features(path, 4, dtype="int8")


def test_predict_file_refuses_to_overwrite_its_input_and_leaves_it_as_it_was(models, tmp_path):
    path = tmp_path / "X.npy"
    np.save(path, SAMPLES)
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"output .*X.npy' is the same file as input"):
        predict_file(models / "model.npz", path, tmp_path / "." / "X.npy")
    assert path.read_bytes() == before


def test_a_semicolon_file_gets_a_short_message(tmp_path):
    path = tmp_path / "X.csv"
    path.write_text(lines(*[";".join(f"{v:.6f}".replace(".", ",") for v in row)
                            for row in np.random.default_rng(0).random((50, 784))]))
    with pytest.raises(ValueError) as error:
        read_features(path, 784)
    message = str(error.value)
    assert len(message) < 260 and "line 1, column" in message and "delimiter looks wrong" in message


def test_the_header_rule(tmp_path):
    path = tmp_path / "X.csv"
    path.write_text(lines(HEADER, *SAMPLES))  # no number in line 1, and the rest parses
    assert np.array_equal(read_features(path, 4), SAMPLES)
    path.write_text(lines("f0,1,f2,f3", *SAMPLES))  # a number in line 1: it is a sample
    with pytest.raises(ValueError, match=r"line 1, column 1: 'f0' is not a number$"):
        read_features(path, 4)
