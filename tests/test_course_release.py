"""Tests of ``python -m netlite.course release DEST``: the student copy and its leak scan."""

from __future__ import annotations

import base64
import bz2
import gzip
import io
import json
import lzma
import os
import re
import stat
import subprocess
import sys
import tarfile
import time
import urllib.parse
import zipfile
from pathlib import Path

import nbformat
import pytest
from course_helpers import (
    CUBE_HIDDEN_LINE,
    CUBE_SOLUTION_LINE,
    SQUARE_HIDDEN_LINE,
    SQUARE_SOLUTION_LINE,
    make_course,
    tiny_solution_notebook,
    write_notebook,
)

from netlite.course import build as course_build
from netlite.course import release as course_release
from netlite.course import release_contents, release_scan
from netlite.course.__main__ import main

SECRET_LINES = (SQUARE_SOLUTION_LINE, CUBE_SOLUTION_LINE, SQUARE_HIDDEN_LINE, CUBE_HIDDEN_LINE)
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
QUIET = {"log": lambda message: None}


def built_course(tmp_path) -> Path:
    root = make_course(tmp_path / "course")
    (root / "netlite" / "layers.py").write_text("def relu(x):\n    return x * (x > 0)\n")
    (root / "netlite" / "__pycache__").mkdir()
    (root / "netlite" / "__pycache__" / "layers.cpython-311.pyc").write_bytes(b"\0compiled")
    (root / "notebooks" / "01_walkthrough.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n')
    # The instructor-only page links to library and exercise files too, which are released all the same.
    (root / "docs" / "grading.md").write_text(
        "<!-- instructor-only -->\n# Grading\nsecret rubric\n![solved](images/solved.png)\n<img src=images/shared.png> ![fit](images/fit.png)\n"
        "[the exercise](../exercises/01_tiny.ipynb), [the layers](../netlite/layers.py)\n"
    )
    (root / "docs" / "images").mkdir()
    (root / "docs" / "images" / "solved.png").write_bytes(b"\x89PNG picture of a solution")
    (root / "docs" / "images" / "shared.png").write_bytes(b"\x89PNG picture both documents show")
    (root / "docs" / "images" / "in notebook.png").write_bytes(b"\x89PNG picture a notebook shows")
    # A name that ends like another picture's path shows only its own picture.
    (root / "docs" / "images" / "answers").mkdir()
    (root / "docs" / "images" / "answers" / "loss.png").write_bytes(b"\x89PNG picture of a solved exercise")
    (root / "docs" / "images" / "answers_loss.png").write_bytes(b"\x89PNG picture of a loss curve")
    (root / "docs" / "answer.png").write_bytes(b"\x89PNG picture of an answer")
    # A page in a subfolder shows its own images/fit.png; the instructor's docs/images/fit.png stays out.
    (root / "docs" / "lab" / "images").mkdir(parents=True)
    (root / "docs" / "lab" / "images" / "fit.png").write_bytes(b"\x89PNG the lab's picture")
    (root / "docs" / "lab" / "side.png").write_bytes(b"\x89PNG a picture beside its page")
    (root / "docs" / "images" / "fit.png").write_bytes(b"\x89PNG the instructor's picture")
    (root / "docs" / "images" / "wide.png").write_bytes(b"\x89PNG a picture for wide screens")
    (root / "docs" / "images" / "from-root.png").write_bytes(b"\x89PNG a picture linked from the root")
    (root / "docs" / "lab" / "page.md").write_text(
        "![f](images/fit.png) ![s](./side.png)\n<img srcset=\"../images/shared.png 1x,../images/wide.png 2x\">\n"
        "![r](/docs/images/from-root.png)\n"
        "![a](<images/my fit.png>) <img src=\"images/my plot.png\"> ![p](images/fig(1).png)\n"
        "[ref]:images/ref.png and the file `images/code.png`\n"
    )
    for name in ("my fit.png", "my plot.png", "fig(1).png", "ref.png", "code.png"):
        (root / "docs" / "lab" / "images" / name).write_bytes(b"\x89PNG a picture the lab page shows")
    (root / "docs" / "student-guide.md").write_text(
        "# How to run the kit\n![setup][picture]\n\n[picture]: <images/shared.png>\n![curve](images/answers_loss.png)\n"
        "![mine](student/images/answers/loss.png) ![theirs](student/answer.png)\n"
    )
    (root / "notebooks" / "02_pictures.ipynb").write_text(json.dumps({
        "cells": [{"cell_type": "markdown", "metadata": {}, "source": "![a picture](../docs/images/in%20notebook.png) ![b](attachment:answer.png)"}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }))
    (root / "tests").mkdir()
    (root / "tests" / "test_hidden.py").write_text("def test_x():\n    pass\n")
    course_build.build(root, **QUIET)
    return root


def all_text(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes().decode("utf-8", errors="replace")
        for path in folder.rglob("*")
        if path.is_file()
    }


def test_release_contents(tmp_path):
    root = built_course(tmp_path)
    destination = tmp_path / "release"
    skipped = course_release.release(root, destination, **QUIET)
    files = set(all_text(destination))
    assert files == {
        "README.md",
        "pyproject.toml",
        "netlite/__init__.py",
        "netlite/layers.py",
        "notebooks/01_walkthrough.ipynb",
        "notebooks/02_pictures.ipynb",
        "exercises/01_tiny.ipynb",
        "docs/student-guide.md",
        "docs/images/shared.png",
        "docs/images/in notebook.png",
        "docs/images/answers_loss.png",
        "docs/lab/page.md",
        "docs/lab/images/fit.png",
        "docs/lab/images/my fit.png",
        "docs/lab/images/my plot.png",
        "docs/lab/images/fig(1).png",
        "docs/lab/images/ref.png",
        "docs/lab/images/code.png",
        "docs/lab/side.png",
        "docs/images/wide.png",
        "docs/images/from-root.png",
    }
    # The pictures that no released page shows stay out, such as those the instructor-only page shows.
    assert skipped == [
        "docs/answer.png", "docs/grading.md", "docs/images/answers/loss.png", "docs/images/fit.png", "docs/images/solved.png",
    ]


def _notebook_json(cell_type: str, source: str) -> str:
    cell = {"cell_type": cell_type, "metadata": {}, "source": source}
    if cell_type == "code":
        cell.update(execution_count=None, outputs=[])
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


INSTRUCTOR_PICTURE = "docs/images/student-path/03-solution-typed.png"
# Each case: a released page, its text, and the picture in docs/ that the page uses.
LINKED_PICTURES = {
    "escaped parentheses": ("docs/page.md", r"![fit](images/fit\(1\).png)", "docs/images/fit(1).png"),
    "unbalanced escaped parenthesis": ("docs/page.md", r"![fit](images/fit\(.png)", "docs/images/fit(.png"),
    "entity in src": ("docs/page.md", '<img src="images/fit&amp;loss.png">', "docs/images/fit&loss.png"),
    "numeric entity in src": ("docs/page.md", '<img src="images/fit&#40;1&#41;.png">', "docs/images/fit(1).png"),
    "apostrophe in src": ("docs/page.md", '<img src="images/Ada\'s fit.png">', "docs/images/Ada's fit.png"),
    "apostrophe in angle brackets": ("docs/page.md", "![fit](<images/Ada's fit.png>)", "docs/images/Ada's fit.png"),
    "quote in src": ("docs/page.md", "<img src='images/the \"best\" fit.png'>", 'docs/images/the "best" fit.png'),
    "Jupyter files link": (
        "notebooks/week1/lab.ipynb", _notebook_json("markdown", "![fit](/files/docs/images/fit.png)"), "docs/images/fit.png"
    ),
    # json.dumps writes ü as \u00fc unless ensure_ascii=False, and so do some editors.
    "unicode escape in notebook": (
        "notebooks/lab.ipynb", _notebook_json("markdown", "![green](../docs/images/grün.png)"), "docs/images/grün.png"
    ),
}


@pytest.mark.parametrize("case", sorted(LINKED_PICTURES))
def test_unshown_pictures_finds_link(tmp_path, case):
    page, text, picture = LINKED_PICTURES[case]
    root = tmp_path.resolve()
    (root / page).parent.mkdir(parents=True, exist_ok=True)
    (root / page).write_text(text, encoding="utf-8")
    for relative in (picture, INSTRUCTOR_PICTURE):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(b"\x89PNG")

    unshown = {path.relative_to(root).as_posix() for path in release_contents.unshown_pictures(root)}

    assert picture not in unshown
    assert unshown == {INSTRUCTOR_PICTURE}


CODE_PICTURES = ("docs/images/a.png", "docs/images/b.png", "docs/images/plots/c.png", "docs/other.png", INSTRUCTOR_PICTURE)
# Each case: the source of a code cell in notebooks/lab.ipynb, and the pictures that ship for it.
CODE_CELLS = {
    "os.path.join of a file": ('img = plt.imread(os.path.join("..", "docs", "images", "a.png"))', {"a.png"}),
    "Path of a folder and a name": ('img = plt.imread(Path("../docs/images") / "a.png")', {"a.png"}),
    "chain of Path divisions": ('img = plt.imread(Path("..") / "docs" / "images" / "a.png")', {"a.png"}),
    "joinpath": ('img = plt.imread(Path("..").joinpath("docs", "images", "a.png"))', {"a.png"}),
    "Windows separators": ('img = plt.imread("..\\\\docs\\\\images\\\\a.png")', {"a.png"}),
    "glob pattern": ('images = [plt.imread(p) for p in glob.glob("../docs/images/*.png")]', {"a.png", "b.png"}),
    "Path.glob": ('images = sorted(Path("../docs/images").glob("plots/*.png"))', {"c.png"}),
    "Path.rglob": ('images = sorted(Path("..", "docs", "images").rglob("c.png"))', {"c.png"}),
    "f-string": ('for name in "ab":\n    plt.imread(f"../docs/images/{name}.png")', {"a.png", "b.png"}),
    "str.format": ('plt.imread("../docs/images/{}.png".format(name))', {"a.png", "b.png"}),
    "concatenation with a value": ('img = plt.imread("../docs/images/plots/c" + str(i) + ".png")', {"c.png"}),
    "concatenation of strings": ('img = plt.imread("../docs/" + "images/" + "a.png")', {"a.png"}),
    "concatenation after a join": ('img = plt.imread(os.path.join("..", "docs") + "/" + name)', {"other.png"}),
    "concatenation in a join": ('img = plt.imread(Path("../docs") / ("images/" + name + ".png"))', {"a.png", "b.png"}),
    "percent format": ('img = plt.imread("../docs/images/%s.png" % name)', {"a.png", "b.png"}),
    "percent format with a key": ('img = plt.imread("../docs/images/plots/%(name)s.png" % names)', {"c.png"}),
    "percent format of a width": ('img = plt.imread("../docs/images/%1.1s.png" % name)', {"a.png", "b.png"}),
    "adjacent placeholders": ('plt.imread(f"../docs/images/{prefix}{name}.png")', {"a.png", "b.png"}),
    "adjacent placeholders as folder": ('plt.imread(f"../docs/{section}{part}/c.png")', set()),
    "os.path.join of a folder": ('img = plt.imread(os.path.join("..", "docs", "images", name))', {"a.png", "b.png"}),
    "Path of a folder": ('IMAGES = Path("../docs/images/plots")\nimg = plt.imread(IMAGES / name)', {"c.png"}),
    "magic line": ('%matplotlib inline\nimg = plt.imread(os.path.join("..", "docs", "images", "a.png"))', {"a.png"}),
    "cell that does not parse": ('files = !ls\nimg = plt.imread(Path("../docs/images") / name)', {"a.png", "b.png"}),
    "name of another file": ('plt.savefig("b.png")\nprint("", "a.png")', set()),
    "join with a leading variable": ('img = plt.imread(os.path.join(base, "images", "a.png"))', set()),
    "invalid glob pattern": ('images = glob.glob("../docs/images/a**.png")', set()),
}


def _course_with_code_cell(tmp_path, source):
    """Return a course root whose only notebook, notebooks/lab.ipynb, has one code cell with ``source``."""
    root = tmp_path.resolve()
    (root / "notebooks").mkdir()
    (root / "notebooks" / "lab.ipynb").write_text(_notebook_json("code", source))
    return root


@pytest.mark.parametrize("case", sorted(CODE_CELLS))
def test_unshown_pictures_follows_code(tmp_path, case):
    source, expected = CODE_CELLS[case]
    root = _course_with_code_cell(tmp_path, source)
    for relative in CODE_PICTURES:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(b"\x89PNG")

    unshown = release_contents.unshown_pictures(root)

    shipped = {(root / relative).name for relative in CODE_PICTURES if (root / relative) not in unshown}
    assert shipped == expected


# Each case: the source of a code cell in notebooks/lab.ipynb, and the pictures of
# docs/images/student-path/ that ship for it. The instructor-only page shows 03-solution-typed.png only.
INSTRUCTOR_PICTURE_CELLS = {
    "f-string placeholders": ('plt.imread(f"../docs/images/{topic}/{name}.png")', {"diagram.png"}),
    "glob pattern": ('images = glob.glob("../docs/images/*/*.png")', {"diagram.png"}),
    "Path.rglob": ('images = list(Path("../docs/images").rglob("*.png"))', {"diagram.png"}),
    "path of the folder": ('plt.imread(os.path.join("..", "docs", "images", "student-path", name))', {"diagram.png"}),
    "path of the picture": (
        'plt.imread("../docs/images/student-path/03-solution-typed.png")', {"03-solution-typed.png"}
    ),
}


@pytest.mark.parametrize("case", sorted(INSTRUCTOR_PICTURE_CELLS))
def test_unshown_pictures_wildcard_skips_instructor_picture(tmp_path, case):
    source, expected = INSTRUCTOR_PICTURE_CELLS[case]
    root = _course_with_code_cell(tmp_path, source)
    (root / "docs" / "images" / "student-path").mkdir(parents=True)
    (root / "docs" / "student-path.md").write_text(
        "<!-- instructor-only -->\n![solved](images/student-path/03-solution-typed.png)\n"
    )
    for name in ("03-solution-typed.png", "diagram.png"):
        (root / "docs" / "images" / "student-path" / name).write_bytes(b"\x89PNG")

    use = release_contents.find_picture_use(root)

    folder = root / "docs" / "images" / "student-path"
    assert {path.name for path in folder.iterdir() if path not in use.unshown} == expected
    if "03-solution-typed.png" in expected:
        assert use.held_back == {}
    else:
        assert list(use.held_back) == [folder / "03-solution-typed.png"]


def test_release_logs_instructor_picture_left_out(tmp_path):
    root = built_course(tmp_path)
    (root / "notebooks" / "03_gallery.ipynb").write_text(
        _notebook_json("code", 'for name in names:\n    plt.imread(f"../docs/images/{name}.png")')
    )
    messages = []

    course_release.release(root, tmp_path / "release", log=messages.append)

    images = tmp_path / "release" / "docs" / "images"
    assert (images / "wide.png").is_file()  # matched, and no instructor-only page shows it
    assert (images / "shared.png").is_file()  # linked from a released page
    assert not (images / "solved.png").exists()
    expected = (
        "left out docs/images/solved.png (the instructor-only docs/grading.md shows it, and only a glob pattern or "
        "folder of released code matches it: '../docs/images/*.png' in notebooks/03_gallery.ipynb. "
        "To ship it, write its full path in a released notebook or page)"
    )
    assert expected in messages


def test_held_back_reason_names_two_pages(tmp_path):
    picture = (tmp_path / "docs" / "solved.png").resolve()
    use = release_contents.PictureUse({picture}, {picture: ["'../docs/*.png' in notebooks/a.ipynb"]},
                                    {picture: ["docs/grading.md", "docs/student-path.md"]})

    reason = course_release._reason_left_out(picture, use)

    assert reason.startswith("the instructor-only docs/grading.md, docs/student-path.md show it, and only a glob")


def test_other_picture_formats_need_a_link(tmp_path):
    # A screenshot saved as AVIF or a scan as PDF is no more readable to the scan than a PNG.
    root = built_course(tmp_path)
    names = ("solved.avif", "solved.heic", "scan.pdf", "solved.jfif", "solved.psd", "run.mp4")
    for name in names:
        (root / "docs" / "images" / name).write_bytes(b"\0binary")
    grading = root / "docs" / "grading.md"
    grading.write_text(grading.read_text() + "\n" + " ".join(f"![a](images/{name})" for name in names) + "\n")

    unshown = release_contents.unshown_pictures(root)

    assert {path.name for path in unshown} >= set(names)


def test_unshown_pictures_long_word_is_fast(tmp_path):
    # A notebook's base64 picture output can be one word of over 100,000 characters.
    root = tmp_path.resolve()
    (root / "docs").mkdir()
    (root / "docs" / "fit.png").write_bytes(b"\x89PNG")
    (root / "docs" / "page.md").write_text("iVBORw0KGgo" * 4000 + " fit.png,fit.png\n")

    started = time.perf_counter()
    unshown = release_contents.unshown_pictures(root)
    seconds = time.perf_counter() - started

    assert unshown == set()
    assert seconds < 2, f"unshown_pictures took {seconds:.1f} s for one 44,000-character word"


def test_unshown_pictures_skips_null_character(tmp_path):
    # JSON may write a NUL character as \u0000, which no path can contain.
    root = tmp_path.resolve()
    (root / "notebooks").mkdir()
    (root / "notebooks" / "lab.ipynb").write_text(_notebook_json("markdown", "![a](../docs/a\0b.png) ![c](%00.png)"))
    (root / "docs").mkdir()
    (root / "docs" / "fit.png").write_bytes(b"\x89PNG")

    assert release_contents.unshown_pictures(root) == {root / "docs" / "fit.png"}


def test_release_has_no_solution_or_marker(tmp_path):
    root = built_course(tmp_path)
    destination = tmp_path / "release"
    course_release.release(root, destination, **QUIET)
    for relative, text in all_text(destination).items():
        for secret in SECRET_LINES + MARKERS:
            assert secret not in text, f"{relative} contains {secret!r}"
    assert not (destination / "solutions").exists()
    assert "raise NotImplementedError" in (destination / "exercises" / "01_tiny.ipynb").read_text()


def test_release_strict_rejects_library_solution(tmp_path):
    root = built_course(tmp_path)
    (root / "netlite" / "helpers.py").write_text(f"def square(x):\n    {SQUARE_SOLUTION_LINE}  # the answer\n")
    destination = tmp_path / "release"
    with pytest.raises(course_release.ReleaseLeakError) as raised:
        course_release.release(root, destination, strict=True, **QUIET)
    message = str(raised.value)
    assert "netlite/helpers.py:2" in message
    assert "solutions/01_tiny.ipynb" in message
    assert not destination.exists()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".release")] == []


