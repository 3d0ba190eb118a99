"""The repository keeps its promises: README and CI agree, metadata lives in one
place, torch is pinned, the README's example runs, and torch stays optional."""
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def readme_test_command():
    match = re.search(r"`((?:pip install [^`]*&& )?python -m pytest[^`]*)`", (ROOT / "README.md").read_text())
    assert match, "README.md has no test command"
    return match.group(1)


def test_ci_runs_exactly_the_readme_test_command():
    command = readme_test_command()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert command in ci_lines, f"{command!r} is not a line of .ci/run"


def test_pyproject_is_the_only_metadata():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "scratchnet"
    extras = project["optional-dependencies"]
    assert extras["torch"] == ["torch==2.13.0"]
    assert {"torch", "test", "dev", "all"} <= set(extras)
    assert any(dep.startswith("numpy>=") and "<" in dep for dep in project["dependencies"])
    setup_cfg = (ROOT / "setup.cfg").read_text()
    assert not re.search(r"^\s*\[(metadata|options)", setup_cfg, re.M), "setup.cfg copies metadata"


def test_readme_python_example_runs():
    pytest.importorskip("torch")
    code = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    code += "\nassert len(history['loss']) == 3\nprint(net.evaluate(X_test, y_test))\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout


# Makes `import torch` fail, as if torch were not installed.
BLOCK_TORCH = """
import importlib.abc, sys
class _NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch' (blocked by the test)")
sys.meta_path.insert(0, _NoTorch())
"""


def test_everything_numpy_side_works_without_torch():
    code = BLOCK_TORCH + """
import scratchnet
from scratchnet import NeuralNetwork, TorchNeuralNetwork, is_torch_available
from scratchnet.data import load_dataset
assert is_torch_available() is False
X, y, Xt, yt = load_dataset("synthetic", n_features=8, n_samples=50)
NeuralNetwork([8, 4, 10], ["relu", "softmax"]).fit(X, y, epochs=1, alpha=0.1, batch_size=8)
try:
    TorchNeuralNetwork([8, 4, 10], ["relu", "softmax"])
except ImportError as exc:
    print("ImportError:", exc)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'ImportError: TorchNeuralNetwork needs PyTorch' in result.stdout
    assert 'pip install "torch==2.13.0"' in result.stdout
    demo = subprocess.run([sys.executable, "-c", BLOCK_TORCH + "from scratchnet.cli import main\n"
                           "sys.exit(main(['demo', '--epochs', '1']))"],
                          capture_output=True, text=True, timeout=120)
    assert demo.returncode == 0, demo.stderr
    assert "pytorch: skipped, torch not installed" in demo.stdout


def _package_imports():
    """{module: the package's modules it imports}, read from the code, imports inside
    functions included (a lazy import is still a dependency)."""
    import ast
    package = ROOT / "scratchnet"
    names = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        names[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    graph = {}
    for name, (path, is_package) in names.items():
        base = name.split(".") if is_package else name.split(".")[:-1]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level:
                    module = ".".join(base[:len(base) - node.level + 1] + ([module] if module else []))
                # the names imported from a package are its modules where they are modules
                targets = [f"{module}.{alias.name}" for alias in node.names
                           if f"{module}.{alias.name}" in names] or [module]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in targets:
                while target and target not in names:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    found.add(target)
        graph[name] = found
    return graph


def test_the_package_has_no_import_loop():
    """No module imports one that imports it back, however indirectly: each part of the
    package stands on the parts below it."""
    graph = _package_imports()
    state, loops = {}, []

    def visit(module, trail):
        state[module] = "open"
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                loops.append(trail[trail.index(imported):] + [imported])
            elif imported not in state:
                visit(imported, trail + [imported])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    # the old import paths are the moved modules themselves: importing them is their job
    shims = {"scratchnet.benchmark", "scratchnet.compare", "scratchnet.frameworks",
             "scratchnet.instructions", "scratchnet.onnx_export", "scratchnet.pytorch_model"}
    assert not [loop for loop in loops if not shims & set(loop)], loops
