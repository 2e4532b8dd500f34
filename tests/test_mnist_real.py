"""The real MNIST and Fashion-MNIST files: checksums, shapes, label counts, subsets, the classic API.

MNIST is read from ``$NETLITE_DATA_DIR``, else from ``<repo>/../shared/data/mnist``; Fashion-MNIST
from ``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``). Tests skip when the
files are absent. Expected label counts are decoded here with gzip and struct, not with the loader.
"""

import gzip
import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from datasets_helpers import refused_url

import netlite.dataloader_mnist as dataloader_mnist
from netlite.datasets import (
    DATA_DIR_ENV,
    FASHION_MNIST_CLASSES,
    MNIST_CLASSES,
    clear_cache,
    load_fashion_mnist,
    load_mnist,
)
from netlite.datasets import locations
from netlite.datasets.mnist import FASHION_MNIST, MNIST

REPOSITORY = Path(__file__).resolve().parent.parent
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
SPLIT_SIZES = {"train": 60000, "test": 10000}
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz", folder / "mnist" / name,
                      folder / "mnist" / f"{name}.gz"):  # fmt: skip
        if candidate.is_file():
            return candidate
    return None


def _mnist_folder() -> Path | None:
    env_dir = os.environ.get(DATA_DIR_ENV)
    folder = Path(env_dir) if env_dir else REPOSITORY.parent / "shared" / "data" / "mnist"
    names = [name for pair in FILES.values() for name in pair]
    if all(_find(folder, name) for name in names):
        return folder
    return None


