"""IDX parsing and the MNIST loader on tiny files that the tests write: formats, corruption, arguments."""

import dataclasses
import gzip
import hashlib
import math
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from datasets_helpers import (  # noqa: F401  (fixtures are used by name)
    IMAGE_FILES,
    LABEL_FILES,
    TINY_COUNTS,
    idx_bytes,
    isolated_search_path,
    tiny_files,
    tiny_mnist_spec,
    tiny_split,
    write_file,
    write_tiny_dataset,
)

from netlite.datasets import (
    DATA_DIR_ENV,
    DatasetError,
    DatasetNotFoundError,
    load_fashion_mnist,
    load_mnist,
    read_idx,
)
from netlite.datasets import locations
from netlite.datasets import mnist as mnist_module

# ------------------------------------------------------------------------------------------------
# read_idx


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
        np.array([-128, -1, 0, 127], dtype=np.int8),
        np.array([[-30000, 2], [3, 30000]], dtype=np.int16),
        np.array([-(2**31), 1, 2**31 - 1], dtype=np.int32),
        np.array([1.5, -2.25, np.inf], dtype=np.float32),
        np.array([[np.pi, -1e300]], dtype=np.float64),
    ],
    ids=["uint8", "int8", "int16", "int32", "float32", "float64"],
)
def test_read_idx_round_trip(tmp_path, array, compress):
    path = write_file(tmp_path / "data-idx", idx_bytes(array), compress)

    result = read_idx(path)

    assert result.shape == array.shape
    assert result.dtype == array.dtype.newbyteorder("=")
    assert result.dtype.isnative
    np.testing.assert_array_equal(result, array)
    assert not result.flags.writeable


def test_read_idx_header_fields(tmp_path):
    # Written by hand from the format: 00 00, type 0x08, 2 dimensions, sizes 2 and 3, six bytes.
    content = bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6])
    path = tmp_path / "hand-made-idx"
    path.write_bytes(content)

    np.testing.assert_array_equal(read_idx(path), [[1, 2, 3], [4, 5, 6]])


def test_read_idx_gz_name_with_plain_content(tmp_path):
    array = np.arange(6, dtype=np.uint8)
    path = tmp_path / "labels-idx1-ubyte.gz"
    path.write_bytes(idx_bytes(array))

    np.testing.assert_array_equal(read_idx(path), array)


def test_read_idx_truncated_data(tmp_path):
    content = idx_bytes(np.zeros((3, 28, 28), dtype=np.uint8))
    path = write_file(tmp_path / "train-images-idx3-ubyte", content[:-10], compress=True)

    with pytest.raises(DatasetError) as info:
        read_idx(path)

    message = str(info.value)
    assert str(path) in message
    assert "truncated" in message
    assert str(3 * 28 * 28) in message
    assert str(3 * 28 * 28 - 10) in message
    assert "Delete the file" in message


def test_read_idx_extra_bytes(tmp_path):
    content = idx_bytes(np.zeros(5, dtype=np.uint8)) + b"\x00"
    path = write_file(tmp_path / "labels", content, compress=False)

    with pytest.raises(DatasetError, match="extra bytes"):
        read_idx(path)


def _header_only(shape):
    """Return an IDX header of uint8 elements that declares ``shape``, with no data after it."""
    return bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


@pytest.mark.parametrize("shape", [(65536,) * 4, (2**32 - 1, 2**32 - 1)], ids=["product-2**64", "product-near-2**64"])
def test_read_idx_huge_header_sizes(tmp_path, shape):
    path = write_file(tmp_path / "images", _header_only(shape), compress=False)

    with pytest.raises(DatasetError) as info:
        read_idx(path)

    message = str(info.value)
    assert str(path) in message
    assert str(shape) in message
    assert f"needs {math.prod(shape)} data bytes" in message
    assert f"contains 0 after its {4 + 4 * len(shape)}-byte header" in message
    assert "truncated" in message


def test_read_idx_empty_shape_too_big_for_numpy(tmp_path):
    shape = (0, 2**32 - 1, 2**32 - 1, 2**32 - 1)
    path = write_file(tmp_path / "images", _header_only(shape), compress=False)

    with pytest.raises(DatasetError) as info:
        read_idx(path)

    message = str(info.value)
    assert str(path) in message
    assert str(shape) in message
    assert "numpy cannot make into an array" in message


