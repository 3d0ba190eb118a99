"""Reading asv's files as the exporter needs them, and checking them first.

``read_json(path, what)`` reads one file (a missing, unreadable, empty, non-UTF-8
or non-JSON file is a ValueError naming it); ``check_result``, ``check_machine``
and ``check_benchmarks`` check a loaded result file, ``machine.json`` and
``benchmarks.json``: a file the exporter cannot read as asv wrote it is a
one-line ValueError naming the file and the field, with the bad value quoted
and cut to ``SHOWN_CHARS``.
"""
from __future__ import annotations

import json
import math


def int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


#: Longest excerpt of a bad value that an error message quotes.
SHOWN_CHARS = 40
#: asv's result columns that hold one number (or null) per parameter combination.
STATS_COLUMNS = ("stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75", "stats_number",
                 "stats_repeat")
#: 1 January 10000 in milliseconds since 1970: no time asv writes is later.
LATEST_MILLISECONDS = 253_402_300_800_000


def read_json(path, what):
    """A JSON file's content; a file that is missing, unreadable, empty, not UTF-8 or not
    JSON is a ValueError naming it."""
    def bad(problem):
        return ValueError(f"{what} '{path}': {problem}")

    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise bad("does not exist") from None
    except OSError as exc:
        raise bad(f"cannot be read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad("is not UTF-8 text, so not JSON") from None
    if not text.strip():
        raise bad("the file is empty")
    try:
        return json.loads(text)  # asv writes NaN for skipped results; json reads it
    except json.JSONDecodeError as exc:
        detail = exc.msg.removesuffix(" at")  # "Unterminated string starting at"
        raise bad(f"is not valid JSON at line {exc.lineno}, column {exc.colno}: "
                  f"{detail[:1].lower()}{detail[1:]}") from None
    except RecursionError:
        raise bad("is not valid JSON: nested too deeply") from None


class _Problem(Exception):
    """What is wrong with a field of a file; the caller adds which file."""


def _show(value):
    """``value`` as the file spells it, cut to ``SHOWN_CHARS``."""
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 3] + "..."


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_time(value):
    """Milliseconds since 1970, as asv writes its dates and start times."""
    return _is_number(value) and 0 <= value < LATEST_MILLISECONDS


def _field(data, name, check, expected, required=True, where=""):
    """Raise a ``_Problem`` where field ``name`` of ``data`` is missing (and ``required``) or
    present and fails ``check``; null counts as missing. ``where``: what holds the field."""
    if data.get(name) is None:
        if required:
            raise _Problem(f"field {name!r}{where} is missing" if name not in data else
                           f"field {name!r}{where} must be {expected}, got null")
        return
    if not check(data[name]):
        raise _Problem(f"field {name!r}{where} must be {expected}, got {_show(data[name])}")


def _check_file(what, path, check, data):
    """Run ``check`` on a loaded file's top-level object; its ``_Problem`` becomes a one-line
    ValueError naming the file (``what`` says which kind)."""
    try:
        if not isinstance(data, dict):
            raise _Problem(f"the top level must be an object, got {_show(data)}")
        check(data)
    except _Problem as exc:
        raise ValueError(f"{what} '{path}': {exc}") from None


def _check_result(data):
    if "version" not in data:
        raise _Problem("field 'version' is missing (asv's result files are format 2)")
    if data["version"] != 2 or isinstance(data["version"], bool):
        older = _is_number(data["version"]) and data["version"] < 2
        raise _Problem(f"field 'version' must be 2 (asv's result format), got "
                       f"{_show(data['version'])}" + ("; `asv update` converts older files"
                                                      if older else ""))
    _field(data, "commit_hash", lambda v: isinstance(v, str) and v.strip() != "",
           "a non-empty string")
    _field(data, "env_name", lambda v: isinstance(v, str), "a string")
    _field(data, "date", _is_time, "a number (milliseconds since 1970)")
    _field(data, "python", lambda v: isinstance(v, str), "a string", required=False)
    _field(data, "params", lambda v: isinstance(v, dict), "an object", required=False)
    _field(data, "requirements", lambda v: isinstance(v, dict) and all(
        x is None or isinstance(x, str) for x in v.values()),
        "an object of version strings", required=False)
    _field(data, "result_columns", lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v),
           "a list of column names")
    columns = data["result_columns"]
    if "result" not in columns:
        raise _Problem(f"field 'result_columns' must name the column 'result', got {_show(columns)}")
    twice = [c for c in dict.fromkeys(columns) if columns.count(c) > 1]
    if twice:
        raise _Problem(f"field 'result_columns' names {twice[0]!r} twice")
    _field(data, "results", lambda v: isinstance(v, dict), "an object (benchmark name: values)")
    for name, entry in data["results"].items():
        if not isinstance(entry, list):
            raise _Problem(f"field 'results' must map benchmark {name!r} to a list (one value "
                           f"per result column), got {_show(entry)}")
        if len(entry) > len(columns):
            raise _Problem(f"field 'results' gives benchmark {name!r} {len(entry)} values, more "
                           f"than the {len(columns)} columns of result_columns")
        _check_benchmark(name, dict(zip(columns, entry)))


