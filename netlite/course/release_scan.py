"""The release's leak scan: which lines of the solution notebooks are secret, and where a file shows them.

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
codes. A notebook's attachment or image output with the same content as a picture that the
release leaves out of ``docs/`` is a leak, and ``picture_digests`` defines what counts as the same.
So is a data URI, as in an HTML ``img`` tag or a Markdown image, in any string of a notebook or
in any released file. The release lists the other pictures of released notebooks and
the picture data URIs of released files, whose text the scan cannot read.

Zip, tar, gzip, bzip2, xz and lzma files are scanned member by member, up to three archives deep.
A file that cannot be read in full (damaged, truncated, encrypted, unpacking to more than
``MAX_UNPACKED_BYTES``, or in a format such as zstd that the standard library cannot unpack)
counts as a leak, because the scan cannot see inside it. Lines are also compared with markup
tags and HTML entities removed, so highlighted HTML and Word's split runs of text are caught, and
with the backslash escapes of LaTeX and Markdown removed (``dL\\_dz2``, ``x \\* x``). They are
also compared with LaTeX's ties read as spaces (``return~x~*~x``). Lines joined by backslash line
continuations (``x = a + \\`` and ``b`` on the next line) are compared as one line, which the
finding names by its first line. Each file and each stored output is also compared as a whole
with whitespace collapsed, which finds a line split over several lines, as in HTML with one token
per line or a JSON list of tokens.

NOTE: the scan reads text, and some formats keep text in a form it cannot see: a PDF's compressed
or font-encoded text, a bare zlib stream, UTF-16 without a byte-order mark, and a zip entry that
the zip's table of contents does not list. Base64-encoded text is not read either, because the
data of a data URI is only compared with pictures. Do not put exports of solution notebooks into
the released folders.
"""

from __future__ import annotations

import base64
import binascii
import bz2
import dataclasses
import hashlib
import html
import io
import json
import lzma
import re
import tarfile
import urllib.parse
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from xml.dom import minidom
from xml.parsers.expat import ExpatError

from . import build as course_build

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
# An HTML or XML tag, including Word's tags around each run of text. A tag starts with a letter, "/", "!" or
# "?", so that "a < b" and "c > d" in code are no tag, even with lines between them.
MARKUP_TAG = re.compile(r"<[A-Za-z/!?][^<>]*>")
# A backslash escape of LaTeX (\_, \&, \%) or Markdown (\_, \*, \#): a backslash before ASCII punctuation or a space.
BACKSLASH_ESCAPE = re.compile(r"\\([ !-/:-@\[-`{-~])")
# A LaTeX tie, the "~" in "x~=~y", which LaTeX prints as a space. Only a tilde between two characters other
# than whitespace counts, so that Python's "x = ~mask" does not read as "x = mask". An escaped "\~" does not count.
LATEX_TIE = re.compile(r"(?<=[^\s\\])~+(?=\S)")
# The line number before each source line in an IPython traceback ("      4 ", "----> 5 ") or a numbered listing.
LINE_NUMBER_GUTTER = re.compile(r"\s*(?:-*>\s*)?\d+ ")
# A data URI (RFC 2397) up to its comma: the content type, then parameters such as ";charset=utf-8" and ";base64".
DATA_URI = re.compile(r"data:(?P<type>[\w.+-]+/[\w.+-]+)?(?P<parameters>(?:;[\w.+-]+(?:=[\w.+-]*)?)*),", flags=re.IGNORECASE)
# The characters that end a data URI outside quotes: whitespace, a quote, a bracket or a tag.
UNQUOTED_URI_END = re.compile(r"[\s\"'()<>]")
# The start and end tags of an SVG element (see picture_digests).
SVG_START = re.compile(r"<svg[\s/>]", flags=re.IGNORECASE)
SVG_END = re.compile(r"</svg\s*>", flags=re.IGNORECASE)
# Compressed formats that the standard library cannot unpack: their contents could not be scanned.
UNREADABLE_SUFFIXES = (".zst", ".7z", ".rar", ".lz4", ".br")


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


