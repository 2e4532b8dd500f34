"""Write the students' copy of the course and refuse to write it when it would leak a solution.

The release contains the library (``netlite/``), ``notebooks/``, ``exercises/``, ``README.md``,
``pyproject.toml`` and ``docs/`` without the documents marked instructor-only (a line
``<!-- instructor-only -->`` among their first five lines) and the pictures in ``docs/`` that no
released page mentions and no released notebook's code loads (see ``find_picture_use``). Caches
and hidden files are left out. pytest's settings in the released ``pyproject.toml`` name only
released files (see ``_fit_pyproject``).
When the course has a ``README.student.md``, the release's ``README.md`` is that file, because the
course's own README speaks to instructors about solutions and grading.

Before the release is moved to its destination, every file in it is scanned for

- the nbgrader markers (a line starting with ``### BEGIN SOLUTION`` and the like), and
- every line between the markers of a solution notebook (solution code, hints aside, and hidden
  tests), found anywhere in a line of the release after collapsing whitespace. Lines of at least
  ``MIN_SECRET_LENGTH`` characters are compared, except those that also occur in a line outside
  the fences or in a hint, because the students see those anyway. A line that a stored output
  shows is still compared, because that output leaks it.

In a notebook every string counts (sources, outputs of any type, metadata, attachments). In the
stored outputs of cells, ANSI escape codes are removed first and a marker counts anywhere in a
line, because a traceback shows the source lines of the failing code after line numbers and colour
codes. A notebook's attachment or image output with the same bytes as a picture that the release
leaves out of ``docs/`` is a leak, and the release lists the other pictures of released notebooks,
whose text the scan cannot read.

Zip, tar, gzip, bzip2, xz and lzma files are scanned member by member, up to three archives deep.
A file that cannot be read in full (damaged, truncated, encrypted, unpacking to more than
``MAX_UNPACKED_BYTES``, or in a format such as zstd that the standard library cannot unpack)
counts as a leak, because the scan cannot see inside it. Lines are also compared with markup
tags and HTML entities removed, so highlighted HTML and Word's split runs of text are caught.

NOTE: the scan reads text, and some formats keep text in a form it cannot see. Examples are a
PDF's compressed or font-encoded text, a bare zlib stream, UTF-16 without a byte-order mark, and
a zip entry that the zip's table of contents does not list. Do not put exports of solution
notebooks into the released folders.

A leak raises ``ReleaseLeakError`` listing the file, the line and the solution notebook, and
nothing is written to the destination. Solution lines that the library itself contains are the
one exception, wherever else the release contains them. They are reported as a warning unless
``strict`` is set (see ``is_library_overlap``).
"""

from __future__ import annotations

import ast
import base64
import binascii
import bz2
import hashlib
import html
import io
import itertools
import json
import lzma
import posixpath
import re
import shlex
import shutil
import tarfile
import tempfile
import urllib.parse
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from . import build as course_build