def _content(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def _label_counts(path: Path) -> np.ndarray:
    """Decode an IDX label file with struct, independently of netlite.datasets.idx."""
    content = _content(path)
    magic, count = struct.unpack(">II", content[:8])
    assert magic == 2049
    assert len(content) == 8 + count
    counts = np.zeros(10, dtype=np.int64)
    for label in content[8:]:
        counts[label] += 1
    return counts


MNIST_FOLDER = _mnist_folder()
needs_mnist = pytest.mark.skipif(
    MNIST_FOLDER is None,
    reason=f"MNIST files not found in ${DATA_DIR_ENV} or <repo>/../shared/data/mnist",
)
needs_fashion = pytest.mark.skipif(
    not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"Fashion-MNIST not installed in {FASHION_DIR} (Debian package dataset-fashion-mnist)",
)


@pytest.fixture
def real_data_env(tmp_path, monkeypatch):
    """Read only the real folders: no repository data/, home in tmp_path, no working mirror."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    if MNIST_FOLDER is not None:
        monkeypatch.setenv(DATA_DIR_ENV, str(MNIST_FOLDER))
    monkeypatch.setattr(locations, "repository_data_dir", lambda: None)
    # A missing file must fail fast instead of reaching the internet.
    monkeypatch.setenv("NETLITE_MNIST_MIRRORS", refused_url())
    monkeypatch.setenv("NETLITE_FASHION_MNIST_MIRRORS", refused_url())


# ------------------------------------------------------------------------------------------------
# MNIST


@needs_mnist
@pytest.mark.parametrize("name", [name for pair in FILES.values() for name in pair])
def test_mnist_file_sha256(name):
    digest = hashlib.sha256(_content(_find(MNIST_FOLDER, name))).hexdigest()

    assert digest == MNIST.sha256[name]


@needs_mnist
@pytest.mark.parametrize("split", ["train", "test"])
def test_mnist_shapes_and_range(real_data_env, split):
    X, y = load_mnist(split, download=False)

    count = SPLIT_SIZES[split]
    assert X.shape == (count, 32, 32, 1)
    assert X.dtype == np.float32
    assert y.shape == (count,)
    assert y.dtype == np.int64
    assert X.min() == 0.0
    assert X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))


@needs_mnist
def test_mnist_padding_border_zero(real_data_env):
    X, _ = load_mnist("train", download=False)

    assert not X[:, :2].any()
    assert not X[:, 30:].any()
    assert not X[:, :, :2].any()
    assert not X[:, :, 30:].any()
    # Every image has some ink inside the 28x28 frame.
    assert X[:, 2:30, 2:30].any(axis=(1, 2, 3)).all()


@needs_mnist
def test_mnist_pixels_match_file(real_data_env):
    content = _content(_find(MNIST_FOLDER, "t10k-images-idx3-ubyte"))
    magic, count, rows, cols = struct.unpack(">IIII", content[:16])
    first = np.frombuffer(content, dtype=np.uint8, count=2 * rows * cols, offset=16)

    X, _ = load_mnist("test", num_images=2, pad=0, flatten=True, download=False)

    assert (magic, count, rows, cols) == (2051, 10000, 28, 28)
    np.testing.assert_array_equal(np.rint(X.ravel() * 255).astype(np.uint8), first)


@needs_mnist
@pytest.mark.parametrize("split", ["train", "test"])
def test_mnist_label_counts(real_data_env, split):
    expected = _label_counts(_find(MNIST_FOLDER, FILES[split][1]))

    _, y = load_mnist(split, download=False)

    np.testing.assert_array_equal(np.bincount(y, minlength=10), expected)
    assert expected.sum() == SPLIT_SIZES[split]


@needs_mnist
@pytest.mark.parametrize("split", ["train", "test"])
def test_mnist_fraction_balanced(real_data_env, split):
    class_counts = _label_counts(_find(MNIST_FOLDER, FILES[split][1]))

    X, y = load_mnist(split, fraction=0.1, seed=0, download=False)

    subset_counts = np.bincount(y, minlength=10)
    assert np.all(np.abs(subset_counts - 0.1 * class_counts) <= 1), subset_counts
    assert X.shape == (subset_counts.sum(), 32, 32, 1)


@needs_mnist
def test_mnist_fraction_seeded(real_data_env):
    X_a, y_a = load_mnist("train", fraction=0.1, seed=0, download=False)
    X_b, y_b = load_mnist("train", fraction=0.1, seed=0, download=False)
    X_c, y_c = load_mnist("train", fraction=0.1, seed=1, download=False)

    np.testing.assert_array_equal(X_a, X_b)
    np.testing.assert_array_equal(y_a, y_b)
    assert X_a.shape == X_c.shape
    assert not np.array_equal(X_a, X_c)


@needs_mnist
def test_mnist_fraction_one_is_everything(real_data_env):
    X_all, y_all = load_mnist("test", download=False)

    X, y = load_mnist("test", fraction=1.0, download=False)

    np.testing.assert_array_equal(X, X_all)
    np.testing.assert_array_equal(y, y_all)


@needs_mnist
def test_mnist_num_images_prefix(real_data_env):
    X_all, y_all = load_mnist("train", download=False)

    X, y = load_mnist("train", num_images=123, download=False)

    np.testing.assert_array_equal(X, X_all[:123])
    np.testing.assert_array_equal(y, y_all[:123])


@needs_mnist
def test_mnist_flatten_no_padding(real_data_env):
    X, _ = load_mnist("test", num_images=10, pad=0, flatten=True, download=False)

    assert X.shape == (10, 784)


@needs_mnist
def test_mnist_after_cache_clear(real_data_env):
    X_cached, _ = load_mnist("test", num_images=50, download=False)
    clear_cache()

    X_fresh, _ = load_mnist("test", num_images=50, download=False)

    np.testing.assert_array_equal(X_cached, X_fresh)


@needs_mnist
def test_classic_load_train(real_data_env):
    X, y = dataloader_mnist.load_train(num_images=500)
    X_general, y_general = load_mnist("train", num_images=500, download=False)

    assert X.shape == (500, 32, 32, 1)
    assert X.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_array_equal(X, X_general)
    np.testing.assert_array_equal(y, y_general)


@needs_mnist
def test_classic_defaults_full_splits(real_data_env):
    X_train, y_train = dataloader_mnist.load_train()
    X_valid, y_valid = dataloader_mnist.load_valid()

    assert X_train.shape == (60000, 32, 32, 1)
    assert y_train.shape == (60000,)
    assert X_valid.shape == (10000, 32, 32, 1)
    assert y_valid.shape == (10000,)


@needs_mnist
def test_classic_load_valid_rejects_too_many(real_data_env):
    with pytest.raises(ValueError, match="between 1 and 10000 .* got 10001"):
        dataloader_mnist.load_valid(num_images=10001)


def test_class_names():
    assert MNIST_CLASSES == tuple(str(digit) for digit in range(10))
    assert len(FASHION_MNIST_CLASSES) == 10
    assert FASHION_MNIST_CLASSES[0] == "T-shirt/top"
    assert FASHION_MNIST_CLASSES[9] == "Ankle boot"


# ------------------------------------------------------------------------------------------------
# Fashion-MNIST


@needs_fashion
@pytest.mark.parametrize("name", [name for pair in FILES.values() for name in pair])
def test_fashion_file_sha256(name):
    digest = hashlib.sha256(_content(FASHION_DIR / f"{name}.gz")).hexdigest()

    assert digest == FASHION_MNIST.sha256[name]


@needs_fashion
@pytest.mark.parametrize("split", ["train", "test"])
def test_fashion_load(real_data_env, split):
    expected_counts = _label_counts(FASHION_DIR / f"{FILES[split][1]}.gz")

    X, y = load_fashion_mnist(split, download=False)

    assert X.shape == (SPLIT_SIZES[split], 32, 32, 1)
    assert X.dtype == np.float32
    assert X.min() == 0.0
    assert X.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y, minlength=10), expected_counts)
    # Fashion-MNIST is balanced: 6000 training and 1000 test images per class.
    assert np.all(expected_counts == SPLIT_SIZES[split] // 10)


@needs_fashion
@needs_mnist
def test_fashion_and_mnist_differ(real_data_env):
    # NETLITE_DATA_DIR contains MNIST under the same file names, so the loader must skip it.
    X_fashion, y_fashion = load_fashion_mnist("test", download=False)
    X_mnist, y_mnist = load_mnist("test", download=False)

    assert not np.array_equal(y_fashion, y_mnist)
    assert not np.array_equal(X_fashion, X_mnist)


@needs_fashion
def test_fashion_fraction_balanced(real_data_env):
    _, y = load_fashion_mnist("train", fraction=0.1, seed=5, download=False)

    np.testing.assert_array_equal(np.bincount(y, minlength=10), np.full(10, 600))