def test_release_warns_on_library_solution(tmp_path):
    root = built_course(tmp_path)
    (root / "netlite" / "helpers.py").write_text(f"def square(x):\n    {SQUARE_SOLUTION_LINE}\n")
    messages = []
    course_release.release(root, tmp_path / "release", log=messages.append)
    assert (tmp_path / "release" / "netlite" / "helpers.py").is_file()
    (warning,) = [message for message in messages if message.startswith("warning:")]
    assert "1 solution lines also appear in the library (netlite/helpers.py)" in warning


def test_release_rejects_hidden_test_in_library(tmp_path):
    root = built_course(tmp_path)
    (root / "netlite" / "selftest.py").write_text(f"{SQUARE_HIDDEN_LINE}\n")
    with pytest.raises(course_release.ReleaseLeakError, match=r"netlite/selftest\.py:1: hidden test line"):
        course_release.release(root, tmp_path / "release", **QUIET)


def test_release_rejects_solution_outside_library(tmp_path):
    root = built_course(tmp_path)
    (root / "README.md").write_text(f"# Course\n\nThe answer: `{CUBE_SOLUTION_LINE}`\n")
    with pytest.raises(course_release.ReleaseLeakError, match=r"README\.md:3: solution line"):
        course_release.release(root, tmp_path / "release", **QUIET)


