"""Download data set files from a list of mirrors, verified by the sha256 of their content.

For each mirror in turn, ``download_file`` fetches ``<mirror>/<name>.gz`` into a ``.part`` file in
the target folder, with a tqdm progress bar and a socket timeout. It checks that the body is as
long as the Content-Length header declares, decompresses it, and compares the sha256 of the
decompressed content with the expected value. Only then is the ``.part`` file renamed to its final
name. The checksum covers the decompressed content because each mirror compresses the files
differently. Any failure, including KeyboardInterrupt, removes the ``.part`` file, and the next
mirror is tried. A process killed by a signal (SIGTERM, SIGKILL, a Jupyter kernel restart) cannot clean up, so
it leaves its ``<name>.<random>.part`` behind, which can be deleted.

A mirror that sends the file uncompressed is accepted too, and the file is then stored without the
``.gz`` suffix.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import tempfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from .idx import GZIP_SIGNATURE
from .locations import folder_named_like_file_advice

__all__ = ["DOWNLOAD_TIMEOUT_SECONDS", "DownloadError", "download_file", "mirrors_from_env"]

logger = logging.getLogger(__name__)

# Seconds without any data from the server before one mirror counts as failed.
DOWNLOAD_TIMEOUT_SECONDS = 30.0

CHUNK_BYTES = 1 << 16


class DownloadError(OSError):
    """A file could not be downloaded from any mirror; the message lists each mirror's failure."""


def mirrors_from_env(env_var: str) -> list[str] | None:
    """Return the mirror URLs in an environment variable (separated by commas or spaces), or None."""
    value = os.environ.get(env_var, "")
    mirrors = value.replace(",", " ").split()
    return mirrors or None