def test_read_idx_too_many_dimensions_for_numpy(tmp_path):
    # 70 dimensions of size 1 and one data byte: the data size matches the header, but numpy 2 allows at
    # most 64 dimensions (numpy 1 allows 32).
    shape = (1,) * 70
    path = write_file(tmp_path / "images", _header_only(shape) + b"\x07", compress=False)

    with pytest.raises(DatasetError) as info:
        read_idx(path)

    message = str(info.value)
    assert str(path) in message
    assert str(shape) in message
    assert "numpy cannot make into an array" in message


def test_read_idx_truncated_header(tmp_path):
    content = idx_bytes(np.zeros((2, 2, 2), dtype=np.uint8))[:9]
    path = write_file(tmp_path / "images", content, compress=False)

    with pytest.raises(DatasetError, match="needs 16 bytes"):
        read_idx(path)


def test_read_idx_too_short_for_magic(tmp_path):
    path = write_file(tmp_path / "images", b"\x00\x00", compress=False)

    with pytest.raises(DatasetError, match="too short"):
        read_idx(path)


@pytest.mark.parametrize(
    "magic",
    [b"\x12\x34\x08\x03", b"\x00\x00\x07\x01", b"\x00\x00\x08\x00", b"PK\x03\x04"],
    ids=["nonzero-prefix", "unknown-type", "zero-dimensions", "zip-file"],
)
def test_read_idx_wrong_magic(tmp_path, magic):
    path = write_file(tmp_path / "images", magic + bytes(8), compress=False)

    with pytest.raises(DatasetError) as info:
        read_idx(path)

    message = str(info.value)
    assert "invalid IDX magic number" in message
    assert f"0x{int.from_bytes(magic, 'big'):08X}" in message
    assert str(path) in message


