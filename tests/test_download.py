"""Downloads from a real HTTP server on 127.0.0.1: success, mirror fallback, cut transfers, checksums."""

import dataclasses
import gzip
import hashlib
import logging
import os
import socket
import stat
import threading
from pathlib import Path

import numpy as np
import pytest
from datasets_helpers import (  # noqa: F401  (fixtures are used by name)
    IMAGE_FILES,
    LABEL_FILES,
    TINY_COUNTS,
    Route,
    isolated_search_path,
    refused_url,
    server,
    tiny_files,
    tiny_mnist_spec,
    tiny_split,
    write_tiny_dataset,
)

from netlite.datasets import DATA_DIR_ENV, DatasetError, DatasetNotFoundError, DownloadError, load_mnist
from netlite.datasets import download as download_module
from netlite.datasets import locations
from netlite.datasets import mnist as mnist_module

NAME = IMAGE_FILES["test"]


def _serve_tiny(server, prefix="/mirror", compress=True):
    """Serve the four tiny files under ``prefix`` and return the mirror URL."""
    for name, content in tiny_files().items():
        body = gzip.compress(content) if compress else content
        server.routes[f"{prefix}/{name}.gz"] = Route(body)
    return f"{server.url}{prefix}/"


def _expected_sha256(name):
    return hashlib.sha256(tiny_files()[name]).hexdigest()


def _leftovers(folder):
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def test_download_file_success(tmp_path, server):
    mirror = _serve_tiny(server)

    path = download_module.download_file(
        NAME, tmp_path / "dest", [mirror], _expected_sha256(NAME), progress=False
    )

    assert path == tmp_path / "dest" / f"{NAME}.gz"
    assert gzip.decompress(path.read_bytes()) == tiny_files()[NAME]
    assert _leftovers(tmp_path / "dest") == [f"{NAME}.gz"]
    assert server.requests == [f"/mirror/{NAME}.gz"]


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_downloaded_file_readable_as_umask_allows(tmp_path, server, umask):
    # An instructor downloads once into a shared folder; the students must be able to read the files.
    mirror = _serve_tiny(server)
    previous = os.umask(umask)
    try:
        path = download_module.download_file(NAME, tmp_path, [mirror], _expected_sha256(NAME), progress=False)
    finally:
        os.umask(previous)

    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_download_file_uncompressed_body(tmp_path, server):
    mirror = _serve_tiny(server, compress=False)

    path = download_module.download_file(
        NAME, tmp_path, [mirror], _expected_sha256(NAME), progress=False
    )

    assert path == tmp_path / NAME
    assert path.read_bytes() == tiny_files()[NAME]


def test_load_downloads_missing_files(tmp_path, server, tiny_mnist_spec):
    mirror = _serve_tiny(server)
    images, labels = tiny_split("train")

    X, y = load_mnist("train", data_dir=tmp_path, mirrors=[mirror])

    assert X.shape == (TINY_COUNTS["train"], 32, 32, 1)
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_array_equal(X[:, 2:30, 2:30, 0] * 255, images)
    assert _leftovers(tmp_path / "mnist") == [f"{IMAGE_FILES['train']}.gz", f"{LABEL_FILES['train']}.gz"]


def test_load_second_call_uses_local_files(tmp_path, server, tiny_mnist_spec):
    mirror = _serve_tiny(server)
    load_mnist("test", data_dir=tmp_path, mirrors=[mirror])
    server.requests.clear()

    load_mnist("test", data_dir=tmp_path, mirrors=[mirror])

    assert server.requests == []


def test_load_mirrors_from_env(tmp_path, monkeypatch, server, tiny_mnist_spec):
    mirror = _serve_tiny(server, prefix="/from-env")
    monkeypatch.setenv("NETLITE_MNIST_MIRRORS", f"{refused_url()}/ , {mirror}")

    X, _ = load_mnist("test", data_dir=tmp_path)

    assert len(X) == TINY_COUNTS["test"]
    assert f"/from-env/{IMAGE_FILES['test']}.gz" in server.requests


