"""Helpers for the data set tests: tiny IDX files, an isolated search path and a local HTTP server.

The IDX writer here is independent of ``netlite.datasets.idx``: it builds the header with
``struct`` from the format description, so a reader bug is not mirrored by the writer.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import socket
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from netlite.datasets import locations
from netlite.datasets import mnist as mnist_module

TYPE_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(">i2"): 0x0B,
    np.dtype(">i4"): 0x0C,
    np.dtype(">f4"): 0x0D,
    np.dtype(">f8"): 0x0E,
}

TINY_COUNTS = {"train": 30, "test": 12}
IMAGE_FILES = {"train": "train-images-idx3-ubyte", "test": "t10k-images-idx3-ubyte"}
LABEL_FILES = {"train": "train-labels-idx1-ubyte", "test": "t10k-labels-idx1-ubyte"}


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode an array as IDX: two zero bytes, type code, ndim, big-endian sizes, big-endian data."""
    big_endian = array.astype(array.dtype.newbyteorder(">")) if array.dtype.itemsize > 1 else array
    code = TYPE_CODES[np.dtype(big_endian.dtype)]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + big_endian.tobytes(order="C")


def write_file(path: Path, content: bytes, compress: bool) -> Path:
    """Write ``content`` to ``path`` (plus ``.gz`` and gzip-compressed when ``compress``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        path = path.with_name(path.name + ".gz")
        content = gzip.compress(content)
    path.write_bytes(content)
    return path


def tiny_split(split: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return random uint8 images (N, 28, 28) and labels (N,) that cover all ten classes."""
    rng = np.random.default_rng(seed + (0 if split == "train" else 1))
    count = TINY_COUNTS[split]
    images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    images[0] = 255  # one all-white image, so the maximum 1.0 is always present
    labels = (np.arange(count) % 10).astype(np.uint8)
    rng.shuffle(labels)
    return images, labels


def tiny_files() -> dict[str, bytes]:
    """Return the decompressed content of the four tiny MNIST-named files."""
    files = {}
    for split in ("train", "test"):
        images, labels = tiny_split(split)
        files[IMAGE_FILES[split]] = idx_bytes(images)
        files[LABEL_FILES[split]] = idx_bytes(labels)
    return files


def write_tiny_dataset(folder: Path, compress: bool = True) -> dict[str, Path]:
    """Write the four tiny files into ``folder`` and return their paths by file name."""
    return {name: write_file(folder / name, content, compress) for name, content in tiny_files().items()}


def sha256_table(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}


@pytest.fixture
def isolated_search_path(tmp_path, monkeypatch):
    """Point every default data folder into ``tmp_path`` so tests never see real data or the repo.

    Returns the temporary folder that plays the role of the home directory.
    """
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv(locations.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv("NETLITE_MNIST_MIRRORS", raising=False)
    monkeypatch.delenv("NETLITE_FASHION_MNIST_MIRRORS", raising=False)
    monkeypatch.setattr(locations, "repository_data_dir", lambda: None)
    mnist_module.clear_cache()
    yield home
    mnist_module.clear_cache()


@pytest.fixture
def tiny_mnist_spec(monkeypatch, isolated_search_path):
    """Replace the MNIST spec by one whose checksums and sizes match the tiny files, with no mirrors."""
    spec = dataclasses.replace(
        mnist_module.MNIST,
        num_examples=dict(TINY_COUNTS),
        sha256=sha256_table(tiny_files()),
        mirrors=(),
    )
    monkeypatch.setattr(mnist_module, "MNIST", spec)
    return spec


# ------------------------------------------------------------------------------------------------
# Local HTTP server


class Route:
    """What the test server does for one path: serve a body, fail with a status, or cut the body."""

    def __init__(self, body: bytes = b"", status: int = 200, cut_after: int | None = None):
        self.body = body
        self.status = status
        # Send Content-Length of the whole body but close the connection after this many bytes.
        self.cut_after = cut_after


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.requests.append(self.path)
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        if route.status != 200:
            self.send_error(route.status)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(route.body)))
        self.end_headers()
        if route.cut_after is None:
            self.wfile.write(route.body)
        else:
            self.wfile.write(route.body[: route.cut_after])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format, *args):
        pass


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 with a free port and a table of routes."""

    def __init__(self):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.routes = {}
        self.httpd.requests = []
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def routes(self) -> dict[str, Route]:
        return self.httpd.routes

    @property
    def requests(self) -> list[str]:
        return self.httpd.requests

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def server():
    with LocalServer() as local_server:
        yield local_server


def refused_url() -> str:
    """Return an http URL on 127.0.0.1 where nothing listens, so connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
