"""What the students' release of the course contains.

The release contains the library (``netlite/``), ``notebooks/``, ``exercises/``, ``README.md``,
``pyproject.toml`` and ``docs/``. It leaves out the documents marked instructor-only (a line
``<!-- instructor-only -->`` among their first five lines), and the pictures in ``docs/`` that no
released page mentions and no released notebook's code loads (see ``find_picture_use``). Caches
and hidden files are left out too. When the course has a ``README.student.md``, the release's
``README.md`` is that file, because the course's own README speaks to instructors about solutions
and grading.
"""

from __future__ import annotations

import ast
import html
import itertools
import json
import posixpath
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from . import build as course_build
from .release_scan import notebook_lines

LIBRARY_DIR = "netlite"
RELEASED_FOLDERS = (LIBRARY_DIR, "notebooks", course_build.EXERCISES_DIR, "docs")
RELEASED_FILES = ("README.md", "pyproject.toml", "LICENSE")
STUDENT_README = "README.student.md"  # released as README.md when present
INSTRUCTOR_ONLY_MARK = "<!-- instructor-only -->"
IGNORED_NAMES = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}
IGNORED_SUFFIXES = {".pyc", ".pyo", ".nbi", ".nbc"}
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
# A quoted Python string without prefix or triple quotes, read when a code cell does not parse.
PYTHON_STRING = re.compile(r"\"((?:\\.|[^\"\\\n])*)\"|'((?:\\.|[^'\\\n])*)'")


# -- pages ------------------------------------------------------------------


def is_instructor_only(path: Path) -> bool:
    if path.suffix.lower() not in {".md", ".rst", ".txt", ".html"}:
        return False
    with path.open(encoding="utf-8", errors="replace") as file:
        head = [file.readline() for _ in range(5)]
    return any(INSTRUCTOR_ONLY_MARK in line for line in head)


# -- pictures in docs/ --------------------------------------------------------


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
            hidden = any(is_ignored(Path(part)) for part in path.relative_to(root).parts)
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
        hidden = any(is_ignored(Path(part)) for part in path.relative_to(root).parts)
        if path.is_file() and not hidden and path.suffix.lower() in PICTURE_SUFFIXES:
            pictures.add(path.resolve())
    return pictures


def _page_text(page: Path) -> str:
    """Return a page's text, or a notebook's decoded strings, in which JSON escapes such as \\u00fc are undone."""
    text = page.read_text(encoding="utf-8-sig", errors="replace")
    if page.suffix.lower() == ".ipynb":
        return "\n".join(notebook_lines(text))
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


def is_ignored(path: Path) -> bool:
    """Return True for a cache or hidden file or folder, which the release leaves out."""
    return path.name.startswith(".") or path.name in IGNORED_NAMES or path.suffix in IGNORED_SUFFIXES
