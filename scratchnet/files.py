"""Writing files so that a reader never sees half of one, nor half of a set.

``atomic_write(path, write)`` writes a temporary file beside ``path`` and
renames it into place. Inside ``written_together()`` the renames wait until
every file of the block is written: a report set is all new or all old, even
when the disk fills up at its last file. ``check_output_path`` and
``check_output_folder`` make sure an output can be written (by creating and
removing a probe file) before any work is done, so a read-only or missing
location costs nothing. Every failure names the user's path, never a
temporary one.
"""
from __future__ import annotations

import contextlib
import os
import tempfile

#: The blocks of ``written_together`` now open: lists of (temporary file, path).
_pending = []
#: Every path ``atomic_write`` has put in place in this process, in order (what the
#: command line reports when it is interrupted).
written = []


class WriteError(OSError):
    """A file could not be written; the message names the user's path and the reason."""

    def __str__(self):
        return self.args[0]


def _write_error(path, exc):
    error = WriteError(f"cannot write {path!r}: {exc.strerror or exc}")
    error.errno = exc.errno
    return error


def atomic_write(path, write):
    """Call ``write(binary file object)`` on a temporary file beside ``path``, then
    move it into place with ``os.replace`` (inside ``written_together``, when the block
    ends).

    A failure, or an interruption, leaves ``path`` exactly as it was and no
    temporary file behind; an ``OSError`` becomes a ``WriteError`` naming ``path``.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"cannot write {path!r}: folder {folder!r} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _mode_for(path))  # mkstemp makes 0600 files; keep the usual mode
        if _pending:
            _pending[-1].append((tmp, path))
            return
        os.replace(tmp, path)
        written.append(path)
    except BaseException as exc:
        remove_quietly(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError):
            raise _write_error(path, exc) from None
        raise


@contextlib.contextmanager
def written_together():
    """Files written by ``atomic_write`` inside the block are renamed into place only
    when the block ends without an error; otherwise none is, and their temporary
    files are removed."""
    batch = []
    _pending.append(batch)
    try:
        yield
    except BaseException:
        _pending.remove(batch)
        for tmp, _ in batch:
            remove_quietly(tmp)
        raise
    _pending.remove(batch)
    for index, (tmp, path) in enumerate(batch):
        try:
            os.replace(tmp, path)  # a rename within one folder: no data is written
        except BaseException as exc:
            for left, _ in batch[index:]:
                remove_quietly(left)
            if isinstance(exc, OSError):
                raise _write_error(path, exc) from None
            raise
        written.append(path)


def remove_quietly(path):
    """Remove the file at ``path`` if it is there; an error (gone already, no right) is ignored."""
    with contextlib.suppress(OSError):
        os.unlink(path)


def _mode_for(path):
    """The replaced file's permissions, or what a plain ``open(path, "w")`` would give."""
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_text(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def _probe(folder, argument, path):
    """Create and remove a file in ``folder``; ValueError naming ``argument`` if it fails."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".scratchnet-probe-")
    except OSError as exc:
        raise ValueError(f"{argument} {path!r} cannot be written: {exc.strerror or exc}") from None
    os.close(fd)
    remove_quietly(probe)


def check_output_path(path, argument, suffixes):
    """``path`` as a string if its folder exists and can be written to, and it ends in one
    of ``suffixes``."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{argument} must be a file path, got {type(path).__name__}")
    path = os.fspath(path)
    if not path.lower().endswith(tuple(suffixes)):
        raise ValueError(f"{argument} {path!r} must end in {' or '.join(suffixes)}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{argument} {path!r}: folder {folder!r} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"{argument} {path!r} is a folder, expected a file path")
    _probe(folder, argument, path)
    return path


def check_output_folder(path, argument):
    """``path`` as a string if it is a folder that can be written to, or can be created
    (its nearest existing parent is a folder that can be written to). Nothing is created."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{argument} must be a folder path, got {type(path).__name__}")
    path = os.fspath(path)
    if not path.strip():
        raise ValueError(f"{argument} must name a folder, got {path!r}")
    existing = os.path.abspath(path)
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        what = "is a file" if existing == os.path.abspath(path) else f"is inside the file {existing!r}"
        raise ValueError(f"{argument} {path!r} {what}, expected a folder")
    _probe(existing, argument, path)
    return path
