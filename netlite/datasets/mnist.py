"""MNIST and Fashion-MNIST loaders: find or download the IDX files, verify them, and subset them.

Both data sets are four IDX files (see ``netlite.datasets.idx``) with the same names and shapes:
60,000 training and 10,000 test images of 28x28 uint8 pixels with labels 0-9.

Integrity: the first load of a file in a process compares the sha256 of its decompressed content
with the table in this module and parses its IDX header (magic number, sizes, truncation). The split
is then checked: as many images as labels, labels in 0-9. The sha256 also distinguishes MNIST from
Fashion-MNIST, which share file names.

Files are hashed on load, not only at download time, because files found in the search path were
not necessarily downloaded by NetLite, and a marker file recording a past check cannot be written
into read-only folders. Hashing the 47 MB of training images took about 0.04 s next to 0.2 s for
decompressing them (2-core x86 virtual machine, Python 3.11, hashlib and zlib timed directly).

Each process keeps the verified uint8 arrays in memory, keyed by path, size, modification time and
expected sha256, so later loads skip reading, decompressing and hashing, and a changed file is read
again. Every call still returns new float32 arrays, so changing them cannot corrupt the cache.
"""

from __future__ import annotations

import hashlib
import logging
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import download as _download
from . import locations
from .idx import DELETE_HINT, DatasetError, read_idx_bytes, parse_idx

__all__ = [
    "MNIST_CLASSES",
    "FASHION_MNIST_CLASSES",
    "MNIST",
    "FASHION_MNIST",
    "DatasetSpec",
    "load_mnist",
    "load_fashion_mnist",
    "clear_cache",
]

logger = logging.getLogger(__name__)

MNIST_CLASSES = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

SPLIT_ALIASES = {"train": "train", "test": "test", "valid": "test"}


@dataclass(frozen=True)
class DatasetSpec:
    """Everything the loader needs to know about one IDX image data set."""

    name: str
    subfolder: str
    # split -> (images file, labels file), names without ".gz"
    files: Mapping[str, tuple[str, str]]
    num_examples: Mapping[str, int]
    # sha256 of each file's decompressed content
    sha256: Mapping[str, str]
    mirrors: tuple[str, ...]
    mirrors_env: str
    classes: tuple[str, ...]
    image_shape: tuple[int, int] = (28, 28)
    # Folders that hold this data set only, searched after the base folders.
    dedicated_dirs: tuple[str, ...] = ()


_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# NOTE: no test reaches these hosts, so their availability is unverified. The sha256 table, not
# the host, guarantees the content.
MNIST = DatasetSpec(
    name="MNIST",
    subfolder="mnist",
    files=_SPLIT_FILES,
    num_examples={"train": 60000, "test": 10000},
    sha256={
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    # The mirror that torchvision's MNIST class reads from, then the original site by Yann LeCun
    # (which torchvision lists with http://).
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://yann.lecun.com/exdb/mnist/",
    ),
    mirrors_env="NETLITE_MNIST_MIRRORS",
    classes=MNIST_CLASSES,
)