def test_release_rejects_hidden_test_in_doc(tmp_path):
    root = built_course(tmp_path)
    (root / "docs" / "notes.md").write_text(f"Example:\n\n    {CUBE_HIDDEN_LINE}\n")
    with pytest.raises(course_release.ReleaseLeakError, match=r"docs/notes\.md:3"):
        course_release.release(root, tmp_path / "release", **QUIET)


def test_release_rejects_marker_in_notebook(tmp_path):
    root = built_course(tmp_path)
    walkthrough = root / "notebooks" / "01_walkthrough.ipynb"
    walkthrough.write_text(
        '{"cells": [{"cell_type": "code", "execution_count": null, "id": "a", "metadata": {}, "outputs": [],'
        ' "source": ["x = 1\\n", "### BEGIN SOLUTION\\n", "y = 2\\n", "### END SOLUTION"]}],'
        ' "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n'
    )
    with pytest.raises(course_release.ReleaseLeakError) as raised:
        course_release.release(root, tmp_path / "release", **QUIET)
    assert "notebooks/01_walkthrough.ipynb:2: marker '### BEGIN SOLUTION'" in str(raised.value)
    assert "notebooks/01_walkthrough.ipynb:4: marker '### END SOLUTION'" in str(raised.value)


def test_release_rejects_hidden_test_in_markdown_output(tmp_path):
    # What IPython.display.Markdown shows is stored as text/markdown, not as printed text.
    root = built_course(tmp_path)
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("show()")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": f"Try `{SQUARE_HIDDEN_LINE}`"})]
    notebook.cells = [cell]
    nbformat.write(notebook, str(root / "notebooks" / "01_walkthrough.ipynb"))

    expected = r"notebooks/01_walkthrough\.ipynb, cell 0 \(starting 'show\(\)'\), output 1 \(text/markdown\), line 1: hidden"
    with pytest.raises(course_release.ReleaseLeakError, match=expected):
        course_release.release(root, tmp_path / "release", **QUIET)


def _colored_source_line(number: str, code: str) -> str:
    """Return a source line as IPython's traceback shows it: a green line number, then coloured code."""
    return f"\x1b[32m{number:>7}\x1b[39m {code}"