def test_download_default_folder_is_home_cache(server, tiny_mnist_spec, isolated_search_path):
    mirror = _serve_tiny(server)

    load_mnist("test", mirrors=[mirror])

    cache = isolated_search_path / ".cache" / "netlite" / "mnist"
    assert _leftovers(cache) == [f"{IMAGE_FILES['test']}.gz", f"{LABEL_FILES['test']}.gz"]


def test_first_mirror_404_then_second(tmp_path, server):
    mirror = _serve_tiny(server, prefix="/good")

    path = download_module.download_file(
        NAME, tmp_path, [f"{server.url}/missing/", mirror], _expected_sha256(NAME), progress=False
    )

    assert path.is_file()
    assert server.requests == [f"/missing/{NAME}.gz", f"/good/{NAME}.gz"]


def test_first_mirror_refused_then_second(tmp_path, server):
    mirror = _serve_tiny(server)

    path = download_module.download_file(
        NAME, tmp_path, [refused_url(), mirror], _expected_sha256(NAME), progress=False
    )

    assert gzip.decompress(path.read_bytes()) == tiny_files()[NAME]


def test_first_mirror_server_error_then_second(tmp_path, server):
    mirror = _serve_tiny(server, prefix="/good")
    server.routes[f"/broken/{NAME}.gz"] = Route(status=503)

    path = download_module.download_file(
        NAME, tmp_path, [f"{server.url}/broken", mirror], _expected_sha256(NAME), progress=False
    )

    assert path.is_file()