def test_read_idx_corrupt_gzip_stream(tmp_path):
    compressed = bytearray(gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8) % 7)))
    compressed[20:30] = b"\xff" * 10
    path = tmp_path / "labels.gz"
    path.write_bytes(bytes(compressed))

    with pytest.raises(DatasetError, match="corrupt gzip stream") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_truncated_gzip_stream(tmp_path):
    compressed = gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8)))
    path = tmp_path / "labels.gz"
    path.write_bytes(compressed[: len(compressed) // 2])

    with pytest.raises(DatasetError, match="corrupt gzip stream"):
        read_idx(path)


# ------------------------------------------------------------------------------------------------
# Loader on the tiny data set


@pytest.mark.parametrize("compress", [True, False])
def test_load_tiny_values(tmp_path, tiny_mnist_spec, compress):
    write_tiny_dataset(tmp_path / "data", compress=compress)
    images, labels = tiny_split("train")

    X, y = load_mnist("train", data_dir=tmp_path / "data")

    assert X.shape == (TINY_COUNTS["train"], 32, 32, 1)
    assert X.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_array_equal(X[:, 2:30, 2:30, 0], images.astype(np.float32) / np.float32(255))
    assert X.max() == 1.0
    border = np.ones((32, 32), dtype=bool)
    border[2:30, 2:30] = False
    assert not X[:, border, 0].any()


@pytest.mark.parametrize("pad", [0, 1, 5, 28])
def test_load_tiny_pad_and_flatten(tmp_path, tiny_mnist_spec, pad):
    write_tiny_dataset(tmp_path)
    size = 28 + 2 * pad

    X, _ = load_mnist("test", pad=pad, data_dir=tmp_path)
    X_flat, _ = load_mnist("test", pad=pad, flatten=True, data_dir=tmp_path)

    assert X.shape == (TINY_COUNTS["test"], size, size, 1)
    assert X_flat.shape == (TINY_COUNTS["test"], size * size)
    np.testing.assert_array_equal(X_flat, X.reshape(len(X), -1))


def test_load_tiny_valid_alias(tmp_path, tiny_mnist_spec):
    write_tiny_dataset(tmp_path)

    X_valid, y_valid = load_mnist("valid", data_dir=tmp_path)
    X_test, y_test = load_mnist("test", data_dir=tmp_path)

    np.testing.assert_array_equal(X_valid, X_test)
    np.testing.assert_array_equal(y_valid, y_test)


def test_load_tiny_num_images_takes_first(tmp_path, tiny_mnist_spec):
    write_tiny_dataset(tmp_path)
    images, labels = tiny_split("train")

    X, y = load_mnist("train", num_images=7, data_dir=tmp_path)

    assert X.shape == (7, 32, 32, 1)
    np.testing.assert_array_equal(y, labels[:7])
    np.testing.assert_array_equal(X[:, 2:30, 2:30, 0] * 255, images[:7])


def test_load_tiny_fraction_balanced(tmp_path, tiny_mnist_spec):
    write_tiny_dataset(tmp_path)
    _, labels = tiny_split("train")

    X, y = load_mnist("train", fraction=0.5, seed=3, data_dir=tmp_path)

    # Three images per class, so half is 1.5, and each class must keep 1 or 2.
    counts = np.bincount(y, minlength=10)
    assert np.all(np.abs(counts - 1.5) <= 1)
    assert len(X) == len(y) == counts.sum()


def test_load_tiny_returns_fresh_arrays(tmp_path, tiny_mnist_spec):
    write_tiny_dataset(tmp_path)
    X_first, y_first = load_mnist("train", data_dir=tmp_path)
    expected_X, expected_y = X_first.copy(), y_first.copy()

    X_first[:] = -1.0
    y_first[:] = 99
    X_second, y_second = load_mnist("train", data_dir=tmp_path)

    np.testing.assert_array_equal(X_second, expected_X)
    np.testing.assert_array_equal(y_second, expected_y)


def test_load_tiny_reads_file_again_after_change(tmp_path, tiny_mnist_spec):
    paths = write_tiny_dataset(tmp_path)
    load_mnist("train", data_dir=tmp_path)

    paths[IMAGE_FILES["train"]].write_bytes(b"garbage")

    with pytest.raises(DatasetError):
        load_mnist("train", data_dir=tmp_path)


def test_load_tiny_checksum_mismatch(tmp_path, tiny_mnist_spec):
    write_tiny_dataset(tmp_path)
    images, _ = tiny_split("train")
    images = images.copy()
    images[3, 10, 10] ^= 0xFF
    path = write_file(tmp_path / IMAGE_FILES["train"], idx_bytes(images), compress=True)

    with pytest.raises(DatasetError) as info:
        load_mnist("train", data_dir=tmp_path)

    message = str(info.value)
    assert str(path) in message
    assert "sha256" in message
    assert tiny_mnist_spec.sha256[IMAGE_FILES["train"]] in message
    assert "Delete the file" in message


def test_load_tiny_count_mismatch(tmp_path, monkeypatch, tiny_mnist_spec):
    files = tiny_files()
    _, labels = tiny_split("train")
    files[LABEL_FILES["train"]] = idx_bytes(labels[:-1])
    for name, content in files.items():
        write_file(tmp_path / name, content, compress=True)
    # Make the checksums agree, so that the count check is what fails.
    spec = tiny_mnist_spec
    monkeypatch.setattr(
        mnist_module, "MNIST", dataclasses.replace(spec, sha256={**spec.sha256, **_sha256_of(files)})
    )

    with pytest.raises(DatasetError) as info:
        load_mnist("train", data_dir=tmp_path)

    message = str(info.value)
    assert f"contains {TINY_COUNTS['train']} images" in message
    assert f"{TINY_COUNTS['train'] - 1} labels" in message
    assert IMAGE_FILES["train"] in message
    assert LABEL_FILES["train"] in message


def test_load_tiny_truncated_file(tmp_path, tiny_mnist_spec):
    write_tiny_dataset(tmp_path)
    content = tiny_files()[IMAGE_FILES["test"]]
    path = write_file(tmp_path / IMAGE_FILES["test"], content[:-100], compress=True)

    with pytest.raises(DatasetError, match="truncated") as info:
        load_mnist("test", data_dir=tmp_path)
    assert str(path) in str(info.value)


def test_load_tiny_huge_header_sizes(tmp_path, tiny_mnist_spec):
    write_tiny_dataset(tmp_path)
    shape = (65536,) * 4
    path = write_file(tmp_path / IMAGE_FILES["test"], _header_only(shape), compress=True)

    with pytest.raises(DatasetError) as info:
        load_mnist("test", data_dir=tmp_path)

    message = str(info.value)
    assert str(path) in message
    assert str(shape) in message
    assert f"needs {math.prod(shape)} data bytes" in message


def test_load_tiny_wrong_magic(tmp_path, tiny_mnist_spec):
    write_tiny_dataset(tmp_path)
    content = bytearray(tiny_files()[LABEL_FILES["test"]])
    content[0] = 0x42
    write_file(tmp_path / LABEL_FILES["test"], bytes(content), compress=False)
    (tmp_path / f"{LABEL_FILES['test']}.gz").unlink()

    with pytest.raises(DatasetError, match="invalid IDX magic number 0x42000801"):
        load_mnist("test", data_dir=tmp_path)


def _sha256_of(files):
    return {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}


# ------------------------------------------------------------------------------------------------
# Argument checks


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"split": "training"}, ValueError, "unknown split 'training'"),
        ({"split": 1}, TypeError, "split must be a str"),
        ({"split": "train", "num_images": 0}, ValueError, "between 1 and 30 .* got 0"),
        ({"split": "test", "num_images": 13}, ValueError, "between 1 and 12 .* got 13"),
        ({"split": "train", "num_images": -5}, ValueError, "got -5"),
        ({"split": "train", "num_images": 2.0}, TypeError, "num_images must be an int, got float"),
        ({"split": "train", "num_images": True}, TypeError, "num_images must be an int, got bool"),
        ({"split": "train", "num_images": "10"}, TypeError, "num_images must be an int, got str"),
        ({"split": "train", "fraction": 0}, ValueError, r"fraction must be in \(0, 1\], .* got 0"),
        ({"split": "train", "fraction": 1.5}, ValueError, "got 1.5"),
        ({"split": "train", "fraction": -0.1}, ValueError, "got -0.1"),
        ({"split": "train", "fraction": float("nan")}, ValueError, "got nan"),
        ({"split": "train", "fraction": "0.1"}, TypeError, "fraction must be a float, got str"),
        ({"split": "train", "fraction": True}, TypeError, "got bool"),
        ({"split": "train", "num_images": 5, "fraction": 0.1}, ValueError, "not both"),
        ({"split": "train", "fraction": 0.1, "seed": -1}, ValueError, "seed must be >= 0"),
        ({"split": "train", "fraction": 0.1, "seed": 1.5}, TypeError, "seed must be an int"),
        ({"split": "train", "pad": -1}, ValueError, "pad must be >= 0"),
        ({"split": "train", "pad": 2.0}, TypeError, "pad must be an int"),
        ({"split": "train", "pad": 29}, ValueError, r"pad must be at most 28, the size of the 28x28 images, got 29; pad is"),
        ({"split": "train", "pad": 10**6}, ValueError, r"pad must be at most 28, .* got 1000000; "),
        ({"split": "train", "flatten": "yes"}, TypeError, "flatten must be a bool"),
        ({"split": "train", "data_dir": 5}, TypeError, "data_dir must be a str or path"),
        ({"split": "train", "mirrors": [1, 2]}, TypeError, "mirrors must be a sequence of URL"),
        ({"split": "train", "mirrors": 5}, TypeError, "mirrors must be a sequence of URL strings, got 5"),
    ],
)
def test_load_invalid_argument(tmp_path, tiny_mnist_spec, kwargs, error, pattern):
    write_tiny_dataset(tmp_path)
    kwargs.setdefault("data_dir", tmp_path)

    with pytest.raises(error, match=pattern) as info:
        load_mnist(**kwargs)
    assert "MNIST" in str(info.value)


