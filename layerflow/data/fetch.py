"""`layerflow data fetch NAME`: download a dataset into `$LAYERFLOW_DATA/NAME`, checked.

    from layerflow.data.fetch import fetch_dataset, ensure_dataset
    folder = fetch_dataset("mnist")          # -> $LAYERFLOW_DATA/mnist
    ensure_dataset("cifar10")                # what a data layer does on first use

Each file is downloaded to a temporary name beside its target, its checksum (SHA-256; MD5
where only that is published) compared with the published file's, then renamed into place;
files already there are kept when they are the published ones or hold the same decompressed
bytes (a recompressed or unzipped copy). An archive (CIFAR-10's tar.gz) is unpacked in place
and removed. A progress bar (tqdm) shows on a terminal, nothing but log lines elsewhere.

Where from: `base_url`, else `$LAYERFLOW_<NAME>_URL` (e.g. `LAYERFLOW_MNIST_URL`), else
`$LAYERFLOW_MIRROR/<name>/` (one mirror for every dataset, e.g. `file:///media/usb/`),
else the published mirrors. Data layers call `ensure_dataset` when their files are missing:
it fetches once and logs where the files went; `auto_download: false` in the layer or
`LAYERFLOW_OFFLINE=1` in the environment turn that off, and the error then names the fetch
command, the URL override and the folder on one line.
"""
import contextlib
import gzip
import hashlib
import logging
import os
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from . import DataFileError, data_root

log = logging.getLogger("layerflow")
OFFLINE_ENV = "LAYERFLOW_OFFLINE"
MIRROR_ENV = "LAYERFLOW_MIRROR"

