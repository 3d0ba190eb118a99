"""Deterministic instruction counts: what one training step and one inference cost,
counted by valgrind instead of timed.

For each framework one process runs under ``valgrind --tool=callgrind`` with
one thread (``OMP_NUM_THREADS`` and friends = 1, and threadpoolctl / torch
set to 1), ``PYTHONHASHSEED=0``, and ``--dump-before=getpgrp``. The worker
(``scratchnet.harness.instruction_worker``) ends each region of work with a call of
``os.getpgrp()``, so callgrind writes every region's count to a file of its
own. For each configuration it trains a fresh model for one epoch of S full
batches and another for one epoch of 2S (the training data repeated where it
has fewer rows), and runs K then 2K forwards of the held-out split:

    train_step_instructions = (count(epoch of 2S batches) - count(epoch of S batches)) / S
    inference_instructions  = (count(2K forwards) - count(K forwards)) / K

so a training step is what one more batch costs an epoch: forward, backward,
update and its share of the epoch's shuffled copy. Starting Python, importing
the framework, building the model, a fit's fixed cost and the first call's
lazy set-up are outside both regions or cancel in the difference. S and K are
chosen from the arithmetic (``make_config``) so that each region holds some
200 million floating-point operations, so that a region's fixed cost is a small
share of it. The worker starts without address-space randomisation, with a
fixed environment, by one name of the interpreter and in an empty folder whose
path always has the same length (``_without_aslr``, ``worker_environment``,
``worker_python``, ``worker_folder``): the same code then gives the same counts to the last digit.

What a count does not tell: valgrind runs one thread at a time and emulates
a CPU without AVX-512, so BLAS libraries pick other kernels than in a real
run, and no cache miss, memory stall or thread wake-up is in the figure. It
is a regression signal for a commit's *work* (an extra copy per batch shows
at once), not a speed: wall times and their ratios remain the speed figures.
"""
from __future__ import annotations

import concurrent.futures
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time


from .frameworks import REGISTRY
from .result import architecture_of

INSTALL_HINT = ("valgrind is not installed: apt-get install valgrind on Debian/Ubuntu, "
                "dnf install valgrind on Fedora")
#: The frameworks whose CPU instructions can be counted (pytorch_cuda runs on the GPU).
COUNTED = tuple(name for name, entry in REGISTRY.items() if entry.counted)
#: Floating-point operations each region should hold at least (see the module docstring).
REGION_FLOPS = 2e8
#: Bounds of S (training steps in the first region) and K (forwards in the first region).
STEPS_RANGE = (2, 32)
RUNS_RANGE = (1, 64)
#: Seconds one framework's valgrind process may take before it is stopped.
TIMEOUT = 1800
#: One thread everywhere, and a fixed hash seed so dict and set order repeat.
ENVIRONMENT = {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "LC_ALL": "C.UTF-8"}
#: The only variables the worker inherits (where they are set; PYTHONPATH is extended, see
#: ``worker_environment``), and the fixed PATH it gets instead of the caller's. The size of the
#: environment, like the working directory's and the interpreter's paths, shapes the
#: process's first allocations and with them the alignment of later arrays, which changes
#: how many instructions a vectorised loop takes: a PATH longer by 44 characters moved a
#: 64x32x10 network's PyTorch step by 0.7 %.
INHERITED = ("PYTHONPATH", "LD_LIBRARY_PATH")
WORKER_PATH = os.defpath
#: The scratchnet folder this module was imported from.
PACKAGE_FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class InstructionCountError(RuntimeError):
    """valgrind or the worker failed; the message says how."""


def valgrind():
    """The path of the valgrind command, or None where it is not installed."""
    return shutil.which("valgrind")


def make_config(layer_sizes, activations, n_samples, batch_size, alpha, seed, loss="mse",
                precision="float32", dataset=None):
    """The settings of one count: a comparison's (``dataset`` defaults as in compare), plus
    S (``train_steps``) and K (``inference_runs``), each enough for ``REGION_FLOPS``: a
    step does 6 x sum(fan_in x fan_out) x batch flops, a forward 2 x sum(...) x n_test."""
    from ..data import default_dataset, held_out_size
    weights = sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))
    steps = math.ceil(REGION_FLOPS / (6 * weights * batch_size))
    runs = math.ceil(REGION_FLOPS / (2 * weights * held_out_size(n_samples)))
    return dict(layer_sizes=list(layer_sizes), activations=list(activations), loss=loss,
                precision=precision, dataset=dataset or default_dataset(layer_sizes[0], n_samples),
                n_samples=n_samples, batch_size=batch_size, alpha=alpha, seed=seed,
                train_steps=min(max(steps, STEPS_RANGE[0]), STEPS_RANGE[1]),
                inference_runs=min(max(runs, RUNS_RANGE[0]), RUNS_RANGE[1]))


def config_from_row(row):
    """The count's settings for a report row of ``scratchnet compare``."""
    sizes, activations = architecture_of(row)
    return make_config(sizes, activations, row["n_samples"], row["batch_size"], row["alpha"], row["seed"],
                       loss=row["loss"], precision=row["precision"], dataset=row["dataset"])


