"""Weights and state files: `.npz` written atomically, read without pickle.

A save goes to a temporary file in the same folder (`.NAME.XXXX.tmp`), is flushed and
fsync'ed, then renamed over the target, and the folder is fsync'ed, so that a crash or a
SIGKILL leaves either the old file or the new one, never half of one. A truncated, foreign
or pickled file is refused with a WeightsFileError naming it.
"""
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np


class WeightsFileError(ValueError):
    """A weights or state file that cannot be used; the message names the file and why."""


def _read_umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()       # read once: os.umask can only be read by setting it


def save_npz_atomic(path, arrays):
    """Write `arrays` (name -> array) to `path` as .npz, atomically. Object arrays (which
    would need pickle) are refused."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    for k, v in arrays.items():
        if v.dtype == object:
            raise ValueError(f"{path}: array '{k}' holds Python objects; layerflow files "
                             "never use pickle")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            if hasattr(os, "fchmod"):          # mkstemp made it 0600; give the umask's
                os.fchmod(f.fileno(), 0o666 & ~_UMASK)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_npz(path):
    """Read every array of a .npz into memory; WeightsFileError on anything wrong."""
    path = Path(path)
    if not path.exists():
        raise WeightsFileError(f"{path}: no such file")
    if path.is_dir():
        raise WeightsFileError(f"{path}: is a folder, not an .npz file")
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError as exc:
        raise WeightsFileError(f"{path}: cannot be read ({exc})") from None
    if not head:
        raise WeightsFileError(f"{path}: is empty (a write that never finished?)")
    if head.startswith(b"\x93NUMPY"):
        raise WeightsFileError(f"{path}: a single .npy array, not an .npz archive")
    if not head.startswith(b"PK"):
        raise WeightsFileError(f"{path}: not an .npz file (it starts with {head[:4]!r}, "
                               "not a zip header)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except zipfile.BadZipFile as exc:
        raise WeightsFileError(f"{path}: not a valid .npz file (truncated or corrupt: {exc})") \
            from None
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise WeightsFileError(f"{path}: holds pickled objects, which layerflow "
                                   "never loads") from None
        raise WeightsFileError(f"{path}: cannot be read as .npz ({exc})") from None
    except Exception as exc:  # zlib.error, EOFError, OSError, struct errors ...
        raise WeightsFileError(f"{path}: cannot be read as .npz ({type(exc).__name__}: "
                               f"{exc})") from None


def save_weights(path, arrays):
    save_npz_atomic(path, arrays)


def load_weights(path):
    """The arrays of a weights file; one with no `{layer}/{index}` key is refused."""
    arrays = load_npz(path)
    if not arrays or not any("/" in k for k in arrays):
        raise WeightsFileError(f"{path}: not a layerflow weights file (no 'layer/index' keys)")
    return arrays
