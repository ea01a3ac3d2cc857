"""`layerflow data fetch NAME`: download a dataset into `$LAYERFLOW_DATA/NAME`, checked.

    from layerflow.data.fetch import fetch_dataset
    folder = fetch_dataset("mnist")          # -> $LAYERFLOW_DATA/mnist

Each file is downloaded to a temporary name beside its target, its SHA-256 compared with the
published file's, then renamed into place; files already there are kept when they are the
published ones or hold the same decompressed bytes (a recompressed or unzipped copy). A
progress bar shows on a terminal. `base_url` (or `$LAYERFLOW_MNIST_URL`) replaces the
mirrors, e.g. `file:///media/usb/mnist/` or a local HTTP server. Without a network the error
says which files to put where.
"""
import gzip
import hashlib
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import DataFileError, data_root

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
    },
}
CHUNK = 1 << 16


def sha256_of(path, decompress=False):
    h = hashlib.sha256()
    with (gzip.open if decompress else open)(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def fetch_dataset(name, root=None, base_url=None, progress=None, timeout=60):
    """Download dataset `name` into `root/name` (root: `$LAYERFLOW_DATA`); return the folder.

    Raises DataFileError naming the file, the URLs tried and, for a network failure, the
    files to put in the folder by hand."""
    if name not in DATASETS:
        raise DataFileError(f"unknown dataset '{name}'; fetch knows: {', '.join(DATASETS)}")
    spec = DATASETS[name]
    folder = Path(root) if root is not None else data_root()
    folder = folder / name
    base_url = base_url or os.environ.get(spec["env"])
    mirrors = [base_url] if base_url else spec["mirrors"]
    mirrors = [m if m.endswith("/") else m + "/" for m in mirrors]
    show = sys.stderr.isatty() if progress is None else progress
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataFileError(f"{folder}: cannot create the dataset folder ({exc})") from None
    for file, digest in spec["files"].items():
        target = folder / file
        if _already_there(target, digest, spec["content"][file]):
            continue
        errors = []
        for mirror in mirrors:
            url = mirror + file
            try:
                _download(url, target, digest, show, timeout)
                break
            except _Mismatch as exc:
                errors.append(f"{url}: {exc}")
            except (urllib.error.URLError, OSError, ValueError) as exc:
                errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
        else:
            raise DataFileError(_offline_message(name, spec, folder, file, errors))
    return folder


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


def _download(url, target, digest, show, timeout):
    tmp = target.with_name(f".{target.name}.part")
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            bar = _Bar(target.name, total) if show else None
            done = 0
            for block in iter(lambda: response.read(CHUNK), b""):
                out.write(block)
                h.update(block)
                done += len(block)
                if bar:
                    bar.update(done)
            if bar:
                bar.close(done)
        if h.hexdigest() != digest:
            raise _Mismatch(f"SHA-256 {h.hexdigest()} differs from the published {digest} "
                            "(corrupt or altered download)")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _offline_message(name, spec, folder, file, errors):
    lines = [f"could not fetch {name}: {file} failed from every source:"]
    lines += [f"  {e}" for e in errors]
    lines.append(f"Offline, put these files (gzipped, as published) into {folder}:")
    lines += [f"  {f}  sha256 {d}" for f, d in spec["files"].items()]
    lines.append(f"or point {spec['env']} (or base_url) at a folder or server that has them, "
                 f"e.g. {spec['env']}=file:///path/to/{name}/")
    return "\n".join(lines)


class _Bar:
    """`file [#####.....] 4.2/9.9 MB 3.1 MB/s` on stderr, redrawn a few times a second."""

    def __init__(self, label, total):
        self.label, self.total, self.t0, self.last = label, total, time.perf_counter(), 0.0

    def update(self, done, force=False):
        now = time.perf_counter()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        rate = done / max(now - self.t0, 1e-9) / 1e6
        if self.total:
            k = int(30 * done / self.total)
            bar = f"[{'#' * k}{'.' * (30 - k)}] {done / 1e6:.1f}/{self.total / 1e6:.1f} MB"
        else:
            bar = f"{done / 1e6:.1f} MB"
        sys.stderr.write(f"\r{self.label} {bar} {rate:.1f} MB/s ")
        sys.stderr.flush()

    def close(self, done):
        self.update(done, force=True)
        sys.stderr.write("\n")
        sys.stderr.flush()