def _command(framework, folder, lazy):
    """valgrind's command line; ``lazy``: instrumentation off until callgrind_control turns
    it on, so the imports before the regions run at near-native speed."""
    return _without_aslr() + [valgrind(), "--tool=callgrind", f"--callgrind-out-file={folder}/callgrind.out",
            "--dump-before=getpgrp", "--dump-instr=no", "--dump-line=no",
            f"--instr-atstart={'no' if lazy else 'yes'}",
            worker_python(), "-m", "scratchnet.harness.instruction_worker", framework,
            os.path.dirname(folder), folder] + (["wait"] if lazy else [])


def worker_python():
    """This interpreter, always by the same name (``.../pythonX.Y`` where that is the same
    file): ``python -m scratchnet`` and the console script reach one interpreter by names of
    different lengths, and the name's length moves the counts as the environment's does."""
    named = os.path.join(os.path.dirname(sys.executable), "python{}.{}".format(*sys.version_info))
    same = os.path.exists(named) and os.path.realpath(named) == os.path.realpath(sys.executable)
    return named if same else sys.executable


def compile_package():
    """Write the bytecode of every scratchnet module that lacks it, so that no worker
    compiles one: compiling allocates far more than loading a ``.pyc`` and leaves the heap
    laid out otherwise, and in a fresh checkout the first count of a 64x32x10 network's
    scratch step came out 0.9 % off the second. Where the folder cannot be written to,
    nothing is written (an installed package has its bytecode from pip)."""
    import compileall
    compileall.compile_dir(PACKAGE_FOLDER, quiet=2)


def _without_aslr():
    """``setarch <machine> -R``, which starts the command with address-space randomisation
    off, where setarch exists (util-linux, on every common Linux), else nothing. With it on,
    objects sit at other addresses in every run, and the instructions spent in hash tables
    keyed by identity (PyTorch keeps several) move from run to run by up to 0.5 %."""
    setarch = shutil.which("setarch")
    return [setarch, platform.machine(), "-R"] if setarch and sys.platform == "linux" else []


def write_job(configs, folder):
    """One ``Job`` per config, in ``folder``/jobs/<index> (``Job.save``: its settings and its
    arrays, loaded here rather than in the worker, where importing the data sets' libraries
    would cost billions of instructions of valgrind's time), the regions' sizes with it."""
    from ..data import load_config_data
    from .job import Job
    for index, config in enumerate(configs):
        settings = {key: value for key, value in config.items()
                    if key not in ("train_steps", "inference_runs")}
        settings.update(layer_sizes=tuple(config["layer_sizes"]),
                        activations=tuple(config["activations"]))
        Job(**settings, regions={"train_steps": config["train_steps"],
                                 "inference_runs": config["inference_runs"]},
            data=load_config_data(config)).save(os.path.join(folder, "jobs", str(index)))


def worker_environment():
    """``ENVIRONMENT``, ``PATH=WORKER_PATH`` and the ``INHERITED`` variables this process has,
    nothing else (Python finds the home folder without HOME); PYTHONPATH starts with the
    folder this scratchnet is imported from, since the worker runs in an empty folder of the job's."""
    env = {name: os.environ[name] for name in INHERITED if name in os.environ}
    package_root = os.path.dirname(PACKAGE_FOLDER)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    return {**env, "PATH": WORKER_PATH, **ENVIRONMENT}


def worker_folder(root):
    """The working directory of every worker of the job in ``root``: an empty folder whose
    path always has the same length. ``python -m`` puts the working directory first on
    sys.path and its import system caches the folder's listing, so a listing that depended
    on which frameworks were counted moved the counts: scratch_numpy's inference by 0.35 %
    when counted beside pytorch (whose output folder then sat in the job's folder). The
    path's length matters as the environment's does."""
    path = os.path.join(root, "cwd")
    os.makedirs(path, exist_ok=True)
    return path


def start(framework, folder):
    """Start one framework's valgrind process over the job in ``folder``'s parent; returns
    the Popen. Its output goes to ``folder``/valgrind.log."""
    lazy = shutil.which("callgrind_control") is not None
    with open(os.path.join(folder, "valgrind.log"), "w") as log:
        process = subprocess.Popen(_command(framework, folder, lazy), env=worker_environment(),
                                   cwd=worker_folder(os.path.dirname(folder)),
                                   stdout=subprocess.PIPE, stderr=log, text=True)
    process.lazy = lazy
    return process


def _switch_instrumentation_on(process, folder, deadline):
    """Wait for the worker's "ready", have callgrind_control switch instrumentation on, then
    let the worker go on (it polls for ``folder``/go)."""
    line = process.stdout.readline()  # returns "" if the process ends first
    if line.strip() != "ready":
        return
    done = subprocess.run(["callgrind_control", "-i", "on", str(process.pid)], capture_output=True,
                          text=True, timeout=max(1.0, deadline - time.monotonic()))
    if done.returncode != 0:
        process.kill()
        raise InstructionCountError(f"callgrind_control could not switch instrumentation on: "
                                    f"{(done.stderr or done.stdout).strip()}")
    open(os.path.join(folder, "go"), "w").close()