def test_load_numpy_integer_arguments(tmp_path, tiny_mnist_spec):
    write_tiny_dataset(tmp_path)

    X, _ = load_mnist("train", num_images=np.int64(4), pad=np.int32(0), data_dir=tmp_path)

    assert X.shape == (4, 28, 28, 1)


# ------------------------------------------------------------------------------------------------
# Search path


def test_missing_files_without_download(tmp_path, tiny_mnist_spec, isolated_search_path):
    data_dir = tmp_path / "empty"

    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist("train", data_dir=data_dir, download=False)

    message = str(info.value)
    assert IMAGE_FILES["train"] in message
    assert LABEL_FILES["train"] in message
    assert str(data_dir / "mnist") in message
    assert DATA_DIR_ENV in message
    assert "download=False" in message
    assert isinstance(info.value, FileNotFoundError)


def test_search_data_dir_before_env(tmp_path, monkeypatch, tiny_mnist_spec):
    write_tiny_dataset(tmp_path / "argument")
    # A damaged copy in the environment folder must not be read when data_dir has a good one.
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / f"{IMAGE_FILES['train']}.gz").write_bytes(b"broken")
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "env"))

    X, _ = load_mnist("train", data_dir=tmp_path / "argument")

    assert len(X) == TINY_COUNTS["train"]


