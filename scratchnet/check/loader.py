"""Loading a user's network class: by its spec (``"package.module:Class"`` or
``"path/to/file.py:Class"``), and the spec of a class a fresh process can import
again. The ``check`` worker, the comparison workers and ``UserModel`` all load a
user's class through here.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import sysconfig
import traceback

from ..nn.precision import PrecisionConfig

#: Set in every worker's environment: a comparison started there (a user's script that
#: runs one at import, without ``if __name__ == "__main__":``) is refused, not recursed into.
IN_WORKER = "SCRATCHNET_WORKER"
#: How a class may store W: (fan_in, fan_out), as scratchnet does, or (fan_out, fan_in),
#: as ``torch.nn.Linear`` and Nielsen's network do.
LAYOUTS = ("in_out", "out_in")


#: Words of an error message that suggest W was given in the other layout.
SHAPE_WORDS = ("shape", "mismatch", "dimension", "align")


class CheckError(ValueError):
    """The class could not be loaded or built: ``scratchnet check`` exits with status 2."""


def describe(exc):
    """``Type: message`` of an exception, whatever its ``str`` does; SystemExit in words."""
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({'' if exc.code is None else repr(exc.code)})"
    try:
        text = str(exc).splitlines()[0] if str(exc) else ""
    except Exception:
        text = ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def user_frame(exc):
    """The innermost frame of ``exc``'s traceback in the user's own code (not scratchnet's,
    Python's or an installed library's); None where there is none."""
    ours = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "")
    others = (ours, *(os.path.join(os.path.abspath(sysconfig.get_paths()[key]), "")
                      for key in ("stdlib", "purelib", "platlib")))
    mine = [frame for frame in traceback.extract_tb(exc.__traceback__)
            if not os.path.abspath(frame.filename).startswith(others)]
    return mine[-1] if mine else None


def check_spec(spec):
    """``(where, class name)`` of a spec; CheckError saying what is accepted otherwise."""
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        raise CheckError(f"model must be 'package.module:ClassName' or 'path/to/file.py:ClassName', "
                         f"got {spec!r}")
    return tuple(spec.split(":"))


def load_class(spec):
    """The class named by ``spec``. Importing it runs the user's module, which is what
    checking their code means; a file's folder stays first on ``sys.path``, so its imports
    (also inside methods) find its neighbours."""
    where, name = check_spec(spec)
    previous = os.environ.get(IN_WORKER)
    os.environ[IN_WORKER] = "1"  # a comparison the import would start is refused
    try:
        module = _import(where)
    except CheckError:
        raise
    except (Exception, SystemExit) as exc:
        raise CheckError(f"cannot import {where!r}: {describe(exc)}") from None
    finally:
        if previous is None:
            os.environ.pop(IN_WORKER, None)
        else:
            os.environ[IN_WORKER] = previous
    cls = getattr(module, name, None)
    if cls is None:
        raise CheckError(f"{where!r} has no class {name!r}")
    if not inspect.isclass(cls):
        raise CheckError(f"{where!r}: {name!r} is not a class (its type is "
                         f"{type(cls).__name__})")
    return cls


def _import(where):
    if not where.endswith(".py"):
        if os.getcwd() not in sys.path:  # as `python -m` would: the current folder first
            sys.path.insert(0, os.getcwd())
        return importlib.import_module(where)
    if not os.path.isfile(where):
        raise CheckError(f"model file {where!r} does not exist")
    module_name = os.path.splitext(os.path.basename(where))[0]
    loader = importlib.util.spec_from_file_location(module_name, where)
    module = importlib.util.module_from_spec(loader)
    sys.path.insert(0, os.path.dirname(os.path.abspath(where)))
    sys.modules[module_name] = module  # as an import would: dataclasses look it up
    loader.loader.exec_module(module)
    return module


def constructor_kwargs(parameters, takes_any, layer_sizes, activations, seed, loss):
    """What the protocol passes a user's constructor: ``layer_sizes`` and ``activations``,
    and ``seed`` and ``loss`` only where it takes them (``precision_config`` is added by
    the caller, which owns the dtype)."""
    kwargs = dict(layer_sizes=list(layer_sizes), activations=list(activations))
    if "seed" in parameters or takes_any:
        kwargs["seed"] = seed
    if "loss" in parameters:
        kwargs["loss"] = loss
    return kwargs


def constructor_parameters(cls):
    """(names of the constructor's parameters, whether it takes ``**kwargs``)."""
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return (), False
    return tuple(parameters), any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def build_user_class(cls, layer_sizes, activations, seed, dtype, loss="mse"):
    """An instance, passing the optional arguments (``seed``, ``precision_config``, ``loss``)
    only where the constructor takes them; CheckError naming the call if it raises."""
    names, takes_any = constructor_parameters(cls)
    kwargs = constructor_kwargs(names, takes_any, layer_sizes, activations, seed, loss)
    if "precision_config" in names or takes_any:
        kwargs["precision_config"] = PrecisionConfig(train_dtype=dtype, infer_precision=dtype)
    try:
        return cls(**kwargs)
    except (Exception, SystemExit) as exc:
        raise CheckError(f"cannot build {cls.__name__}({', '.join(kwargs)}): "
                         f"{describe(exc)}") from None


def class_spec(cls, name="models"):
    """``"module:Class"`` for a class a fresh process can import by its module's name (with
    this process's ``sys.path``), ``"/path/file.py:Class"`` for one from a script or a file
    loaded by its path; ValueError saying why not for a class from a notebook or one
    defined inside a function."""
    if not isinstance(cls, type):
        raise TypeError(f"models[{name!r}] must be a class or 'module:Class' / 'file.py:Class', "
                        f"got {type(cls).__name__}")
    qualname, module_name = cls.__qualname__, cls.__module__
    if "<locals>" in qualname or "." in qualname:
        raise ValueError(f"models[{name!r}]: {qualname} is defined inside a function or class; "
                         f"a worker process can only import a module-level class")
    path = getattr(sys.modules.get(module_name), "__file__", None)
    if module_name != "__main__":
        try:
            found = importlib.util.find_spec(module_name)
        except (ImportError, ValueError):
            found = None
        if found is not None and (path is None or found.origin is None
                                  or os.path.realpath(found.origin) == os.path.realpath(path)):
            return f"{module_name}:{qualname}"
    if not path or not os.path.isfile(path):  # the prompt, a notebook, `python -` (<stdin>)
        raise ValueError(f"models[{name!r}]: {qualname} was defined interactively (a notebook or "
                         f"the Python prompt); put it in a .py file and import it from there")
    return f"{os.path.abspath(path)}:{qualname}"

