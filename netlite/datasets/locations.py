"""Folders where data set files are searched, and where downloads are written.

Base folders, in search order:

1. the ``data_dir`` argument of the loader,
2. the folder in the environment variable ``NETLITE_DATA_DIR``,
3. the repository's ``data/`` folder, when NetLite runs from a checkout (``data/`` next to the
   ``netlite`` package, beside ``pyproject.toml``),
4. the per-user cache ``$XDG_CACHE_HOME/netlite``, or ``~/.cache/netlite`` when that is unset.

In each base folder B, a data set is looked for first in its own subfolder ``B/mnist/`` or
``B/fashion-mnist/``, then directly in B (so ``NETLITE_DATA_DIR`` may point straight at the folder
with the four MNIST files). After the base folders come folders that hold one data set only, such
as ``/usr/share/datasets/fashion-mnist`` from Debian's ``dataset-fashion-mnist`` package.

Downloads go to the data set's subfolder of the first base folder: ``data_dir``, else
``NETLITE_DATA_DIR``, else ``data/`` of a checkout, else the user cache. They never go directly into
a base folder, because MNIST and Fashion-MNIST use the same file names and must not share a folder.
When permissions or a read-only mount deny writing to that subfolder (``write_denied``), as in a
class folder that only the instructor may change, the loader downloads into the data set's subfolder
of the user cache instead, which is searched too.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DATA_DIR_ENV",
    "DatasetNotFoundError",
    "SearchFolder",
    "repository_data_dir",
    "user_cache_dir",
    "base_folders",
    "search_folders",
    "download_folder",
    "write_denied",
    "folder_named_like_file_advice",
    "non_file_problem",
]

DATA_DIR_ENV = "NETLITE_DATA_DIR"


class DatasetNotFoundError(FileNotFoundError):
    """Data set files are in none of the searched folders and could not be downloaded."""


SYSTEM_FOLDER = "system data set folder"  # the origin of a data set's dedicated_dirs


@dataclass(frozen=True)
class SearchFolder:
    """A folder that may hold data set files, with where it came from for error messages."""

    path: Path
    origin: str
    # True when the folder is meant for one data set only. A file there with another data set's
    # content is an error; in a shared base folder it is skipped.
    dedicated: bool


def repository_data_dir() -> Path | None:
    """Return ``<checkout>/data`` when the package runs from a source checkout, else None."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "netlite").is_dir():
        return root / "data"
    return None


def user_cache_dir() -> Path:
    """Return the per-user cache folder ``$XDG_CACHE_HOME/netlite`` or ``~/.cache/netlite``."""
    xdg_cache = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG base directory specification requires ignoring a relative path.
    if xdg_cache and os.path.isabs(xdg_cache):
        return Path(xdg_cache) / "netlite"
    return Path.home() / ".cache" / "netlite"


def base_folders(data_dir: str | os.PathLike | None = None) -> list[tuple[Path, str]]:
    """Return the base folders in search order, each with a label naming its origin."""
    folders = []
    if data_dir is not None:
        folders.append((Path(data_dir).expanduser(), "data_dir argument"))
    env_dir = os.environ.get(DATA_DIR_ENV, "")
    if env_dir:
        folders.append((Path(env_dir).expanduser(), DATA_DIR_ENV))
    repo_dir = repository_data_dir()
    if repo_dir is not None:
        folders.append((repo_dir, "repository data/ folder"))
    folders.append((user_cache_dir(), "user cache"))
    return folders


def search_folders(
    subfolder: str,
    data_dir: str | os.PathLike | None = None,
    dedicated_dirs: tuple[str | os.PathLike, ...] = (),
) -> list[SearchFolder]:
    """Return every folder to search for one data set, in order, without duplicates.

    Parameters
    ----------
    subfolder : str
        The data set's own subfolder name in a base folder, e.g. ``"mnist"``.
    data_dir : str or path, optional
        The loader's ``data_dir`` argument.
    dedicated_dirs : tuple of str or path
        Folders that hold this data set only, searched last.
    """
    candidates = []
    for base, origin in base_folders(data_dir):
        candidates.append(SearchFolder(base / subfolder, origin, dedicated=True))
        candidates.append(SearchFolder(base, origin, dedicated=False))
    for folder in dedicated_dirs:
        candidates.append(SearchFolder(Path(folder), SYSTEM_FOLDER, dedicated=True))

    unique = []
    seen = set()
    for candidate in candidates:
        key = os.path.abspath(candidate.path)
        if key not in seen:
            seen.add(key)
            unique.append(candidate)
    return unique


def download_folder(subfolder: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Return the folder that the search order picks for downloads of one data set.

    The loader downloads into the user cache instead when ``write_denied`` is true for this folder.
    """
    first_base, _ = base_folders(data_dir)[0]
    return first_base / subfolder


def write_denied(folder: Path) -> bool:
    """Return True when permissions or a read-only mount stop this user from writing into ``folder``.

    A missing folder is judged by its nearest existing parent, where it would be created. A file in
    the way returns False, because writing then fails with an error that names the file.
    """
    for candidate in (folder, *folder.parents):
        try:
            exists = candidate.exists()
        except PermissionError:  # a parent folder that this user may not open
            return True
        if exists:
            # os.access checks the permission bits and reports a read-only mount as not writable.
            return candidate.is_dir() and not os.access(candidate, os.W_OK | os.X_OK)
    return False


def folder_named_like_file_advice(folder: Path) -> str:
    """Return what to do about ``folder``, which has the name of a data file, so that the file can take its place."""
    return (
        f"If it contains the data file, rename the folder, move the file into {folder.parent} and delete "
        f"the folder. Otherwise delete or rename the folder."
    )


def non_file_problem(path: Path) -> str | None:
    """Return what is at ``path`` in place of a data file and what to do about it, or None if nothing is there.

    Call it when ``path.is_file()`` is False, which includes a symbolic link that leads to no file.
    """
    if path.is_symlink():
        return _link_problem(path)
    if path.is_dir():
        return f"a folder, not a file. {folder_named_like_file_advice(path)}"
    return None


def _link_problem(link: Path) -> str:
    """Describe the symbolic link ``link``, which leads to no file, and what to do about it."""
    target = os.readlink(link)
    shown_target = target if os.path.isabs(target) else f"{target} (relative to {link.parent})"
    try:
        link.stat()
    except OSError as error:
        if error.errno == errno.ELOOP:
            problem = (
                f"a symbolic link in a loop: it points to {shown_target}, and following it never reaches a "
                f"file ({error.strerror})"
            )
        elif error.errno in (errno.ENOENT, errno.ENOTDIR):
            problem = f"a broken symbolic link: its target {shown_target} does not exist"
        else:
            problem = f"a symbolic link to {shown_target}, which cannot be followed ({error.strerror})"
    else:
        kind = "a folder" if link.is_dir() else "not a regular file"
        problem = f"a symbolic link to {shown_target}, which is {kind}"
    return f"{problem}. Delete the link, or point it at the data file."