def test_interrupted_transfer(tmp_path, server):
    body = gzip.compress(tiny_files()[NAME])
    server.routes[f"/cut/{NAME}.gz"] = Route(body, cut_after=len(body) // 2)

    with pytest.raises(DownloadError) as info:
        download_module.download_file(
            NAME, tmp_path, [f"{server.url}/cut"], _expected_sha256(NAME), progress=False
        )

    message = str(info.value)
    assert "interrupted" in message
    assert f"received {len(body) // 2} of {len(body)} bytes" in message
    assert f"{server.url}/cut/{NAME}.gz" in message
    assert _leftovers(tmp_path) == []


def test_interrupted_transfer_then_good_mirror(tmp_path, server):
    mirror = _serve_tiny(server, prefix="/good")
    body = gzip.compress(tiny_files()[NAME])
    server.routes[f"/cut/{NAME}.gz"] = Route(body, cut_after=10)

    path = download_module.download_file(
        NAME, tmp_path, [f"{server.url}/cut", mirror], _expected_sha256(NAME), progress=False
    )

    assert _leftovers(tmp_path) == [path.name]


def test_wrong_checksum(tmp_path, server):
    other = tiny_files()[IMAGE_FILES["train"]]
    server.routes[f"/wrong/{NAME}.gz"] = Route(gzip.compress(other))

    with pytest.raises(DownloadError) as info:
        download_module.download_file(
            NAME, tmp_path, [f"{server.url}/wrong"], _expected_sha256(NAME), progress=False
        )

    message = str(info.value)
    assert "sha256" in message
    assert _expected_sha256(NAME) in message
    assert hashlib.sha256(other).hexdigest() in message
    assert _leftovers(tmp_path) == []


def test_wrong_checksum_names_known_file(tmp_path, server):
    other = tiny_files()[IMAGE_FILES["train"]]
    server.routes[f"/swapped/{NAME}.gz"] = Route(gzip.compress(other))
    known_files = {hashlib.sha256(other).hexdigest(): f"MNIST {IMAGE_FILES['train']}"}

    with pytest.raises(DownloadError) as info:
        download_module.download_file(
            NAME, tmp_path, [f"{server.url}/swapped"], _expected_sha256(NAME), progress=False, known_files=known_files
        )

    message = str(info.value)
    assert f"the mirror sent MNIST {IMAGE_FILES['train']} in place of {NAME}, so its files are swapped" in message
    assert _expected_sha256(NAME) in message
    assert _leftovers(tmp_path) == []


def test_load_names_swapped_mirror_file(tmp_path, server, tiny_mnist_spec):
    # The mirror serves the test labels under the name of the training labels.
    mirror = _serve_tiny(server)
    test_labels = server.routes[f"/mirror/{LABEL_FILES['test']}.gz"]
    server.routes[f"/mirror/{LABEL_FILES['train']}.gz"] = test_labels

    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist("train", data_dir=tmp_path, mirrors=[mirror])

    message = str(info.value)
    assert f"missing {LABEL_FILES['train']}[.gz]." in message
    assert f"the mirror sent MNIST {LABEL_FILES['test']} in place of {LABEL_FILES['train']}" in message


def test_load_names_other_dataset_from_mirror(tmp_path, server, tiny_mnist_spec):
    # A Fashion-MNIST load from a mirror that serves (tiny) MNIST.
    mirror = _serve_tiny(server)
    fashion_spec = dataclasses.replace(mnist_module.FASHION_MNIST, num_examples=dict(TINY_COUNTS), mirrors=(), dedicated_dirs=())

    with pytest.raises(DatasetNotFoundError) as info:
        mnist_module.load_dataset(fashion_spec, "test", data_dir=tmp_path, mirrors=[mirror])

    message = str(info.value)
    for name in (IMAGE_FILES["test"], LABEL_FILES["test"]):
        assert f"the mirror sent MNIST {name} in place of {name}, so its files are swapped or it is a mirror of another data set" in message
    assert _leftovers(tmp_path / "fashion-mnist") == []


def test_corrupt_gzip_body(tmp_path, server):
    server.routes[f"/bad/{NAME}.gz"] = Route(b"\x1f\x8b" + b"\x00" * 50)

    with pytest.raises(DownloadError, match="not a valid gzip stream"):
        download_module.download_file(
            NAME, tmp_path, [f"{server.url}/bad"], _expected_sha256(NAME), progress=False
        )
    assert _leftovers(tmp_path) == []


def test_timeout(tmp_path):
    # A server that accepts the connection but never responds.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    try:
        with pytest.raises(DownloadError, match="timed out"):
            download_module.download_file(
                NAME, tmp_path, [f"http://127.0.0.1:{port}"], "0" * 64, timeout=0.3, progress=False
            )
    finally:
        listener.close()
    assert _leftovers(tmp_path) == []


def test_keyboard_interrupt_removes_part_file(tmp_path, monkeypatch, server):
    mirror = _serve_tiny(server)
    part_seen = threading.Event()

    def interrupted_fetch(url, out_file, timeout, progress):
        out_file.write(b"partial data")
        out_file.flush()
        if any(path.suffix == ".part" for path in tmp_path.iterdir()):
            part_seen.set()
        raise KeyboardInterrupt

    monkeypatch.setattr(download_module, "_fetch", interrupted_fetch)

    with pytest.raises(KeyboardInterrupt):
        download_module.download_file(NAME, tmp_path, [mirror], _expected_sha256(NAME))

    assert part_seen.is_set()
    assert _leftovers(tmp_path) == []


def test_non_http_mirror_rejected(tmp_path):
    with pytest.raises(DownloadError, match="must start with https:// or http://"):
        download_module.download_file(NAME, tmp_path, ["ftp://example.invalid/"], "0" * 64)


def test_missing_message_names_bad_folders(tmp_path, tiny_mnist_spec, monkeypatch):
    data_file = tmp_path / IMAGE_FILES["train"]
    data_file.write_bytes(b"not a folder")
    monkeypatch.setenv(DATA_DIR_ENV, str(data_file))

    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist("train", data_dir=tmp_path / "typo", download=False)

    message = str(info.value)
    assert f"  {tmp_path / 'typo'} (data_dir argument): does not exist\n" in message
    assert f"  {data_file} ({DATA_DIR_ENV}): a file, not a folder\n" in message
    assert f"{data_file} ({DATA_DIR_ENV}) is a file; set {DATA_DIR_ENV} to the folder" in message
    assert f"Put the files (gzip-compressed or plain) into {tmp_path / 'typo' / 'mnist'}" in message
    assert not (tmp_path / "typo").exists()


def test_missing_message_names_folder_inside_file(tmp_path, tiny_mnist_spec):
    data_file = tmp_path / IMAGE_FILES["train"]
    data_file.write_bytes(b"not a folder")

    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist("train", data_dir=data_file / "sub", download=False)

    message = str(info.value)
    assert f"  {data_file / 'sub'} (data_dir argument): inside the file {data_file}\n" in message
    assert f"{data_file / 'sub'} (data_dir argument) lies inside the file {data_file}; set data_dir to" in message
    assert "Put the files" not in message  # the download folder would lie inside the file too


def test_missing_message_names_file_as_folder(tmp_path, tiny_mnist_spec):
    (tmp_path / "mnist").write_bytes(b"a file where the folder belongs")

    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist("train", data_dir=tmp_path, download=False)

    message = str(info.value)
    assert f"  {tmp_path / 'mnist'} (data_dir argument): a file, not a folder\n" in message
    assert message.endswith(
        f"{tmp_path / 'mnist'} is a file where the data set's folder belongs; rename or remove it, then put the "
        f"data files into that folder, or set {DATA_DIR_ENV} to the folder that holds them."
    )


def test_missing_message_names_folder_as_file(tmp_path, tiny_mnist_spec):
    folder = tmp_path / "mnist" / f"{IMAGE_FILES['train']}.gz"
    folder.mkdir(parents=True)

    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist("train", data_dir=tmp_path, download=False)

    message = str(info.value)
    assert (
        f"\nSkipped:\n  {folder} (a folder, not a file. If it contains the data file, rename the folder, move "
        f"the file into {tmp_path / 'mnist'} and delete the folder. Otherwise delete or rename the folder.)\n"
    ) in message


def test_missing_message_names_broken_link(tmp_path, tiny_mnist_spec):
    link = tmp_path / "mnist" / f"{LABEL_FILES['train']}.gz"
    link.parent.mkdir()
    link.symlink_to(tmp_path / "moved-away.gz")

    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist("train", data_dir=tmp_path, download=False)

    message = str(info.value)
    assert (
        f"\nSkipped:\n  {link} (a broken symbolic link: its target {tmp_path / 'moved-away.gz'} does not exist. "
        f"Delete the link, or point it at the data file.)\n"
    ) in message


def test_missing_message_names_link_loop(tmp_path, tiny_mnist_spec):
    link = tmp_path / "mnist" / LABEL_FILES["train"]
    link.parent.mkdir()
    (link.parent / "other").symlink_to(link.name)
    link.symlink_to("other")

    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist("train", data_dir=tmp_path, download=False)

    message = str(info.value)
    assert f"\nSkipped:\n  {link} (a symbolic link in a loop: it points to other (relative to {link.parent}), " in message
    assert "and following it never reaches a file (" in message
    assert "Delete the link, or point it at the data file.)\n" in message


def test_missing_message_names_link_to_folder(tmp_path, tiny_mnist_spec):
    link = tmp_path / "mnist" / f"{LABEL_FILES['train']}.gz"
    link.parent.mkdir()
    (tmp_path / "unpacked").mkdir()
    link.symlink_to(tmp_path / "unpacked")

    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist("train", data_dir=tmp_path, download=False)

    message = str(info.value)
    assert (
        f"\nSkipped:\n  {link} (a symbolic link to {tmp_path / 'unpacked'}, which is a folder. "
        f"Delete the link, or point it at the data file.)\n"
    ) in message


def test_load_reports_folder_in_download_folder(tmp_path, server, tiny_mnist_spec):
    folder = tmp_path / "mnist" / f"{IMAGE_FILES['test']}.gz"
    folder.mkdir(parents=True)
    mirror = _serve_tiny(server)

    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist("test", data_dir=tmp_path, mirrors=[mirror])

    message = str(info.value)
    assert f"missing {IMAGE_FILES['test']}[.gz]." in message
    assert f"Downloading failed:\n{folder} is a folder, not a file, so the download cannot be stored" in message
    assert f"  {folder} (a folder, not a file." in message
    assert server.requests == [f"/mirror/{LABEL_FILES['test']}.gz"]  # nothing transferred for the blocked name


def test_download_rejects_folder_as_file(tmp_path, server):
    folder = tmp_path / f"{NAME}.gz"
    folder.mkdir()
    mirror = _serve_tiny(server)

    with pytest.raises(DownloadError) as info:
        download_module.download_file(NAME, tmp_path, [mirror], _expected_sha256(NAME), progress=False)

    assert str(info.value).startswith(f"{folder} is a folder, not a file, so the download cannot be stored under that name.")
    assert server.requests == []
    assert _leftovers(tmp_path) == [folder.name]


def test_uncompressed_download_rejects_folder_as_file(tmp_path, server):
    folder = tmp_path / NAME
    folder.mkdir()
    mirror = _serve_tiny(server, compress=False)

    with pytest.raises(DownloadError) as info:
        download_module.download_file(NAME, tmp_path, [mirror], _expected_sha256(NAME), progress=False)

    assert f"{mirror}{NAME}.gz: {folder} is a folder, not a file" in str(info.value)
    assert _leftovers(tmp_path) == [NAME]  # no .part file is left


def test_no_mirrors(tmp_path):
    with pytest.raises(DownloadError, match="No mirrors"):
        download_module.download_file(NAME, tmp_path, [], "0" * 64)


def test_no_network_message(tmp_path, tiny_mnist_spec):
    mirrors = [refused_url(), refused_url()]

    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist("train", data_dir=tmp_path, mirrors=mirrors)

    message = str(info.value)
    assert f"missing {IMAGE_FILES['train']}[.gz], {LABEL_FILES['train']}[.gz]" in message
    assert f"Put the files (gzip-compressed or plain) into {tmp_path / 'mnist'}" in message
    assert DATA_DIR_ENV in message
    for mirror in mirrors:
        assert f"{mirror}/{IMAGE_FILES['train']}.gz" in message
    assert not (tmp_path / "mnist").exists()  # the download made the folder, and took it away again


def test_missing_message_points_beside_other_files(tmp_path, tiny_mnist_spec, monkeypatch):
    # Three of the four files are in the folder that NETLITE_DATA_DIR names, and the labels of 'test' cannot be downloaded.
    files = write_tiny_dataset(tmp_path)
    files[LABEL_FILES["test"]].unlink()
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))

    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist("test", mirrors=[refused_url()])

    message = str(info.value)
    assert message.endswith(
        f"Put {LABEL_FILES['test']}[.gz] (gzip-compressed or plain) into {tmp_path}, where the other files of split "
        f"'test' are, or set {DATA_DIR_ENV} to another folder that holds them."
    )
    assert not (tmp_path / "mnist").exists()