def notebook_lines(text: str, outputs: bool = True):
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
    """Yield the lines of the strings in decoded JSON, keys included.

    A list of strings whose items all end with a newline, except maybe the last, is one text, as
    nbformat stores a multiline string. The items of any other list of strings (the tokens or lines
    of a JSON output) are separate lines, so that words stay apart.
    """
    if isinstance(value, str):
        yield from value.split("\n")
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        if all(item.endswith("\n") for item in value[:-1]):
            yield from "".join(value).split("\n")
        else:
            for item in value:
                yield from item.split("\n")
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
        yield from notebook_lines(text, outputs=False)
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

    ``left_out_pictures`` maps the digests of each picture that the release leaves out to its
    description (see ``scan_release``).
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
        else:
            leaks.extend(_file_data_uri_findings(text, relative, left_out_pictures))
    except RecursionError:
        return leaks + [Leak(relative, 0, "cannot be scanned: JSON nested too deeply to read; leave it out", "unscannable")]
    for number, kind, description, secret in _text_findings(lines, secrets, markers_anywhere=False):
        leaks.append(Leak(relative, number, description, kind, secret=secret))
    return leaks


def _text_findings(lines: list[str], secrets: dict[str, Secret], markers_anywhere: bool) -> list[tuple[int, str, str, str]]:
    """Return (line number, kind, description, secret line or '') for each finding in a text's lines.

    Each line is scanned first. Then each group of lines joined by backslash line continuations
    is scanned as one line, and its findings that no single line of the group has get the number
    of its first line. Last, the whole text is scanned with whitespace collapsed, which finds a
    secret line split over several lines (HTML with one token per line, a JSON list of tokens).
    Such a finding has line number 0 and is listed only when no line or group contains it.
    """
    findings, found = [], set()
    found_by_line = []
    for number, line in enumerate(lines, start=1):
        on_this_line = _line_findings(line, secrets, markers_anywhere)
        for finding in on_this_line:
            findings.append((number, *finding))
            found.add(finding)
        found_by_line.append(set(on_this_line))
    for first, last, readings in _continued_lines(lines):
        found_in_group = set().union(*found_by_line[first - 1 : last])
        for reading in readings:
            for kind, description, secret in _line_findings(reading, secrets, markers_anywhere):
                if (kind, description, secret) not in found_in_group:
                    findings.append((first, kind, f"{description} (continued with a backslash up to line {last})", secret))
                    found_in_group.add((kind, description, secret))
                    found.add((kind, description, secret))
    if len(lines) > 1:
        for kind, description, secret in _line_findings("\n".join(lines), secrets, markers_anywhere):
            if (kind, description, secret) not in found:
                findings.append((0, kind, f"{description} (split over several lines)", secret))
    return findings


def _continued_lines(lines: list[str]):
    """Yield (first line number, last line number, readings) for each group of lines joined by backslash continuations.

    A line that ends with a backslash, as in ``x = a + \\``, continues on the next line. The first
    reading is the group joined into one line. A traceback (``      4``, ``----> 5``) or a numbered
    listing starts every line with its number. When all lines of the group start with one, a second
    reading joins the group with the numbers removed from the lines after the first.
    """
    plain = [ANSI_ESCAPE.sub("", line).rstrip() if "\x1b" in line else line.rstrip() for line in lines]
    index = 0
    while index < len(plain):
        last = index
        while plain[last].endswith("\\") and last + 1 < len(plain):
            last += 1
        if last > index:
            group = plain[index : last + 1]
            readings = [_join_continued(group)]
            if all(LINE_NUMBER_GUTTER.match(line) for line in group):
                readings.append(_join_continued(group[:1] + [LINE_NUMBER_GUTTER.sub("", line, count=1) for line in group[1:]]))
            yield index + 1, last + 1, readings
        index = last + 1


def _join_continued(group: list[str]) -> str:
    # Each backslash becomes a space, as Python reads it, so "x *\" and "x" join to "x * x".
    return " ".join(line[:-1] for line in group[:-1]) + " " + group[-1]