# A traceback through the solution of square, as IPython 9 stores it: ANSI colour codes split the
# words, and line numbers come before the markers.
KEYWORD = "\x1b[38;5;28;01m{}\x1b[39;00m"
COMMENT = "\x1b[38;5;66;03m{}\x1b[39;00m"
SQUARE_FRAME = "\n".join([
    "\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[3]\x1b[39m\x1b[32m, line 5\x1b[39m, in \x1b[36msquare\x1b[39m\x1b[34m(x)\x1b[39m",
    _colored_source_line("1", f"{KEYWORD.format('def')} square(x):"),
    _colored_source_line("2", '    \x1b[33;03m"""Return x squared."""\x1b[39;00m'),
    _colored_source_line("3", "    " + COMMENT.format("### BEGIN SOLUTION")),
    _colored_source_line("4", "    " + COMMENT.format("# Hint: multiply x by itself")),
    _colored_source_line("----> 5", f"    {KEYWORD.format('return')} x * x"),
    _colored_source_line("6", "    " + COMMENT.format("### END SOLUTION")),
])
SQUARE_FAILING_LINE = _colored_source_line("----> 5", f"    {KEYWORD.format('return')} x * x")


def _error_output(*frames: str):
    traceback = ["\x1b[31m" + "-" * 75 + "\x1b[39m", *frames, "\x1b[31mTypeError\x1b[39m: unsupported operand"]
    return nbformat.v4.new_output("error", ename="TypeError", evalue="unsupported operand", traceback=traceback)


# Each case: an output of an ordinary cell of the solution notebook, which the build keeps, and
# the part of the output and the finding that the release names.
LEAKING_OUTPUTS = {
    "traceback with the fence": (_error_output(SQUARE_FRAME), "traceback", "marker '### BEGIN SOLUTION'"),
    "traceback line without a marker": (
        _error_output(SQUARE_FAILING_LINE), "traceback", f"solution line of solutions/01_tiny.ipynb: '{SQUARE_SOLUTION_LINE}'"
    ),
    "numbered source printed": (
        nbformat.v4.new_output("stream", name="stdout", text="  5        return x * x\n  6        ### END SOLUTION\n"),
        "text",
        "marker '### END SOLUTION'",
    ),
    "highlighted HTML": (
        nbformat.v4.new_output("display_data", data={"text/html": '<pre><span class="k">return</span> x <span>*</span> x</pre>'}),
        "text/html",
        f"solution line of solutions/01_tiny.ipynb: '{SQUARE_SOLUTION_LINE}'",
    ),
    "JSON output": (
        nbformat.v4.new_output("display_data", data={"application/json": {"code": [f"    {CUBE_SOLUTION_LINE}"]}}),
        "application/json",
        f"solution line of solutions/01_tiny.ipynb: '{CUBE_SOLUTION_LINE}'",
    ),
    "LaTeX with escapes": (
        nbformat.v4.new_output("display_data", data={"text/latex": "\\texttt{" + SQUARE_HIDDEN_LINE.replace("_", "\\_") + "}"}),
        "text/latex",
        "hidden test line of solutions/01_tiny.ipynb",
    ),
    "LaTeX with ties": (
        nbformat.v4.new_output("display_data", data={"text/latex": "$\\mathtt{" + SQUARE_HIDDEN_LINE.replace("_", "\\_").replace(" ", "~") + "}$"}),
        "text/latex",
        "line 1: hidden test line of solutions/01_tiny.ipynb",
    ),
    "Markdown with escapes": (
        nbformat.v4.new_output("display_data", data={"text/markdown": "Write " + CUBE_SOLUTION_LINE.replace("*", "\\*")}),
        "text/markdown",
        f"solution line of solutions/01_tiny.ipynb: '{CUBE_SOLUTION_LINE}'",
    ),
    "HTML table with a token per cell": (
        nbformat.v4.new_output(
            "display_data", data={"text/html": "<table><tr>" + "".join(f"<td>{token}</td>" for token in SQUARE_SOLUTION_LINE.split()) + "</tr></table>"}
        ),
        "text/html",
        f"solution line of solutions/01_tiny.ipynb: '{SQUARE_SOLUTION_LINE}'",
    ),
    "traceback with a continued line": (
        _error_output("\n".join([
            _colored_source_line("----> 5", f"    {KEYWORD.format('return')} x * \\"),
            _colored_source_line("6", "        x"),
        ])),
        "traceback",
        f"line 2: solution line of solutions/01_tiny.ipynb: '{SQUARE_SOLUTION_LINE}' (continued with a backslash up to line 3)",
    ),
    "printed source with a continued line": (
        nbformat.v4.new_output("stream", name="stdout", text="def square(x):\n    return x *\\\n        x\n"),
        "text",
        f"line 2: solution line of solutions/01_tiny.ipynb: '{SQUARE_SOLUTION_LINE}' (continued with a backslash up to line 3)",
    ),
    "coloured hidden test": (
        nbformat.v4.new_output("execute_result", data={"text/plain": "\x1b[1m" + SQUARE_HIDDEN_LINE.replace(", ", ",\x1b[0m ")}),
        "text/plain",
        "hidden test line of solutions/01_tiny.ipynb",
    ),
}


def _course_with_output(tmp_path, output, library_line: str | None = None) -> Path:
    """Return a built course whose solution notebook ends with an ordinary cell that kept ``output``."""
    notebook = tiny_solution_notebook()
    cell = nbformat.v4.new_code_cell("show_error()", metadata={"tags": ["raises-exception"]}, execution_count=9)
    cell.outputs = [output]
    notebook.cells.append(cell)
    root = make_course(tmp_path / "course", notebook=notebook)
    if library_line is not None:
        (root / "netlite" / "helpers.py").write_text(f"def square(x):\n    {library_line}\n")
    course_build.build(root, **QUIET)
    return root


@pytest.mark.parametrize("case", sorted(LEAKING_OUTPUTS))
def test_release_rejects_solution_in_output(tmp_path, case):
    output, part, finding = LEAKING_OUTPUTS[case]
    root = _course_with_output(tmp_path, output)
    destination = tmp_path / "release"

    with pytest.raises(course_release.ReleaseLeakError) as raised:
        course_release.release(root, destination, **QUIET)

    message = str(raised.value)
    assert f"exercises/01_tiny.ipynb, cell 9 (starting 'show_error()'), output 1 ({part}), line " in message
    assert finding in message
    assert "clear the output, or change the cell so that it does not print solution code" in message
    assert not destination.exists()


# Each case: an output that splits a solution line over several lines, and the part of the output.
SPLIT_OUTPUTS = {
    "HTML with a token per line": (
        {"text/html": "<pre>\n" + "\n".join(f'<span class="n">{token}</span>' for token in SQUARE_SOLUTION_LINE.split()) + "\n</pre>"},
        "text/html",
    ),
    "JSON list of tokens": ({"application/json": {"tokens": SQUARE_SOLUTION_LINE.split()}}, "application/json"),
    "JSON list of lines": ({"application/json": {"lines": ["def square(x):", "    return x", "        * x"]}}, "application/json"),
}


@pytest.mark.parametrize("case", sorted(SPLIT_OUTPUTS))
def test_release_rejects_solution_split_in_output(tmp_path, case):
    data, part = SPLIT_OUTPUTS[case]
    root = _course_with_output(tmp_path, nbformat.v4.new_output("display_data", data=data))

    with pytest.raises(course_release.ReleaseLeakError) as raised:
        course_release.release(root, tmp_path / "release", **QUIET)

    expected = (
        f"exercises/01_tiny.ipynb, cell 9 (starting 'show_error()'), output 1 ({part}): solution line of "
        f"solutions/01_tiny.ipynb: '{SQUARE_SOLUTION_LINE}' (split over several lines) in the cell's stored output"
    )
    assert expected in str(raised.value)