def test_search_env_dir_flat(tmp_path, monkeypatch, tiny_mnist_spec):
    write_tiny_dataset(tmp_path / "flat")
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "flat"))

    X, _ = load_mnist("test")

    assert len(X) == TINY_COUNTS["test"]


def test_search_subfolder_before_flat(tmp_path, monkeypatch, tiny_mnist_spec):
    write_tiny_dataset(tmp_path / "base" / "mnist")
    (tmp_path / "base" / f"{IMAGE_FILES['train']}.gz").write_bytes(b"broken")
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "base"))

    X, _ = load_mnist("train")

    assert len(X) == TINY_COUNTS["train"]


def test_search_repository_data_folder(tmp_path, monkeypatch, tiny_mnist_spec):
    write_tiny_dataset(tmp_path / "repo-data" / "mnist")
    monkeypatch.setattr(locations, "repository_data_dir", lambda: tmp_path / "repo-data")

    X, _ = load_mnist("train")

    assert len(X) == TINY_COUNTS["train"]


def test_search_xdg_cache(tmp_path, monkeypatch, tiny_mnist_spec):
    write_tiny_dataset(tmp_path / "xdg" / "netlite" / "mnist")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    X, _ = load_mnist("train")

    assert len(X) == TINY_COUNTS["train"]


def test_search_home_cache(tiny_mnist_spec, isolated_search_path):
    write_tiny_dataset(isolated_search_path / ".cache" / "netlite" / "mnist")

    X, _ = load_mnist("train")

    assert len(X) == TINY_COUNTS["train"]


def test_download_folder_order(tmp_path, monkeypatch, isolated_search_path):
    home_cache = isolated_search_path / ".cache" / "netlite" / "mnist"
    assert locations.download_folder("mnist") == home_cache

    monkeypatch.setattr(locations, "repository_data_dir", lambda: tmp_path / "repo-data")
    assert locations.download_folder("mnist") == tmp_path / "repo-data" / "mnist"

    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "env"))
    assert locations.download_folder("mnist") == tmp_path / "env" / "mnist"

    assert locations.download_folder("mnist", tmp_path / "arg") == tmp_path / "arg" / "mnist"


def test_repository_data_dir_in_checkout():
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    assert str(locations.repository_data_dir()) == os.path.join(repo_root, "data")


def test_other_dataset_in_shared_folder_skipped(tmp_path, monkeypatch, tiny_mnist_spec):
    # Tiny Fashion-MNIST files are in a subfolder of the cache, and the flat folder contains tiny MNIST.
    fashion_files = dict(tiny_files())
    images, labels = tiny_split("train", seed=7)
    fashion_files[IMAGE_FILES["train"]] = idx_bytes(images)
    fashion_files[LABEL_FILES["train"]] = idx_bytes(labels)
    fashion_spec = dataclasses.replace(
        mnist_module.FASHION_MNIST,
        num_examples=dict(TINY_COUNTS),
        sha256=_sha256_of(fashion_files),
        dedicated_dirs=(),
    )
    monkeypatch.setattr(mnist_module, "FASHION_MNIST", fashion_spec)
    write_tiny_dataset(tmp_path / "shared")
    for name, content in fashion_files.items():
        write_file(tmp_path / "cache" / "netlite" / "fashion-mnist" / name, content, compress=True)
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "shared"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    X, y = load_fashion_mnist("train")

    np.testing.assert_array_equal(y, labels)
    np.testing.assert_array_equal(X[:, 2:30, 2:30, 0] * 255, images)


def test_other_dataset_in_own_subfolder_rejected(tmp_path, tiny_mnist_spec):
    fashion_spec = dataclasses.replace(mnist_module.FASHION_MNIST, dedicated_dirs=())
    write_tiny_dataset(tmp_path / "fashion-mnist")

    with pytest.raises(DatasetError, match="contains MNIST train-images-idx3-ubyte") as info:
        mnist_module.load_dataset(
            fashion_spec,
            "train",
            data_dir=tmp_path,
            download=False,
        )
    assert "fashion-mnist" in str(info.value)


