"""`fetch_dataset`: downloads from a local HTTP server or file:// URL (never the internet),
checks SHA-256, keeps good files, and says what to put where when it cannot download."""
import gzip
import hashlib
import http.server
import socket
import threading

import pytest

from layerflow.data import DataFileError
from layerflow.data import fetch as F

RAW = {"a.gz": b"first file" * 1000, "b.gz": b"second"}
FILES = {n: gzip.compress(d, mtime=0) for n, d in RAW.items()}


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """A dataset 'tiny' of two files published in tmp_path/www, with their digests."""
    www = tmp_path / "www"
    www.mkdir()
    for name, data in FILES.items():
        (www / name).write_bytes(data)
    spec = {"env": "LAYERFLOW_TINY_URL", "mirrors": ["http://127.0.0.1:9/"],
            "files": {n: hashlib.sha256(d).hexdigest() for n, d in FILES.items()},
            "content": {n: hashlib.sha256(d).hexdigest() for n, d in RAW.items()}}
    monkeypatch.setitem(F.DATASETS, "tiny", spec)
    monkeypatch.delenv("LAYERFLOW_TINY_URL", raising=False)
    return www


@pytest.fixture
def server(tiny):
    """An HTTP server on 127.0.0.1 serving the published folder; yields its base URL."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(tiny), **k)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_fetch_over_http_with_progress(server, tmp_path, capsys):
    folder = F.fetch_dataset("tiny", root=tmp_path / "data", base_url=server, progress=True)
    assert folder == tmp_path / "data" / "tiny"
    for name, data in FILES.items():
        assert (folder / name).read_bytes() == data
    assert "a.gz [" in capsys.readouterr().err
    assert not list(folder.glob(".*part"))


def test_fetch_from_file_url_via_environment(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERFLOW_DATA", str(tmp_path / "root"))
    monkeypatch.setenv("LAYERFLOW_TINY_URL", tiny.as_uri())
    folder = F.fetch_dataset("tiny")
    assert folder == tmp_path / "root" / "tiny" and (folder / "b.gz").read_bytes() == FILES["b.gz"]


def test_good_files_are_kept(tiny, tmp_path):
    folder = F.fetch_dataset("tiny", root=tmp_path, base_url=tiny.as_uri(), progress=False)
    mtime = (folder / "a.gz").stat().st_mtime_ns
    F.fetch_dataset("tiny", root=tmp_path, base_url="http://127.0.0.1:9/", progress=False)
    assert (folder / "a.gz").stat().st_mtime_ns == mtime   # nothing downloaded, no error


def test_recompressed_or_unzipped_copies_are_kept(tiny, tmp_path):
    """The same bytes under another gzip (or uncompressed) need no download."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "a.gz").write_bytes(gzip.compress(RAW["a.gz"], compresslevel=1, mtime=7))
    (folder / "b").write_bytes(RAW["b.gz"])
    assert (folder / "a.gz").read_bytes() != FILES["a.gz"]
    F.fetch_dataset("tiny", root=tmp_path, base_url="http://127.0.0.1:9/", progress=False)
    assert not (folder / "b.gz").exists()


def test_checksum_mismatch_is_refused(tiny, tmp_path):
    (tiny / "b.gz").write_bytes(b"tampered")
    with pytest.raises(DataFileError, match=r"b\.gz.*SHA-256 .* differs from the published"):
        F.fetch_dataset("tiny", root=tmp_path, base_url=tiny.as_uri(), progress=False)
    assert not (tmp_path / "tiny" / "b.gz").exists()
    assert not list((tmp_path / "tiny").glob(".*part"))


def test_offline_says_which_files_go_where(tiny, tmp_path):
    with socket.socket() as s:                       # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DataFileError) as err:
        F.fetch_dataset("tiny", root=tmp_path, base_url=f"http://127.0.0.1:{port}/",
                        progress=False, timeout=5)
    message = str(err.value)
    assert f"put these files (gzipped, as published) into {tmp_path / 'tiny'}" in message
    assert "a.gz  sha256" in message and "b.gz  sha256" in message
    assert "LAYERFLOW_TINY_URL" in message


def test_unknown_dataset():
    with pytest.raises(DataFileError, match="unknown dataset 'imagenet'; fetch knows: mnist"):
        F.fetch_dataset("imagenet")


def test_mnist_digests_are_the_published_ones():
    files = F.DATASETS["mnist"]["files"]
    assert files["train-images-idx3-ubyte.gz"].startswith("440fcabf73cc546f")
    assert files["t10k-labels-idx1-ubyte.gz"].startswith("f7ae60f92e00ec6d")
    assert len(files) == 4