def _check_benchmark(name, fields):
    """One benchmark's entry of a result file, as {result column: value}."""
    where = f" of benchmark {name!r}"
    params = fields.get("params")
    if params is not None and not (isinstance(params, list) and all(
            isinstance(values, list) and all(isinstance(p, str) for p in values) for values in params)):
        raise _Problem(f"field 'params'{where} must be a list of lists of parameter strings, "
                       f"got {_show(params)}")
    combinations = math.prod(len(values) for values in params or [])
    timed = name.rsplit(".", 1)[-1].startswith("time_")

    def per_combination(column, item_ok, items):
        values = fields.get(column)
        if values is None:
            return
        if not isinstance(values, list):
            raise _Problem(f"field {column!r}{where} must be a list (one value per parameter "
                           f"combination) or null, got {_show(values)}")
        if len(values) != combinations:
            raise _Problem(f"field {column!r}{where} must hold {combinations} values (one per "
                           f"parameter combination), got {len(values)}")
        for index, value in enumerate(values):
            if value is not None and not item_ok(value):
                raise _Problem(f"field {column!r}{where} must hold {items}, got {_show(value)} "
                               f"at index {index}")

    def measured(value):  # a finite figure, positive for a time
        return _is_number(value) and math.isfinite(value) and (value > 0 or not timed)

    per_combination("result", lambda v: measured(v) or (isinstance(v, float) and math.isnan(v)),
                    "positive times, NaN or null" if timed else "numbers, NaN or null")
    per_combination("samples", lambda v: isinstance(v, list) and all(measured(x) for x in v),
                    "lists of positive times or null" if timed else "lists of numbers or null")
    for column in STATS_COLUMNS:
        per_combination(column, _is_number, "numbers or null")
    _field(fields, "started_at", _is_time, "a number (milliseconds since 1970)", False, where)
    _field(fields, "duration", _is_number, "a number (seconds)", False, where)
    _field(fields, "version", lambda v: isinstance(v, str), "a string", False, where)


def check_result(data, path):
    """Raise a one-line ValueError naming ``path`` and the field where ``data`` (a loaded
    result file) is not in asv's result format 2 as the exporter reads it."""
    _check_file("asv result file", path, _check_result, data)


def _check_machine(data):
    if "version" in data and (data["version"] != 1 or isinstance(data["version"], bool)):
        raise _Problem(f"field 'version' must be 1 (asv's machine file format), got "
                       f"{_show(data['version'])}")
    for name in ("machine", "os", "arch", "cpu", "ram"):
        _field(data, name, lambda v: isinstance(v, str), "a string", required=False)
    _field(data, "num_cpu", lambda v: v == "" or isinstance(v, (int, str)) and
           not isinstance(v, bool) and (int_or_none(v) or 0) > 0, "a number of CPUs", False)


def check_machine(data, path):
    """Raise a one-line ValueError naming ``path`` and the field where ``data`` (a loaded
    machine.json) is not asv's machine file as the exporter reads it."""
    _check_file("asv machine file", path, _check_machine, data)


def _check_benchmarks(data):
    if "version" in data and (data["version"] != 2 or isinstance(data["version"], bool)):
        raise _Problem(f"field 'version' must be 2 (asv's benchmarks file format), got "
                       f"{_show(data['version'])}")
    for name, entry in data.items():
        if name == "version":
            continue
        if not isinstance(entry, dict):
            raise _Problem(f"field {name!r} must be an object (the benchmark's description), "
                           f"got {_show(entry)}")
        where = f" of benchmark {name!r}"
        _field(entry, "version", lambda v: isinstance(v, str), "a string", False, where)
        _field(entry, "param_names", lambda v: isinstance(v, list) and all(
            isinstance(p, str) for p in v), "a list of strings", False, where)


def check_benchmarks(data, path):
    """Raise a one-line ValueError naming ``path`` and the field where ``data`` (a loaded
    benchmarks.json) is not asv's benchmarks file as the exporter reads it."""
    _check_file("asv benchmarks file", path, _check_benchmarks, data)