LIBRARY_DIR = "netlite"
RELEASED_FOLDERS = (LIBRARY_DIR, "notebooks", course_build.EXERCISES_DIR, "docs")
RELEASED_FILES = ("README.md", "pyproject.toml", "LICENSE")
STUDENT_README = "README.student.md"  # released as README.md when present
REQUIRED = (LIBRARY_DIR, course_build.EXERCISES_DIR, "pyproject.toml")
INSTRUCTOR_ONLY_MARK = "<!-- instructor-only -->"
IGNORED_NAMES = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}
IGNORED_SUFFIXES = {".pyc", ".pyo", ".nbi", ".nbc"}
# Shorter fenced lines (``return x``, ``pass``, ``else:``) occur in any code base and reveal nothing.
MIN_SECRET_LENGTH = 12
# An archive member that unpacks to more than this is rejected rather than read (a zip bomb would fill the memory).
MAX_UNPACKED_BYTES = 64 * 2**20
MAX_ARCHIVE_DEPTH = 3  # an archive in an archive in an archive is scanned; deeper nesting is rejected
# The escape codes of terminals (colours, cursor moves), which IPython writes into tracebacks.
ANSI_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
# Each marker's words, found anywhere in a line of a stored output ("  10   ### BEGIN SOLUTION" in a traceback).
MARKER_WORDS = {marker: re.compile(r"\b" + re.escape(marker.lstrip("# ")) + r"\b") for marker in course_build.MARKERS}
OUTPUT_LEAK_HINT = "clear the output, or change the cell so that it does not print solution code or hidden tests"
# The content types of notebook pictures, attachments and outputs, whose text the scan cannot read.
PICTURE_TYPE = re.compile(r"(?:image|video)/|application/pdf$")
MARKUP_TAG = re.compile(r"<[^<>]*>")  # an HTML or XML tag, including Word's tags around each run of text
# Compressed formats that the standard library cannot unpack: their contents could not be scanned.
UNREADABLE_SUFFIXES = (".zst", ".7z", ".rar", ".lz4", ".br")
# Pages, and pictures: a picture in docs/ is released only when released material uses it (see unshown_pictures).
DOCUMENT_SUFFIXES = {".md", ".rst", ".txt", ".html", ".ipynb"}
# Pictures, screen recordings and PDF, whose text the scan cannot read: in docs/ they ship only when released
# material uses them.
PICTURE_SUFFIXES = {
    ".png", ".apng", ".jpg", ".jpeg", ".jpe", ".jfif", ".pjpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".svg",
    ".svgz", ".avif", ".avifs", ".jxl", ".heic", ".heics", ".heif", ".ico", ".tga", ".psd", ".xcf", ".eps", ".ps",
    ".emf", ".wmf", ".pdf", ".mp4", ".webm", ".mov", ".mkv", ".avi",
}
_PICTURE_END = r"\.(?:" + "|".join(suffix[1:] for suffix in sorted(PICTURE_SUFFIXES)) + r")(?![\w.-])"
PICTURE_END = re.compile(_PICTURE_END, flags=re.IGNORECASE)
# A word that may be a link in any syntax (Markdown, srcset, RST). _picture_words cuts it after each picture ending.
LINK_WORD = re.compile(r"[^\s\"'<>\[\],=|:`]+")
# Link targets that end like a picture's file name and may contain what ends a word: a target in
# quotes or angle brackets, which may contain spaces and the other kind of quote
# (<img src="Ada's fit.png">, ![](<my fit.png>)), and a Markdown target with parentheses in the
# name, escaped or not (![](fig(1).png), ![](fig\(1\).png)).
_MARKDOWN_CHARS = r"(?:\\.|[^\s()\\])*"  # characters of a Markdown link target, backslash escapes included
_MARKDOWN_TARGET = _MARKDOWN_CHARS + r"(?:\(" + _MARKDOWN_CHARS + r"\)" + _MARKDOWN_CHARS + r")*?"
PICTURE_LINKS = [
    re.compile(r"(?<=\")[^\"<>\n]+?" + _PICTURE_END, flags=re.IGNORECASE),
    re.compile(r"(?<=')[^'<>\n]+?" + _PICTURE_END, flags=re.IGNORECASE),
    re.compile(r"(?<=<)[^<>\n]+?" + _PICTURE_END, flags=re.IGNORECASE),
    re.compile(r"(?<=\]\()" + _MARKDOWN_TARGET + _PICTURE_END, flags=re.IGNORECASE),
]
# Jupyter serves the file <root>/<path> at /files/<path>, and `python -m netlite.course lab`
# makes the course its root.
JUPYTER_FILES_PREFIX = "/files/"
# A backslash before ASCII punctuation is a Markdown escape: ![](fig\(1\).png) links to fig(1).png.
MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
# Calls that join their string arguments into one path: os.path.join and pathlib's constructors and joinpath.
PATH_JOIN_CALLS = {"join", "joinpath", "Path", "PurePath", "PosixPath", "PurePosixPath", "WindowsPath", "PureWindowsPath"}
FORMAT_FIELD = re.compile(r"\{[^{}]*\}")  # a str.format field, or a placeholder as _string_value writes it
# A field of printf-style formatting with %: %s, %d, %05.2f, %(name)s, and %% for a percent sign.
PERCENT_FIELD = re.compile(r"%(?:\([^()]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?[diouxXeEfFgGcrsa%]")
GLOB_CHARACTERS = re.compile(r"[*?\[]")
IPYTHON_MAGIC_LINE = re.compile(r"^[ \t]*[%!].*$", flags=re.MULTILINE)  # %matplotlib inline, !pip install ...
# pytest's table in pyproject.toml, up to the next table, and the two settings that _fit_pyproject rewrites.
PYTEST_TABLE = re.compile(r"^\[tool\.pytest\.ini_options\][^\n]*\n(?P<body>.*?)(?=^\[|\Z)", flags=re.MULTILINE | re.DOTALL)
TESTPATHS = re.compile(r"^testpaths[ \t]*=[ \t]*\[(?P<items>[^\]]*)\][ \t]*$", flags=re.MULTILINE)
ADDOPTS = re.compile(r'^addopts[ \t]*=[ \t]*"(?P<value>(?:\\.|[^"\\\n])*)"[ \t]*$', flags=re.MULTILINE)
TOML_STRING = re.compile(r"\"((?:\\.|[^\"\\\n])*)\"|'([^'\n]*)'")
TOML_COMMENT_BLOCK = re.compile(r"^(?:[ \t]*#[^\n]*\n)+", flags=re.MULTILINE)
# A quoted Python string without prefix or triple quotes, read when a code cell does not parse.
PYTHON_STRING = re.compile(r"\"((?:\\.|[^\"\\\n])*)\"|'((?:\\.|[^'\\\n])*)'")


class ReleaseError(RuntimeError):
    """The release cannot be written (missing input, stale exercises, existing destination)."""


class ReleaseLeakError(ReleaseError):
    """A file of the release contains a solution line, a hidden test or a solution marker."""


@dataclass(frozen=True)
class Leak:
    """One finding of the scan: a file, a line number (0 for a folder) and what was found.

    In a notebook's stored output or picture, ``place`` names the cell and the output or attachment,
    and the line number counts from the start of that output's text.
    """

    path: str
    line_number: int
    description: str
    # "marker", "solution", "hidden test", "folder", "unscannable", "picture" (the same content as
    # a picture the release leaves out) or "unread picture" (listed in the log, not rejected)
    kind: str
    place: str = ""
    secret: str = ""  # the normalized solution or hidden-test line that was found

    def __str__(self):
        if self.place:
            line = f", line {self.line_number}" if self.line_number else ""
            return f"{self.path}, {self.place}{line}: {self.description}"
        return f"{self.path}:{self.line_number}: {self.description}"


# -- what is secret ----------------------------------------------------------


def normalize(line: str) -> str:
    return " ".join(line.split())


@dataclass(frozen=True)
class Secret:
    """A fenced line that must not appear in the release: solution code or a hidden test."""

    text: str
    notebook: str
    kind: str  # "solution" or "hidden test"