def _line_findings(line: str, secrets: dict[str, Secret], markers_anywhere: bool) -> list[tuple[str, str, str]]:
    """Return (kind, description, secret line or '') for each marker and secret line in one line of text.

    A marker counts at the start of the line, or anywhere in it when ``markers_anywhere`` is set.
    """
    if "\x1b" in line:
        line = ANSI_ESCAPE.sub("", line)  # IPython colours tracebacks, and the codes split the words
    readings = [normalize(line)]
    if not readings[0]:
        return []
    if "<" in line or "&" in line:
        # What a browser or Word shows: markup and entities removed. Removing a tag joins the
        # split runs of a word, and a space in its place keeps apart the words of table cells.
        readings.append(normalize(html.unescape(MARKUP_TAG.sub("", line))))
        readings.append(normalize(html.unescape(MARKUP_TAG.sub(" ", line))))
    if "~" in line:
        # What LaTeX shows: a tie "~" is a space that does not break, as in "return~x~*~x".
        readings.extend([normalize(LATEX_TIE.sub(" ", reading)) for reading in readings])
    if "\\" in line:
        # What LaTeX or Markdown shows: "dL\_dz2" is "dL_dz2". The escapes are removed from every
        # reading, and the readings with them stay, because a solution line may contain a backslash.
        readings.extend([BACKSLASH_ESCAPE.sub(r"\1", reading) for reading in readings])
    normalized = " \n ".join(dict.fromkeys(readings))  # a secret line cannot span two readings
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
        notebook = None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        return _file_data_uri_findings(text, relative, left_out_pictures)  # _text_lines has read its text
    leaks = []
    for index, cell in enumerate(notebook["cells"]):
        if not isinstance(cell, dict):
            continue
        cell_name = _describe_cell(index, cell)
        outputs = cell.get("outputs") or []
        for number, output in enumerate(outputs if isinstance(outputs, list) else [outputs], start=1):
            for part, part_text in _output_parts(output):
                place = f"{cell_name}, output {number} ({part})"
                findings = _text_findings(part_text.split("\n"), secrets, markers_anywhere=True)
                for line_number, kind, description, secret in findings:
                    description += f" in the cell's stored output; {OUTPUT_LEAK_HINT}"
                    leaks.append(Leak(relative, line_number, description, kind, place, secret))
                leaks.extend(_data_uri_findings(part_text, relative, place, left_out_pictures))
        for place, content_type, value in _cell_pictures(cell, cell_name):
            leaks.append(_picture_finding(relative, place, content_type, value, left_out_pictures))
    return leaks + _notebook_data_uri_findings(notebook, relative, left_out_pictures)


def _notebook_data_uri_findings(notebook: dict, relative: str, left_out_pictures: dict[str, str]) -> list[Leak]:
    """Return the data URI findings in a notebook's strings outside the outputs: sources, metadata, attachments."""
    texts = []  # (place, text)
    for index, cell in enumerate(notebook["cells"]):
        if not isinstance(cell, dict):
            texts.append((f"cell {index}", "\n".join(_string_lines(cell))))
            continue
        cell_name = _describe_cell(index, cell)
        texts.append((f"{cell_name}, source", course_build.source_text(cell)))
        texts.extend(
            (f"{cell_name}, {key}", "\n".join(_string_lines(value)))
            for key, value in cell.items()
            if key not in ("source", "outputs")
        )
    texts.extend((f"notebook {key}", "\n".join(_string_lines(value))) for key, value in notebook.items() if key != "cells")

    findings = []
    for place, text in texts:
        findings.extend(_data_uri_findings(text, relative, place, left_out_pictures))
    return findings


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
    # NOTE: only the same content is found (see picture_digests). A cropped, resized or re-saved copy is listed as unread.
    text = "".join(value) if isinstance(value, list) and all(isinstance(item, str) for item in value) else value
    contents = []
    if isinstance(text, str):
        contents.append(text.encode("utf-8"))  # SVG is stored as text
        try:
            contents.append(base64.b64decode(text))  # binary pictures are stored in base64
        except (binascii.Error, ValueError):
            pass
    for content in contents:
        for digest in picture_digests(content):
            match = left_out_pictures.get(digest)
            if match:
                return Leak(relative, 0, f"{content_type} with the content of {match}", "picture", place)
    return Leak(relative, 0, content_type, "unread picture", place)


def _data_uris(text: str):
    """Yield (offset, content type, decoded bytes or None) for each data URI in a text.

    A data URI in quotes (an HTML attribute, a JSON string) ends at the closing quote, so it may
    hold whitespace, tags and the other quote. Without quotes (Markdown, CSS) it ends at whitespace,
    a quote, a bracket or a tag.
    """
    for match in DATA_URI.finditer(text):
        start, quote = match.end(), text[match.start() - 1 : match.start()]
        if quote in ("'", '"'):
            end = text.find(quote, start)
            end = len(text) if end == -1 else end
        else:
            unquoted_end = UNQUOTED_URI_END.search(text, start)
            end = unquoted_end.start() if unquoted_end else len(text)
        content = urllib.parse.unquote_to_bytes(text[start:end])
        if any(parameter.lower() == "base64" for parameter in match["parameters"].split(";")):
            # Browsers skip whitespace inside base64, as in a data URI wrapped over several lines.
            letters = re.sub(rb"[^A-Za-z0-9+/]", b"", content)
            try:
                content = base64.b64decode(letters + b"=" * (-len(letters) % 4))
            except binascii.Error:
                content = None  # one letter too many or too few: the data is damaged
        yield match.start(), (match["type"] or "text/plain").lower(), content