def write_swapped_labels(folder):
    """Write the tiny data set into ``folder`` with the train and test label files' names exchanged."""
    paths = write_tiny_dataset(folder)
    train_labels, test_labels = paths[LABEL_FILES["train"]], paths[LABEL_FILES["test"]]
    swap = folder / "swap.gz"
    train_labels.rename(swap)
    test_labels.rename(train_labels)
    swap.rename(test_labels)


def test_swapped_label_files_are_named(tmp_path, tiny_mnist_spec):
    write_swapped_labels(tmp_path / "shared")

    with pytest.raises(DatasetError, match=rf"contains MNIST {LABEL_FILES['test']}, but is named as {LABEL_FILES['train']}.*exchange their names") as info:
        mnist_module.load_dataset(tiny_mnist_spec, "train", data_dir=tmp_path / "shared", download=False)
    assert type(info.value) is DatasetError  # a traceback names the public class, not a private one


def test_swapped_files_good_copy_wins(tmp_path, monkeypatch, tiny_mnist_spec):
    write_swapped_labels(tmp_path / "swapped")
    write_tiny_dataset(tmp_path / "good")
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "good"))

    X, y = mnist_module.load_dataset(tiny_mnist_spec, "train", data_dir=tmp_path / "swapped", download=False)

    np.testing.assert_array_equal(y, tiny_split("train")[1])


def _unreadable_in(monkeypatch, folder):
    """Make reading any file in ``folder`` raise PermissionError, as for another user's private file.

    Tests run as root in CI, and root may read any file, so chmod cannot do this.
    """
    read = mnist_module.read_idx_bytes

    def read_unless_in_folder(path):
        if Path(path).parent == folder:
            raise PermissionError(13, "Permission denied", str(path))
        return read(path)

    monkeypatch.setattr(mnist_module, "read_idx_bytes", read_unless_in_folder)


def test_unreadable_copy_skipped_for_readable_one(tmp_path, monkeypatch, tiny_mnist_spec):
    write_tiny_dataset(tmp_path / "shared")
    write_tiny_dataset(tmp_path / "own")
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "own"))
    _unreadable_in(monkeypatch, tmp_path / "shared")

    X, y = mnist_module.load_dataset(tiny_mnist_spec, "train", data_dir=tmp_path / "shared", download=False)

    np.testing.assert_array_equal(y, tiny_split("train")[1])


def test_unreadable_copy_named_when_missing(tmp_path, monkeypatch, tiny_mnist_spec):
    write_tiny_dataset(tmp_path / "shared")
    _unreadable_in(monkeypatch, tmp_path / "shared")

    with pytest.raises(DatasetNotFoundError) as info:
        mnist_module.load_dataset(tiny_mnist_spec, "train", data_dir=tmp_path / "shared", download=False)

    message = str(info.value)
    assert "\nSkipped:\n" in message
    for name in (IMAGE_FILES["train"], LABEL_FILES["train"]):
        assert f"  {tmp_path / 'shared' / name}.gz (not readable by this user; its owner can allow that with chmod a+r)" in message


def test_folder_user_may_not_open_skipped(tmp_path, monkeypatch, tiny_mnist_spec):
    write_tiny_dataset(tmp_path / "shared")
    write_tiny_dataset(tmp_path / "own")
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "own"))
    is_file = Path.is_file

    def is_file_unless_in_shared(path):  # as for a folder of mode 700 that belongs to another user
        if path.parent == tmp_path / "shared":
            raise PermissionError(13, "Permission denied", str(path))
        return is_file(path)

    monkeypatch.setattr(Path, "is_file", is_file_unless_in_shared)

    X, y = mnist_module.load_dataset(tiny_mnist_spec, "train", data_dir=tmp_path / "shared", download=False)
    np.testing.assert_array_equal(y, tiny_split("train")[1])

    monkeypatch.delenv(DATA_DIR_ENV)
    with pytest.raises(DatasetNotFoundError, match=r"shared \(this user may not open the folder; its owner can allow that"):
        mnist_module.load_dataset(tiny_mnist_spec, "test", data_dir=tmp_path / "shared", download=False)