def test_failed_download_removes_new_folders(tmp_path):
    target = tmp_path / "typo" / "mnist"

    with pytest.raises(DownloadError):
        download_module.download_file(NAME, target, [refused_url()], "0" * 64)

    assert not (tmp_path / "typo").exists()


def test_failed_download_keeps_folder_made_meanwhile(tmp_path, monkeypatch):
    # Another process makes 'data' between this download's exists() and mkdir().
    real_mkdir = download_module.Path.mkdir

    def racing_mkdir(path, *args, **kwargs):
        if path.name == "data" and not path.exists():
            real_mkdir(path)
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(download_module.Path, "mkdir", racing_mkdir)
    with pytest.raises(DownloadError):
        download_module.download_file(NAME, tmp_path / "data" / "mnist", [refused_url()], "0" * 64)

    assert (tmp_path / "data").is_dir()
    assert not (tmp_path / "data" / "mnist").exists()


def test_failed_download_keeps_folders_it_did_not_make(tmp_path):
    # 'typo' is missing, so 'keep' and 'keep/mnist' seem missing too when seen through 'typo/..'.
    (tmp_path / "keep" / "mnist").mkdir(parents=True)
    target = tmp_path / "typo" / ".." / "keep" / "mnist"

    with pytest.raises(DownloadError):
        download_module.download_file(NAME, target, [refused_url()], "0" * 64)

    assert (tmp_path / "keep" / "mnist").is_dir()
    assert not (tmp_path / "typo").exists()