def _data_uri_findings(
    text: str, relative: str, place: str, left_out_pictures: dict[str, str], seen: set | None = None
) -> list[Leak]:
    """Return a leak for each data URI in ``text`` with a left-out picture's content, and each other picture's data URI.

    The line number counts from the start of ``text``. ``seen`` collects (content type, content)
    of the data URIs found, and a data URI already in it is skipped.
    """
    seen = set() if seen is None else seen
    findings, unread = [], []  # unread: (line number, description) of the pictures the scan cannot read
    line_number, counted_to = 1, 0  # lines counted as the offsets grow, so that many data URIs cost one pass
    for offset, content_type, content in _data_uris(text):
        if content == b"" or (content_type, content) in seen:
            continue  # an empty data URI shows nothing, like one whose data a comment shortens to "..."
        seen.add((content_type, content))
        line_number += text.count("\n", counted_to, offset)
        counted_to = offset
        digests = picture_digests(content) if content is not None else set()
        match = next((left_out_pictures[digest] for digest in digests if digest in left_out_pictures), None)
        if match:
            description = f"{content_type} data URI with the content of {match}"
            findings.append(Leak(relative, line_number, description, "picture", place))
        elif PICTURE_TYPE.match(content_type):
            unread.append((line_number, f"{'undecodable ' if content is None else ''}{content_type} data URI"))
    if len(unread) > 3:  # a grid of digits embeds hundreds: one line for all of them
        first_line = unread[0][0]
        findings.append(Leak(relative, first_line, f"{len(unread)} picture data URIs", "unread picture", place))
    else:
        findings.extend(Leak(relative, number, description, "unread picture", place) for number, description in unread)
    return findings


def _file_data_uri_findings(text: str, relative: str, left_out_pictures: dict[str, str]) -> list[Leak]:
    """Return the data URI findings of a file that is not a notebook, in its text and its decoded JSON strings.

    JSON may escape a data URI (``data:image\\/png``), so its decoded strings are read too, and a
    data URI that the text already showed is not listed again.
    """
    seen = set()
    findings = _data_uri_findings(text, relative, "", left_out_pictures, seen)
    if text.lstrip()[:1] in ("{", "[", '"'):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            return findings
        strings = "\n".join(_string_lines(parsed))
        for finding in _data_uri_findings(strings, relative, "a JSON string", left_out_pictures, seen):
            findings.append(dataclasses.replace(finding, line_number=0))  # no line of the file
    return findings


def picture_digests(content: bytes) -> set[str]:
    """Return the SHA-256 digests under which the scan compares a picture: of its bytes, and for SVG of two texts.

    IPython's ``display(SVG(filename=...))`` stores only the ``<svg>`` element, as
    ``xml.dom.minidom`` writes it: no XML declaration or doctype, attributes in double quotes,
    empty elements as ``<rect/>`` and character references resolved (IPython 9). So a UTF-8 text
    that contains ``<svg`` is also compared in two more forms, each with every run of whitespace
    collapsed to one space. One is the text from the first ``<svg`` to the end of the last
    ``</svg>``, and the other is minidom's rewrite of the first ``svg`` element.
    """
    digests = {hashlib.sha256(content).hexdigest()}
    for text in _svg_texts(content):
        digests.add(hashlib.sha256(normalize(text).encode("utf-8")).hexdigest())
    return digests


def _svg_texts(content: bytes) -> list[str]:
    """Return an SVG's element text and minidom's rewrite of it (see ``picture_digests``), or [] for other content."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return []
    start = SVG_START.search(text)
    if start is None:
        return []
    ends = [match.end() for match in SVG_END.finditer(text, start.start())]
    texts = [text[start.start() : ends[-1] if ends else len(text)]]
    try:
        # expat (2.4.1 and newer) limits entity expansion and minidom loads no external entity or DTD.
        elements = minidom.parseString(content).getElementsByTagName("svg")
    except (ExpatError, ValueError):
        return texts  # not well-formed XML, so IPython's SVG could not have shown it either
    if elements:
        texts.append(elements[0].toxml())
    return texts


def scan_release(folder: Path, secrets: dict[str, Secret], left_out_pictures: dict[str, str] | None = None) -> list[Leak]:
    """Scan every file under ``folder``; a folder named ``solutions`` is a leak by itself.

    ``left_out_pictures`` maps each digest that ``picture_digests`` returns for a picture that the
    release leaves out of ``docs/`` to its path, the reason and what to do. A notebook's attachment
    or image output with one of these digests is a leak, and every other picture of a notebook is
    listed as an unread picture.
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