# Each case: a released page that shows a solution line, and where the release names it.
ESCAPED_OR_SPLIT_PAGES = {
    "notes.tex": ("Try this:\n\n\\texttt{" + SQUARE_HIDDEN_LINE.replace("_", "\\_") + "}\n", "docs/notes.tex:3: hidden test"),
    "ties.tex": ("\\texttt{" + CUBE_SOLUTION_LINE.replace(" ", "~") + "}\n", "docs/ties.tex:1: solution line"),
    "example.py": (
        "def cube(x):\n    return x \\\n        ** \\\n        3\n",
        f"docs/example.py:2: solution line of solutions/01_tiny.ipynb: '{CUBE_SOLUTION_LINE}' (continued with a backslash up to line 4)",
    ),
    "notes.html": (
        "<pre>\n" + "\n".join(f"<span>{token}</span>" for token in CUBE_SOLUTION_LINE.split()) + "\n</pre>\n",
        f"docs/notes.html:0: solution line of solutions/01_tiny.ipynb: '{CUBE_SOLUTION_LINE}' (split over several lines)",
    ),
}


@pytest.mark.parametrize("name", sorted(ESCAPED_OR_SPLIT_PAGES))
def test_release_rejects_escaped_or_split_line_in_page(tmp_path, name):
    text, expected = ESCAPED_OR_SPLIT_PAGES[name]
    root = built_course(tmp_path)
    (root / "docs" / name).write_text(text)

    with pytest.raises(course_release.ReleaseLeakError) as raised:
        course_release.release(root, tmp_path / "release", **QUIET)

    assert expected in str(raised.value)


def test_release_warns_on_library_line_in_output(tmp_path):
    # The output shows a solution line that the library contains too, so students can read it anyway.
    output = nbformat.v4.new_output("stream", name="stdout", text=f"    {SQUARE_SOLUTION_LINE}\n")
    root = _course_with_output(tmp_path, output, library_line=SQUARE_SOLUTION_LINE)
    messages = []

    course_release.release(root, tmp_path / "release", log=messages.append)

    (warning,) = [message for message in messages if message.startswith("warning:")]
    assert "1 solution lines also appear in the library (netlite/helpers.py)" in warning
    assert "the release also contains them in exercises/01_tiny.ipynb" in warning
    with pytest.raises(course_release.ReleaseLeakError, match=r"exercises/01_tiny\.ipynb, cell 9 .*output 1 \(text\)"):
        course_release.release(root, tmp_path / "strict-release", strict=True, **QUIET)


SCREENSHOT = b"\x89PNG\r\n\x1a\n a screenshot of the solved exercise"
# An SVG file as drawing programs write it: with an XML declaration, a doctype and single quotes.
SCREENSHOT_SVG = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
    "<svg xmlns='http://www.w3.org/2000/svg' width='200' height='20'>\n"
    "  <rect width='200' height='20' fill='#efe'></rect>\n"
    "  <text x='4' y='15'>PASS square: 2 of 2 points &#x2714;</text>\n"
    "</svg>\n"
)


def _markdown_with_attachment(name: str, content_type: str, content: bytes):
    cell = nbformat.v4.new_markdown_cell(f"![done](attachment:{name})")
    cell.attachments = {name: {content_type: base64.b64encode(content).decode()}}
    return cell


def _ipython_svg(text: str) -> str:
    """Return what ``display(SVG(...))`` stores for an SVG file's text: only the <svg> element, rewritten."""
    display = pytest.importorskip("IPython.display")
    return display.SVG(data=text).data


def _screenshot_uri() -> str:
    return f"data:image/png;base64,{base64.b64encode(SCREENSHOT).decode()}"


def _wrapped(uri: str, width: int) -> str:
    """Return a base64 data URI with its data wrapped into lines of ``width`` letters."""
    header, data = uri.split(",")
    return header + ",\n" + "\n".join(data[start : start + width] for start in range(0, len(data), width))


def _code_with_picture(content_type: str, stored):
    cell = nbformat.v4.new_code_cell("show_picture()", execution_count=9)
    cell.outputs = [nbformat.v4.new_output("display_data", data={content_type: stored, "text/plain": "<Figure>"})]
    return cell


# Each case: a cell with a picture, and where the release names it. The cell goes into the solution
# notebook, so the exercise has it, unless the case names a walk-through.
PICTURE_CELLS = {
    "attachment": (
        lambda: _markdown_with_attachment("done.png", "image/png", SCREENSHOT),
        "exercises/01_tiny.ipynb, cell 9 (starting '![done](attachment:done.png)'), attachment 'done.png': image/png",
    ),
    "image output": (
        lambda: _code_with_picture("image/png", base64.b64encode(SCREENSHOT).decode()),
        "exercises/01_tiny.ipynb, cell 9 (starting 'show_picture()'), output 1: image/png",
    ),
    "SVG output stored as text": (
        lambda: _code_with_picture("image/svg+xml", SCREENSHOT_SVG),
        "exercises/01_tiny.ipynb, cell 9 (starting 'show_picture()'), output 1: image/svg+xml",
    ),
    "SVG output shown with IPython's SVG": (
        lambda: _code_with_picture("image/svg+xml", _ipython_svg(SCREENSHOT_SVG)),
        "exercises/01_tiny.ipynb, cell 9 (starting 'show_picture()'), output 1: image/svg+xml",
    ),
    "data URI in an HTML output": (
        lambda: _code_with_picture("text/html", f'<p>Done:</p>\n<img alt="done" src="{_screenshot_uri()}">'),
        "exercises/01_tiny.ipynb, cell 9 (starting 'show_picture()'), output 1 (text/html), line 2: image/png data URI",
    ),
    "data URI wrapped over lines": (
        lambda: _code_with_picture("text/html", f"<img src='{_wrapped(_screenshot_uri(), 16)}'>"),
        "exercises/01_tiny.ipynb, cell 9 (starting 'show_picture()'), output 1 (text/html), line 1: image/png data URI",
    ),
    "data URI in Markdown": (
        lambda: nbformat.v4.new_markdown_cell(f"Your notebook should look like this:\n\n![done]({_screenshot_uri()} \"done\")"),
        "exercises/01_tiny.ipynb, cell 9 (starting 'Your notebook should look like this:'), source, line 3: "
        "image/png data URI",
    ),
    "percent-encoded SVG data URI": (
        lambda: _code_with_picture("text/html", f'<img src="data:image/svg+xml;charset=utf-8,{urllib.parse.quote(SCREENSHOT_SVG)}">'),
        "exercises/01_tiny.ipynb, cell 9 (starting 'show_picture()'), output 1 (text/html), line 1: image/svg+xml data URI",
    ),
    "SVG data URI without encoding": (
        lambda: _code_with_picture("text/html", f"<img src='data:image/svg+xml;utf8,{_ipython_svg(SCREENSHOT_SVG)}'>"),
        "exercises/01_tiny.ipynb, cell 9 (starting 'show_picture()'), output 1 (text/html), line 1: image/svg+xml data URI",
    ),
    "data URI in cell metadata": (
        lambda: nbformat.v4.new_markdown_cell("Done.", metadata={"thumbnail": _screenshot_uri()}),
        "exercises/01_tiny.ipynb, cell 9 (starting 'Done.'), metadata, line 2: image/png data URI",
    ),
    "attachment in a walk-through": (
        lambda: _markdown_with_attachment("done.png", "image/png", SCREENSHOT),
        "notebooks/01_walkthrough.ipynb, cell 0 (starting '![done](attachment:done.png)'), attachment 'done.png'",
    ),
}


