"""Weights and state files: `.npz` written atomically, read without pickle.

A save goes to a temporary file in the same folder, is flushed and fsync'ed, then renamed
over the target, so that a crash leaves either the old file or the new one, never half of
one. A truncated, foreign or pickled file is refused with a message naming it.
"""
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np


class WeightsFileError(ValueError):
    """A weights or state file that cannot be used; the message names the file and why."""


def save_npz_atomic(path, arrays):
    """Write `arrays` (name -> array) to `path` as .npz, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{k: np.asarray(v) for k, v in arrays.items()})
            f.flush()
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
    try:
        with np.load(path, allow_pickle=False) as npz:
            if not isinstance(npz, np.lib.npyio.NpzFile):
                raise WeightsFileError(f"{path}: not an .npz archive (a single .npy array)")
            return {k: npz[k] for k in npz.files}
    except WeightsFileError:
        raise
    except zipfile.BadZipFile as exc:
        raise WeightsFileError(f"{path}: not a valid .npz file (truncated or foreign: {exc})") \
            from None
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise WeightsFileError(f"{path}: holds pickled objects, which layerflow "
                                   "never loads") from None
        raise WeightsFileError(f"{path}: cannot be read as .npz ({exc})") from None
    except (OSError, EOFError) as exc:
        raise WeightsFileError(f"{path}: cannot be read ({exc})") from None


def save_weights(path, arrays):
    save_npz_atomic(path, arrays)


def load_weights(path):
    """The arrays of a weights file; one with no `{layer}/{index}` key is refused."""
    arrays = load_npz(path)
    if arrays and not any("/" in k for k in arrays):
        raise WeightsFileError(f"{path}: not a layerflow weights file (no 'layer/index' keys)")
    return arrays