FASHION_MNIST = DatasetSpec(
    name="Fashion-MNIST",
    subfolder="fashion-mnist",
    files=_SPLIT_FILES,
    num_examples={"train": 60000, "test": 10000},
    sha256={
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    # Zalando's S3 bucket: its HTTPS endpoint, then the HTTP-only website endpoint that
    # torchvision's FashionMNIST class uses.
    mirrors=(
        "https://fashion-mnist.s3.eu-central-1.amazonaws.com/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    mirrors_env="NETLITE_FASHION_MNIST_MIRRORS",
    classes=FASHION_MNIST_CLASSES,
    # Debian's dataset-fashion-mnist package stores the four .gz files here.
    dedicated_dirs=("/usr/share/datasets/fashion-mnist",),
)

# Verified arrays, keyed by (resolved path, size, mtime in ns, expected sha256).
_cache: dict[tuple[str, int, int, str], np.ndarray] = {}


def clear_cache() -> None:
    """Forget the arrays kept in memory, so the next load reads the files again."""
    _cache.clear()


def load_mnist(
    split: str,
    num_images: int | None = None,
    fraction: float | None = None,
    seed: int = 0,
    pad: int = 2,
    flatten: bool = False,
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] | str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST handwritten digits as float32 images in [0, 1] and int64 labels.

    Files are searched in ``data_dir``, ``$NETLITE_DATA_DIR``, the checkout's ``data/`` folder and
    the user cache (see ``netlite.datasets.locations``); missing files are downloaded.

    Parameters
    ----------
    split : {"train", "test", "valid"}
        ``"valid"`` is an alias of ``"test"``: MNIST has no separate validation split.
    num_images : int, optional
        Take the first ``num_images`` images, 1 to 60000 (train) or 10000 (test).
    fraction : float, optional
        Take a class-balanced random subset: ``round(fraction * count)`` images of each class
        (at least one), in dataset order. ``0 < fraction <= 1``. Cannot be combined with
        ``num_images``, because "the first N" and "a random subset" are different requests.
    seed : int
        Seed of the random subset; the same seed gives the same subset. Used only with ``fraction``.
    pad : int
        Zero pixels added on each side, at most the image size (28); the default 2 gives the 32x32
        input that LeNet-5 expects.
    flatten : bool
        Return X of shape (N, (28 + 2 * pad) ** 2) instead of (N, H, W, 1).
    data_dir : str or path, optional
        Folder searched first; downloads go to its ``mnist/`` subfolder.
    download : bool
        Download missing files. With False, a missing file raises DatasetNotFoundError.
    mirrors : sequence of str or str, optional
        Base URLs to download from, in order. Default: ``$NETLITE_MNIST_MIRRORS`` (separated by
        commas or spaces) if set, else the mirrors in ``MNIST.mirrors``.

    Returns
    -------
    X : ndarray of shape (N, H, W, 1), float32
        H = W = 28 + 2 * pad; pixel values divided by 255.
    y : ndarray of shape (N,), int64
        Class labels 0-9.

    Raises
    ------
    TypeError, ValueError
        For an invalid argument.
    DatasetError
        If a file is corrupt, truncated, not an IDX file or fails its sha256 check. A damaged file
        in a folder that this user may not write to is skipped with a warning instead, as if it
        were missing, so that a good copy is looked for in the other folders or downloaded.
    DatasetNotFoundError
        If files are missing and could not be downloaded.
    """
    return load_dataset(
        MNIST, split, num_images, fraction, seed, pad, flatten, data_dir,
        download=download, mirrors=mirrors,
    )  # fmt: skip


def load_fashion_mnist(
    split: str,
    num_images: int | None = None,
    fraction: float | None = None,
    seed: int = 0,
    pad: int = 2,
    flatten: bool = False,
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] | str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load Fashion-MNIST clothing images; arguments and returns as in ``load_mnist``.

    The class names are in ``FASHION_MNIST_CLASSES``. Besides the folders of ``load_mnist``,
    ``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``) is searched.
    Downloads go to a ``fashion-mnist/`` subfolder, and the mirror override variable is
    ``$NETLITE_FASHION_MNIST_MIRRORS``.
    """
    return load_dataset(
        FASHION_MNIST, split, num_images, fraction, seed, pad, flatten, data_dir,
        download=download, mirrors=mirrors,
    )  # fmt: skip


def load_dataset(
    spec: DatasetSpec,
    split: str,
    num_images: int | None = None,
    fraction: float | None = None,
    seed: int = 0,
    pad: int = 2,
    flatten: bool = False,
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] | str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load any data set described by a ``DatasetSpec``; see ``load_mnist`` for the arguments."""
    split = _check_split(split, spec)
    _check_arguments(spec, split, num_images, fraction, seed, pad, flatten, data_dir)
    mirror_list = _resolve_mirrors(spec, mirrors)

    images, labels = _load_split(spec, split, data_dir, download, mirror_list)

    if num_images is not None:
        images, labels = images[:num_images], labels[:num_images]
    elif fraction is not None:
        indices = _balanced_subset(labels, len(spec.classes), fraction, seed)
        images, labels = images[indices], labels[indices]

    X = _to_float_images(images, pad)
    if flatten:
        X = X.reshape(len(X), -1)
    return X, labels.astype(np.int64)


# ----------------------------------------------------------------------------------------------
# Argument checks


def _check_split(split, spec: DatasetSpec) -> str:
    if not isinstance(split, str):
        raise TypeError(f"{spec.name}: split must be a str, got {type(split).__name__}")
    if split not in SPLIT_ALIASES:
        raise ValueError(
            f"{spec.name}: unknown split {split!r}; expected one of {sorted(SPLIT_ALIASES)}"
        )
    return SPLIT_ALIASES[split]


def _is_integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_arguments(spec, split, num_images, fraction, seed, pad, flatten, data_dir) -> None:
    count = spec.num_examples[split]
    if num_images is not None and fraction is not None:
        raise ValueError(
            f"{spec.name}: pass num_images (the first N images) or fraction (a random class-balanced "
            f"subset), not both; got num_images={num_images!r}, fraction={fraction!r}"
        )
    if num_images is not None:
        if not _is_integer(num_images):
            raise TypeError(
                f"{spec.name}: num_images must be an int, got {type(num_images).__name__} "
                f"{num_images!r}"
            )
        if not 1 <= num_images <= count:
            raise ValueError(
                f"{spec.name}: num_images must be between 1 and {count} for split {split!r}, "
                f"got {num_images}"
            )
    if fraction is not None:
        if not isinstance(fraction, numbers.Real) or isinstance(fraction, bool):
            raise TypeError(
                f"{spec.name}: fraction must be a float, got {type(fraction).__name__} {fraction!r}"
            )
        if not (math.isfinite(fraction) and 0 < fraction <= 1):
            raise ValueError(
                f"{spec.name}: fraction must be in (0, 1], for example 0.1 for 10 %, got {fraction}"
            )
    if not _is_integer(seed):
        raise TypeError(f"{spec.name}: seed must be an int, got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"{spec.name}: seed must be >= 0, got {seed}")
    if not _is_integer(pad):
        raise TypeError(f"{spec.name}: pad must be an int, got {type(pad).__name__} {pad!r}")
    if pad < 0:
        raise ValueError(f"{spec.name}: pad must be >= 0, got {pad}")
    # With a pad larger than the image size, the image fills less than 1/9 of the padded area, which
    # no network needs, and a pad such as 10**6 would request terabytes of memory.
    height, width = spec.image_shape
    max_pad = max(height, width)
    if pad > max_pad:
        raise ValueError(
            f"{spec.name}: pad must be at most {max_pad}, the size of the {height}x{width} images, got {pad}; "
            f"pad is the number of zero pixels added on each side, and the default 2 gives 32x32 images"
        )
    if not isinstance(flatten, (bool, np.bool_)):
        raise TypeError(f"{spec.name}: flatten must be a bool, got {type(flatten).__name__}")
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(
            f"{spec.name}: data_dir must be a str or path, got {type(data_dir).__name__}"
        )


def _resolve_mirrors(spec: DatasetSpec, mirrors) -> list[str]:
    if mirrors is None:
        return _download.mirrors_from_env(spec.mirrors_env) or list(spec.mirrors)
    if isinstance(mirrors, str):
        return [mirrors]
    mirror_list = list(mirrors) if isinstance(mirrors, Sequence) else None
    if mirror_list is None or not all(isinstance(mirror, str) for mirror in mirror_list):
        raise TypeError(f"{spec.name}: mirrors must be a sequence of URL strings, got {mirrors!r}")
    return mirror_list


# ----------------------------------------------------------------------------------------------
# Finding, downloading and verifying files


def _load_split(spec, split, data_dir, download, mirrors) -> tuple[np.ndarray, np.ndarray]:
    """Return the verified uint8 images (N, 28, 28) and uint8 labels (N,) of one split."""
    file_names = spec.files[split]
    folders = locations.search_folders(spec.subfolder, data_dir, spec.dedicated_dirs)
    skipped = {name: [] for name in file_names}  # what was passed over under these names, see _find_verified
    found = {name: _find_verified(spec, name, folders, skipped[name]) for name in file_names}
    arrays = {name: None if copy is None else copy[0] for name, copy in found.items()}

    missing = [name for name, array in arrays.items() if array is None]
    if missing:
        target = locations.download_folder(spec.subfolder, data_dir)
        # The folder of the files of this split that were found, for the advice in the message.
        found_folder = next((copy[1] for copy in found.values() if copy is not None), None)
        if not download:
            reason = "Downloading is switched off (download=False)."
            raise locations.DatasetNotFoundError(
                _missing_message(spec, split, missing, folders, target, found_folder, skipped, reason)
            )
        writable_target, reason = _writable_download_folder(spec, data_dir)
        if writable_target is None:
            raise locations.DatasetNotFoundError(
                _missing_message(spec, split, missing, folders, target, found_folder, skipped, reason)
            )
        target = writable_target
        failures = []
        for name in missing:
            try:
                path = _download.download_file(
                    name, target, mirrors, spec.sha256[name], known_files=_known_file_names()
                )
            except _download.DownloadError as exc:
                failures.append(str(exc))
            else:
                arrays[name] = _read_verified(spec, name, path)
        still_missing = [name for name in missing if arrays[name] is None]
        if still_missing:
            reason = "Downloading failed:\n" + "\n".join(failures)
            raise locations.DatasetNotFoundError(
                _missing_message(spec, split, still_missing, folders, target, found_folder, skipped, reason)
            )

    images, labels = (arrays[name] for name in file_names)
    _check_split_structure(spec, split, images, labels)
    return images, labels


def _writable_download_folder(spec, data_dir) -> tuple[Path | None, str | None]:
    """Return the folder to download into and None, or None and the reason when this user may write to no candidate.

    The first candidate is ``locations.download_folder``. When permissions deny writing there, as in
    a class folder that only the instructor may change, the user cache is used, and a warning names
    both folders.
    """
    base, origin = locations.base_folders(data_dir)[0]
    implied = base / spec.subfolder
    if not locations.write_denied(implied):
        return implied, None
    cache = locations.user_cache_dir() / spec.subfolder
    if cache == implied or locations.write_denied(cache):
        denied = f"{cache} (user cache)" if cache == implied else f"{implied} ({origin}) or to {cache} (user cache)"
        reason = (
            f"Downloading is not possible: this user cannot write to {denied}. To download, set data_dir or "
            f"{locations.DATA_DIR_ENV} to a folder this user can write to."
        )
        return None, reason
    logger.warning(
        "%s: this user cannot write to %s (%s), so the missing files are downloaded into %s (user cache) "
        "instead.",
        spec.name, implied, origin, cache,
    )  # fmt: skip
    return cache, None


def _find_verified(spec, file_name, folders, skipped) -> tuple[np.ndarray, Path] | None:
    """Return the verified array of the first good copy of a file in ``folders`` and its folder, or None.

    A copy that contains another file of the same data set (renamed or swapped by hand), or a
    file of the other data set in this one's own folder, is skipped. If no folder has a good
    copy, the first such copy is reported instead of downloading, so that the user learns why
    the file did not count. Other copies that do not count are appended to ``skipped``, for the
    message if the file is missing in the end. These are files of the other data set in a shared
    folder, files that this user may not read, damaged files in a folder that this user may not write
    to (so that a good copy can be downloaded elsewhere), and folders or symbolic links under
    the file's name that lead to no file.
    """
    misplaced = None
    for folder in folders:
        for path in (folder.path / file_name, folder.path / f"{file_name}.gz"):
            try:
                if not path.is_file():
                    problem = locations.non_file_problem(path)  # a folder or a link where the file belongs
                    if problem is not None:
                        skipped.append(f"{path} ({problem})")
                    continue
            except PermissionError:  # a folder this user may not open, such as one made under umask 077
                skipped.append(f"{folder.path} (this user may not open the folder; its owner can allow that with chmod a+rx)")
                break
            try:
                return _read_verified(spec, file_name, path), folder.path
            except PermissionError:  # a shared copy this user may not read: look further, or download one
                skipped.append(f"{path} (not readable by this user; its owner can allow that with chmod a+r)")
            except _MisnamedFileError as error:  # reported as the public DatasetError, the class users catch
                misplaced = misplaced or DatasetError(str(error))
            except _OtherDatasetError as error:
                # MNIST and Fashion-MNIST share file names, so a shared base folder may contain the
                # other one. In a folder meant for this data set only, that is a mistake to report.
                if not folder.dedicated:
                    skipped.append(error.summary)
                    continue
                other = error.other_spec
                if folder.origin == locations.SYSTEM_FOLDER:
                    home = locations.download_folder(other.subfolder)
                else:  # the data set's subfolder of a base folder, which the other data set shares
                    home = os.path.abspath(folder.path.parent / other.subfolder)
                misplaced = misplaced or DatasetError(
                    f"{error} Move the file to {home}, where {other.name} is looked for."
                )
            except DatasetError as error:  # damaged: corrupt, truncated or failing its sha256 check
                if not locations.write_denied(folder.path):
                    raise  # its message advises deleting the file, which this user can do
                skipped.append(f"{path} (damaged, in a folder this user cannot write to; its owner can replace it)")
                _warn_damaged_read_only(spec, error)
    if misplaced is not None:
        raise misplaced
    return None


def _warn_damaged_read_only(spec, error) -> None:
    """Log that a damaged file is skipped because this user cannot write to its folder to delete it."""
    detail = str(error).removesuffix(f" {DELETE_HINT}")  # advice that only the folder's owner can follow
    logger.warning(
        "%s: skipped a damaged file in a folder that this user cannot write to, so the file is looked for in "
        "the other folders or downloaded. The folder's owner can delete the file or replace it with a good "
        "copy. %s",
        spec.name, detail,
    )  # fmt: skip


class _OtherDatasetError(DatasetError):
    """A file contains a known file of ``other_spec``; ``summary`` names the file and its content in one line."""

    def __init__(self, message, summary, other_spec):
        super().__init__(message)
        self.summary = summary
        self.other_spec = other_spec


class _MisnamedFileError(DatasetError):
    """A file contains another file of the same data set."""


def _known_files() -> dict[str, tuple[DatasetSpec, str]]:
    """Map the sha256 of every known file to its data set and file name, such as (MNIST, 'train-images-idx3-ubyte')."""
    return {
        digest: (spec, name)
        for spec in (MNIST, FASHION_MNIST)
        for name, digest in spec.sha256.items()
    }


def _known_file_names() -> dict[str, str]:
    """Map the sha256 of every known file to its data set and file name in one string, such as 'MNIST train-images-idx3-ubyte'."""
    return {digest: f"{spec.name} {name}" for digest, (spec, name) in _known_files().items()}


def _read_verified(spec, file_name, path: Path) -> np.ndarray:
    """Read, parse and sha256-check one file, or return it from the in-memory cache."""
    expected = spec.sha256[file_name]
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, expected)
    if key in _cache:
        return _cache[key]

    content = read_idx_bytes(path)
    actual = hashlib.sha256(content).hexdigest()
    if actual != expected:
        other_spec, other_name = _known_files().get(actual, (None, None))
        if other_spec is not None and other_spec.name == spec.name:
            # Another file of the same data set under this name: renamed or swapped by hand.
            raise _MisnamedFileError(
                f"{path} contains {spec.name} {other_name}, but is named as {file_name}. If no file named "
                f"{other_name} is beside it, rename it to that (with .gz if it is compressed). If one is, "
                f"and that one contains {file_name}, the two were swapped: exchange their names. "
                f"Otherwise delete {path.name} to download it again."
            )
        if other_spec is not None:
            raise _OtherDatasetError(
                f"{path} contains {other_spec.name} {other_name}, but this folder is for {spec.name}.",
                summary=f"{path} (contains {other_spec.name} {other_name}, the other data set)",
                other_spec=other_spec,
            )
        # Parse first, so that a truncated file or a wrong magic number gets its specific message.
        parse_idx(content, source=path)
        raise DatasetError(
            f"{path}: sha256 of the decompressed content is {actual}, expected {expected} for "
            f"{spec.name} {file_name}. The file is damaged or a different version. {DELETE_HINT}"
        )

    array = parse_idx(content, source=path)
    _cache[key] = array
    return array


def _check_split_structure(spec, split, images, labels) -> None:
    """Check shapes, dtypes, counts and label range.

    With the sha256 table of MNIST or Fashion-MNIST these checks always pass. They catch a
    ``DatasetSpec`` whose checksums describe files of another shape.
    """
    images_name, labels_name = spec.files[split]
    if images.dtype != np.uint8 or images.shape[1:] != spec.image_shape:
        raise DatasetError(
            f"{spec.name} {images_name}: expected uint8 images of shape (N, {spec.image_shape[0]}, "
            f"{spec.image_shape[1]}), got {images.dtype} of shape {images.shape}. {DELETE_HINT}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DatasetError(
            f"{spec.name} {labels_name}: expected uint8 labels of shape (N,), got {labels.dtype} "
            f"of shape {labels.shape}. {DELETE_HINT}"
        )
    if len(images) != len(labels):
        raise DatasetError(
            f"{spec.name} split {split!r}: {images_name} contains {len(images)} images but "
            f"{labels_name} contains {len(labels)} labels; expected equal counts. {DELETE_HINT}"
        )
    if len(images) != spec.num_examples[split]:
        raise DatasetError(
            f"{spec.name} split {split!r}: expected {spec.num_examples[split]} examples, found "
            f"{len(images)}. {DELETE_HINT}"
        )
    if len(labels) and labels.max() >= len(spec.classes):
        raise DatasetError(
            f"{spec.name} {labels_name}: labels must be in 0..{len(spec.classes) - 1}, found "
            f"{labels.max()}. {DELETE_HINT}"
        )


def _missing_message(spec, split, missing, folders, target, found_folder, skipped, reason) -> str:
    """Return the message for missing files: why they were not downloaded, the folders searched, and where to put the files.

    ``found_folder`` is the folder where the other files of the split were found, or None.
    """
    names = ", ".join(f"{name}[.gz]" for name in missing)
    searched = "\n".join(f"  {folder.path} ({folder.origin}){_folder_problem(folder.path)}" for folder in folders)
    skipped_lines = [f"  {line}" for name in missing for line in skipped[name]]
    if skipped_lines:
        searched += "\nSkipped:\n" + "\n".join(skipped_lines)
    # A data_dir or NETLITE_DATA_DIR that is a file, or lies inside one, cannot hold the files, nor a download.
    advice = []
    for folder in folders:
        if folder.origin in ("data_dir argument", locations.DATA_DIR_ENV) and not folder.dedicated:
            blocking_file = _file_on_path(folder.path)
            if blocking_file is not None:
                setting = folder.origin.removesuffix(" argument")  # "data_dir" or "NETLITE_DATA_DIR"
                if blocking_file == folder.path:
                    usually = ", which is usually that file's own folder" if blocking_file.is_file() else ""
                    advice.append(
                        f"{folder.path} ({folder.origin}) is a file; set {setting} to the folder that holds the "
                        f"data files{usually}."
                    )
                else:
                    advice.append(
                        f"{folder.path} ({folder.origin}) lies inside the file {blocking_file}; set {setting} to "
                        f"the folder that holds the data files."
                    )
    target_file = _file_on_path(target)
    env_in_use = any(folder.origin == locations.DATA_DIR_ENV for folder in folders)
    set_env = f"set {locations.DATA_DIR_ENV} to {'another' if env_in_use else 'the'} folder that holds them"
    if found_folder is not None:
        advice.append(
            f"Put {names} (gzip-compressed or plain) into {found_folder}, where the other files of split "
            f"{split!r} are, or {set_env}."
        )
    elif target_file is None:
        advice.append(f"Put the files (gzip-compressed or plain) into {target}, or {set_env}.")
    elif target_file == target:  # a file where the data set's own folder belongs
        advice.append(
            f"{target} is a file where the data set's folder belongs; rename or remove it, then put the "
            f"data files into that folder, or {set_env}."
        )
    elif not advice:
        advice.append(f"Set {locations.DATA_DIR_ENV} to the folder that holds the data files.")
    advice_lines = "\n".join(advice)
    return f"{spec.name} split {split!r}: missing {names}.\n{reason}\nSearched folders:\n{searched}\n{advice_lines}"


def _file_on_path(path: Path) -> Path | None:
    """Return ``path`` or the first of its parents that exists but is not a folder, or None if there is none.

    That is usually a file, but may be a device such as /dev/null.
    """
    for candidate in (path, *path.parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def _folder_problem(path: Path) -> str:
    """Return why nothing can be found in ``path`` (it is missing, or a file), or '' for a folder."""
    blocking_file = _file_on_path(path)
    if blocking_file == path:
        return ": a file, not a folder"
    if blocking_file is not None:
        return f": inside the file {blocking_file}"
    if not path.exists():
        return ": does not exist"
    return ""


# ----------------------------------------------------------------------------------------------
# Subsets and conversion


def _balanced_subset(labels: np.ndarray, num_classes: int, fraction: float, seed: int) -> np.ndarray:
    """Return sorted indices with round(fraction * count) examples of each class, at least one."""
    rng = np.random.default_rng(seed)
    chosen = []
    for class_id in range(num_classes):
        class_indices = np.flatnonzero(labels == class_id)
        if len(class_indices) == 0:
            continue
        # floor(x + 0.5) rounds halves up; Python's round() would round them to even.
        size = max(1, math.floor(fraction * len(class_indices) + 0.5))
        chosen.append(rng.choice(class_indices, size=size, replace=False))
    return np.sort(np.concatenate(chosen))


def _to_float_images(images: np.ndarray, pad: int) -> np.ndarray:
    """Convert uint8 images (N, h, w) to float32 (N, h + 2 pad, w + 2 pad, 1) in [0, 1]."""
    n, height, width = images.shape
    X = np.zeros((n, height + 2 * pad, width + 2 * pad, 1), dtype=np.float32)
    # One pass writes the scaled pixels straight into the interior; the border stays zero.
    np.divide(images, np.float32(255), out=X[:, pad : pad + height, pad : pad + width, 0])
    return X
