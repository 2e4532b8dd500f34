"""The unsolved exercise notebooks fail exactly where the student has work to do.

Run as the student gets it, an exercise notebook must raise in every check cell and every
``uses-exercise`` cell, each time with the NotImplementedError that names an exercise of that
notebook, and run every other cell without error. A check cell that passes on unsolved code gives
points for nothing, and an ordinary cell that fails stops "Run All" for the wrong reason. A cell
that reads a result which an earlier cell failed to compute must not fail with a NameError either,
because a NameError does not tell the student which exercise to finish.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from course_helpers import make_course, tiny_solution_notebook
from nbformat.v4 import new_code_cell

from netlite.course import build as course_build
from netlite.course import grade as course_grade

REPOSITORY = Path(__file__).resolve().parents[1]
CELL_TIMEOUT = 600
REPOSITORY_EXERCISES = course_build.list_notebooks(REPOSITORY / "exercises")


def run_notebook(path: Path):
    """Execute a notebook in a fresh python3 kernel and return ``{cell index: (ename, evalue)}`` of failed cells."""
    notebook = nbformat.read(str(path), as_version=4)
    client = course_grade.notebook_client(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    errors = {}
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors[index] = (output["ename"], output["evalue"])
    return notebook, errors


def assert_fails_only_where_expected(path: Path):
    notebook, errors = run_notebook(path)
    exercise_ids = [
        course_build.nbgrader_metadata(cell)["grade_id"] for cell in notebook.cells if course_build.is_solution_cell(cell)
    ]
    expected = {
        index
        for index, cell in enumerate(notebook.cells)
        if course_build.is_check_cell(cell) or course_build.uses_exercise(cell)
    }
    unexpected = {
        course_build.describe_cell(index, notebook.cells[index]): errors[index] for index in sorted(set(errors) - expected)
    }
    passing = [course_build.describe_cell(index, notebook.cells[index]) for index in sorted(expected - set(errors))]
    assert not unexpected, (
        f"{path.name}: cells that must run in the unsolved notebook failed: {unexpected}; give a cell that calls "
        f"the exercise's code the tag 'uses-exercise', and put a solution fence inside a function body"
    )
    assert not passing, (
        f"{path.name}: check or uses-exercise cells {passing} ran without error on unsolved code; a check must call "
        f"the exercise's code, and a cell that does not should lose its 'uses-exercise' tag"
    )
    # Each exercise's stub raises its own message, and so does a cell that finds a name missing.
    named_exercises = set()
    for index in sorted(expected):
        ename, evalue = errors[index]
        kind = "check" if course_build.is_check_cell(notebook.cells[index]) else "uses-exercise"
        assert ename != "NameError", (
            f"{path.name}, cell {index}: the {kind} cell failed with NameError: {evalue}; "
            f"make it call the exercise's code, or raise NotImplementedError naming the exercise when the name is missing"
        )
        assert ename == "NotImplementedError", f"{path.name}, cell {index}: expected NotImplementedError, got {ename}: {evalue}"
        named = [grade_id for grade_id in exercise_ids if evalue.startswith(f"{grade_id}: ")]
        assert named, f"{path.name}, cell {index}: the message {evalue!r} names none of the exercises {exercise_ids}"
        named_exercises.update(named)
    # When a later exercise reads the result of an earlier one, only the
    # earlier one reports its message. At least one exercise must be named.
    assert named_exercises, f"{path.name}: no cell reported an unsolved exercise of {exercise_ids} with its message"


def test_tiny_exercise_fails_at_checks(tmp_path):
    root = make_course(tmp_path)
    course_build.build(root, log=lambda message: None)
    assert_fails_only_where_expected(root / "exercises" / "01_tiny.ipynb")


def test_uses_exercise_name_error_rejected(tmp_path):
    # The second uses-exercise cell only reads what the first one failed to set.
    notebook = tiny_solution_notebook()
    notebook.cells.append(new_code_cell("squares = [square(x) for x in range(3)]", metadata={"tags": ["uses-exercise"]}))
    notebook.cells.append(new_code_cell("print(sum(squares))", metadata={"tags": ["uses-exercise"]}))
    root = make_course(tmp_path, notebook=notebook)
    course_build.build(root, log=lambda message: None)

    with pytest.raises(AssertionError, match="the uses-exercise cell failed with NameError: name 'squares' is not defined"):
        assert_fails_only_where_expected(root / "exercises" / "01_tiny.ipynb")


@pytest.mark.parametrize(
    "path",
    REPOSITORY_EXERCISES
    or [pytest.param(None, marks=pytest.mark.skip(reason="exercises/ has no notebook yet; run 'python -m netlite.course build'"))],
    ids=lambda path: path.name if path is not None else "none",
)
def test_repository_exercise_fails_at_checks(path):
    assert_fails_only_where_expected(path)


def test_check_cell_name_error_rejected(tmp_path):
    # The check cell only reads what the uses-exercise cell before it failed to set.
    notebook = tiny_solution_notebook()
    notebook.cells.append(new_code_cell("squares = [square(x) for x in range(3)]", metadata={"tags": ["uses-exercise"]}))
    nbgrader = {"grade": True, "grade_id": "squares_check", "locked": True, "points": 1, "schema_version": 3, "solution": False}
    notebook.cells.append(new_code_cell("assert squares == [0, 1, 4]", metadata={"nbgrader": nbgrader}))
    root = make_course(tmp_path, notebook=notebook)
    course_build.build(root, log=lambda message: None)

    with pytest.raises(AssertionError, match="the check cell failed with NameError: name 'squares' is not defined"):
        assert_fails_only_where_expected(root / "exercises" / "01_tiny.ipynb")


def test_untagged_cell_named_with_fix(tmp_path):
    # A cell that calls the exercise's code but lacks the uses-exercise tag fails in the unsolved notebook.
    notebook = tiny_solution_notebook()
    notebook.cells.append(new_code_cell("print(square(2.0))"))
    root = make_course(tmp_path, notebook=notebook)
    course_build.build(root, log=lambda message: None)

    expected = r"failed: \{\"cell 9 \(starting 'print\(square\(2.0\)\)'\)\": .*give a cell that calls the exercise's code the tag 'uses-exercise'"
    with pytest.raises(AssertionError, match=expected):
        assert_fails_only_where_expected(root / "exercises" / "01_tiny.ipynb")
