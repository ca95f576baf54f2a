"""The download path, against HTTP servers on 127.0.0.1 only (never a remote host)."""

import gzip
import hashlib
import http.server
import threading
from contextlib import contextmanager

import numpy as np
import pytest
from conftest import fake_split, idx_bytes

from lib import data

NAMES = {
    "train-images-idx3-ubyte.gz": 0,
    "train-labels-idx1-ubyte.gz": 1,
    "t10k-images-idx3-ubyte.gz": 0,
    "t10k-labels-idx1-ubyte.gz": 1,
}


@pytest.fixture
def payload(monkeypatch):
    """Gzipped IDX files of a tiny fake dataset, registered as the 'canonical' checksums."""
    x, y = fake_split(12)
    files = {name: gzip.compress(idx_bytes((x, y)[which]), mtime=0) for name, which in NAMES.items()}
    sums = {name: hashlib.sha256(body).hexdigest() for name, body in files.items()}
    monkeypatch.setitem(data.SHA256, "digits", sums)
    return files, x, y


@contextmanager
def serve(routes):
    """Serve ``routes[name] -> (body, declared_length)`` on 127.0.0.1; returns the base URL."""
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            name = self.path.rsplit("/", 1)[-1]
            hits.append(name)
            if name not in routes:
                self.send_error(404)
                return
            body, length = routes[name]
            self.send_response(200)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # shutdown() waits for serve_forever to poll again: every 0.5 s by default, every 20 ms here
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mnist/", hits
    finally:
        server.shutdown()
        server.server_close()


def flip(body: bytes) -> bytes:
    """The same length with one byte changed: only the checksum can tell."""
    i = len(body) // 2
    return body[:i] + bytes([body[i] ^ 0xFF]) + body[i + 1 :]


def dead_mirror():
    """A URL on 127.0.0.1 where nothing listens (the port was just released)."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/mnist/"


def _held(n):
    held = np.zeros(n, dtype=bool)
    held[np.random.default_rng(data.VALIDATION_SEED).permutation(n)[: data.validation_size(n)]] = True
    return held


def leftovers(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_download_good_files(isolated_data, payload):
    files, x, y = payload
    with serve({n: (b, len(b)) for n, b in files.items()}) as (url, hits):
        gx, gy = data.load_mnist("train", mirrors=[url])
        vx, vy = data.load_mnist("validation", mirrors=[url])
    np.testing.assert_array_equal(
        np.concatenate([gx, vx]), np.concatenate([x[~_held(len(x))], x[_held(len(x))]])
    )
    np.testing.assert_array_equal(
        np.concatenate([gy, vy]), np.concatenate([y[~_held(len(y))], y[_held(len(y))]])
    )
    assert leftovers(isolated_data) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    assert sorted(hits) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    # Second call reads the cache: no new request.
    with serve({}) as (url, hits2):
        data.load_mnist("train", mirrors=[url])
    assert hits2 == []


def test_wrong_checksum_then_good_mirror(isolated_data, payload):
    files, x, _ = payload
    bad = {n: (flip(b), len(b)) for n, b in files.items()}
    with serve(bad) as (bad_url, _), serve({n: (b, len(b)) for n, b in files.items()}) as (good_url, _):
        gx, _ = data.load_mnist("test", mirrors=[bad_url, good_url])
    np.testing.assert_array_equal(gx, x)
    assert leftovers(isolated_data) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_wrong_checksum_everywhere_leaves_nothing(isolated_data, payload):
    files, _, _ = payload
    bad = {n: (flip(b), len(b)) for n, b in files.items()}
    with serve(bad) as (url, _), pytest.raises(data.DatasetUnavailable) as err:
        data.load_mnist("train", mirrors=[url])
    assert "SHA-256 mismatch" in str(err.value)
    assert url + "train-images-idx3-ubyte.gz" in str(err.value)
    assert leftovers(isolated_data) == []


def test_truncated_download_leaves_nothing(isolated_data, payload):
    files, _, _ = payload
    truncated = {n: (b[: len(b) // 2], len(b)) for n, b in files.items()}
    with serve(truncated) as (url, _), pytest.raises(data.DatasetUnavailable) as err:
        data.load_mnist("train", mirrors=[url])
    assert "train-images-idx3-ubyte.gz" in str(err.value)
    assert leftovers(isolated_data) == []


def test_dead_mirror_then_good(isolated_data, payload, monkeypatch):
    files, x, _ = payload
    dead = dead_mirror()
    with serve({n: (b, len(b)) for n, b in files.items()}) as (url, _):
        monkeypatch.setenv("COURSE_MNIST_MIRRORS", f"{dead} {url}")  # the env override
        gx, _ = data.load_mnist("train")
    np.testing.assert_array_equal(gx, x[~_held(len(x))])


def test_all_mirrors_dead(isolated_data, payload):
    dead = [dead_mirror(), dead_mirror()]
    with pytest.raises(data.DatasetUnavailable) as err:
        data.load_mnist("train", mirrors=dead)
    msg = str(err.value)
    for url in dead:
        assert url + "train-images-idx3-ubyte.gz" in msg
    assert str(isolated_data / "mnist") in msg  # the places searched
    assert leftovers(isolated_data) == []


def test_default_mirrors_are_the_public_ones():
    assert any("ossci-datasets" in m for m in data.MIRRORS["digits"])  # torchvision's
    assert any("cvdf-datasets" in m for m in data.MIRRORS["digits"])  # TensorFlow's
    assert any("fashion-mnist" in m for m in data.MIRRORS["fashion"])  # Zalando's
    for kind in ("digits", "fashion"):
        assert set(data.SHA256[kind]) == set(NAMES)
        assert all(len(h) == 64 for h in data.SHA256[kind].values())