DATASETS = {
    "mnist": {
        "env": "LAYERFLOW_MNIST_URL",
        "mirrors": ["https://storage.googleapis.com/cvdf-datasets/mnist/",
                    "https://ossci-datasets.s3.amazonaws.com/mnist/"],
        "files": {
            # the published files' SHA-256 (the same bytes as yann.lecun.com/exdb/mnist served)
            "train-images-idx3-ubyte.gz":
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz":
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte.gz":
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte.gz":
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
        # SHA-256 of the decompressed IDX files: a copy recompressed by another gzip (or
        # stored uncompressed) holds the same digits and is kept, not downloaded again.
        "content": {
            "train-images-idx3-ubyte.gz":
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte.gz":
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte.gz":
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte.gz":
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        "title": "MNIST",
    },
    "cifar10": {
        "env": "LAYERFLOW_CIFAR10_URL",
        "mirrors": ["https://www.cs.toronto.edu/~kriz/"],
        # the binary version; Toronto publishes its MD5 only
        "files": {"cifar-10-binary.tar.gz": "md5:c32a1d4ab5d03f1284b67883e8d87530"},
        "content": {},
        # unpacked into cifar-10-batches-bin/, which the CIFAR10Data reader looks in
        "unpacks_to": {"cifar-10-binary.tar.gz": [
            f"cifar-10-batches-bin/{n}" for n in
            [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]]},
        "title": "CIFAR-10",
    },
}
CHUNK = 1 << 16


def _hasher(digest):
    """(hash object, hex digest expected) for a published digest ('md5:...' or SHA-256)."""
    if digest.startswith("md5:"):
        return hashlib.md5(usedforsecurity=False), digest[4:]
    return hashlib.sha256(), digest


def sha256_of(path, decompress=False, digest=""):
    h = _hasher(digest)[0]
    with (gzip.open if decompress else open)(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def offline():
    """True when `$LAYERFLOW_OFFLINE` says never to download (1, true, yes)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def sources_of(name, base_url=None):
    """The base URLs tried for dataset `name`, in order (see the module docstring)."""
    spec = DATASETS[name]
    mirror = os.environ.get(MIRROR_ENV)
    base_url = (base_url or os.environ.get(spec["env"]) or
                (mirror.rstrip("/") + f"/{name}/" if mirror else None))
    mirrors = [base_url] if base_url else spec["mirrors"]
    return [m if m.endswith("/") else m + "/" for m in mirrors]


def is_complete(name, folder):
    """Whether every file of dataset `name` is in `folder` (unpacked where it is an archive;
    gzipped or not)."""
    spec = DATASETS[name]
    for file in spec["files"]:
        wanted = spec.get("unpacks_to", {}).get(file)
        if wanted:
            if not all((folder / w).exists() for w in wanted):
                return False
        elif not ((folder / file).exists() or (folder / file).with_suffix("").exists()):
            return False
    return True


def unavailable_message(name, folder, why):
    """The one line a data layer raises when its dataset is missing and cannot be fetched."""
    spec = DATASETS[name]
    files = [w for f in spec["files"] for w in spec.get("unpacks_to", {}).get(f, [f])]
    shown = ", ".join(files[:4]) + (", ..." if len(files) > 4 else "")
    return (f"{spec.get('title', name)} not found in {folder} and {why}: run `layerflow data fetch "
            f"{name}` where there is a network, or set {MIRROR_ENV}=URL (or {spec['env']}) "
            f"to a mirror, or put {shown} into {folder}")


def ensure_dataset(name, folder=None, auto_download=True, layer=None):
    """Make sure dataset `name` is in `folder` (default `$LAYERFLOW_DATA/name`), fetching it
    once when it is missing; returns the folder. DataFileError (one line) when it is missing
    and downloads are off or fail."""
    folder = Path(folder) if folder is not None else data_root() / name
    if is_complete(name, folder):
        return folder
    who = f"layer '{layer}': " if layer else ""
    if not auto_download:
        raise DataFileError(who + unavailable_message(name, folder,
                                                      "the layer says auto_download: false"))
    if offline():
        raise DataFileError(who + unavailable_message(name, folder,
                                                      f"{OFFLINE_ENV} is set (no downloads)"))
    log.info("%s not found in %s: downloading it (once) from %s", DATASETS[name].get("title", name),
             folder, sources_of(name)[0])
    try:
        fetch_dataset(name, root=folder.parent, folder=folder)
    except DataFileError as exc:
        with contextlib.suppress(OSError):
            folder.rmdir()                   # leave no empty folder behind (only if empty)
        first = " ".join(line.strip() for line in str(exc).splitlines()[1:2])
        raise DataFileError(who + unavailable_message(
            name, folder, f"could not be downloaded ({first or exc})")) from None
    log.info("%s downloaded to %s", DATASETS[name].get("title", name), folder)
    return folder


def fetch_dataset(name, root=None, base_url=None, progress=None, timeout=60, folder=None):
    """Download dataset `name` into `root/name` (root: `$LAYERFLOW_DATA`) or `folder`;
    return the folder.

    Raises DataFileError naming the file, the URLs tried and, for a network failure, the
    files to put in the folder by hand."""
    if name not in DATASETS:
        raise DataFileError(f"unknown dataset '{name}'; fetch knows: {', '.join(DATASETS)}")
    spec = DATASETS[name]
    if folder is None:
        folder = (Path(root) if root is not None else data_root()) / name
    folder = Path(folder)
    mirrors = sources_of(name, base_url)
    show = sys.stderr.isatty() if progress is None else progress
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataFileError(f"{folder}: cannot create the dataset folder ({exc})") from None
    for file, digest in spec["files"].items():
        target = folder / file
        unpacked = spec.get("unpacks_to", {}).get(file)
        if unpacked and all((folder / u).exists() for u in unpacked):
            continue
        if not unpacked and _already_there(target, digest, spec["content"][file]):
            continue
        errors = []
        for mirror in mirrors:
            url = mirror + file
            try:
                _download(url, target, digest, show, timeout,
                          spec.get("content", {}).get(file))
                break
            except _Mismatch as exc:
                errors.append(f"{url}: {exc}")
            except (urllib.error.URLError, OSError, ValueError) as exc:
                errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
        else:
            raise DataFileError(_offline_message(name, spec, folder, file, errors))
        if unpacked:
            _unpack(target, folder, unpacked)
    return folder


def _unpack(archive, folder, expected):
    """Unpack a downloaded tar archive into `folder` (regular files and folders only, none
    outside it), check that it held `expected`, and remove the archive."""
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataFileError(f"{archive}: cannot be unpacked ({exc})") from None
    missing = [e for e in expected if not (folder / e).exists()]
    if missing:
        raise DataFileError(f"{archive}: unpacked, but {', '.join(missing)} not in it")
    archive.unlink()


def _already_there(target, digest, content_digest):
    """A file in place that is the published one, or holds the same decompressed bytes."""
    plain = target.with_suffix("")
    try:
        if target.exists():
            return (sha256_of(target) == digest or
                    sha256_of(target, decompress=True) == content_digest)
        return plain.exists() and sha256_of(plain) == content_digest
    except (OSError, EOFError):
        return False


class _Mismatch(ValueError):
    pass


def _download(url, target, digest, show, timeout, content_digest=None):
    """Fetch `url` into `target` through a temporary file; the bytes must have the published
    digest, or (a mirror that recompressed the files) decompress to the published content."""
    from tqdm import tqdm
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")   # one per process (MPI ranks)
    h, expected = _hasher(digest)
    kind = "MD5" if digest.startswith("md5:") else "SHA-256"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, desc=target.name, unit="B", unit_scale=True,
                      unit_divisor=1000, file=sys.stderr, disable=not show, ascii=".#",
                      mininterval=0.2, leave=True,
                      bar_format="{desc} [{bar:30}] {n_fmt}/{total_fmt} {rate_fmt}") as bar:
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    h.update(block)
                    bar.update(len(block))
        if h.hexdigest() != expected and not _same_content(tmp, content_digest):
            raise _Mismatch(f"{kind} {h.hexdigest()} differs from the published {expected} "
                            "(corrupt or altered download)")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _same_content(path, content_digest):
    try:
        return bool(content_digest) and sha256_of(path, decompress=True) == content_digest
    except (OSError, EOFError):
        return False


def _offline_message(name, spec, folder, file, errors):
    lines = [f"could not fetch {name}: {file} failed from every source:"]
    lines += [f"  {e}" for e in errors]
    lines.append(f"Offline, put these files (gzipped, as published) into {folder}:")
    lines += [f"  {f}  {'md5 ' + d[4:] if d.startswith('md5:') else 'sha256 ' + d}"
              for f, d in spec["files"].items()]
    lines.append(f"or point {spec['env']} (or base_url) at a folder or server that has them, "
                 f"e.g. {spec['env']}=file:///path/to/{name}/ (or {MIRROR_ENV} at a folder "
                 f"holding {name}/)")
    return "\n".join(lines)
