"""Write the students' copy of the course and refuse to write it when it would leak a solution.

The release contains the library (``netlite/``), ``notebooks/``, ``exercises/``, ``README.md``,
``pyproject.toml`` and ``docs/`` without the documents marked instructor-only (a line
``<!-- instructor-only -->`` among their first five lines). Caches and hidden files are left out.

Before the release is moved to its destination, every file in it is scanned for

- the nbgrader markers (a line starting with ``### BEGIN SOLUTION`` and the like), and
- every line between the markers of a solution notebook (solution code, hints aside, and hidden
  tests), found anywhere in a line of the release after collapsing whitespace. Lines of at least
  ``MIN_SECRET_LENGTH`` characters are compared, except those that also appear outside the fences,
  because the students see those anyway.

A leak raises ``ReleaseLeakError`` listing the file, the line and the solution notebook, and
nothing is written to the destination.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import build as course_build

RELEASED_FOLDERS = ("netlite", "notebooks", course_build.EXERCISES_DIR, "docs")
RELEASED_FILES = ("README.md", "pyproject.toml", "LICENSE")
REQUIRED = ("netlite", course_build.EXERCISES_DIR, "pyproject.toml")
INSTRUCTOR_ONLY_MARK = "<!-- instructor-only -->"
IGNORED_NAMES = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}
IGNORED_SUFFIXES = {".pyc", ".pyo", ".nbi", ".nbc"}
# Shorter fenced lines (``return x``, ``pass``, ``else:``) occur in any code base and reveal nothing.
MIN_SECRET_LENGTH = 12


class ReleaseError(RuntimeError):
    """The release cannot be written (missing input, stale exercises, existing destination)."""


class ReleaseLeakError(ReleaseError):
    """A file of the release contains a solution line, a hidden test or a solution marker."""


@dataclass(frozen=True)
class Leak:
    path: str
    line_number: int
    what: str

    def __str__(self):
        return f"{self.path}:{self.line_number}: {self.what}"


# -- what is secret ----------------------------------------------------------


def normalize(line: str) -> str:
    return " ".join(line.split())


def secret_lines(solutions: dict) -> dict[str, str]:
    """Map every normalized fenced line of the solution notebooks to the notebook it comes from."""
    fenced, visible = {}, set()
    fences = (
        (course_build.BEGIN_SOLUTION, course_build.END_SOLUTION),
        (course_build.BEGIN_HIDDEN_TESTS, course_build.END_HIDDEN_TESTS),
    )
    for name, notebook in solutions.items():
        for cell in notebook.cells:
            lines = course_build.source_text(cell).split("\n")
            inside = set()
            for begin_marker, end_marker in fences:
                for begin, end in course_build.fenced_blocks(lines, begin_marker, end_marker, name):
                    inside.update(range(begin + 1, end))
            for number, line in enumerate(lines):
                text = normalize(line)
                if number in inside:
                    if not text.startswith(course_build.HINT_PREFIX):
                        fenced.setdefault(text, name)
                else:
                    visible.add(text)
    return {text: name for text, name in fenced.items() if len(text) >= MIN_SECRET_LENGTH and text not in visible}


# -- scanning ----------------------------------------------------------------


def _notebook_lines(text: str):
    """Yield the lines of a notebook's cell sources and text outputs, or of the raw text if it is not JSON."""
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError:
        yield from text.split("\n")
        return
    for cell in notebook.get("cells", []):
        yield from course_build.source_text(cell).split("\n")
        for output in cell.get("outputs", []):
            pieces = [output.get("text", ""), output.get("data", {}).get("text/plain", "")]
            pieces.extend(output.get("traceback", []))
            for piece in pieces:
                yield from ("".join(piece) if isinstance(piece, list) else piece).split("\n")


def scan_file(path: Path, relative: str, secrets: dict[str, str]) -> list[Leak]:
    """Return every leak in one file; binary files are scanned as Latin-1 text."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    lines = _notebook_lines(text) if path.suffix == ".ipynb" else text.split("\n")
    leaks = []
    for number, line in enumerate(lines, start=1):
        normalized = normalize(line)
        if not normalized:
            continue
        for marker in course_build.MARKERS:
            if normalized.startswith(marker):
                leaks.append(Leak(relative, number, f"marker {marker!r}"))
        for secret, notebook in secrets.items():
            if secret in normalized:
                leaks.append(Leak(relative, number, f"fenced line of {course_build.SOLUTIONS_DIR}/{notebook}: {secret!r}"))
    return leaks


def scan_release(folder: Path, secrets: dict[str, str]) -> list[Leak]:
    """Scan every file under ``folder``; a folder named ``solutions`` is a leak by itself."""
    leaks = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_dir():
            if path.name == course_build.SOLUTIONS_DIR:
                leaks.append(Leak(relative, 0, "solutions folder"))
            continue
        leaks.extend(scan_file(path, relative, secrets))
    return leaks


# -- copying -----------------------------------------------------------------


def is_instructor_only(path: Path) -> bool:
    if path.suffix.lower() not in {".md", ".rst", ".txt", ".html"}:
        return False
    with path.open(encoding="utf-8", errors="replace") as file:
        head = [file.readline() for _ in range(5)]
    return any(INSTRUCTOR_ONLY_MARK in line for line in head)


def _ignored(path: Path) -> bool:
    return path.name.startswith(".") or path.name in IGNORED_NAMES or path.suffix in IGNORED_SUFFIXES


def _copy_tree(source: Path, target: Path, skipped: list[str], root: Path) -> None:
    for path in sorted(source.rglob("*")):
        relative_parts = path.relative_to(source).parts
        if any(_ignored(Path(part)) for part in relative_parts):
            continue
        destination = target / path.relative_to(source)
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        elif is_instructor_only(path):
            skipped.append(path.relative_to(root).as_posix())
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


def stage_release(root: Path, staging: Path) -> list[str]:
    """Copy the released files from ``root`` into ``staging``; return the instructor-only files left out."""
    skipped = []
    for name in RELEASED_FOLDERS:
        if (root / name).is_dir():
            _copy_tree(root / name, staging / name, skipped, root)
    for name in RELEASED_FILES:
        if (root / name).is_file():
            shutil.copy2(root / name, staging / name)
    return skipped


def release(root: Path, destination: Path, log=print) -> list[str]:
    """Write the student release of the course in ``root`` to ``destination``; return the files left out.

    Raises ReleaseError when ``exercises/`` is out of date or ``destination`` is not empty, and
    ReleaseLeakError when the scan finds a leak; in both cases ``destination`` is not created.
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

    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"))
    try:
        skipped = stage_release(root, staging)
        leaks = scan_release(staging, secrets)
        if leaks:
            listed = "\n".join(f"  {leak}" for leak in leaks[:30])
            more = f"\n  ... and {len(leaks) - 30} more" if len(leaks) > 30 else ""
            raise ReleaseLeakError(
                f"the release would contain solution code, hidden tests or markers, so nothing was written:\n"
                f"{listed}{more}\nremove these lines from the released files, or change the solution if a "
                f"released file must contain it"
            )
        if destination.exists():
            destination.rmdir()
        staging.rename(destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for name in skipped:
        log(f"left out instructor-only {name}")
    log(f"wrote the release to {destination} ({len(secrets)} solution lines checked, no leak found)")
    return skipped