def _course_with_picture_cell(tmp_path, cell, walkthrough: bool) -> Path:
    """Return a built course with an instructor-only page of screenshots and ``cell`` in a released notebook."""
    notebook = tiny_solution_notebook()
    if not walkthrough:
        notebook.cells.append(cell)
    root = make_course(tmp_path / "course", notebook=notebook)
    if walkthrough:
        write_notebook(root / "notebooks" / "01_walkthrough.ipynb", nbformat.v4.new_notebook(cells=[cell]))
    (root / "docs" / "images" / "student-path").mkdir(parents=True)
    (root / "docs" / "images" / "student-path" / "03-solution-typed.png").write_bytes(SCREENSHOT)
    (root / "docs" / "images" / "student-path" / "03-solution-typed.svg").write_text(SCREENSHOT_SVG)
    (root / "docs" / "student-path.md").write_text(
        "<!-- instructor-only -->\n![solved](images/student-path/03-solution-typed.png)\n"
        "![solved](images/student-path/03-solution-typed.svg)\n"
    )
    course_build.build(root, **QUIET)
    return root


@pytest.mark.parametrize("case", sorted(PICTURE_CELLS))
def test_release_rejects_left_out_picture_in_notebook(tmp_path, case):
    make_cell, place = PICTURE_CELLS[case]
    root = _course_with_picture_cell(tmp_path, make_cell(), walkthrough="walk-through" in case)
    destination = tmp_path / "release"

    with pytest.raises(course_release.ReleaseLeakError) as raised:
        course_release.release(root, destination, **QUIET)

    message = str(raised.value)
    assert place in message
    suffix = "svg" if "SVG" in case else "png"
    assert f"with the content of docs/images/student-path/03-solution-typed.{suffix}, which the release leaves out" in message
    assert "(only the instructor-only docs/student-path.md shows it); remove it from the notebook\n" in message
    assert not destination.exists()


# Each case: a released file with the screenshot in a data URI, and where the release names it.
DATA_URI_FILES = {
    "page": ("docs/guide.md", "# Guide\n\n![done]({uri})\n", "docs/guide.md:3: image/png data URI"),
    "HTML page": ("docs/guide.html", "<p>\n<img src='{uri}'>\n</p>\n", "docs/guide.html:2: image/png data URI"),
    "JSON with escaped slashes": (
        "notebooks/plot.vl.json",
        '{{"image": {{"url": "{escaped}"}}}}\n',
        "notebooks/plot.vl.json, a JSON string: image/png data URI",
    ),
}


@pytest.mark.parametrize("case", sorted(DATA_URI_FILES))
def test_release_rejects_left_out_picture_in_file(tmp_path, case):
    relative, template, place = DATA_URI_FILES[case]
    root = _course_with_picture_cell(tmp_path, nbformat.v4.new_markdown_cell("Notes"), walkthrough=False)
    uri = _screenshot_uri()
    (root / relative).write_text(template.format(uri=uri, escaped=uri.replace("/", "\\/")))

    with pytest.raises(course_release.ReleaseLeakError) as raised:
        course_release.release(root, tmp_path / "release", **QUIET)

    message = str(raised.value)
    assert f"{place} with the content of docs/images/student-path/03-solution-typed.png" in message


def test_picture_digests_match_svg_element(tmp_path):
    held_back = release_scan.picture_digests(SCREENSHOT_SVG.encode())
    element = SCREENSHOT_SVG[SCREENSHOT_SVG.index("<svg") :]
    # The element alone, on one line, after a byte-order mark, and as IPython's SVG stores it.
    for stored in (element, " ".join(element.split()), "\ufeff" + element, _ipython_svg(SCREENSHOT_SVG)):
        assert release_scan.picture_digests(stored.encode()) & held_back, stored
    # Not well-formed XML (an HTML entity) is still compared by its element text.
    broken = SCREENSHOT_SVG.replace("&#x2714;", "&nbsp;")
    assert release_scan.picture_digests(broken[broken.index("<svg") :].encode()) & release_scan.picture_digests(broken.encode())
    other = SCREENSHOT_SVG.replace("PASS square", "FAIL square")
    assert not release_scan.picture_digests(other.encode()) & held_back


def test_release_rejects_unused_picture_in_notebook(tmp_path):
    # No page shows the picture, so it may be meant for students, and the message explains how to ship it.
    root = _course_with_picture_cell(tmp_path, _markdown_with_attachment("logo.png", "image/png", b"\x89PNG a logo"), False)
    (root / "docs" / "images" / "logo.png").write_bytes(b"\x89PNG a logo")

    with pytest.raises(course_release.ReleaseLeakError) as raised:
        course_release.release(root, tmp_path / "release", **QUIET)

    expected = (
        "attachment 'logo.png': image/png with the content of docs/images/logo.png, which the release leaves out "
        "(no released page or notebook uses it); remove it from the notebook, or link docs/images/logo.png from a "
        "released page if students may see it"
    )
    assert expected in str(raised.value)

def test_release_lists_unread_pictures(tmp_path):
    plot = b"\x89PNG\r\n\x1a\n a loss curve"
    attachment = _markdown_with_attachment("plot.png", "image/png", plot)
    root = _course_with_picture_cell(tmp_path, attachment, walkthrough=False)
    plot_uri = f"data:image/png;base64,{base64.b64encode(plot).decode()}"
    write_notebook(
        root / "notebooks" / "01_walkthrough.ipynb",
        nbformat.v4.new_notebook(cells=[
            _code_with_picture("image/jpeg", base64.b64encode(b"\xff\xd8 a photo").decode()),
            nbformat.v4.new_markdown_cell(f"The loss:\n![loss]({plot_uri})"),
        ]),
    )
    # Data URIs of other types (a font, a text) are no pictures.
    (root / "docs" / "guide.html").write_text(
        f"<style>@font-face {{src: url(data:font/woff2;base64,d09GMgABAAA=)}}</style>\n<a href='data:,hello'>\n"
        f"<img src='{plot_uri}'>\n<img src='data:image/png;base64,QUJDR'>\n"
    )
    messages = []

    course_release.release(root, tmp_path / "release", log=messages.append)

    start = messages.index(
        "the scan cannot read text in these 5 pictures of released notebooks and files; "
        "look at them for solution code before you hand out the release:"
    )
    assert messages[start + 1 : start + 6] == [
        "  docs/guide.html:3: image/png data URI",
        "  docs/guide.html:4: undecodable image/png data URI",
        "  exercises/01_tiny.ipynb, cell 9 (starting '![done](attachment:plot.png)'), attachment 'plot.png': image/png",
        "  notebooks/01_walkthrough.ipynb, cell 0 (starting 'show_picture()'), output 1: image/jpeg",
        "  notebooks/01_walkthrough.ipynb, cell 1 (starting 'The loss:'), source, line 2: image/png data URI",
    ]
    assert messages[start + 6].startswith("wrote the release")


def test_release_rejects_solution_in_archive(tmp_path):
    root = built_course(tmp_path)
    solution = next((root / "solutions").glob("*.ipynb"))
    with zipfile.ZipFile(root / "docs" / "week3.zip", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(solution, f"solutions/{solution.name}")

    with pytest.raises(course_release.ReleaseLeakError) as raised:
        course_release.release(root, tmp_path / "release", **QUIET)

    assert f"docs/week3.zip:solutions/{solution.name}:" in str(raised.value)
    assert not (tmp_path / "release").exists()


def _notebook_with_secret_text(secret: str) -> bytes:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell(f"Try `{secret}`")]
    return nbformat.writes(notebook).encode()