def test_partial_download_lists_only_missing(tmp_path, server, tiny_mnist_spec):
    mirror = _serve_tiny(server)
    del server.routes[f"/mirror/{LABEL_FILES['train']}.gz"]

    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist("train", data_dir=tmp_path, mirrors=[mirror])

    message = str(info.value)
    assert f"missing {LABEL_FILES['train']}[.gz]." in message
    assert f"{IMAGE_FILES['train']}[.gz]" not in message
    assert _leftovers(tmp_path / "mnist") == [f"{IMAGE_FILES['train']}.gz"]


def test_mirrors_from_env_parsing(monkeypatch):
    monkeypatch.setenv("NETLITE_TEST_MIRRORS", " https://a/ ,https://b/  https://c/ ")
    assert download_module.mirrors_from_env("NETLITE_TEST_MIRRORS") == [
        "https://a/",
        "https://b/",
        "https://c/",
    ]

    monkeypatch.setenv("NETLITE_TEST_MIRRORS", " , ")
    assert download_module.mirrors_from_env("NETLITE_TEST_MIRRORS") is None


def _deny_writing_under(monkeypatch, *folders):
    """Make os.access report that this user cannot write in ``folders`` or below them.

    Tests run as root, and root may write anywhere, so chmod cannot make a folder read-only for them.
    """
    access = os.access

    def access_unless_denied(path, mode, *args, **kwargs):
        path = Path(path)
        if mode & os.W_OK and any(path == folder or folder in path.parents for folder in folders):
            return False
        return access(path, mode, *args, **kwargs)

    monkeypatch.setattr(locations.os, "access", access_unless_denied)


