"""Write the students' copy of the course and refuse to write it when it would leak a solution.

``release`` checks that ``exercises/`` is up to date with ``solutions/`` and copies what the
release contains (``release_contents.py``) into a temporary folder beside the destination. There
it scans every file for solution lines, hidden tests, markers and left-out pictures
(``release_scan.py``), and only a release without a leak is moved to the destination. pytest's
settings in the released ``pyproject.toml`` name only released files (see ``_fit_pyproject``).

A leak raises ``ReleaseLeakError`` listing the file, the line and the solution notebook, and
nothing is written to the destination. Solution lines that the library itself contains are the
one exception, wherever else the release contains them. They are reported as a warning unless
``strict`` is set (see ``is_library_overlap``).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import tempfile
from pathlib import Path

from . import build as course_build
from .release_contents import (
    LIBRARY_DIR,
    RELEASED_FILES,
    RELEASED_FOLDERS,
    STUDENT_README,
    PictureUse,
    find_picture_use,
    is_ignored,
    is_instructor_only,
)
from .release_scan import Leak, picture_digests, scan_release, secret_lines

REQUIRED = (LIBRARY_DIR, course_build.EXERCISES_DIR, "pyproject.toml")
# pytest's table in pyproject.toml, up to the next table, and the two settings that _fit_pyproject rewrites.
PYTEST_TABLE = re.compile(r"^\[tool\.pytest\.ini_options\][^\n]*\n(?P<body>.*?)(?=^\[|\Z)", flags=re.MULTILINE | re.DOTALL)
TESTPATHS = re.compile(r"^testpaths[ \t]*=[ \t]*\[(?P<items>[^\]]*)\][ \t]*$", flags=re.MULTILINE)
ADDOPTS = re.compile(r'^addopts[ \t]*=[ \t]*"(?P<value>(?:\\.|[^"\\\n])*)"[ \t]*$', flags=re.MULTILINE)
TOML_STRING = re.compile(r"\"((?:\\.|[^\"\\\n])*)\"|'([^'\n]*)'")
TOML_COMMENT_BLOCK = re.compile(r"^(?:[ \t]*#[^\n]*\n)+", flags=re.MULTILINE)


class ReleaseError(RuntimeError):
    """The release cannot be written (missing input, stale exercises, existing destination)."""


class ReleaseLeakError(ReleaseError):
    """A file of the release contains a solution line, a hidden test or a solution marker."""


def is_library_overlap(leak: Leak) -> bool:
    """Return True for a solution line found in the library, which the course ships on purpose.

    Exercises often ask students to rewrite a layer, loss or optimizer that NetLite contains, and
    the check cells compare the student's version with the library's.
    """
    return leak.kind == "solution" and leak.path.startswith(f"{LIBRARY_DIR}/")


def _current_umask() -> int:
    # os.umask returns the mask only when it sets a new one. For that moment the mask is 077, so that a
    # file that another thread creates meanwhile is private to its owner.
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _copy_file(source: Path, destination: Path) -> None:
    """Copy a file with its times, giving it the mode that a new file gets from the umask.

    shutil.copy2 would copy the source's mode, so a course checked out readable by its owner only
    would make a release that the students cannot read. An executable file stays executable.
    """
    shutil.copyfile(source, destination)  # creates the file, so its mode is 0666 minus the umask
    status = source.stat()
    if status.st_mode & 0o111:
        destination.chmod(0o777 & ~_current_umask())
    os.utime(destination, ns=(status.st_atime_ns, status.st_mtime_ns))


def _move_into_place(staging: Path, destination: Path) -> None:
    """Move the scanned release from ``staging`` to ``destination``, which is missing or an empty folder.

    mkdtemp made ``staging`` readable by its owner only, so that no other user reads the release
    before the scan passes. A new destination gets the mode that mkdir gives from the umask, and
    keeps the setgid bit that a parent folder passed on. An existing destination is kept as it is,
    with its mode, owner and group, and the staged files are moved into it.
    """
    if not destination.exists():
        inherited = staging.stat().st_mode & stat.S_ISGID
        staging.chmod((0o777 & ~_current_umask()) | inherited)
        staging.rename(destination)
        return
    for entry in sorted(staging.iterdir()):
        entry.rename(destination / entry.name)
    staging.rmdir()


def _copy_tree(source: Path, target: Path, skipped: list[str], root: Path, unshown: set[Path]) -> None:
    for path in sorted(source.rglob("*")):
        relative_parts = path.relative_to(source).parts
        if any(is_ignored(Path(part)) for part in relative_parts):
            continue
        destination = target / path.relative_to(source)
        if path.is_dir():
            continue  # created for the files it holds, so a folder of left-out files does not appear
        if is_instructor_only(path) or path.resolve() in unshown:
            skipped.append(path.relative_to(root).as_posix())
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            _copy_file(path, destination)


def stage_release(root: Path, staging: Path, pictures: PictureUse | None = None) -> list[str]:
    """Copy the released files from ``root`` into ``staging``; return the files left out.

    Left out are the instructor-only documents and the pictures in ``docs/`` that
    ``pictures.unshown`` contains. When ``pictures`` is None, ``find_picture_use`` computes it.
    """
    skipped = []
    if pictures is None:
        pictures = find_picture_use(root)
    for name in RELEASED_FOLDERS:
        if (root / name).is_dir():
            _copy_tree(root / name, staging / name, skipped, root, pictures.unshown)
    for name in RELEASED_FILES:
        source = root / name
        if name == "README.md" and (root / STUDENT_README).is_file():
            source = root / STUDENT_README
        if source.is_file():
            _copy_file(source, staging / name)
    if (staging / "pyproject.toml").is_file():
        _fit_pyproject(staging / "pyproject.toml", root, staging)
    return skipped


def _fit_pyproject(path: Path, root: Path, staging: Path) -> None:
    """Rewrite pytest's settings in the released pyproject.toml to name only what the release contains.

    A course's ``testpaths`` and ``addopts`` may name ``tests/`` and ``solutions/``, which are not
    released, and pytest stops with an error on an option such as
    ``--nbval-sanitize-with=tests/nbval_sanitize.cfg`` whose file is missing. So ``testpaths``
    keeps the released folders, ``addopts`` loses each option whose value is a left-out file or
    folder, and a comment that names one goes too.

    NOTE: only a ``testpaths`` array and an ``addopts`` string in double quotes, each ending its
    line, are rewritten. Other forms stay as the course wrote them.
    """
    text = path.read_text(encoding="utf-8")
    table = PYTEST_TABLE.search(text)
    if table is None:
        return

    def left_out(value: str) -> bool:
        value = value.rstrip(",.;:")
        return bool(value) and (root / value).exists() and not (staging / value).exists()

    def fit_testpaths(match: re.Match) -> str:
        paths = [double or single for double, single in TOML_STRING.findall(match.group("items"))]
        return f"testpaths = {json.dumps([name for name in paths if (staging / name).exists()])}"

    def fit_addopts(match: re.Match) -> str:
        options = shlex.split(json.loads(f'"{match.group("value")}"'))
        kept_options = []
        for option in options:
            name, equals, value = option.partition("=")
            if equals and name.startswith("-") and left_out(value):
                continue
            if left_out(option):
                # A path left out, as the value in "--nbval-sanitize-with tests/nbval_sanitize.cfg" or alone.
                if kept_options and kept_options[-1].startswith("--") and "=" not in kept_options[-1]:
                    kept_options.pop()
                continue
            kept_options.append(option)
        return f"addopts = {json.dumps(shlex.join(kept_options))}"

    body = TESTPATHS.sub(fit_testpaths, table.group("body"))
    body = ADDOPTS.sub(fit_addopts, body)
    body = TOML_COMMENT_BLOCK.sub(lambda block: "" if any(map(left_out, block.group(0).split())) else block.group(0), body)
    if body != table.group("body"):
        body = "# The release rewrote testpaths and addopts to name only what it contains.\n" + body
    path.write_text(text[: table.start("body")] + body + text[table.end("body") :], encoding="utf-8")


def _reason_left_out(path: Path, pictures: PictureUse) -> str:
    if is_instructor_only(path):
        return "instructor-only"
    matches = pictures.held_back.get(path.resolve())
    if matches:
        pages = pictures.shown_by[path.resolve()]
        verb = "shows" if len(pages) == 1 else "show"
        return (
            f"the instructor-only {', '.join(pages)} {verb} it, and only a glob pattern or folder of released code "
            f"matches it: {', '.join(matches)}. To ship it, write its full path in a released notebook or page"
        )
    pages = pictures.shown_by.get(path.resolve())
    if pages:
        return f"only the instructor-only {', '.join(pages)} {'shows' if len(pages) == 1 else 'show'} it"
    return "no released page or notebook uses it"


def _left_out_pictures(root: Path, pictures: PictureUse) -> dict[str, str]:
    """Map the ``picture_digests`` of each picture left out of ``docs/`` to its path, the reason and what to do."""
    descriptions = {}
    for path in sorted(pictures.unshown):
        relative = path.relative_to(root).as_posix()
        description = f"{relative}, which the release leaves out ({_reason_left_out(path, pictures)}); remove it from the notebook"
        if path not in pictures.shown_by:  # no instructor-only page shows it, so it may be meant for students
            description += f", or link {relative} from a released page if students may see it"
        for digest in picture_digests(path.read_bytes()):
            descriptions[digest] = description
    return descriptions


def release(root: Path, destination: Path, strict: bool = False, log=print) -> list[str]:
    """Write the student release of the course in ``root`` to ``destination``; return the files left out.

    A solution line found in the library (see ``is_library_overlap``) is listed as a warning, or
    rejected like any other leak when ``strict`` is True.

    Raises ReleaseError when ``exercises/`` is out of date or ``destination`` is not empty, and
    ReleaseLeakError when the scan finds a leak. In both cases ``destination`` is not created.
    """
    root, destination = Path(root).resolve(), Path(destination).resolve()
    for name in REQUIRED:
        if not (root / name).exists():
            raise ReleaseError(f"{root}: {name} is missing, so there is nothing to release")
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise ReleaseError(f"{destination} already exists and is not empty; choose a new folder or delete it first")
    if destination == root or root in destination.parents:
        raise ReleaseError(f"{destination} is inside the course repository {root}; write the release elsewhere")

    stale = course_build.check(root)
    if not stale.up_to_date:
        raise ReleaseError(
            f"{course_build.EXERCISES_DIR}/ is out of date with {course_build.SOLUTIONS_DIR}/:\n{stale.describe()}\n"
            f"run 'python -m netlite.course build' and commit the result before releasing"
        )
    secrets = secret_lines(course_build.load_solutions(root))
    pictures = find_picture_use(root)

    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"))
    try:
        skipped = stage_release(root, staging, pictures)
        findings = scan_release(staging, secrets, _left_out_pictures(root, pictures))
        unread = [finding for finding in findings if finding.kind == "unread picture"]
        leaks = [finding for finding in findings if finding.kind != "unread picture"]
        # A solution line that the library contains is no secret, wherever else it appears.
        library_lines = {leak.secret for leak in leaks if is_library_overlap(leak)}
        overlaps = [] if strict else [leak for leak in leaks if leak.kind == "solution" and leak.secret in library_lines]
        leaks = [leak for leak in leaks if leak not in overlaps]
        if leaks:
            listed = "\n".join(f"  {leak}" for leak in leaks[:30])
            more = f"\n  ... and {len(leaks) - 30} more" if len(leaks) > 30 else ""
            raise ReleaseLeakError(
                f"the release would contain solution code, hidden tests, markers or left-out pictures, so nothing "
                f"was written:\n"
                f"{listed}{more}\nremove these lines from the released files, or change the solution if a "
                f"released file must contain it"
            )
        _move_into_place(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for name in skipped:
        log(f"left out {name} ({_reason_left_out(root / name, pictures)})")
    if overlaps:
        library_files = sorted({leak.path for leak in overlaps if is_library_overlap(leak)})
        other_files = sorted({leak.path for leak in overlaps if not is_library_overlap(leak)})
        elsewhere = f", and the release also contains them in {', '.join(other_files)}" if other_files else ""
        log(
            f"warning: {len(library_lines)} solution lines also appear in the library ({', '.join(library_files)}), "
            f"which students can read{elsewhere}; pass --strict to reject this"
        )
    if unread:
        log(
            f"the scan cannot read text in these {len(unread)} pictures of released notebooks and files; "
            f"look at them for solution code before you hand out the release:"
        )
        for finding in unread:
            log(f"  {finding}")
    log(f"wrote the release to {destination} ({len(secrets)} solution lines checked, no leak found)")
    return skipped