def secret_lines(solutions: dict) -> dict[str, Secret]:
    """Map every normalized fenced line of the solution notebooks that students never see to its Secret.

    A fenced line is left out when it is shorter than MIN_SECRET_LENGTH. It is also left out when
    it occurs in a line outside the fences or in a hint, which the build copies into the
    exercise's NotImplementedError message, because the students see those lines anyway. Outputs
    do not count, because a stored output that shows a fenced line leaks it, as a traceback does
    when it prints the solution code around the line that failed. This is computed from the solution
    notebooks alone, so a bug in the build cannot hide a leak from the scan.
    """
    fenced, visible = {}, []
    fences = (
        (course_build.BEGIN_SOLUTION, course_build.END_SOLUTION, "solution"),
        (course_build.BEGIN_HIDDEN_TESTS, course_build.END_HIDDEN_TESTS, "hidden test"),
    )
    for name, notebook in solutions.items():
        for cell in notebook.cells:
            lines = course_build.source_text(cell).split("\n")
            kinds = {}
            for begin_marker, end_marker, kind in fences:
                for begin, end in course_build.fenced_blocks(lines, begin_marker, end_marker, name):
                    kinds.update((number, kind) for number in range(begin + 1, end))
            for number, line in enumerate(lines):
                text = normalize(line)
                if number in kinds and not text.startswith(course_build.HINT_PREFIX):
                    fenced.setdefault(text, Secret(text, name, kinds[number]))
                else:
                    visible.append(text)
    visible_text = "\n".join(visible)
    return {
        text: secret
        for text, secret in fenced.items()
        if len(text) >= MIN_SECRET_LENGTH and text not in visible_text
    }


# -- scanning ----------------------------------------------------------------


def _notebook_lines(text: str, outputs: bool = True):
    """Yield the lines of every string in a notebook, or of the raw text if it is not JSON.

    Every string counts: cell sources, outputs of any type (text, HTML, Markdown, LaTeX, JSON),
    metadata, attachments and any other key, because a solution line can hide in any of them.
    With ``outputs`` False the outputs of cells are left out, for ``_notebook_leaks`` to scan.
    """
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError:
        yield from text.split("\n")
        return
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        yield from _string_lines(notebook)
        return
    for cell in notebook["cells"]:
        if not isinstance(cell, dict):
            yield from _string_lines(cell)
            continue
        yield from course_build.source_text(cell).split("\n")
        left_out = {"source"} if outputs else {"source", "outputs"}
        yield from _string_lines({key: value for key, value in cell.items() if key not in left_out})
    yield from _string_lines({key: value for key, value in notebook.items() if key != "cells"})


