"""The scratchnet command, run as a user runs it: in a subprocess."""
import subprocess
import sys

import pytest


def scratchnet(*args):
    return subprocess.run([sys.executable, "-m", "scratchnet", *args], capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("args", [["--help"], ["demo", "--help"]])
def test_help(args):
    result = scratchnet(*args)
    assert result.returncode == 0, result.stderr
    assert "usage: scratchnet" in result.stdout


def test_version():
    from scratchnet import __version__
    result = scratchnet("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"scratchnet {__version__}"


def test_demo_trains_both_and_prints_their_difference():
    pytest.importorskip("torch")
    result = scratchnet("demo", "--epochs", "1", "--train-dtype", "float64")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.strip().startswith("scratch_numpy: train accuracy") for line in lines)
    assert any(line.strip().startswith("pytorch: train accuracy") for line in lines)
    difference = [line for line in lines if line.startswith("largest difference")]
    assert difference, result.stdout
    value = float(difference[0].split(": ")[1].split()[0])
    assert value <= 1e-9, difference[0]


def test_bad_arguments_give_a_one_line_error():
    result = scratchnet("demo", "--activations", "relu,gelu", "--epochs", "1")
    assert result.returncode == 2
    assert "unknown activation 'gelu'" in result.stderr and "Traceback" not in result.stderr
    result = scratchnet("demo", "--layer-sizes", "784,x,10")
    assert result.returncode == 2 and "comma-separated integers" in result.stderr


def test_console_script_is_declared():
    import tomllib
    from pathlib import Path
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["scratchnet"] == "scratchnet.cli:main"