def read_dump_totals(folder):
    """Every dump's instruction total, in the order callgrind wrote them."""
    dumps = []
    for name in os.listdir(folder):
        match = re.fullmatch(r"callgrind\.out\.(\d+)", name)
        if match:
            dumps.append((int(match.group(1)), os.path.join(folder, name)))
    totals = []
    for _, path in sorted(dumps):
        with open(path) as handle:
            found = re.search(r"^(?:totals|summary):\s*(\d+)", handle.read(), re.M)
        if found is None:
            raise InstructionCountError(f"callgrind dump {path!r} has no total")
        totals.append(int(found.group(1)))
    return totals


def counts_from_regions(marks, totals, configs):
    """Per config ``{"train_step_instructions", "inference_instructions"}`` from the
    worker's region labels and callgrind's totals (one per label, in order)."""
    if len(totals) != len(marks):
        raise InstructionCountError(
            f"callgrind wrote {len(totals)} region counts but the worker marked {len(marks)} "
            f"regions: something else in the process called getpgrp")
    regions = dict(zip(marks, totals))
    results = []
    for index, config in enumerate(configs):
        def region(name):
            return regions.get(f"{index}/{name}")

        train = None
        if region("train_a") is not None:
            train = (region("train_b") - region("train_a")) / config["train_steps"]
        inference = (region("infer_b") - region("infer_a")) / config["inference_runs"]
        results.append({"train_step_instructions": train, "inference_instructions": inference})
    return results


def finish(process, folder, configs, timeout=TIMEOUT):
    """Wait for a process from ``start`` and return its per-config counts."""
    deadline = time.monotonic() + timeout
    try:
        if process.lazy:
            _switch_instrumentation_on(process, folder, deadline)
        process.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise InstructionCountError(f"valgrind ran longer than {timeout} s and was stopped")
    finally:
        process.stdout.close()
    marks_path = os.path.join(folder, "marks.json")
    if process.returncode != 0 or not os.path.exists(marks_path):
        with open(os.path.join(folder, "valgrind.log")) as handle:
            log = handle.read().splitlines()
        lines = [line for line in log if line.strip() and not line.startswith("==")]
        raise InstructionCountError(f"the valgrind run failed (exit status {process.returncode}): "
                                    f"{(lines or log or ['no output'])[-1]}")
    with open(marks_path) as handle:
        marks = json.load(handle)
    return counts_from_regions(marks, read_dump_totals(folder), configs)


def count_instructions(frameworks, configs, timeout=TIMEOUT):
    """``{framework: [counts per config] or InstructionCountError}``: one valgrind
    process per framework, all running at once (valgrind runs one thread each)."""
    if valgrind() is None:
        raise InstructionCountError(INSTALL_HINT)
    compile_package()
    with tempfile.TemporaryDirectory(prefix="scratchnet-valgrind-") as root:
        write_job(configs, root)
        running = {}
        for framework in frameworks:
            folder = os.path.join(root, framework)
            os.mkdir(folder)
            running[framework] = (start(framework, folder), folder)
        # one waiting thread per process: each answers its own worker's "ready" as it comes
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(running)) as pool:
            futures = {framework: pool.submit(_finish_or_error, process, folder, configs, timeout)
                       for framework, (process, folder) in running.items()}
            try:
                return {framework: future.result() for framework, future in futures.items()}
            except BaseException:  # interrupted: no valgrind process may outlive the count
                for process, _ in running.values():
                    process.kill()
                raise


def _finish_or_error(process, folder, configs, timeout):
    try:
        return finish(process, folder, configs, timeout)
    except InstructionCountError as exc:
        return exc


def add_instruction_counts(rows, progress=None):
    """Fill ``train_step_instructions`` and ``inference_instructions`` of every ok row
    whose framework can be counted, each configuration counted once; rows that cannot
    be counted get a note saying why."""
    counted = [row for row in rows if row["status"] == "ok" and row["framework"] in COUNTED]
    for row in rows:
        if row["status"] == "ok" and row["framework"] not in COUNTED:
            _note(row, "instructions are counted on the CPU only" if row["framework"] in REGISTRY
                  else "instructions are counted for scratchnet's own frameworks only")
    if not counted:
        return rows
    if valgrind() is None:
        for row in counted:
            _note(row, f"instructions not counted: {INSTALL_HINT}")
        return rows
    keys, configs = [], []
    for row in counted:
        config = config_from_row(row)
        if config not in configs:
            configs.append(config)
        keys.append(configs.index(config))
    frameworks = list(dict.fromkeys(row["framework"] for row in counted))
    if progress:
        progress(f"counting instructions under valgrind: {', '.join(frameworks)} over "
                 f"{len(configs)} configuration{'s' if len(configs) > 1 else ''} (one process each)")
    results = count_instructions(frameworks, configs)
    for row, key in zip(counted, keys):
        result = results[row["framework"]]
        if isinstance(result, InstructionCountError):
            _note(row, f"instructions not counted: {result}")
        else:
            row.update(result[key])
    return rows


def _note(row, text):
    row["notes"] = "; ".join(filter(None, [row.get("notes"), text]))