@pytest.mark.parametrize("setting", ["NETLITE_DATA_DIR", "data_dir"])
def test_download_falls_back_to_user_cache(tmp_path, monkeypatch, caplog, server, tiny_mnist_spec, isolated_search_path, setting):
    # A class folder that students may read but not write, and that lacks the requested files.
    shared = tmp_path / "shared"
    shared.mkdir()
    _deny_writing_under(monkeypatch, shared)
    mirror = _serve_tiny(server)
    data_dir = shared if setting == "data_dir" else None
    if setting == "NETLITE_DATA_DIR":
        monkeypatch.setenv(DATA_DIR_ENV, str(shared))
    origin = "data_dir argument" if setting == "data_dir" else DATA_DIR_ENV

    with caplog.at_level(logging.WARNING, logger="netlite.datasets"):
        X, _ = load_mnist("test", data_dir=data_dir, mirrors=[mirror])

    cache = isolated_search_path / ".cache" / "netlite" / "mnist"
    assert len(X) == TINY_COUNTS["test"]
    assert _leftovers(cache) == [f"{IMAGE_FILES['test']}.gz", f"{LABEL_FILES['test']}.gz"]
    assert _leftovers(shared) == []
    logged = [record.getMessage() for record in caplog.records if record.name == "netlite.datasets.mnist"]
    assert logged == [
        f"MNIST: this user cannot write to {shared / 'mnist'} ({origin}), so the missing files are downloaded "
        f"into {cache} (user cache) instead."
    ]

    server.requests.clear()
    load_mnist("test", data_dir=data_dir, mirrors=[mirror])
    assert server.requests == []  # the user cache is searched, so the files are found there


def _class_folder_with_cut_file(tmp_path, monkeypatch):
    """Write the tiny files into a class folder that this user cannot write to, with the test images cut short.

    Return the class folder and the damaged file.
    """
    shared = tmp_path / "shared"
    damaged = write_tiny_dataset(shared / "mnist")[IMAGE_FILES["test"]]
    damaged.write_bytes(damaged.read_bytes()[:-10])  # as after an interrupted copy
    monkeypatch.setenv(DATA_DIR_ENV, str(shared))
    _deny_writing_under(monkeypatch, shared)
    return shared, damaged