def download_file(
    file_name: str,
    dest_dir: str | os.PathLike,
    mirrors: Sequence[str],
    sha256: str,
    *,
    timeout: float = DOWNLOAD_TIMEOUT_SECONDS,
    progress: bool = True,
    known_files: Mapping[str, str] | None = None,
) -> Path:
    """Download one file from the first mirror that delivers it with the right content.

    Parameters
    ----------
    file_name : str
        The uncompressed file name, e.g. ``"train-images-idx3-ubyte"``; ``<mirror>/<file_name>.gz``
        is fetched.
    dest_dir : str or path
        Folder to store the file in. It is created if missing, and removed again if no mirror
        delivered the file.
    mirrors : sequence of str
        Base URLs (``http://`` or ``https://``), tried in order.
    sha256 : str
        Expected sha256 hex digest of the decompressed content.
    timeout : float
        Socket timeout in seconds for connecting and for each read.
    progress : bool
        Show a tqdm progress bar.
    known_files : mapping of str to str, optional
        Names of other files by the sha256 of their decompressed content, such as
        ``"MNIST t10k-labels-idx1-ubyte"``. A mirror that sends one of them in place of ``file_name``
        fails with a message that names the file it sent.

    Returns
    -------
    Path of the stored file: ``<dest_dir>/<file_name>.gz``, or ``<dest_dir>/<file_name>`` when the
    mirror sent the file uncompressed.

    Raises
    ------
    DownloadError
        If every mirror failed; the message lists the URL and the failure of each. Also raised
        without contacting any mirror when ``<dest_dir>/<file_name>.gz`` is a folder.
    """
    if not mirrors:
        raise DownloadError(f"No mirrors to download {file_name} from.")
    dest_dir = Path(dest_dir)
    # The URL names a .gz file, and a compressed reply is stored under that name. A folder with that
    # name would make every mirror's transfer fail at the end, so it is reported before any transfer.
    compressed_path = dest_dir / f"{file_name}.gz"
    if os.path.isdir(compressed_path):
        raise DownloadError(_folder_in_the_way_message(compressed_path))
    # Imported here so that importing netlite does not pay for it.
    import http.client

    new_folders = _make_folders(dest_dir)
    failures = []
    try:
        for mirror in mirrors:
            url = f"{mirror.rstrip('/')}/{file_name}.gz"
            try:
                return _download_from(url, file_name, dest_dir, sha256, timeout, progress, known_files or {})
            except (OSError, ValueError, http.client.HTTPException) as exc:
                # urllib's URLError, HTTPError and socket timeouts are OSErrors, a checksum mismatch is
                # a ValueError, and a malformed HTTP response is an HTTPException.
                logger.warning("Download of %s failed: %s", url, exc)
                failures.append(f"  {url}: {exc}")
    finally:
        # Remove the folders made for a download that failed, so that a misspelt data folder does not appear.
        for folder in reversed(new_folders):
            try:
                folder.rmdir()
            except OSError:  # the downloaded file is in it, or someone else put something there
                break
    raise DownloadError(f"Could not download {file_name} from any mirror:\n" + "\n".join(failures))


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and the folders above it that are missing; return the ones created, outermost first.

    The path is walked from its start, so that in ``typo/../data`` only ``typo`` counts as new,
    although ``data`` seems missing as long as ``typo`` is.
    """
    created = []
    for depth in range(1, len(folder.parts) + 1):
        path = Path(*folder.parts[:depth])
        if not path.exists():
            try:
                path.mkdir()
            except FileExistsError:  # made by another process since exists(), so not this download's to remove
                continue
            except OSError:  # for example a file in the way, which _download_from reports for each mirror
                break
            created.append(path)
    return created


def _download_from(
    url: str,
    file_name: str,
    dest_dir: Path,
    sha256: str,
    timeout: float,
    progress: bool,
    known_files: Mapping[str, str],
) -> Path:
    """Fetch one URL into a ``.part`` file, verify it, and rename it; remove the ``.part`` on failure."""
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"mirror URL must start with https:// or http://, got {url!r}")

    dest_dir.mkdir(parents=True, exist_ok=True)
    part_fd, part_name = tempfile.mkstemp(dir=dest_dir, prefix=f"{file_name}.", suffix=".part")
    part_path = Path(part_name)
    try:
        # mkstemp makes the file readable by its owner only. Students may share a folder that their
        # instructor downloaded into, so the file gets what the umask allows, as any new file does.
        os.fchmod(part_fd, 0o666 & ~_umask())
        with os.fdopen(part_fd, "wb") as part_file:
            _fetch(url, part_file, timeout, progress)
        content = part_path.read_bytes()
        compressed = content.startswith(GZIP_SIGNATURE)
        _check_sha256(_decompress(content) if compressed else content, file_name, sha256, known_files)
        final_path = dest_dir / (f"{file_name}.gz" if compressed else file_name)
        if os.path.isdir(final_path):
            raise IsADirectoryError(_folder_in_the_way_message(final_path))
        os.replace(part_path, final_path)
        return final_path
    finally:
        # Reached with the .part file still present only on failure or interrupt.
        part_path.unlink(missing_ok=True)


def _folder_in_the_way_message(path: Path) -> str:
    return (
        f"{path} is a folder, not a file, so the download cannot be stored under that name. "
        f"{folder_named_like_file_advice(path)}"
    )


def _umask() -> int:
    """Return the process's umask, which can only be read by setting it and setting it back."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _fetch(url: str, out_file, timeout: float, progress: bool) -> None:
    """Stream the body of ``url`` into ``out_file`` and check its length against Content-Length."""
    # Imported here so that importing netlite does not pay for urllib's and tqdm's imports.
    import urllib.request

    from tqdm.auto import tqdm

    request = urllib.request.Request(url, headers={"User-Agent": "netlite"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length_header = response.headers.get("Content-Length")
        expected_bytes = int(length_header) if length_header is not None else None
        received_bytes = 0
        with tqdm(
            total=expected_bytes,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=url.rsplit("/", 1)[-1],
            disable=not progress,
        ) as bar:
            while chunk := response.read(CHUNK_BYTES):
                out_file.write(chunk)
                received_bytes += len(chunk)
                bar.update(len(chunk))

    # http.client returns a short body without an error when the server closes the connection early.
    if expected_bytes is not None and received_bytes != expected_bytes:
        raise OSError(
            f"transfer interrupted: received {received_bytes} of {expected_bytes} bytes "
            f"announced by Content-Length"
        )


def _decompress(content: bytes) -> bytes:
    try:
        return gzip.decompress(content)
    except (OSError, EOFError, zlib.error) as exc:
        raise OSError(f"downloaded file is not a valid gzip stream ({exc})") from exc


def _check_sha256(content: bytes, file_name: str, expected: str, known_files: Mapping[str, str]) -> None:
    actual = hashlib.sha256(content).hexdigest()
    if actual == expected:
        return
    sent_file = known_files.get(actual)
    if sent_file is not None:
        raise ValueError(
            f"the mirror sent {sent_file} in place of {file_name}, so its files are swapped or it is a mirror "
            f"of another data set (sha256 of the decompressed content is {actual}, expected {expected})"
        )
    raise ValueError(
        f"sha256 of the decompressed content is {actual}, expected {expected}, so the mirror serves a "
        f"different or damaged file"
    )
