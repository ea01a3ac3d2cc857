"""Weights and state files: `.npz` written atomically, read without pickle.

A save goes to a temporary file in the same folder (`.NAME.XXXX.tmp`), is flushed and
fsync'ed, then renamed over the target, and the folder is fsync'ed, so that a crash or a
SIGKILL leaves either the old file or the new one, never half of one. A truncated, foreign
or pickled file is refused with a WeightsFileError naming it.
"""
import math
import os
import stat
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
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and str(path) not in str(exc):
            named = OSError(f"{path}: cannot be written ({exc.strerror or exc})")
            named.errno = exc.errno       # e.g. ENOSPC: the disk is full
            raise named from None
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


MEMBER_SUFFIX = ".npy"
CHUNK = 1 << 24                # bytes decompressed per read
ALLOWED_KINDS = "biufUS"       # bool, ints, floats and the strings of a state file


def _memory_bytes():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 40


def _open_regular(path):
    """Open `path` for reading, refusing what is not a regular file before any read (a FIFO
    would block forever, a device would never end)."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise WeightsFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise WeightsFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise WeightsFileError(f"{path}: is a folder, not an .npz file")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO" if stat.S_ISFIFO(st.st_mode) else "a device"
                if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "a socket"
                if stat.S_ISSOCK(st.st_mode) else "not a plain file")
        raise WeightsFileError(f"{path}: is {kind}, not a regular .npz file")
    try:
        return open(path, "rb")
    except OSError as exc:
        raise WeightsFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def load_npz(path, expected=None, only_expected=False, max_bytes=None, only=None):
    """Read the arrays of a .npz into memory; WeightsFileError on anything wrong.

    Every member's .npy header is read and checked before its data is decompressed: the
    dtype (no objects, no complex), the declared size against the zip directory's, the shape
    against `expected` (name -> shape, when given), and the total against `max_bytes`
    (default: half the machine's memory). Data is then read in bounded pieces into an array of
    the declared size, so a member holding more than it declares is refused, never inflated.
    With `only_expected`, members not in `expected` are skipped without being decompressed;
    with `only` (names), members not named there are."""
    path = Path(path)
    budget = _memory_bytes() // 2 if max_bytes is None else max_bytes
    with _open_regular(path) as f:
        try:
            head = f.read(6)
        except OSError as exc:
            raise WeightsFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
        if not head:
            raise WeightsFileError(f"{path}: is empty (a write that never finished?)")
        if head.startswith(b"\x93NUMPY"):
            raise WeightsFileError(f"{path}: a single .npy array, not an .npz archive")
        if not head.startswith(b"PK"):
            raise WeightsFileError(f"{path}: not an .npz file (it starts with {head[:4]!r}, "
                                   "not a zip header)")
        f.seek(0)
        try:
            with zipfile.ZipFile(f) as zf:
                return _read_members(path, zf, expected, only_expected, budget, only)
        except WeightsFileError:
            raise
        except zipfile.BadZipFile as exc:
            raise WeightsFileError(f"{path}: not a valid .npz/zip file (truncated or corrupt: "
                                   f"{exc})") from None
        except Exception as exc:  # zlib.error, EOFError, OSError, struct errors ...
            raise WeightsFileError(f"{path}: not a valid .npz/zip file ({type(exc).__name__}: "
                                   f"{exc})") from None


def _read_members(path, zf, expected, only_expected, budget, only=None):
    plan, total = [], 0
    for info in zf.infolist():
        if info.is_dir():
            continue
        name = info.filename
        key = name[:-len(MEMBER_SUFFIX)] if name.endswith(MEMBER_SUFFIX) else name
        if only_expected and expected is not None and key not in expected:
            continue
        if only is not None and key not in only:
            continue
        if any(key == k for k, *_ in plan):
            raise WeightsFileError(f"{path}: holds '{key:.100}' twice")
        with zf.open(info) as member:
            shape, dtype, fortran, offset = _npy_header(path, key, member)
        nbytes = math.prod(shape) * dtype.itemsize
        if info.file_size != offset + nbytes:
            raise WeightsFileError(
                f"{path}: array '{key:.100}' declares shape {list(shape)} of {dtype} "
                f"({offset + nbytes:,} bytes with its header) but the archive says "
                f"{info.file_size:,} bytes (corrupt or forged)")
        if expected is not None and key in expected and tuple(expected[key]) != shape:
            raise WeightsFileError(f"{path}: '{key:.100}' has shape {list(shape)}, the net "
                                   f"expects {list(expected[key])}")
        total += nbytes
        if total > budget:
            raise WeightsFileError(f"{path}: its arrays declare {total:,} bytes or more, past "
                                   f"the {budget:,} this machine can hold for them; refused "
                                   "before decompressing")
        plan.append((key, info, shape, dtype, fortran, offset, nbytes))
    out = {}
    for key, info, shape, dtype, fortran, offset, nbytes in plan:
        out[key] = _read_data(path, key, zf, info, shape, dtype, fortran, offset, nbytes)
    return out


def _npy_header(path, key, member):
    """(shape, dtype, fortran_order, data offset) of one .npy member, from its header only."""
    try:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ValueError(f"npy format version {version} is not supported")
    except ValueError as exc:
        raise WeightsFileError(f"{path}: member '{key:.100}' is not a .npy array "
                               f"({str(exc)[:200]})") from None
    if dtype.hasobject:
        raise WeightsFileError(f"{path}: holds pickled objects (array '{key:.100}'), which "
                               "layerflow never loads")
    if dtype.kind == "c":
        raise WeightsFileError(f"{path}: array '{key:.100}' is complex ({dtype}); weights and "
                               "states are real numbers")
    if dtype.kind not in ALLOWED_KINDS or dtype.fields is not None or dtype.subdtype:
        raise WeightsFileError(f"{path}: array '{key:.100}' has dtype {dtype}, not a number "
                               "or a string")
    if any(d < 0 for d in shape):
        raise WeightsFileError(f"{path}: array '{key:.100}' has a negative dimension")
    return tuple(int(d) for d in shape), dtype, fortran, member.tell()


def _read_data(path, key, zf, info, shape, dtype, fortran, offset, nbytes):
    array = np.empty(shape, dtype, order="F" if fortran else "C")
    view = memoryview(array.reshape(-1, order="A").view(np.uint8))
    with zf.open(info) as member:
        member.read(offset)
        got = 0
        while got < nbytes:
            n = member.readinto(view[got:got + CHUNK])
            if not n:
                break
            got += n
        if got < nbytes or member.read(1):
            raise WeightsFileError(f"{path}: array '{key:.100}' is not the {nbytes:,} bytes "
                                   "its header declares (truncated or corrupt)")
    return array


def save_weights(path, arrays):
    save_npz_atomic(path, arrays)


def load_weights(path, expected=None, only_expected=False, allow_nonfinite=False):
    """The arrays of a weights file; one with no `{layer}/{index}` key is refused, and so is
    one holding NaN or infinity (unless `allow_nonfinite`), naming the array."""
    arrays = load_npz(path, expected, only_expected)
    if not only_expected and (not arrays or not any("/" in k for k in arrays)):
        raise WeightsFileError(f"{path}: not a layerflow weights file (no 'layer/index' keys)")
    if not allow_nonfinite:
        for key, a in arrays.items():
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                bad = np.flatnonzero(~np.isfinite(a.reshape(-1)))
                raise WeightsFileError(
                    f"{path}: array '{key}' holds {bad.size:,} non-finite value(s) (the first, "
                    f"{a.reshape(-1)[bad[0]]}, at flat index {bad[0]}); scores from such weights "
                    "would mean nothing")
    return arrays


def copy_weights(net, path, require_all=False):
    """Load a weights file into `net`, checking every array's header against the net's shapes
    before decompressing it (arrays of layers the net lacks are not read at all).

    With `require_all` (`layerflow test`), a file that lacks any of the net's params is
    refused with their names: a net half made of random weights scores nonsense. Without it
    (fine-tuning), missing params keep their fillers' values."""
    expected = {f"{layer.name}/{i}": blob.shape for layer in net.layers
                for i, blob in enumerate(layer.blobs)}
    arrays = load_weights(path, expected, only_expected=True)
    missing = [k for k in expected if k not in arrays]
    if expected and len(missing) == len(expected):
        raise WeightsFileError(f"{path}: none of its arrays names a param of net "
                               f"'{net.name}' (it expects keys like '{next(iter(expected))}')")
    if require_all and missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more"
                                          if len(missing) > 8 else "")
        raise WeightsFileError(f"{path}: lacks {len(missing)} of the net's "
                               f"{len(expected)} params ({shown}); they would be scored with "
                               "random weights")
    for layer in net.layers:
        for i, blob in enumerate(layer.blobs):
            key = f"{layer.name}/{i}"
            if key in arrays:
                blob.data[...] = arrays[key]
    return missing