def test_damaged_file_read_only_folder_downloads(tmp_path, monkeypatch, caplog, server, tiny_mnist_spec, isolated_search_path):
    shared, damaged = _class_folder_with_cut_file(tmp_path, monkeypatch)
    damaged_content = damaged.read_bytes()
    mirror = _serve_tiny(server)

    with caplog.at_level(logging.WARNING, logger="netlite.datasets"):
        X, y = load_mnist("test", mirrors=[mirror])

    cache = isolated_search_path / ".cache" / "netlite" / "mnist"
    np.testing.assert_array_equal(y, tiny_split("test")[1])
    assert len(X) == TINY_COUNTS["test"]
    assert _leftovers(cache) == [f"{IMAGE_FILES['test']}.gz"]
    assert damaged.read_bytes() == damaged_content
    logged = [record.getMessage() for record in caplog.records if record.name == "netlite.datasets.mnist"]
    assert len(logged) == 2  # the skipped file, then the download into the user cache
    assert f"{damaged}: corrupt gzip stream" in logged[0]
    assert "The folder's owner can delete the file or replace it with a good copy." in logged[0]
    assert "Delete the file so that it is downloaded again" not in logged[0]
    assert f"downloaded into {cache} (user cache)" in logged[1]

    server.requests.clear()
    load_mnist("test", mirrors=[mirror])
    assert server.requests == []  # the damaged file is skipped again, and the copy in the user cache is found


def test_damaged_file_read_only_folder_named(tmp_path, monkeypatch, tiny_mnist_spec, isolated_search_path):
    _, damaged = _class_folder_with_cut_file(tmp_path, monkeypatch)

    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist("test", download=False)

    message = str(info.value)
    assert f"missing {IMAGE_FILES['test']}[.gz]." in message
    assert f"\nSkipped:\n  {damaged} (damaged, in a folder this user cannot write to; its owner can replace it)" in message


def test_damaged_file_writable_folder_raises(tmp_path, monkeypatch, server, tiny_mnist_spec, isolated_search_path):
    shared = tmp_path / "shared"
    damaged = write_tiny_dataset(shared / "mnist")[IMAGE_FILES["test"]]
    damaged.write_bytes(damaged.read_bytes()[:-10])
    mirror = _serve_tiny(server)

    with pytest.raises(DatasetError, match="Delete the file so that it is downloaded again") as info:
        load_mnist("test", data_dir=shared, mirrors=[mirror])

    assert str(damaged) in str(info.value)
    assert server.requests == []


def test_download_neither_folder_writable(tmp_path, monkeypatch, server, tiny_mnist_spec, isolated_search_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    monkeypatch.setenv(DATA_DIR_ENV, str(shared))
    _deny_writing_under(monkeypatch, shared, isolated_search_path)
    mirror = _serve_tiny(server)

    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist("test", mirrors=[mirror])

    message = str(info.value)
    cache = isolated_search_path / ".cache" / "netlite" / "mnist"
    assert (
        f"Downloading is not possible: this user cannot write to {shared / 'mnist'} ({DATA_DIR_ENV}) or to "
        f"{cache} (user cache). To download, set data_dir or {DATA_DIR_ENV} to a folder this user can write to."
    ) in message
    assert server.requests == []
    assert _leftovers(shared) == []


def test_download_user_cache_not_writable(monkeypatch, server, tiny_mnist_spec, isolated_search_path):
    _deny_writing_under(monkeypatch, isolated_search_path)
    mirror = _serve_tiny(server)

    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist("test", mirrors=[mirror])

    cache = isolated_search_path / ".cache" / "netlite" / "mnist"
    assert f"this user cannot write to {cache} (user cache). To download" in str(info.value)
    assert server.requests == []


def test_write_denied(tmp_path, monkeypatch):
    (tmp_path / "open").mkdir()
    (tmp_path / "closed").mkdir()
    (tmp_path / "a-file").write_bytes(b"")
    _deny_writing_under(monkeypatch, tmp_path / "closed")

    assert not locations.write_denied(tmp_path / "open")
    assert not locations.write_denied(tmp_path / "open" / "missing" / "mnist")
    assert locations.write_denied(tmp_path / "closed")
    assert locations.write_denied(tmp_path / "closed" / "missing" / "mnist")
    assert not locations.write_denied(tmp_path / "a-file" / "mnist")  # the download names the file in its error
