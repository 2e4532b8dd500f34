"""Tests of ``python -m netlite.course build`` and ``check``: solutions/ -> exercises/."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from course_helpers import (
    CUBE_HIDDEN_LINE,
    CUBE_SOLUTION_LINE,
    SQUARE_HIDDEN_LINE,
    SQUARE_SOLUTION_LINE,
    cell_by_grade_id,
    make_course,
    nbgrader,
    tiny_solution_notebook,
    write_notebook,
)
from nbformat.v4 import new_code_cell

from netlite.course import build as course_build
from netlite.course.__main__ import main

REPOSITORY = Path(__file__).resolve().parents[1]


def built_notebook(tmp_path, notebook=None):
    root = make_course(tmp_path, notebook=notebook)
    course_build.build(root, log=lambda message: None)
    return nbformat.read(str(root / "exercises" / "01_tiny.ipynb"), as_version=4)


def run_cell_source(source, namespace):
    exec(compile(source, "<cell>", "exec"), namespace)


# -- what the build writes ------------------------------------------------------


def test_build_replaces_solution_with_hint(tmp_path):
    exercise = built_notebook(tmp_path)
    source = cell_by_grade_id(exercise, "square")["source"]
    assert SQUARE_SOLUTION_LINE not in source
    assert "### BEGIN SOLUTION" not in source
    assert "### END SOLUTION" not in source
    assert "Hint" not in source.replace('"square: multiply x by itself"', "")
    assert source.splitlines() == [
        "def square(x):",
        '    """Return x squared."""',
        '    raise NotImplementedError("square: multiply x by itself")',
    ]


def test_build_keeps_deep_indentation_and_default_message(tmp_path):
    exercise = built_notebook(tmp_path)
    lines = cell_by_grade_id(exercise, "cube")["source"].splitlines()
    assert CUBE_SOLUTION_LINE not in "\n".join(lines)
    assert lines[:2] == ["class Cuber:", "    def cube(self, x):"]
    assert lines[2] == f"        raise NotImplementedError(\"cube: {course_build.DEFAULT_HINT}\")"
    assert len(lines) == 3


def test_unsolved_function_raises_named_error(tmp_path):
    exercise = built_notebook(tmp_path)
    namespace = {}
    run_cell_source(cell_by_grade_id(exercise, "square")["source"], namespace)
    run_cell_source(cell_by_grade_id(exercise, "cube")["source"], namespace)
    with pytest.raises(NotImplementedError, match=r"^square: multiply x by itself$"):
        namespace["square"](3.0)
    with pytest.raises(NotImplementedError, match=r"^cube: "):
        namespace["Cuber"]().cube(2.0)


def test_build_removes_hidden_tests_only(tmp_path):
    exercise = built_notebook(tmp_path)
    square_check = cell_by_grade_id(exercise, "square_check")["source"]
    cube_check = cell_by_grade_id(exercise, "cube_check")["source"]
    assert SQUARE_HIDDEN_LINE not in square_check
    assert CUBE_HIDDEN_LINE not in cube_check
    assert "HIDDEN TESTS" not in square_check + cube_check
    assert square_check.splitlines() == ['check_close("square(3.0)", square(3.0), 9.0)', 'report_pass("square", 2)']
    assert cube_check.splitlines() == ['check_close("Cuber().cube(2.0)", Cuber().cube(2.0), 8.0, points=3)']


def test_build_clears_graded_outputs_keeps_others(tmp_path):
    exercise = built_notebook(tmp_path)
    cells = exercise.cells
    for grade_id in ("square", "square_check", "cube", "cube_check"):
        cell = cell_by_grade_id(exercise, grade_id)
        assert cell["outputs"] == [], grade_id
        assert cell["execution_count"] is None, grade_id
    uses = cells[7]
    assert "uses-exercise" in uses["metadata"]["tags"]
    assert uses["outputs"] == []
    assert uses["execution_count"] is None
    ready, ordinary = cells[2], cells[8]
    assert ready["outputs"][0]["text"] == "ready\n"
    assert ready["execution_count"] == 1
    assert ordinary["outputs"][0]["text"] == "2\n"
    assert ordinary["execution_count"] == 5


def test_build_tags_cells_expected_to_fail(tmp_path):
    exercise = built_notebook(tmp_path)
    tagged = [index for index, cell in enumerate(exercise.cells) if "raises-exception" in cell["metadata"].get("tags", [])]
    assert tagged == [4, 6, 7]


def test_build_keeps_metadata_for_grading(tmp_path):
    exercise = built_notebook(tmp_path)
    check = cell_by_grade_id(exercise, "square_check")["metadata"]["nbgrader"]
    assert check["points"] == 2
    assert check["grade"] is True
    assert check["locked"] is True
    assert exercise.metadata.kernelspec.name == "python3"
    solution = nbformat.read(str(tmp_path / "solutions" / "01_tiny.ipynb"), as_version=4)
    assert [cell.get("id") for cell in exercise.cells] == [cell.get("id") for cell in solution.cells]


def test_hint_with_quotes_stays_valid_python(tmp_path):
    notebook = tiny_solution_notebook()
    cell = cell_by_grade_id(notebook, "square")
    cell["source"] = cell["source"].replace("# Hint: multiply x by itself", '# Hint: use "x * x" or x**2 \\ no loop')
    exercise = built_notebook(tmp_path, notebook)
    namespace = {}
    run_cell_source(cell_by_grade_id(exercise, "square")["source"], namespace)
    with pytest.raises(NotImplementedError) as raised:
        namespace["square"](1.0)
    assert str(raised.value) == 'square: use "x * x" or x**2 \\ no loop'


def test_two_fences_in_one_cell(tmp_path):
    notebook = tiny_solution_notebook()
    cell_by_grade_id(notebook, "cube")["source"] = (
        "class Cuber:\n"
        "    def cube(self, x):\n"
        "        ### BEGIN SOLUTION\n"
        "        return x ** 3\n"
        "        ### END SOLUTION\n"
        "\n"
        "    def square(self, x):\n"
        "        ### BEGIN SOLUTION\n"
        "        # Hint: reuse cube\n"
        "        return self.cube(x) / x\n"
        "        ### END SOLUTION\n"
    )
    exercise = built_notebook(tmp_path, notebook)
    lines = cell_by_grade_id(exercise, "cube")["source"].splitlines()
    assert lines == [
        "class Cuber:",
        "    def cube(self, x):",
        f'        raise NotImplementedError("cube: {course_build.DEFAULT_HINT}")',
        "",
        "    def square(self, x):",
        '        raise NotImplementedError("cube: reuse cube")',
    ]


# -- malformed solution notebooks -------------------------------------------------


def malformed(edit):
    notebook = tiny_solution_notebook()
    edit(notebook)
    return notebook


def replaced_in(grade_id, old, new):
    """Return an edit of a notebook that replaces ``old`` by ``new`` in the cell with ``grade_id``."""

    def edit(notebook):
        cell = cell_by_grade_id(notebook, grade_id)
        cell.update(source=cell["source"].replace(old, new))

    return edit


MALFORMED = {
    "unclosed solution": (
        lambda nb: cell_by_grade_id(nb, "square").update(source="def square(x):\n    ### BEGIN SOLUTION\n    return x * x"),
        "is never closed",
    ),
    "end without begin": (
        lambda nb: cell_by_grade_id(nb, "square").update(source="def square(x):\n    return x * x\n    ### END SOLUTION"),
        "without '### BEGIN SOLUTION'",
    ),
    "solution cell without fence": (
        lambda nb: cell_by_grade_id(nb, "square").update(source="def square(x):\n    return x * x"),
        "must contain",
    ),
    "fence in ordinary cell": (
        lambda nb: nb.cells[8].update(source="### BEGIN SOLUTION\nx = 1\n### END SOLUTION"),
        "not a solution cell",
    ),
    "hidden tests in solution cell": (
        lambda nb: nb.cells[3].update(source=nb.cells[3]["source"] + "\n### BEGIN HIDDEN TESTS\nx = 1\n### END HIDDEN TESTS"),
        "not a check cell",
    ),
    "duplicate grade id": (
        lambda nb: cell_by_grade_id(nb, "cube")["metadata"]["nbgrader"].update(grade_id="square"),
        "already used",
    ),
    "check without points": (
        lambda nb: cell_by_grade_id(nb, "cube_check")["metadata"]["nbgrader"].pop("points"),
        "positive 'points'",
    ),
    "wrong kernel": (lambda nb: nb.metadata.kernelspec.update(name="python3.11"), "kernelspec name"),
    "solution and check": (
        lambda nb: cell_by_grade_id(nb, "square")["metadata"]["nbgrader"].update(grade=True, points=1),
        "not both",
    ),
}


# Near misses of a marker would not be removed, so the hidden tests or the solution would reach students.
NEAR_MISSES = {  # case: (cell, marker, near miss written in its place, line of the marker in the cell)
    "hidden marker with one hash": ("cube_check", "### BEGIN HIDDEN TESTS", "# BEGIN HIDDEN TESTS", 1),
    "hidden marker singular": ("cube_check", "### END HIDDEN TESTS", "### END HIDDEN TEST", 3),
    "hidden marker with a note": ("cube_check", "### BEGIN HIDDEN TESTS", "### BEGIN HIDDEN TESTS  # graded only", 1),
    "hidden marker with more words": ("cube_check", "### BEGIN HIDDEN TESTS", "### BEGIN HIDDEN TEST CASES", 1),
    "solution marker in lower case": ("square", "### BEGIN SOLUTION", "### Begin solution", 3),
    "hidden marker misspelt": ("cube_check", "### END HIDDEN TESTS", "### END HIDEN TESTS", 3),
    "hidden marker cut short": ("cube_check", "### BEGIN HIDDEN TESTS", "### BEGIN HIDDEN", 1),
    "hidden marker with other words": ("cube_check", "### END HIDDEN TESTS", "### HIDDEN TESTS STOP", 3),
    "solution marker run together": ("square", "### END SOLUTION", "### ENDSOLUTION", 6),
    "hidden marker reworded": ("cube_check", "### BEGIN HIDDEN TESTS", "### Hidden tests start here", 1),
    "hidden marker with other nouns": ("cube_check", "### END HIDDEN TESTS", "### END SECRET CHECKS", 3),
    "solution marker with swapped letters": ("square", "### END SOLUTION", "### EDN SOLUTOIN", 6),
    "solution marker with a wrong letter": ("square", "### BEGIN SOLUTION", "### BESIN SOLUTION", 3),
    "solution marker with wrong letters": ("square", "### END SOLUTION", "### EMD SOLUTIPN", 6),
    "hidden marker without hidden": ("cube_check", "### BEGIN HIDDEN TESTS", "### BEGIN TESTS", 1),
    "hidden marker with other words in capitals": ("cube_check", "### END HIDDEN TESTS", "### END PRIVATE CHECKS", 3),
    "hidden marker in capitals, reworded": ("cube_check", "### BEGIN HIDDEN TESTS", "### HIDDEN TESTS BELOW", 1),
    "hidden marker beginning": ("cube_check", "### BEGIN HIDDEN TESTS", "### Beginning of hidden tests", 1),
    "hidden marker reworded after ###": ("cube_check", "### BEGIN HIDDEN TESTS", "### Hidden tests below", 1),
    "hidden marker in lower case without hidden": ("cube_check", "### END HIDDEN TESTS", "### end tests", 3),
    "hidden marker closed with another word": ("cube_check", "### END HIDDEN TESTS", "### HIDDEN TESTS DONE", 3),
    "solution marker with another word": ("square", "### BEGIN SOLUTION", "### Begin your solution", 3),
    "hidden marker reworded with one hash": ("cube_check", "### BEGIN HIDDEN TESTS", "# Hidden tests below", 1),
    "hidden marker closed, reworded with one hash": ("cube_check", "### END HIDDEN TESTS", "# Hidden tests done", 3),
    "solution marker reworded with one hash": ("square", "### BEGIN SOLUTION", "# Begin your solution", 3),
    "hidden marker with a long note": (
        "cube_check", "### BEGIN HIDDEN TESTS", "### Hidden tests below, not shown to students", 1),
    "hidden marker with other test words": ("cube_check", "### END HIDDEN TESTS", "### END HIDDEN TESTING", 3),
    "solution marker with another noun": ("square", "### END SOLUTION", "### END SOLN", 6),
}
for case, (grade_id, marker, near_miss, line) in NEAR_MISSES.items():
    MALFORMED[case] = (
        replaced_in(grade_id, marker, near_miss),
        rf"line {line} reads {re.escape(repr(near_miss))}, which looks like the marker {re.escape(repr(marker))}; write the marker exactly",
    )


# Comments that a teacher may write in any code cell.
ORDINARY_COMMENTS = [
    "# begin hidden layer", "# end resolution", "# Hint: end the solution here",
    "# Hidden state", "# END hidden-layer loop",
    "# HIDDEN LAYER SIZE", "# AND ANY EXPRESS OR IMPLIED WARRANTIES", '# "ND",',
    "# AND, OR AND XOR TRUTH TABLES ARE IN NOTEBOOK 01", "# ENDS WITH SOFTMAX", "# SEND THE BATCH",
    "# TEST THE HIDDEN LAYER", "# LATEST HIDDEN STATE", "### Test 1: shapes", "### Hidden layer starts here",
    "# HIDDEN LAYER: START", "### Gradient check below", "### Test the end of the loop", "# Sanity check: hidden sizes",
    "# Start with a simple test", "# Stop if the first test fails", "# Done with the checks",
    "# Below, check the gradient", "# HIDDEN UNITS: 64", "# end of text",
    "# hidden state check: the velocity must persist between steps", "# Hidden units tested: 3",
    "# hidden size checks", "# Check hidden W1 and b1 first", "# Test the hidden bias", "# check hidden bias gradient",
    "# hidden b1 check", "# Begin by checking the shape", "# Private helpers for the checks below",
    "# Call the student's function", "# Check hidden delta", "# Check hidden tanh", "# Check hidden logits",
    "# Check hidden pre-activations", "# Check the hidden error term", "# Check W_hidden", "# Test with n_hidden=3",
    "# End to end check", "# END-TO-END test", "# Grading: 2 points", "# Instructor note: use seed 0",
    "# For the grader: float64 only",
    # Negations count only in short comments or right before a visibility word.
    "# A second backward must not see a changed cache, so this check calls it twice.",
    "# Check that gradients are not shown as NaN", "# Students should not need to change this check",
    "# This test is never shown as failed for float32",
    # Hidden as a name in code.
    "# Test num_hidden 5", "# Test with hidden = 5",
    # Grading and marking count only as a purpose.
    "# Test marking of the largest class", "# Tests for the grading helpers",
    # Prompts for the student's work, long sentences about an answer, and long mentions of correct code.
    "# Write your answer below", "# Your solution here", "# Check your answer below",
    "# The answer depends on the batch size", "# Compute the correct answer for the batch",
    "# Correct code for the gradient", "# character reference code to 0xFFFD", "# With full version",
]
# Comments that name a solution or an answer: ordinary outside solution cells, where a near miss would leak.
SOLUTION_WORD_COMMENTS = [
    "# Second solution: with loops", "# Starter solution", "# Post solution", "# and then the solution",
    "# The answer is below", "# Start from the solution of exercise 2",
    "# Closed-form solution end", "# answer: 42", "# Solution of the quadratic",
]


@pytest.mark.parametrize("cell_kind", ["check", None])
@pytest.mark.parametrize("comment", SOLUTION_WORD_COMMENTS)
def test_solution_comment_ordinary_elsewhere(comment, cell_kind):
    assert course_build._near_miss_marker(comment, cell_kind) is None


@pytest.mark.parametrize("comment", SOLUTION_WORD_COMMENTS)
def test_solution_comment_rejected_in_solution_cell(comment):
    assert course_build._near_miss_marker(comment, "solution") in (course_build.BEGIN_SOLUTION, course_build.END_SOLUTION)


@pytest.mark.parametrize("cell_kind", ["solution", "check", None])
@pytest.mark.parametrize("comment", ORDINARY_COMMENTS)
def test_ordinary_comment_not_near_miss(comment, cell_kind):
    assert course_build._near_miss_marker(comment, cell_kind) is None


# Reworded markers that only the rules of solution and check cells catch, where the build cuts.
@pytest.mark.parametrize(
    "comment, cell_kind, meant",
    [
        ("### BEGIN SOLN", "solution", course_build.BEGIN_SOLUTION),
        ("### END IMPLEMENTATION", "solution", course_build.END_SOLUTION),
        ("### Solution code below, removed for students", "solution", course_build.BEGIN_SOLUTION),
        ("### Solution from here", "solution", course_build.BEGIN_SOLUTION),
        ("# Solution begin", "solution", course_build.BEGIN_SOLUTION),
        ("# solution ends", "solution", course_build.END_SOLUTION),
        ("# solution starts here", "solution", course_build.BEGIN_SOLUTION),
        ("# Solution below", "solution", course_build.BEGIN_SOLUTION),
        ("# begin answer", "solution", course_build.BEGIN_SOLUTION),
        ("# Here begins the solution", "solution", course_build.BEGIN_SOLUTION),
        ("# Hidden from students:", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# Tests hidden from students", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# these checks are hidden from students", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# test cases hidden", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# hidden-tests", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# hiddentests", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("### HIDDEN", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# (hidden)", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("### PRIVATE", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# secret", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("### INSTRUCTOR TESTS", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("### AUTOGRADER TESTS", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# Tests for grading only", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# Tests with other inputs (hidden)", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# Tests the students do not see", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# not shown to students", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# withheld tests", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# More tests (not visible)", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# Tests learners never see", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# Tests not shown in the exercise", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# tests for marking only", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# extra checks run by the autograder only", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# Reference implementation", "solution", course_build.BEGIN_SOLUTION),
        ("# Instructor's version", "solution", course_build.BEGIN_SOLUTION),
        ("# Correct code", "solution", course_build.BEGIN_SOLUTION),
        ("# Complete implementation, removed for students", "solution", course_build.BEGIN_SOLUTION),
        ("# sol. begins", "solution", course_build.BEGIN_SOLUTION),
        ("# Solution", "solution", course_build.BEGIN_SOLUTION),
        ("# solution:", "solution", course_build.BEGIN_SOLUTION),
        ("# ---- solution ----", "solution", course_build.BEGIN_SOLUTION),
        ("# --- answer ---", "solution", course_build.BEGIN_SOLUTION),
        ("# >>> solution", "solution", course_build.BEGIN_SOLUTION),
        ("# <solution>", "solution", course_build.BEGIN_SOLUTION),
        ("# </solution>", "solution", course_build.BEGIN_SOLUTION),
        ("# Model answer:", "solution", course_build.BEGIN_SOLUTION),
        ("# Here is the solution", "solution", course_build.BEGIN_SOLUTION),
        ("# The solution is below", "solution", course_build.BEGIN_SOLUTION),
        ("# The answer starts here", "solution", course_build.BEGIN_SOLUTION),
        ("### Hidden tests below, not shown to students", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("### Hidden unit tests end", "check", course_build.END_HIDDEN_TESTS),
        ("### BEGIN HIDDEN TESTING", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("### BEGIN HIDDEN ASSERTS", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("### END LICENSE BLOCK", "check", course_build.END_HIDDEN_TESTS),
        ("# The hidden tests use another seed", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# Private check: shapes", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# Secret starts here", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# End of visible tests", "check", course_build.END_HIDDEN_TESTS),
        ("# Withheld checks", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("### GRADING TESTS", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# hidden_tests", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# Not for students", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("# Your solution begins here", "solution", course_build.BEGIN_SOLUTION),
        # A solution named with its audience or its removal, and strong model pairs, at any length.
        ("# Solution below (removed for students)", "solution", course_build.BEGIN_SOLUTION),
        ("# Solution, not shown to students", "solution", course_build.BEGIN_SOLUTION),
        ("# Worked solution for the instructor only", "solution", course_build.BEGIN_SOLUTION),
        ("# answer below, removed by the build", "solution", course_build.BEGIN_SOLUTION),
        ("# Instructor's solution code follows below", "solution", course_build.BEGIN_SOLUTION),
        ("# TODO(student): remove - this is the solution", "solution", course_build.BEGIN_SOLUTION),
        ("# Full reference implementation of the layer", "solution", course_build.BEGIN_SOLUTION),
        ("# The complete solution code for this exercise", "solution", course_build.BEGIN_SOLUTION),
        ("# Tests used only when marking", "check", course_build.BEGIN_HIDDEN_TESTS),
        ("### Hidden tests below", None, None),
    ],
)
def test_near_miss_by_cell_kind(comment, cell_kind, meant):
    assert course_build._near_miss_marker(comment, cell_kind) == meant


def test_ordinary_comments_build_in_graded_cells(tmp_path):
    notebook = tiny_solution_notebook()
    comments = "".join(comment + "\n" for comment in ORDINARY_COMMENTS)
    cell_by_grade_id(notebook, "cube_check")["source"] = comments + cell_by_grade_id(notebook, "cube_check")["source"]
    cell_by_grade_id(notebook, "square")["source"] = comments + cell_by_grade_id(notebook, "square")["source"]
    course_build.build(make_course(tmp_path, notebook=notebook), log=lambda message: None)


def test_reworded_marker_in_ordinary_cell_builds(tmp_path):
    # The build cuts nothing in an ordinary cell, so only the strict rules apply there.
    notebook = tiny_solution_notebook()
    notebook.cells[8]["source"] = "# Hidden tests below\nx = 1\n# Begin your solution"
    course_build.build(make_course(tmp_path, notebook=notebook), log=lambda message: None)


def test_near_miss_in_ordinary_cell_rejected(tmp_path):
    # A solution cell without its nbgrader metadata, with the markers almost right, would leak its solution.
    notebook = tiny_solution_notebook()
    notebook.cells[8]["source"] = "def f(x):\n    # BEGIN SOLUTION\n    return x\n    # END SOLUTION"
    with pytest.raises(course_build.CourseFormatError, match="looks like the marker '### BEGIN SOLUTION'"):
        course_build.build(make_course(tmp_path, notebook=notebook), log=lambda message: None)


def test_near_miss_message_names_words(tmp_path):
    notebook = tiny_solution_notebook()
    cell = cell_by_grade_id(notebook, "cube_check")
    cell["source"] = "# Tests the students do not see\n" + cell["source"]
    with pytest.raises(course_build.CourseFormatError, match="reword the comment without 'Tests', 'students', 'not', 'see' if"):
        course_build.build(make_course(tmp_path, notebook=notebook), log=lambda message: None)


# The message names the words of the rules that matched, not every word that some rule looks for.
@pytest.mark.parametrize(
    "grade_id, comment, named",
    [
        ("square", "### Beginning of code", "'Beginning'"),
        ("square", "# Answer: see the lecture notes", "'Answer'"),
        ("square", "# Complete implementation, removed for students", "'Complete', 'implementation', 'students'"),
        ("cube_check", "# Hidden checks, do not edit", "'Hidden', 'checks'"),
        ("cube_check", "# More tests (not visible)", "'tests', 'not', 'visible'"),
        ("cube_check", "### BEGIN HIDDEN TESTS  # graded only", "'BEGIN', 'HIDDEN', 'TESTS'"),
    ],
)
def test_near_miss_message_names_rule_words(tmp_path, grade_id, comment, named):
    notebook = tiny_solution_notebook()
    cell = cell_by_grade_id(notebook, grade_id)
    cell["source"] = comment + "\n" + cell["source"]
    with pytest.raises(course_build.CourseFormatError) as raised:
        course_build.build(make_course(tmp_path, notebook=notebook), log=lambda message: None)
    assert f"reword the comment without {named} if" in str(raised.value)


def test_near_miss_inside_fence_builds(tmp_path):
    # The build removes the lines inside an exact fence, whatever they contain.
    notebook = tiny_solution_notebook()
    cell = cell_by_grade_id(notebook, "cube_check")
    cell["source"] = cell["source"].replace("### BEGIN HIDDEN TESTS", "### BEGIN HIDDEN TESTS\n# Hidden tests below")
    course_build.build(make_course(tmp_path, notebook=notebook), log=lambda message: None)


def test_markdown_heading_not_near_miss(tmp_path):
    notebook = tiny_solution_notebook()
    notebook.cells[0]["source"] = "## Second solution\n\n### End hidden test"
    course_build.build(make_course(tmp_path, notebook=notebook), log=lambda message: None)


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_solution_rejected(tmp_path, case):
    edit, message = MALFORMED[case]
    root = make_course(tmp_path, notebook=malformed(edit))
    with pytest.raises(course_build.CourseFormatError, match=message) as raised:
        course_build.build(root, log=lambda message: None)
    assert "01_tiny.ipynb" in str(raised.value)
    assert not (root / "exercises" / "01_tiny.ipynb").exists()


def test_format_error_exit_status(tmp_path, capsys):
    root = make_course(tmp_path, notebook=malformed(MALFORMED["unclosed solution"][0]))
    assert main(["--root", str(root), "build"]) == 2
    assert "is never closed" in capsys.readouterr().err


def test_missing_solutions_folder_error(tmp_path, capsys):
    assert main(["--root", str(tmp_path), "check"]) == 2
    assert "no solutions/ folder" in capsys.readouterr().err


# -- check: exercises/ up to date --------------------------------------------------


def test_build_then_check_up_to_date(tmp_path, capsys):
    root = make_course(tmp_path)
    assert main(["--root", str(root), "build"]) == 0
    assert main(["--root", str(root), "check"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert course_build.build(root, log=lambda message: None) == []


def test_check_fails_after_solution_edit(tmp_path):
    root = make_course(tmp_path)
    course_build.build(root, log=lambda message: None)
    solution_path = root / "solutions" / "01_tiny.ipynb"
    notebook = nbformat.read(str(solution_path), as_version=4)
    cell_by_grade_id(notebook, "cube_check")["source"] = 'check_close("Cuber().cube(3.0)", Cuber().cube(3.0), 27.0, points=3)'
    write_notebook(solution_path, notebook)

    completed = subprocess.run(
        [sys.executable, "-m", "netlite.course", "--root", str(root), "check"],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "01_tiny.ipynb: out of date" in completed.stderr
    assert "'cube_check'" in completed.stderr
    assert "python -m netlite.course build" in completed.stderr


def test_check_reports_missing_and_extra(tmp_path):
    root = make_course(tmp_path)
    write_notebook(root / "solutions" / "02_second.ipynb", tiny_solution_notebook())
    course_build.build(root, log=lambda message: None)
    (root / "exercises" / "02_second.ipynb").unlink()
    write_notebook(root / "exercises" / "99_orphan.ipynb", tiny_solution_notebook())
    report = course_build.check(root)
    assert not report.up_to_date
    assert report.missing == ["02_second.ipynb"]
    assert report.extra == ["99_orphan.ipynb"]
    assert report.outdated == {}


def test_check_detects_hand_edit(tmp_path):
    root = make_course(tmp_path)
    course_build.build(root, log=lambda message: None)
    path = root / "exercises" / "01_tiny.ipynb"
    exercise = nbformat.read(str(path), as_version=4)
    exercise.cells.append(new_code_cell("x = 1"))
    write_notebook(path, exercise)
    report = course_build.check(root)
    assert list(report.outdated) == ["01_tiny.ipynb"]


def test_build_deletes_orphan_exercise(tmp_path):
    root = make_course(tmp_path)
    write_notebook(root / "exercises" / "99_orphan.ipynb", tiny_solution_notebook())
    messages = []
    course_build.build(root, log=messages.append)
    assert not (root / "exercises" / "99_orphan.ipynb").exists()
    assert any("deleted exercises/99_orphan.ipynb" in message for message in messages)


def test_nbgrader_metadata_helper_matches_format():
    metadata = nbgrader("x", grade=True, points=1)["nbgrader"]
    assert metadata["grade"] is True
    assert metadata["solution"] is False


# -- the repository's own course ------------------------------------------------------


def test_repository_exercises_up_to_date():
    if not course_build.list_notebooks(REPOSITORY / "solutions"):
        pytest.skip("solutions/ has no notebook yet")
    report = course_build.check(REPOSITORY)
    assert report.up_to_date, f"run 'python -m netlite.course build':\n{report.describe()}"