def _string_lines(value):
    """Yield the lines of the strings in decoded JSON, keys included; a list of strings is one text, as in nbformat."""
    if isinstance(value, str):
        yield from value.split("\n")
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        yield from "".join(value).split("\n")
    elif isinstance(value, list):
        for item in value:
            yield from _string_lines(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _string_lines(key)
            yield from _string_lines(item)


def _decode(data: bytes) -> str:
    """Return a file's text: UTF-32 or UTF-16 after their byte-order marks, else UTF-8, else Latin-1."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):  # the byte-order marks of UTF-32
        return data.decode("utf-32", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # the byte-order marks of UTF-16
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _text_lines(text: str, name: str):
    """Yield the lines of a file's text, and for JSON also the lines of its decoded strings.

    A notebook's stored outputs are left out, because ``_notebook_leaks`` scans them.
    """
    if name.endswith(".ipynb"):
        yield from _notebook_lines(text, outputs=False)
        return
    yield from text.split("\n")
    if text.lstrip()[:1] in ("{", "[", '"'):  # JSON escapes quotes and newlines, so read its strings too
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if parsed is not None:
            yield from _string_lines(parsed)


class UnscannableFile(Exception):
    """A compressed file or archive that cannot be read in full, so a leak inside it could go unseen."""


# (header test, decompressor, name) of the single-file compression formats; tar and zip are archives.
# The tests read more than the first magic bytes, so that a text file starting with "BZh" stays text.
_COMPRESSIONS = (
    (lambda data: data[:3] == b"\x1f\x8b\x08", lambda: zlib.decompressobj(16 + zlib.MAX_WBITS), "gzip"),
    (
        lambda data: data[:3] == b"BZh" and data[3:4] in b"123456789" and data[4:10] == b"1AY&SY",
        bz2.BZ2Decompressor,
        "bzip2",
    ),
    (lambda data: data[:6] == b"\xfd7zXZ\x00", lzma.LZMADecompressor, "xz"),
)


def _decompress(data: bytes, make_decompressor, format_name: str) -> bytes:
    """Unpack every stream of a gzip, bzip2 or xz file (``cat a.gz b.gz`` is one valid file)."""
    pieces, size = [], 0
    while data:
        decompressor = make_decompressor()
        try:
            if format_name == "gzip":
                piece = decompressor.decompress(data, MAX_UNPACKED_BYTES + 1 - size)
            else:
                piece = decompressor.decompress(data, max_length=MAX_UNPACKED_BYTES + 1 - size)
        except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as error:
            raise UnscannableFile(f"damaged {format_name} data ({error})") from error
        size += len(piece)
        pieces.append(piece)
        if size > MAX_UNPACKED_BYTES:
            raise UnscannableFile(f"unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MB")
        if not decompressor.eof:
            raise UnscannableFile(f"truncated {format_name} data")
        data = decompressor.unused_data.lstrip(b"\0")  # gzip allows zero padding after a stream
    return b"".join(pieces)


def _tar_members(data: bytes):
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            files = [member for member in archive.getmembers() if member.isfile()]
            if sum(member.size for member in files) > MAX_UNPACKED_BYTES:
                raise UnscannableFile(f"unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MB")
            for member in files:
                yield member.name, archive.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError) as error:
        raise UnscannableFile(f"damaged tar archive ({error})") from error


def _is_tar(data: bytes) -> bool:
    return len(data) > 262 and data[257:262] == b"ustar"


def _archive_members(data: bytes, name: str):
    """Return [(name, bytes)] of the files inside a zip, tar, gzip, bzip2 or xz file, or [] for other data.

    Raises UnscannableFile for a damaged, truncated or encrypted archive, for one that unpacks
    to more than MAX_UNPACKED_BYTES in all (a zip bomb would otherwise fill the memory), and for
    a compressed format that the standard library cannot unpack.
    """
    if name.lower().endswith(UNREADABLE_SUFFIXES):
        raise UnscannableFile(f"{name.rsplit('.', 1)[-1]} files cannot be unpacked with Python's standard library")
    if name.lower().endswith(".lzma"):
        return [(name[: -len(".lzma")], _decompress(data, lambda: lzma.LZMADecompressor(lzma.FORMAT_ALONE), "lzma"))]
    if zipfile.is_zipfile(io.BytesIO(data)):
        members = []
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                infos = [info for info in archive.infolist() if not info.is_dir()]
                if sum(info.file_size for info in infos) > MAX_UNPACKED_BYTES:
                    raise UnscannableFile(f"unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MB")
                for info in infos:
                    if info.flag_bits & 0x1:
                        raise UnscannableFile(f"member {info.filename} is encrypted")
                    members.append((info.filename, archive.read(info)))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, OSError, EOFError, zlib.error) as error:
            raise UnscannableFile(f"damaged zip archive ({error})") from error
        return members
    for has_header, make_decompressor, format_name in _COMPRESSIONS:
        if has_header(data):
            inner = _decompress(data, make_decompressor, format_name)
            if _is_tar(inner):
                return list(_tar_members(inner))
            inner_name = name.rsplit(".", 1)[0] if "." in name else name  # notes.ipynb.gz contains notes.ipynb
            return [(inner_name, inner)]
    if _is_tar(data):
        return list(_tar_members(data))
    return []


def scan_file(
    path: Path, relative: str, secrets: dict[str, Secret], left_out_pictures: dict[str, str] | None = None
) -> list[Leak]:
    """Return every leak in one file; binary files are scanned as Latin-1 text, archives member by member.

    ``left_out_pictures`` maps the SHA-256 digest of each picture that the release leaves out to
    its description (see ``scan_release``).
    """
    return _scan_bytes(path.read_bytes(), path.name, relative, secrets, left_out_pictures or {})


def _scan_bytes(
    data: bytes, name: str, relative: str, secrets: dict[str, Secret], left_out_pictures: dict[str, str], depth: int = 0
) -> list[Leak]:
    leaks = []
    try:
        members = _archive_members(data, name)
    except UnscannableFile as error:
        hint = "unpack it into the release or leave it out"
        return [Leak(relative, 0, f"cannot be scanned: {error}; {hint}", "unscannable")]
    if members and depth >= MAX_ARCHIVE_DEPTH:
        return [Leak(relative, 0, f"cannot be scanned: archives nested more than {MAX_ARCHIVE_DEPTH} deep", "unscannable")]
    for member, member_data in members:
        member_name = member.rsplit("/", 1)[-1]
        leaks.extend(_scan_bytes(member_data, member_name, f"{relative}:{member}", secrets, left_out_pictures, depth + 1))
    text = _decode(data)
    try:
        lines = list(_text_lines(text, name))
        if name.endswith(".ipynb"):
            leaks.extend(_notebook_leaks(text, relative, secrets, left_out_pictures))
    except RecursionError:
        return leaks + [Leak(relative, 0, "cannot be scanned: JSON nested too deeply to read; leave it out", "unscannable")]
    for number, line in enumerate(lines, start=1):
        for kind, description, secret in _line_findings(line, secrets, markers_anywhere=False):
            leaks.append(Leak(relative, number, description, kind, secret=secret))
    return leaks


def _line_findings(line: str, secrets: dict[str, Secret], markers_anywhere: bool) -> list[tuple[str, str, str]]:
    """Return (kind, description, secret line or '') for each marker and secret line in one line of text.

    A marker counts at the start of the line, or anywhere in it when ``markers_anywhere`` is set.
    """
    if "\x1b" in line:
        line = ANSI_ESCAPE.sub("", line)  # IPython colours tracebacks, and the codes split the words
    normalized = normalize(line)
    if not normalized:
        return []
    if "<" in normalized or "&" in normalized:
        # What a browser or Word shows: markup and entities removed, so split tokens join up.
        normalized += " \n " + normalize(html.unescape(MARKUP_TAG.sub("", line)))
    findings = []
    for marker in course_build.MARKERS:
        if normalized.startswith(marker) or (markers_anywhere and MARKER_WORDS[marker].search(normalized)):
            findings.append(("marker", f"marker {marker!r}", ""))
    for secret in secrets.values():
        if secret.text in normalized:
            where = f"{course_build.SOLUTIONS_DIR}/{secret.notebook}"
            findings.append((secret.kind, f"{secret.kind} line of {where}: {secret.text!r}", secret.text))
    return findings


def _notebook_leaks(text: str, relative: str, secrets: dict[str, Secret], left_out_pictures: dict[str, str]) -> list[Leak]:
    """Return the leaks in a notebook's stored outputs and pictures, and each picture the scan cannot read.

    Outputs are scanned with ANSI escape codes removed and for markers anywhere in a line, because
    a traceback shows the source lines of the failing code after line numbers and colour codes.
    """
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError:
        return []  # _text_lines has read the file as plain text
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    leaks = []
    for index, cell in enumerate(cells if isinstance(cells, list) else []):
        if not isinstance(cell, dict):
            continue
        cell_name = _describe_cell(index, cell)
        outputs = cell.get("outputs") or []
        for number, output in enumerate(outputs if isinstance(outputs, list) else [outputs], start=1):
            for part, part_text in _output_parts(output):
                place = f"{cell_name}, output {number} ({part})"
                for line_number, line in enumerate(part_text.split("\n"), start=1):
                    for kind, description, secret in _line_findings(line, secrets, markers_anywhere=True):
                        description += f" in the cell's stored output; {OUTPUT_LEAK_HINT}"
                        leaks.append(Leak(relative, line_number, description, kind, place, secret))
        for place, content_type, value in _cell_pictures(cell, cell_name):
            leaks.append(_picture_finding(relative, place, content_type, value, left_out_pictures))
    return leaks


def _describe_cell(index: int, cell: dict) -> str:
    try:
        return course_build.describe_cell(index, cell)
    except (AttributeError, TypeError):  # metadata or source of another type than nbformat's
        return f"cell {index}"


def _output_parts(output) -> list[tuple[str, str]]:
    """Return (name, text) for the strings of one stored output: its text, traceback, and each MIME type's data.

    A traceback's frames are separate strings, so they are joined with newlines. Every other
    string counts too (the error's name and value, metadata), under the name of its key.
    """
    if not isinstance(output, dict):
        return [("value", "\n".join(_string_lines(output)))]
    parts = []
    for key, value in output.items():
        if key == "traceback" and isinstance(value, list) and all(isinstance(item, str) for item in value):
            parts.append((key, "\n".join(value)))
        elif key in ("data", "metadata") and isinstance(value, dict):
            parts.extend((f"{key} {mime}" if key == "metadata" else mime, "\n".join(_string_lines(item)))
                         for mime, item in value.items())
        else:
            parts.append((key, "\n".join(_string_lines(value))))
    return parts


def _cell_pictures(cell: dict, cell_name: str):
    """Yield (place, content type, stored value) for each picture of a cell: attachments and image outputs."""
    attachments = cell.get("attachments")
    for name, bundle in (attachments.items() if isinstance(attachments, dict) else []):
        for content_type, value in (bundle.items() if isinstance(bundle, dict) else []):
            if PICTURE_TYPE.match(content_type):
                yield f"{cell_name}, attachment {name!r}", content_type, value
    outputs = cell.get("outputs")
    for number, output in enumerate(outputs if isinstance(outputs, list) else [], start=1):
        data = output.get("data") if isinstance(output, dict) else None
        for content_type, value in (data.items() if isinstance(data, dict) else []):
            if PICTURE_TYPE.match(content_type):
                yield f"{cell_name}, output {number}", content_type, value


def _picture_finding(relative: str, place: str, content_type: str, value, left_out_pictures: dict[str, str]) -> Leak:
    """Return a leak when a notebook's picture has the content of a picture left out of docs/, else an unread picture."""
    # NOTE: only identical bytes are found. A cropped, resized or re-saved copy is listed as unread.
    text = "".join(value) if isinstance(value, list) and all(isinstance(item, str) for item in value) else value
    contents = []
    if isinstance(text, str):
        contents.append(text.encode("utf-8"))  # SVG is stored as text
        try:
            contents.append(base64.b64decode(text))  # binary pictures are stored in base64
        except (binascii.Error, ValueError):
            pass
    for content in contents:
        match = left_out_pictures.get(hashlib.sha256(content).hexdigest())
        if match:
            return Leak(relative, 0, f"{content_type} with the content of {match}", "picture", place)
    return Leak(relative, 0, content_type, "unread picture", place)


def scan_release(folder: Path, secrets: dict[str, Secret], left_out_pictures: dict[str, str] | None = None) -> list[Leak]:
    """Scan every file under ``folder``; a folder named ``solutions`` is a leak by itself.

    ``left_out_pictures`` maps the SHA-256 digest of each picture that the release leaves out of
    ``docs/`` to its path, the reason and what to do. A notebook's attachment or image output with
    the same content is a leak, and every other picture of a notebook is listed as an unread picture.
    """
    leaks = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_dir():
            if path.name == course_build.SOLUTIONS_DIR:
                leaks.append(Leak(relative, 0, "solutions folder", "folder"))
            continue
        leaks.extend(scan_file(path, relative, secrets, left_out_pictures))
    return leaks


def is_library_overlap(leak: Leak) -> bool:
    """Return True for a solution line found in the library, which the course ships on purpose.

    Exercises often ask students to rewrite a layer, loss or optimizer that NetLite contains, and
    the check cells compare the student's version with the library's.
    """
    return leak.kind == "solution" and leak.path.startswith(f"{LIBRARY_DIR}/")


# -- copying -----------------------------------------------------------------


def is_instructor_only(path: Path) -> bool:
    if path.suffix.lower() not in {".md", ".rst", ".txt", ".html"}:
        return False
    with path.open(encoding="utf-8", errors="replace") as file:
        head = [file.readline() for _ in range(5)]
    return any(INSTRUCTOR_ONLY_MARK in line for line in head)


@dataclass(frozen=True)
class PictureUse:
    """The pictures in ``docs/`` that the release leaves out.

    ``unshown`` contains every picture left out. ``held_back`` maps the pictures among them that
    released code matches only through a glob pattern or a folder, but that an instructor-only page
    shows, to those matches, each written as ``"'<pattern>' in <notebook>"``. ``shown_by`` maps
    every picture left out that an instructor-only page shows to those pages, relative to the
    course root.
    """

    unshown: set[Path]
    held_back: dict[Path, list[str]]
    shown_by: dict[Path, list[str]]


def unshown_pictures(root: Path) -> set[Path]:
    """Return the pictures in ``docs/`` that the release leaves out (see ``find_picture_use``)."""
    return find_picture_use(root).unshown


def find_picture_use(root: Path) -> PictureUse:
    """Find the pictures in ``docs/`` that no released page shows and no released notebook's code loads.

    A picture in ``docs/`` is there for the page that shows it. One that only an instructor-only
    page shows, such as a screenshot of a solved exercise, stays out with that page, because the
    scan cannot read text in a picture. Every word of a released document, README or notebook (the
    decoded strings of its JSON) that ends like a picture's file name counts as a link, whatever its
    syntax (Markdown, HTML, srcset, RST). It is read as written and as a browser reads it, without
    Markdown's backslash escapes and with HTML entities decoded. It is resolved from the folder of
    its page, or from the course root when it starts with '/' (Jupyter's '/files/docs/a.png' is
    '/docs/a.png'), and a picture counts as linked when a link resolves to it.

    The strings in a notebook's code cells count as paths from the notebook's folder, where
    Jupyter starts the kernel, with joined pieces as one path (see ``_code_paths``). A path to a
    picture ships it. A path to a folder of ``docs/`` matches the pictures directly in that folder,
    and a glob pattern the pictures it matches (see ``_pictures_at``). Such a match ships a picture
    unless an instructor-only page shows it, because a pattern such as ``../docs/images/*/*.png``
    must not ship the screenshot of a solved exercise by accident. Only a link or the picture's own
    path ships such a picture, and ``held_back`` lists it when a match alone would have shipped it.
    """
    released_pages, instructor_pages = _course_pages(root)
    docs = (root / "docs").resolve()
    linked, matched = set(), {}
    for page, folder in released_pages:
        linked.update(_files_linked_from(page, folder, root))
        if page.suffix.lower() == ".ipynb":
            named, page_matches = _code_pictures(page, root, docs)
            linked.update(named)
            for path, matches in page_matches.items():
                matched.setdefault(path, []).extend(matches)

    shown_to_instructors = {}
    for page in instructor_pages:
        for path in _files_linked_from(page, page.parent, root):
            shown_to_instructors.setdefault(path, []).append(page.relative_to(root).as_posix())
    pictures = _docs_pictures(root)
    held_back = {
        path: matched[path]
        for path in sorted(pictures & matched.keys() & shown_to_instructors.keys())
        if path not in linked
    }
    shipped = linked | {path for path in matched if path not in held_back}
    unshown = pictures - shipped
    shown_by = {path: shown_to_instructors[path] for path in sorted(unshown & shown_to_instructors.keys())}
    return PictureUse(unshown, held_back, shown_by)


def _course_pages(root: Path) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """Return the released pages, each with the folder its links start from, and the instructor-only pages."""
    released, instructor_only = [], []
    for name in RELEASED_FOLDERS:
        for path in (root / name).rglob("*"):
            hidden = any(_ignored(Path(part)) for part in path.relative_to(root).parts)
            if path.suffix.lower() not in DOCUMENT_SUFFIXES or not path.is_file() or hidden:
                continue
            if is_instructor_only(path):
                instructor_only.append(path)
            else:
                released.append((path, path.parent))
    readme = root / STUDENT_README if (root / STUDENT_README).is_file() else root / "README.md"
    if readme.is_file():
        released.append((readme, root))  # the README is released as README.md at the root
    return released, instructor_only


def _files_linked_from(page: Path, folder: Path, root: Path) -> set[Path]:
    """Return the files that the picture links of a page, resolved from ``folder``, point to."""
    text = _page_text(page)
    targets = [match.group(0) for pattern in PICTURE_LINKS for match in pattern.finditer(text)]
    linked = set()
    for target in targets + _picture_words(text):
        linked.update(_link_paths(_after_open_parenthesis(target), folder, root))
    return linked


def _code_pictures(notebook: Path, root: Path, docs: Path) -> tuple[set[Path], dict[Path, list[str]]]:
    """Return the files that a notebook's code names by path, and those its glob patterns and folders match.

    Each matched file maps to its matches, written as ``"'<pattern>' in <notebook>"``.
    """
    label = notebook.relative_to(root).as_posix()
    named, matched = set(), {}
    for source in _code_cell_sources(notebook):
        for path_text in _code_paths(source):
            files, matched_files = _pictures_at(path_text, notebook.parent, docs)
            named.update(files)
            match = f"'{_glob_pattern(path_text)}' in {label}"
            for path in matched_files:
                if match not in matched.setdefault(path, []):
                    matched[path].append(match)
    return named, matched


def _docs_pictures(root: Path) -> set[Path]:
    pictures = set()
    for path in (root / "docs").rglob("*"):
        hidden = any(_ignored(Path(part)) for part in path.relative_to(root).parts)
        if path.is_file() and not hidden and path.suffix.lower() in PICTURE_SUFFIXES:
            pictures.add(path.resolve())
    return pictures


def _page_text(page: Path) -> str:
    """Return a page's text, or a notebook's decoded strings, in which JSON escapes such as \\u00fc are undone."""
    text = page.read_text(encoding="utf-8-sig", errors="replace")
    if page.suffix.lower() == ".ipynb":
        return "\n".join(_notebook_lines(text))
    return text


def _picture_words(text: str) -> list[str]:
    """Return each word's pieces that end like a picture's file name: 'a.png,b.png' gives both.

    A lazy regular expression does the same in quadratic time: on one 40,000-character word, such
    as a notebook's base64 picture output, it took 13 seconds with CPython 3.11 on two cores.
    """
    pieces = []
    for word in LINK_WORD.finditer(text):
        start = 0
        for end in PICTURE_END.finditer(word.group(0)):
            pieces.append(word.group(0)[start : end.end()])
            start = end.end()
    return pieces


def _after_open_parenthesis(target: str) -> str:
    """Cut '(images/a.png' of Markdown and 'url(images/a.png' of CSS after the parenthesis that no ')' closes.

    A parenthesis escaped with a backslash is part of the name.
    """
    opening = re.compile(r"(?<!\\)\(")
    if len(opening.findall(target)) > len(re.findall(r"(?<!\\)\)", target)):
        return opening.split(target)[-1]
    return target


def _link_paths(target: str, folder: Path, root: Path) -> set[Path]:
    """Resolve a link target as written and decoded. A URL such as http: resolves to nothing.

    Decoded means as a browser reads it: without Markdown's backslash escapes and with HTML
    entities such as ``&amp;`` replaced. A relative target is resolved from ``folder``, and one
    that starts with '/' from ``root``. One that starts with '/files/' is also resolved from
    ``root`` without that prefix, as Jupyter serves it.
    """
    paths = set()
    for spelling in {target, html.unescape(MARKDOWN_ESCAPE.sub(r"\1", target))}:
        spelling = urllib.parse.unquote(spelling.strip())
        if re.match(r"[a-z][a-z0-9+.-]*:", spelling, flags=re.IGNORECASE):  # http:, attachment:, data:
            continue
        if "\0" in spelling:  # no file name contains it, and Path.resolve raises ValueError on it
            continue
        if spelling.startswith(JUPYTER_FILES_PREFIX):
            paths.add((root / spelling[len(JUPYTER_FILES_PREFIX) :]).resolve())
        paths.add((root / spelling.lstrip("/") if spelling.startswith("/") else folder / spelling).resolve())
    return paths


# -- pictures that notebook code loads ----------------------------------------


def _code_cell_sources(notebook_path: Path) -> list[str]:
    """Return the sources of a notebook's code cells, or [] when the file is not a notebook's JSON."""
    try:
        notebook = json.loads(notebook_path.read_text(encoding="utf-8-sig", errors="replace"))
    except (json.JSONDecodeError, RecursionError):
        return []
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    sources = []
    for cell in cells if isinstance(cells, list) else []:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            if isinstance(source, list) and all(isinstance(line, str) for line in source):
                source = "".join(source)
            if isinstance(source, str):
                sources.append(source)
    return sources


def _code_paths(source: str) -> list[str]:
    """Return the strings of a code cell that may be paths, with joined pieces as one path.

    ``os.path.join("..", "docs", "a.png")``, ``Path("..", "docs") / "a.png"`` and
    ``Path("..").joinpath("docs", "a.png")`` each give ``../docs/a.png``. A join stops at its first
    piece that is not a string: ``Path("../docs") / name`` gives ``../docs``. A string that is
    part of a join does not count alone as well. A piece may be a concatenated or formatted string
    with placeholders (see ``_string_value``). IPython's magic lines are skipped, and when the
    cell still does not parse, its plain quoted strings count one by one.
    """
    try:
        tree = ast.parse(IPYTHON_MAGIC_LINE.sub("", source))
    except (SyntaxError, ValueError, RecursionError):  # ValueError: a NUL character in the source
        return [double or single for double, single in PYTHON_STRING.findall(source)]
    paths, used = [], set()  # used: the nodes already read as part of a join or an f-string
    for node in ast.walk(tree):  # breadth first, so a chain of joins is met at its outermost join
        if node in used:
            continue
        pieces, joins = _flatten_join(node)
        if joins:
            leading = list(itertools.takewhile(lambda piece: _string_value(piece) is not None, pieces))
            used.update(joins)
            used.update(inner for piece in leading for inner in ast.walk(piece))
            if leading:
                paths.append(posixpath.join(*(_string_value(piece) for piece in leading)))
        elif _string_value(node) is not None:
            used.update(_string_nodes(node))
            paths.append(_string_value(node))
    return paths


def _flatten_join(node: ast.AST) -> tuple[list[ast.AST], list[ast.AST]]:
    """Split a path join into the pieces it joins, in order, and the join nodes it is made of.

    ``Path("..") / "docs"`` gives the pieces ``".."`` and ``"docs"`` and the joins ``/`` and
    ``Path(...)``. A path's ``glob(pattern)`` joins the pattern, and ``rglob(pattern)`` joins
    ``**`` and the pattern. A node that joins nothing gives ``([node], [])``.
    """
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        pieces, joins = _flatten_join(node.left)
        return pieces + [node.right], [node] + joins
    name = _called_name(node)
    if name in ("joinpath", "glob", "rglob") and isinstance(node.func, ast.Attribute):
        pieces, joins = _flatten_join(node.func.value)
        # Path("..").joinpath("docs") and Path("../docs").glob("*.png"), but not glob.glob("*.png")
        if name == "joinpath" or joins:
            recursive = [ast.Constant("**")] if name == "rglob" else []
            return pieces + recursive + list(node.args), [node] + joins
    if name in PATH_JOIN_CALLS:
        return list(node.args), [node]
    return [node], []


def _called_name(node: ast.AST) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return node.func.id if isinstance(node.func, ast.Name) else None


def _string_value(node: ast.AST) -> str | None:
    """Return the text of a string expression, with each placeholder written as '{}', or None for other code.

    A string expression is a string literal, an f-string, a string formatted with ``%``, or a
    concatenation with ``+`` of which at least one piece is a string expression. Placeholders are
    the f-string's fields, the ``%`` fields such as ``%d`` and ``%(name)s``, and each piece of a
    concatenation that is not a string expression: ``"fig" + str(i) + ".png"`` gives ``fig{}.png``.
    """
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        template = _string_value(node.left)
        if template is None:
            return None
        return PERCENT_FIELD.sub(lambda field: "%" if field.group(0) == "%%" else "{}", template)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        texts = [_string_value(piece) for piece in _concatenated_pieces(node)]
        if all(text is None for text in texts):
            return None
        return "".join("{}" if text is None else text for text in texts)
    return None


def _concatenated_pieces(node: ast.AST) -> list[ast.AST]:
    """Return the pieces of ``a + b + c`` in order.

    The parser nests the chain to the left, ``(a + b) + c``, and a loop unnests it. Recursion would
    exceed Python's default limit of 1000 calls on a chain of 2000 pieces, which ``ast.parse`` of
    CPython 3.11 accepts.
    """
    pieces = []
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        pieces.append(node.right)
        node = node.left
    pieces.append(node)
    return pieces[::-1]


def _string_nodes(node: ast.AST):
    """Yield the nodes of a string expression that ``_string_value`` reads its text from.

    The pieces of a concatenation that are not strings stay out, so that a path join among
    them, as in ``os.path.join("..", "docs") + "/a.png"``, still counts as a path by itself.
    """
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        chain = node
        while isinstance(chain, ast.BinOp) and isinstance(chain.op, ast.Add):
            yield chain  # (a + b) + c also contains the string expression a + b
            chain = chain.left
        for piece in _concatenated_pieces(node):
            if _string_value(piece) is not None:
                yield from _string_nodes(piece)
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        yield node
        yield from _string_nodes(node.left)
    else:
        yield from ast.walk(node)  # a literal, or an f-string with the code of its fields


def _pictures_at(path_text: str, folder: Path, docs: Path) -> tuple[set[Path], set[Path]]:
    """Return the file that a path from code, resolved from ``folder``, names, and the files it matches.

    The first set contains the file itself when it exists. The second contains every file directly
    in the folder of ``docs`` that the path names, and the files in ``docs`` that the path matches
    as a glob pattern (see ``_glob_pattern``). A backslash separates folders as on Windows.
    """
    path_text = path_text.replace("\\", "/")
    if not path_text.strip() or "\0" in path_text:  # '' is no path, and Path.resolve raises ValueError on NUL
        return set(), set()
    named, matched = set(), set()
    try:
        path = (folder / path_text).resolve()
        if path.is_file():
            named.add(path)
        elif path.is_dir() and _is_within(path, docs):
            matched.update(child.resolve() for child in path.iterdir() if child.is_file())
        pattern = _glob_pattern(path_text)
        if GLOB_CHARACTERS.search(pattern):
            matched.update(_glob_in(pattern, folder, docs))
    except (OSError, ValueError):  # a path too long for the system, or an invalid glob pattern such as 'a**.png'
        pass
    return named, matched


def _glob_pattern(path_text: str) -> str:
    """Return a path from code as a glob pattern: each format field ('{}', '{name}') matches like '*'.

    A field matches within one folder level, as '*' does. Adjacent fields, as in
    ``f"{section}{name}"``, count as one '*', so that they never form the recursive '**'.
    """
    parts = []
    for part in path_text.replace("\\", "/").split("/"):
        if FORMAT_FIELD.search(part):
            part = re.sub(r"\*+", "*", FORMAT_FIELD.sub("*", part))
        parts.append(part)
    return "/".join(parts)


def _glob_in(pattern: str, folder: Path, docs: Path) -> set[Path]:
    """Return what pathlib's glob finds for ``pattern`` from ``folder``, when it searches within ``docs``."""
    parts = PurePosixPath(pattern).parts
    first_wildcard = next(index for index, part in enumerate(parts) if GLOB_CHARACTERS.search(part))
    base = folder.joinpath(*parts[:first_wildcard]).resolve()
    if not _is_within(base, docs):
        return set()
    return {path.resolve() for path in base.glob("/".join(parts[first_wildcard:])) if path.is_file()}


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _ignored(path: Path) -> bool:
    return path.name.startswith(".") or path.name in IGNORED_NAMES or path.suffix in IGNORED_SUFFIXES


def _copy_tree(source: Path, target: Path, skipped: list[str], root: Path, unshown: set[Path]) -> None:
    for path in sorted(source.rglob("*")):
        relative_parts = path.relative_to(source).parts
        if any(_ignored(Path(part)) for part in relative_parts):
            continue
        destination = target / path.relative_to(source)
        if path.is_dir():
            continue  # created for the files it holds, so a folder of left-out files does not appear
        if is_instructor_only(path) or path.resolve() in unshown:
            skipped.append(path.relative_to(root).as_posix())
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


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
            shutil.copy2(source, staging / name)
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
    """Map the SHA-256 digest of each picture left out of ``docs/`` to its path, the reason and what to do."""
    descriptions = {}
    for path in sorted(pictures.unshown):
        relative = path.relative_to(root).as_posix()
        description = f"{relative}, which the release leaves out ({_reason_left_out(path, pictures)}); remove it from the notebook"
        if path not in pictures.shown_by:  # no instructor-only page shows it, so it may be meant for students
            description += f", or link {relative} from a released page if students may see it"
        descriptions[hashlib.sha256(path.read_bytes()).hexdigest()] = description
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
        if destination.exists():
            destination.rmdir()
        staging.rename(destination)
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
            f"the scan cannot read text in these {len(unread)} pictures of released notebooks; "
            f"look at them for solution code before you hand out the release:"
        )
        for finding in unread:
            log(f"  {finding}")
    log(f"wrote the release to {destination} ({len(secrets)} solution lines checked, no leak found)")
    return skipped