def _tar_gz(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _cut_in_half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _zip(name: str, data: bytes, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


# Each case: the file put into docs/ and its content, built around one hidden-test line.
WRAPPED_SECRETS = {
    "notebook.ipynb.gz": lambda secret: gzip.compress(_notebook_with_secret_text(secret)),
    "notebook-in-zip.zip": lambda secret: _zip("week3/notebook.json", _notebook_with_secret_text(secret)),
    "notes.txt.bz2": lambda secret: bz2.compress(f"{secret}\n".encode()),
    "notes.txt.xz": lambda secret: lzma.compress(f"{secret}\n".encode()),
    "notes-utf16.txt": lambda secret: f"{secret}\n".encode("utf-16"),
    "nested.zip": lambda secret: _zip("inner.tar.gz", _tar_gz("notes.txt", f"{secret}\n".encode())),
    "top-level-key.ipynb": lambda secret: json.dumps({"cells": [], "extra": {"note": secret}}).encode(),
    "dict-key.json": lambda secret: json.dumps({secret: 1}).encode(),
    "second-stream.txt.gz": lambda secret: gzip.compress(b"harmless\n") + gzip.compress(f"{secret}\n".encode()),
    "with-bom.json": lambda secret: b"\xef\xbb\xbf" + json.dumps({"note": secret}).encode(),
    "one-string.json": lambda secret: json.dumps(secret).encode(),
    # Highlighted code: every character in its own tag, quotes as entities.
    "export.html": lambda secret: "".join(f"<span>{char}</span>" for char in secret.replace('"', "&quot;")).encode(),
    "split-runs.xml": lambda secret: f"<w:r><w:t>{secret[:10]}</w:t></w:r><w:r><w:t>{secret[10:]}</w:t></w:r>".encode(),
    "notes-utf32.txt": lambda secret: f"{secret}\n".encode("utf-32"),
    "notes.txt.lzma": lambda secret: lzma.compress(f"{secret}\n".encode(), format=lzma.FORMAT_ALONE),
    # A terminal log: ANSI colour codes around every word.
    "coloured.log": lambda secret: "".join(f"\x1b[3{i % 7}m{word}\x1b[0m " for i, word in enumerate(secret.split())).encode(),
}


@pytest.mark.parametrize("name", sorted(WRAPPED_SECRETS))
def test_release_rejects_wrapped_secret(tmp_path, name):
    root = built_course(tmp_path)
    (root / "docs" / name).write_bytes(WRAPPED_SECRETS[name](SQUARE_HIDDEN_LINE))

    with pytest.raises(course_release.ReleaseLeakError, match=rf"docs/{re.escape(name)}\S*: hidden test line"):
        course_release.release(root, tmp_path / "release", **QUIET)


# Each case: a file that cannot be read in full, so the scan cannot vouch for it.
UNSCANNABLE = {
    "truncated.txt.gz": lambda: _cut_in_half(gzip.compress(b"some notes\n" * 2000)),
    "truncated.tar.gz": lambda: _cut_in_half(_tar_gz("notes.txt", b"some notes\n" * 2000)),
    "damaged.zip": lambda: _zip("notes.txt", b"some notes\n" * 100, zipfile.ZIP_STORED).replace(b"some", b"SOME", 1),
    "bomb.zip": lambda: _zip("zeros.bin", bytes(release_scan.MAX_UNPACKED_BYTES + 1)),
    "many-members.zip": lambda: _zip_many(5, release_scan.MAX_UNPACKED_BYTES // 4),
    "notes.txt.zst": lambda: b"\x28\xb5\x2f\xfd" + bytes(32),
    "deep.json": lambda: b"[" * 100_000 + b"]" * 100_000,
}


def _zip_many(count: int, size: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for number in range(count):
            archive.writestr(f"zeros{number}.bin", bytes(size))
    return buffer.getvalue()


@pytest.mark.parametrize("name", sorted(UNSCANNABLE))
def test_release_rejects_unscannable_file(tmp_path, name):
    root = built_course(tmp_path)
    (root / "docs" / name).write_bytes(UNSCANNABLE[name]())

    with pytest.raises(course_release.ReleaseLeakError, match=rf"docs/{re.escape(name)}:0: cannot be scanned"):
        course_release.release(root, tmp_path / "release", **QUIET)


def test_release_accepts_harmless_files(tmp_path):
    root = built_course(tmp_path)
    (root / "docs" / "data.zip").write_bytes(_zip("table.csv", b"x,y\n1,2\n"))
    (root / "docs" / "bzh.txt").write_text("BZh is how a bzip2 file starts, and this is text\n")
    (root / "docs" / "empty.txt").write_bytes(b"")
    # Python's "~" operator is no LaTeX tie: this differs from the solution line "return x * x".
    (root / "docs" / "invert.py").write_text("def invert(x):\n    return ~x * x\n")

    course_release.release(root, tmp_path / "release", **QUIET)

    for name in ("data.zip", "bzh.txt", "empty.txt", "invert.py"):
        assert (tmp_path / "release" / "docs" / name).is_file()


# The pytest settings of pyproject.toml written another way: an array over several lines, and an
# option and its value as two words.
OTHER_PYTEST_SETTINGS = """[project]
name = "netlite"

[tool.pytest.ini_options]
testpaths = [
    "tests",
    "notebooks",
]
addopts = "-ra --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval --nbval-current-env"
"""


def _course_with_project_pyproject(tmp_path, pyproject: str | None = None) -> Path:
    """Return a built course with this project's pyproject.toml, its nbval settings file and a walk-through."""
    root = make_course(tmp_path / "course")
    project = Path(__file__).resolve().parents[1]
    (root / "pyproject.toml").write_text(pyproject or (project / "pyproject.toml").read_text())
    (root / "tests").mkdir()
    (root / "tests" / "nbval_sanitize.cfg").write_text((project / "tests" / "nbval_sanitize.cfg").read_text())
    walkthrough = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("print(1 + 1)", execution_count=1, outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="2\n")
        ])],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    write_notebook(root / "notebooks" / "01_walkthrough.ipynb", walkthrough)
    course_build.build(root, **QUIET)
    return root


@pytest.mark.parametrize("pyproject", [None, OTHER_PYTEST_SETTINGS], ids=["project", "other"])
def test_released_pyproject_names_released_files(tmp_path, pyproject):
    tomllib = pytest.importorskip("tomllib")  # in the standard library from Python 3.11
    root = _course_with_project_pyproject(tmp_path, pyproject)
    destination = tmp_path / "release"

    course_release.release(root, destination, **QUIET)

    settings = tomllib.loads((destination / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert settings["testpaths"] == ["notebooks"]
    options = settings["addopts"].split()
    assert "--nbval" in options
    assert not [option for option in options if "tests/" in option]
    assert "solutions/" not in (destination / "pyproject.toml").read_text()
    assert tomllib.loads((destination / "pyproject.toml").read_text())["project"]["name"] == "netlite"


def test_pytest_runs_in_release(tmp_path):
    root = _course_with_project_pyproject(tmp_path)
    destination = tmp_path / "release"
    course_release.release(root, destination, **QUIET)

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=destination, capture_output=True, text=True, timeout=300,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout


def test_release_rejects_stale_exercises(tmp_path):
    root = built_course(tmp_path)
    (root / "exercises" / "01_tiny.ipynb").write_text(
        (root / "solutions" / "01_tiny.ipynb").read_text()
    )
    with pytest.raises(course_release.ReleaseError, match="out of date"):
        course_release.release(root, tmp_path / "release", **QUIET)
    assert not (tmp_path / "release").exists()


def test_release_rejects_nonempty_destination(tmp_path):
    root = built_course(tmp_path)
    destination = tmp_path / "release"
    destination.mkdir()
    (destination / "old.txt").write_text("keep me")
    with pytest.raises(course_release.ReleaseError, match="not empty"):
        course_release.release(root, destination, **QUIET)
    assert (destination / "old.txt").read_text() == "keep me"


def test_release_into_empty_folder(tmp_path):
    root = built_course(tmp_path)
    destination = tmp_path / "release"
    destination.mkdir()
    course_release.release(root, destination, **QUIET)
    assert (destination / "exercises" / "01_tiny.ipynb").is_file()


def test_secret_lines_selection(tmp_path):
    root = make_course(tmp_path)
    secrets = release_scan.secret_lines(course_build.load_solutions(root))
    assert set(secrets) == {SQUARE_SOLUTION_LINE, CUBE_SOLUTION_LINE, SQUARE_HIDDEN_LINE, CUBE_HIDDEN_LINE}
    assert {secret.notebook for secret in secrets.values()} == {"01_tiny.ipynb"}
    assert secrets[SQUARE_HIDDEN_LINE].kind == "hidden test"
    assert secrets[SQUARE_SOLUTION_LINE].kind == "solution"


def test_short_and_visible_lines_not_secret(tmp_path):
    from course_helpers import cell_by_grade_id, tiny_solution_notebook

    notebook = tiny_solution_notebook()
    cell_by_grade_id(notebook, "square")["source"] = (
        "def square(x):\n    ### BEGIN SOLUTION\n    y = x\n    print(\"squaring now\")\n    return y * y\n"
        "    value = y * y + 1\n"
        "    ### END SOLUTION\nprint(\"squaring now\")"
    )
    notebook.cells[2]["outputs"][0]["text"] = "value = y * y + 1\n"
    root = make_course(tmp_path, notebook=notebook)
    secrets = release_scan.secret_lines(course_build.load_solutions(root))
    assert "y = x" not in secrets
    assert 'print("squaring now")' not in secrets
    assert "return y * y" in secrets
    assert "value = y * y + 1" in secrets  # an output that shows a fenced line leaks it, so it stays secret
    assert not any(secret.startswith("# Hint") for secret in secrets)


def test_release_cli_exit_status(tmp_path, capsys):
    root = built_course(tmp_path)
    (root / "docs" / "answers.md").write_text(f"    {CUBE_SOLUTION_LINE}\n")
    assert main(["--root", str(root), "release", str(tmp_path / "release")]) == 1
    assert "release failed" in capsys.readouterr().err
    (root / "docs" / "answers.md").unlink()
    assert main(["--root", str(root), "release", str(tmp_path / "release")]) == 0
    assert (tmp_path / "release" / "exercises" / "01_tiny.ipynb").is_file()


def test_release_uses_student_readme(tmp_path):
    root = built_course(tmp_path)
    (root / "README.student.md").write_text("# For students\n\nStart with exercises/01_tiny.ipynb.\n")
    destination = tmp_path / "release"

    course_release.release(root, destination, **QUIET)

    assert (destination / "README.md").read_text() == "# For students\n\nStart with exercises/01_tiny.ipynb.\n"
    assert not (destination / "README.student.md").exists()


def test_project_student_readme_names_real_files():
    # The project's own student README must point at files a release contains.
    project = Path(__file__).resolve().parents[1]
    text = (project / "README.student.md").read_text()

    for relative in ("notebooks/01_xor.ipynb", "netlite/layers/activations.py"):
        assert relative in text
        assert (project / relative).is_file(), relative
    assert "solutions" not in text
    assert "python -m netlite.course lab" in text


def test_project_release_names_no_left_out_page(tmp_path):
    # A released page that names an instructor-only page points students at a file they do not have.
    project = Path(__file__).resolve().parents[1]
    destination = tmp_path / "release"

    skipped = course_release.release(project, destination, **QUIET)

    left_out_pages = [name for name in skipped if name.endswith(".md")]
    assert "docs/course-format.md" in left_out_pages
    for page in sorted(destination.rglob("*.md")):
        text = page.read_text()
        for name in left_out_pages:
            assert Path(name).name not in text, f"{page.relative_to(destination)} names {name}"


def _picture_uri(index):
    return "data:image/png;base64," + base64.b64encode(b"\x89PNG picture %d" % index).decode()


def test_data_uri_line_numbers_counted_from_text_start():
    text = f"a\n{_picture_uri(1)}\nb\nc\n<img src='{_picture_uri(2)}'>\n"
    findings = release_scan._data_uri_findings(text, "page.md", "", {})
    assert [(leak.line_number, leak.kind) for leak in findings] == [(2, "unread picture"), (5, "unread picture")]


def test_many_unread_data_uris_listed_as_one():
    # A grid of digits embeds a picture per digit; the release log gets one line for them, not thousands.
    text = "title\n" + "\n".join(f"<img src='{_picture_uri(index)}'>" for index in range(50))
    findings = release_scan._data_uri_findings(text, "grid.html", "output 1", {})
    assert [(leak.line_number, leak.description) for leak in findings] == [(2, "50 picture data URIs")]


@pytest.fixture
def umask_022():
    old_umask = os.umask(0o022)
    yield
    os.umask(old_umask)


@pytest.mark.parametrize("umask", [0o022, 0o027], ids=["umask 022", "umask 027"])
def test_release_modes_follow_umask(tmp_path, umask):
    # A course checked out readable by its owner only must still give a release that others can read.
    root = built_course(tmp_path)
    (root / "netlite" / "layers.py").chmod(0o600)
    (root / "netlite" / "run.sh").write_text("#!/bin/sh\necho run\n")
    (root / "netlite" / "run.sh").chmod(0o700)
    destination = tmp_path / "release"
    old_umask = os.umask(umask)
    try:
        course_release.release(root, destination, **QUIET)
    finally:
        os.umask(old_umask)

    assert stat.S_IMODE(destination.stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((destination / "netlite").stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((destination / "netlite" / "layers.py").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((destination / "netlite" / "run.sh").stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((destination / "README.md").stat().st_mode) == 0o666 & ~umask
    released_time = (destination / "netlite" / "layers.py").stat().st_mtime_ns
    assert released_time == (root / "netlite" / "layers.py").stat().st_mtime_ns


def test_release_keeps_setgid_of_parent(tmp_path, umask_022):
    root = built_course(tmp_path)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o2775)

    course_release.release(root, shared / "release", **QUIET)

    assert stat.S_IMODE((shared / "release").stat().st_mode) == 0o2755


def test_release_keeps_mode_of_empty_destination(tmp_path, umask_022):
    root = built_course(tmp_path)
    destination = tmp_path / "release"
    destination.mkdir()
    destination.chmod(0o2775)
    inode = destination.stat().st_ino

    course_release.release(root, destination, **QUIET)

    assert stat.S_IMODE(destination.stat().st_mode) == 0o2775
    assert destination.stat().st_ino == inode
    assert (destination / "exercises" / "01_tiny.ipynb").is_file()
    assert not list(tmp_path.glob(".release.*.part"))