def test_other_dataset_advice_folder(tmp_path, tiny_mnist_spec):
    fashion_spec = dataclasses.replace(mnist_module.FASHION_MNIST, dedicated_dirs=())
    write_tiny_dataset(tmp_path / "fashion-mnist")

    with pytest.raises(DatasetError, match=r"but this folder is for Fashion-MNIST\. Move the file to (\S+), where MNIST") as info:
        mnist_module.load_dataset(fashion_spec, "train", data_dir=tmp_path, download=False)
    assert f"Move the file to {tmp_path / 'mnist'}, where MNIST is looked for." in str(info.value)


def test_other_dataset_system_folder_advice(tmp_path, monkeypatch, tiny_mnist_spec):
    system_folder = tmp_path / "usr-share" / "fashion-mnist"
    fashion_spec = dataclasses.replace(mnist_module.FASHION_MNIST, dedicated_dirs=(str(system_folder),))
    write_tiny_dataset(system_folder)
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "env"))

    with pytest.raises(DatasetError) as info:
        mnist_module.load_dataset(fashion_spec, "train", download=False)
    assert f"Move the file to {tmp_path / 'env' / 'mnist'}, where MNIST is looked for." in str(info.value)


def test_other_dataset_good_copy_wins(tmp_path, monkeypatch, tiny_mnist_spec):
    # Tiny MNIST files sit in data_dir/fashion-mnist, and good tiny Fashion-MNIST files in NETLITE_DATA_DIR.
    write_tiny_dataset(tmp_path / "data" / "fashion-mnist")
    fashion_files = dict(tiny_files())
    images, labels = tiny_split("train", seed=7)
    fashion_files[IMAGE_FILES["train"]] = idx_bytes(images)
    fashion_files[LABEL_FILES["train"]] = idx_bytes(labels)
    for name, content in fashion_files.items():
        write_file(tmp_path / "env" / "fashion-mnist" / name, content, compress=True)
    fashion_spec = dataclasses.replace(
        mnist_module.FASHION_MNIST, num_examples=dict(TINY_COUNTS), sha256=_sha256_of(fashion_files), dedicated_dirs=()
    )
    monkeypatch.setattr(mnist_module, "FASHION_MNIST", fashion_spec)
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "env"))

    X, y = mnist_module.load_dataset(fashion_spec, "train", data_dir=tmp_path / "data", download=False)

    np.testing.assert_array_equal(y, labels)


def test_missing_file_message_lists_other_dataset_files_skipped(tmp_path, tiny_mnist_spec):
    # Tiny MNIST files in a shared base folder, looked up as Fashion-MNIST: skipped, then missing.
    fashion_spec = dataclasses.replace(
        mnist_module.FASHION_MNIST, num_examples=dict(TINY_COUNTS), mirrors=(), dedicated_dirs=()
    )
    write_tiny_dataset(tmp_path / "shared")

    with pytest.raises(DatasetNotFoundError) as info:
        mnist_module.load_dataset(fashion_spec, "test", data_dir=tmp_path / "shared", download=False)
    message = str(info.value)
    assert "Skipped:" in message
    assert "the other data set)" in message
    assert f"{tmp_path / 'shared' / LABEL_FILES['test']}.gz (contains MNIST {LABEL_FILES['test']}, the other data set)" in message


def test_missing_message_skips_found_files(tmp_path, monkeypatch, tiny_mnist_spec):
    # The shared folder's MNIST files are skipped for both names, but the test images of Fashion-MNIST
    # are found later, in NETLITE_DATA_DIR; only the labels are missing.
    fashion_images = idx_bytes(tiny_split("test", seed=7)[0])
    fashion_spec = dataclasses.replace(
        mnist_module.FASHION_MNIST,
        num_examples=dict(TINY_COUNTS),
        sha256={**mnist_module.FASHION_MNIST.sha256, IMAGE_FILES["test"]: _sha256_of({"x": fashion_images})["x"]},
        mirrors=(),
        dedicated_dirs=(),
    )
    write_tiny_dataset(tmp_path / "shared")
    write_file(tmp_path / "env" / "fashion-mnist" / IMAGE_FILES["test"], fashion_images, compress=True)
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "env"))

    with pytest.raises(DatasetNotFoundError) as info:
        mnist_module.load_dataset(fashion_spec, "test", data_dir=tmp_path / "shared", download=False)
    message = str(info.value)
    assert f"missing {LABEL_FILES['test']}[.gz]" in message
    assert f"(contains MNIST {LABEL_FILES['test']}, the other data set)" in message
    assert IMAGE_FILES["test"] not in message.split("Skipped")[1]
