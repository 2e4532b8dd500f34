"""Tests of ``python -m netlite.course grade``: restored checks, time limits and the reports.

The submissions are the tiny exercise notebook edited the way students edit it. The expected
points follow from the edits: ``square`` is worth 2 points and ``cube`` 3 (see course_helpers).
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from course_helpers import (
    CUBE_HIDDEN_LINE,
    CUBE_POINTS,
    SQUARE_HIDDEN_LINE,
    SQUARE_POINTS,
    cell_by_grade_id,
    make_course,
    tiny_solution_notebook,
    write_notebook,
)
from nbformat.v4 import new_code_cell

from netlite.course import build as course_build
from netlite.course import grade as course_grade

NOTEBOOK = "01_tiny.ipynb"
CELL_TIMEOUT = 3.0
NOTEBOOK_TIMEOUT = 15.0

SQUARE_CORRECT = "def square(x):\n    return x * x"
CUBE_CORRECT = "class Cuber:\n    def cube(self, x):\n        return x ** 3"
# Passes the visible check square(3.0) == 9.0 but not the hidden square(-2.5) == 6.25.
SQUARE_WRONG = "def square(x):\n    return abs(x) * 3"
SQUARE_SYNTAX_ERROR = "def square(x):\n    return x *"
SQUARE_ENDLESS = "def square(x):\n    while True:\n        pass"
# Swallows the interrupt that the cell time limit sends, so only killing the kernel stops it.
CUBE_IGNORES_INTERRUPT = (
    "import time\n"
    "class Cuber:\n"
    "    def cube(self, x):\n"
    "        while True:\n"
    "            try:\n"
    "                time.sleep(0.01)\n"
    "            except KeyboardInterrupt:\n"
    "                pass"
)

# Catches the first interrupt and goes on, as nl.train does; the second one stops it.
CATCHES_INTERRUPT_ONCE = (
    "import time\n"
    "for attempt in range(2):\n"
    "    try:\n"
    "        time.sleep(30)\n"
    "    except KeyboardInterrupt:\n"
    "        print('stopped attempt', attempt)"
)

EXPECTED = {
    # student: (square_check, cube_check)
    "catches_interrupt": (SQUARE_POINTS, CUBE_POINTS),
    "correct": (SQUARE_POINTS, CUBE_POINTS),
    "deleted_checks": (0, CUBE_POINTS),
    "edited_check": (0, CUBE_POINTS),
    "endless_loop": (0, CUBE_POINTS),
    "forger": (0, CUBE_POINTS),
    "ignores_interrupt": (SQUARE_POINTS, 0),
    "misnamed": (0, 0),
    "missing": (0, 0),
    "slow_cells": (SQUARE_POINTS, 0),
    "syntax_error": (0, CUBE_POINTS),
    "unreadable": (0, 0),
    "unsolved": (0, 0),
    "wrong": (0, CUBE_POINTS),
}


def solved(exercise, square=SQUARE_CORRECT, cube=CUBE_CORRECT):
    notebook = copy.deepcopy(exercise)
    cell_by_grade_id(notebook, "square")["source"] = square
    cell_by_grade_id(notebook, "cube")["source"] = cube
    return notebook


def make_submissions(root, folder, out):
    exercise = nbformat.read(str(root / "exercises" / NOTEBOOK), as_version=4)
    notebooks = {
        "correct": solved(exercise),
        "wrong": solved(exercise, square=SQUARE_WRONG),
        "syntax_error": solved(exercise, square=SQUARE_SYNTAX_ERROR),
        "endless_loop": solved(exercise, square=SQUARE_ENDLESS),
        "unsolved": copy.deepcopy(exercise),
    }

    # Deletes both check cells; the grader must put them back after the right cells.
    deleted = solved(exercise, square=SQUARE_WRONG)
    deleted.cells = [cell for cell in deleted.cells if not course_build.is_check_cell(cell)]
    notebooks["deleted_checks"] = deleted

    # Replaces the check of a wrong solution by a print, and strips the cell's metadata too.
    edited = solved(exercise, square=SQUARE_WRONG)
    check = cell_by_grade_id(edited, "square_check")
    check["source"] = 'print("PASS square: 2 of 2 points")'
    check["metadata"] = {}
    notebooks["edited_check"] = edited

    # Many cells after the hang, so the cell time limit alone would run past the notebook limit.
    stubborn = solved(exercise, cube=CUBE_IGNORES_INTERRUPT)
    stubborn.cells.extend(new_code_cell("pass") for _ in range(8))
    notebooks["ignores_interrupt"] = stubborn

    # A cell that times out but goes on after the interrupt must not make the next check time out.
    catches = solved(exercise)
    cube_check_index = catches.cells.index(cell_by_grade_id(catches, "cube_check"))
    catches.cells.insert(cube_check_index, new_code_cell(CATCHES_INTERRUPT_ONCE))
    notebooks["catches_interrupt"] = catches

    # Each cell stays within the cell time limit, but together they pass the notebook time limit.
    slow = solved(exercise)
    for _ in range(int(NOTEBOOK_TIMEOUT / (CELL_TIMEOUT * 0.8)) + 1):
        slow.cells.insert(cube_check_index, new_code_cell(f"import time\ntime.sleep({CELL_TIMEOUT * 0.8})"))
    notebooks["slow_cells"] = slow

    # A wrong solution, and a last cell that appends a passing record for its check to the
    # grader's records file, both in the old unsigned form and in the signed form with a made-up key.
    # The notebook runs in a temporary copy of its folder, so it needs the absolute path.
    forger = solved(exercise, square=SQUARE_WRONG)
    check_cell = cell_by_grade_id(forger, "square_check")
    check_index = next(index for index, cell in enumerate(forger.cells) if cell is check_cell)
    forged_record = json.dumps({"index": check_index, "status": "ok", "number": 99}, sort_keys=True)
    results_path = out / ".grading" / "forger" / f"{Path(NOTEBOOK).stem}.results.jsonl"
    forger.cells.append(new_code_cell(
        "import json, pathlib\n"
        f"path = pathlib.Path({os.fspath(results_path)!r})\n"
        "with path.open('a') as file:\n"
        f"    file.write(json.dumps({{'index': {check_index}, 'status': 'ok'}}) + '\\n')\n"
        f"    file.write(json.dumps({{'record': {forged_record!r}, 'mac': '0' * 64}}) + '\\n')\n"
    ))
    notebooks["forger"] = forger

    for student, notebook in notebooks.items():
        write_notebook(folder / student / NOTEBOOK, notebook)
    # A correct notebook under two names that the grader does not match (a browser's download suffix,
    # a subfolder), and JupyterLab's checkpoint copy, which must not be listed.
    write_notebook(folder / "misnamed" / f"{Path(NOTEBOOK).stem} (1).ipynb", solved(exercise))
    write_notebook(folder / "misnamed" / "week 1" / NOTEBOOK, solved(exercise))
    write_notebook(folder / "misnamed" / f"{Path(NOTEBOOK).stem}.IPYNB", solved(exercise))
    checkpoint = folder / "misnamed" / ".ipynb_checkpoints" / f"{Path(NOTEBOOK).stem}-checkpoint.ipynb"
    write_notebook(checkpoint, solved(exercise))
    (folder / "missing").mkdir()
    (folder / "missing" / "notes.txt").write_text("forgot to upload\n")
    (folder / "unreadable").mkdir()
    (folder / "unreadable" / NOTEBOOK).write_text('{"cells": [')


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("grading")
    root = make_course(tmp_path / "course")
    course_build.build(root, log=lambda message: None)
    submissions = tmp_path / "submissions"
    out = tmp_path / "graded"
    make_submissions(root, submissions, out)
    started = time.monotonic()
    results = course_grade.grade(
        root, submissions, out=out, cell_timeout=CELL_TIMEOUT, notebook_timeout=NOTEBOOK_TIMEOUT, jobs=2,
        log=lambda message: None,
    )
    return {"results": results, "out": out, "seconds": time.monotonic() - started}


def points_of(results, student):
    (result,) = [result for result in results if result.student == student]
    return tuple(check.points for check in result.checks), result


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_points_per_student(graded, student):
    points, result = points_of(graded["results"], student)
    assert points == EXPECTED[student], [(check.grade_id, check.error) for check in result.checks]


def test_gradebook_csv(graded):
    with open(graded["out"] / "gradebook.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == ["student", "01_tiny:square_check", "01_tiny:cube_check", "total"]
    assert [row["student"] for row in rows] == sorted(EXPECTED)
    for row in rows:
        square, cube = EXPECTED[row["student"]]
        assert float(row["01_tiny:square_check"]) == square
        assert float(row["01_tiny:cube_check"]) == cube
        assert float(row["total"]) == square + cube


@pytest.mark.parametrize(
    "student, written",
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("'quoted", "''quoted"),
        ("alice", "alice"),
        ("o'brien", "o'brien"),
    ],
)
def test_gradebook_names_not_formulas(student, written):
    solutions = {NOTEBOOK: tiny_solution_notebook()}
    rows = list(csv.reader(io.StringIO(course_grade.gradebook_csv([student], solutions, []), newline="")))
    assert len(rows) == 2
    assert rows[1][0] == written
    assert rows[1][1:] == ["0", "0", "0"]


def test_wrong_solution_fails_hidden_test(graded):
    _, result = points_of(graded["results"], "wrong")
    assert result.checks[0].error.startswith("AssertionError: square(-2.5) returned 7.5, expected 6.25")


def test_unsolved_error_names_exercise(graded):
    _, result = points_of(graded["results"], "unsolved")
    assert result.checks[0].error == "NotImplementedError: square: multiply x by itself"
    assert result.checks[1].error.startswith("NotImplementedError: cube: ")


def test_endless_loop_cell_timed_out(graded):
    _, result = points_of(graded["results"], "endless_loop")
    assert result.checks[0].error.startswith("CellTimeoutError")
    assert result.problem is None


@pytest.mark.parametrize(
    "student, problem",
    [
        ("ignores_interrupt", f"the cell that timed out was still running {CELL_TIMEOUT:g} s after the interrupt"),
        ("slow_cells", f"notebook time limit of {NOTEBOOK_TIMEOUT:g} s"),
    ],
)
def test_stubborn_notebook_stopped_and_kernel_killed(graded, student, problem):
    _, result = points_of(graded["results"], student)
    assert problem in result.problem
    lines = (graded["out"] / ".grading" / student / "01_tiny.results.jsonl").read_text().splitlines()
    records = [json.loads(json.loads(line)["record"]) for line in lines]
    (pid,) = [record["kernel_pid"] for record in records if "kernel_pid" in record]
    time.sleep(0.5)
    assert not os.path.exists(f"/proc/{pid}") or b"ipykernel" not in open(f"/proc/{pid}/cmdline", "rb").read()


def test_feedback_notes_interrupted_cell(graded):
    feedback = nbformat.read(str(graded["out"] / "executed" / "catches_interrupt" / NOTEBOOK), as_version=4)
    (cell,) = [cell for cell in feedback.cells if cell.source == CATCHES_INTERRUPT_ONCE]
    texts = [output.get("text", "") for output in cell.outputs]
    assert "The grader interrupted this cell because it ran longer than the cell time limit.\n" in texts


def test_syntax_error_reported(graded):
    _, result = points_of(graded["results"], "syntax_error")
    assert result.checks[0].error.startswith("NameError")
    assert "failed before it: SyntaxError" in result.checks[0].error


def test_missing_and_unreadable_reported(graded):
    _, missing = points_of(graded["results"], "missing")
    _, unreadable = points_of(graded["results"], "unreadable")
    assert missing.problem == "notebook not submitted"
    assert unreadable.problem.startswith("notebook could not be read")


def test_misnamed_notebooks_listed(graded):
    _, result = points_of(graded["results"], "misnamed")
    assert result.problem.startswith("notebook not submitted")
    assert "'01_tiny (1).ipynb'" in result.problem
    assert "'week 1/01_tiny.ipynb'" in result.problem
    assert "'01_tiny.IPYNB'" in result.problem
    assert "checkpoint" not in result.problem
    assert [check.error for check in result.checks] == ["notebook not submitted"] * 2
    summary = (graded["out"] / "summary.md").read_text()
    assert "'01_tiny (1).ipynb'" in summary


# 06_deep_copy is 06_deep with a copy mark, but both are graded notebooks.
GRADED_NAMES = [
    "03_own_activation.ipynb",
    "04_robust_regression.ipynb",
    "05_optimizers.ipynb",
    "06_deep.ipynb",
    "06_deep_copy.ipynb",
]


def test_misnamed_notebook_listed_once(tmp_path):
    # Only copies of 03 were submitted, so the summary must not offer them as 04 or 05.
    root = make_course(tmp_path / "course", GRADED_NAMES[0])
    for name in GRADED_NAMES[1:]:
        write_notebook(root / "solutions" / name, tiny_solution_notebook())
    submissions = tmp_path / "submissions"
    write_notebook(submissions / "student" / "03_own_activation (1).ipynb", tiny_solution_notebook())
    write_notebook(submissions / "student" / "downloads" / "03_own_activation.ipynb", tiny_solution_notebook())

    results = course_grade.grade(root, submissions, out=tmp_path / "graded", log=lambda message: None)

    problems = {result.notebook: result.problem for result in results}
    assert "'03_own_activation (1).ipynb'" in problems["03_own_activation.ipynb"]
    assert "'downloads/03_own_activation.ipynb'" in problems["03_own_activation.ipynb"]
    assert problems["04_robust_regression.ipynb"] == "notebook not submitted"
    assert problems["05_optimizers.ipynb"] == "notebook not submitted"
    summary = (tmp_path / "graded" / "summary.md").read_text()
    assert summary.count("'03_own_activation (1).ipynb'") == 1
    assert summary.count("'downloads/03_own_activation.ipynb'") == 1


@pytest.mark.parametrize(
    "name, listed_under",
    [
        ("03_Own_Activation-Copy1.ipynb", ["03_own_activation.ipynb"]),
        ("Copy of 03_own_activation.ipynb", ["03_own_activation.ipynb"]),
        ("Copy of Copy of 03_own_activation.ipynb", ["03_own_activation.ipynb"]),
        ("Copy of 03_own_activation (1).ipynb", ["03_own_activation.ipynb"]),
        ("03_own_activation.ipynb.ipynb", ["03_own_activation.ipynb"]),
        ("03_own_activation.ipynb (1).ipynb", ["03_own_activation.ipynb"]),
        ("03 own activation copy 2.ipynb", ["03_own_activation.ipynb"]),
        ("03_own_activation_copy_2.ipynb", ["03_own_activation.ipynb"]),
        ("03_own_activation (copy).ipynb", ["03_own_activation.ipynb"]),
        ("03_own_activation (another copy).ipynb", ["03_own_activation.ipynb"]),
        ("03_own_activation (3rd copy).ipynb", ["03_own_activation.ipynb"]),
        ("03_own_activation (21st copy).ipynb", ["03_own_activation.ipynb"]),
        ("old/04_robust_regression - Copy (2).ipynb", ["04_robust_regression.ipynb"]),
        ("05_optimizers-checkpoint.IPYNB", ["05_optimizers.ipynb"]),
        ("06_deep (1).ipynb", ["06_deep.ipynb"]),
        ("06_deep_copy (1).ipynb", ["06_deep_copy.ipynb"]),
        ("06_deep_copy - Copy.ipynb", ["06_deep_copy.ipynb"]),
        ("Copy of 06_deep_copy.ipynb", ["06_deep_copy.ipynb"]),
        ("06 Deep-Copy.ipynb", ["06_deep_copy.ipynb"]),
        ("Untitled.ipynb", GRADED_NAMES),
        ("Untitled1.ipynb", GRADED_NAMES),
        ("03_own_activation_final.ipynb", GRADED_NAMES),
    ],
)
def test_other_notebook_listed_where_it_fits(tmp_path, name, listed_under):
    write_notebook(tmp_path / name, tiny_solution_notebook())
    for missing in GRADED_NAMES:
        problem = course_grade.not_submitted_problem(tmp_path, missing, GRADED_NAMES)
        if missing in listed_under:
            assert repr(name) in problem, missing
        else:
            assert problem == "notebook not submitted", missing


def test_listed_notebooks_limited(tmp_path):
    limit = course_grade.MAX_LISTED_NOTEBOOKS
    for number in range(limit + 2):
        write_notebook(tmp_path / f"Untitled{number}.ipynb", tiny_solution_notebook())
    write_notebook(tmp_path / "04_robust_regression (1).ipynb", tiny_solution_notebook())
    write_notebook(tmp_path / "zz" / "03_own_activation.ipynb", tiny_solution_notebook())

    problem = course_grade.not_submitted_problem(tmp_path, "03_own_activation.ipynb", GRADED_NAMES)

    # The look-alike comes first although it sorts last, and the copy of 04 is not counted.
    assert "'zz/03_own_activation.ipynb', 'Untitled0.ipynb'" in problem
    assert problem.endswith(" and 3 more")
    assert problem.count("'Untitled") == limit - 1
    assert "04_robust_regression" not in problem


def test_summary_lists_failures(graded):
    summary = (graded["out"] / "summary.md").read_text()
    assert "| correct | 5 / 5 | 5 |" in summary
    assert "## wrong" in summary
    assert "square_check (0 of 2): AssertionError: square(-2.5) returned 7.5, expected 6.25" in summary
    assert "notebook time limit" in summary


def test_executed_notebook_saved(graded):
    executed = nbformat.read(str(graded["out"] / "executed" / "correct" / NOTEBOOK), as_version=4)
    outputs = "".join(
        output.get("text", "") for cell in executed.cells if cell.cell_type == "code" for output in cell.outputs
    )
    assert "PASS square: 2 of 2 points" in outputs
    assert "PASS Cuber().cube(2.0): 3 of 3 points" in outputs


def test_grading_time_bounded(graded):
    # Ten notebooks, two at a time: the stubborn one is stopped at its time limit.
    assert graded["seconds"] < 60


def test_restore_checks_places_deleted_cells():
    from course_helpers import tiny_solution_notebook

    solution = tiny_solution_notebook()
    exercise = course_build.build_exercise(solution, "solution.ipynb")
    exercise.cells = [cell for cell in exercise.cells if not course_build.is_check_cell(cell)]
    restored = course_grade.restore_checks(exercise, solution)
    order = [course_build.nbgrader_metadata(cell).get("grade_id") for cell in restored.cells]
    assert order == [None, None, None, "square", "square_check", "cube", "cube_check", None, None]
    assert "### BEGIN HIDDEN TESTS" in cell_by_grade_id(restored, "square_check")["source"]


def test_restore_checks_keeps_last_copy():
    # A check cell copied above the code it tests keeps its metadata; the copy in place must count.
    from course_helpers import tiny_solution_notebook

    solution = tiny_solution_notebook()
    exercise = course_build.build_exercise(solution, "solution.ipynb")
    pasted = copy.deepcopy(cell_by_grade_id(exercise, "square_check"))
    exercise.cells.insert(0, pasted)

    restored = course_grade.restore_checks(exercise, solution)

    order = [course_build.nbgrader_metadata(cell).get("grade_id") for cell in restored.cells]
    assert order.count("square_check") == 1
    assert order.index("square_check") == order.index("square") + 1


def test_restore_checks_demotes_unknown_check():
    # A student who renamed a check cell's grade_id must not see "check my_own_id: passed".
    from course_helpers import tiny_solution_notebook

    solution = tiny_solution_notebook()
    exercise = course_build.build_exercise(solution, "solution.ipynb")
    cell_by_grade_id(exercise, "square_check")["metadata"]["nbgrader"]["grade_id"] = "my_own_id"
    restored = course_grade.restore_checks(exercise, solution)
    check_ids = [course_build.nbgrader_metadata(cell).get("grade_id") for cell in restored.cells if course_build.is_check_cell(cell)]
    assert check_ids == ["square_check", "cube_check"]
    assert all(course_build.nbgrader_metadata(cell).get("grade_id") != "my_own_id" for cell in restored.cells)


def test_executed_notebooks_hide_hidden_tests(graded):
    executed = graded["out"] / "executed"
    names = sorted({path.suffix for path in executed.rglob("*") if path.is_file()})
    assert names == [".ipynb"]
    for path in executed.rglob("*.ipynb"):
        sources = "\n".join(cell.source for cell in nbformat.read(str(path), as_version=4).cells)
        assert "BEGIN HIDDEN TESTS" not in sources, path
        assert SQUARE_HIDDEN_LINE not in sources, path
        assert CUBE_HIDDEN_LINE not in sources, path
    notebook = nbformat.read(str(executed / "correct" / NOTEBOOK), as_version=4)
    assert "The hidden tests of this check ran here" in cell_by_grade_id(notebook, "square_check")["source"]


def test_feedback_note_replaces_hidden_tests():
    # The note is where the hidden tests ran, which is before report_pass, and first in cube_check.
    from course_helpers import tiny_solution_notebook

    solution = tiny_solution_notebook()
    square_lines = course_grade.feedback_source(cell_by_grade_id(solution, "square_check")["source"]).split("\n")
    cube_lines = course_grade.feedback_source(cell_by_grade_id(solution, "cube_check")["source"]).split("\n")

    assert square_lines == [
        'check_close("square(3.0)", square(3.0), 9.0)',
        course_grade.HIDDEN_TESTS_NOTE,
        f'report_pass("square", {SQUARE_POINTS})',
    ]
    assert cube_lines[0] == course_grade.HIDDEN_TESTS_NOTE
    assert len(cube_lines) == 2


@pytest.mark.parametrize(
    "source, expected_line",
    [
        # The fence is a loop's whole body: the loop keeps a body.
        (
            "for x in (1.0, 2.0):\n    ### BEGIN HIDDEN TESTS\n    check_close('f(x)', f(x), x)\n    ### END HIDDEN TESTS\n",
            "    pass  " + course_grade.HIDDEN_TESTS_NOTE,
        ),
        # The same, with the fence at column 0 and the hidden lines indented.
        (
            "for x in (1.0, 2.0):\n### BEGIN HIDDEN TESTS\n    check_close('f(x)', f(x), x)\n### END HIDDEN TESTS\n",
            "    pass  " + course_grade.HIDDEN_TESTS_NOTE,
        ),
        # Inside brackets a comment is all that fits.
        ("cases = [\n    (1, 1),\n    ### BEGIN HIDDEN TESTS\n    (2, 8),\n    ### END HIDDEN TESTS\n]\n",
         "    " + course_grade.HIDDEN_TESTS_NOTE),
        # Both kinds in one cell: each fence gets what it needs.
        (
            "for x in (3,):\n    ### BEGIN HIDDEN TESTS\n    assert f(x) == 6\n    ### END HIDDEN TESTS\n"
            "values = [\n    f(1),\n    ### BEGIN HIDDEN TESTS\n    f(2),\n    ### END HIDDEN TESTS\n]\n",
            "    " + course_grade.HIDDEN_TESTS_NOTE,
        ),
        # The first hidden line is a comment at column 0; the body's code sets the indentation.
        (
            "for i in r:\n    ### BEGIN HIDDEN TESTS\n# a note\n    assert i\n    ### END HIDDEN TESTS\nprint(i)\n",
            "    pass  " + course_grade.HIDDEN_TESTS_NOTE,
        ),
        # A '#' inside the header's string, and a header over two lines with code after the fence.
        (
            'for line in lines:\n    if line.startswith("#"):\n        ### BEGIN HIDDEN TESTS\n        assert line\n'
            '        ### END HIDDEN TESTS\nprint("done")\n',
            "        pass  " + course_grade.HIDDEN_TESTS_NOTE,
        ),
        (
            "for x, y in zip(a,\n                b):\n    ### BEGIN HIDDEN TESTS\n    assert x == y\n"
            "    ### END HIDDEN TESTS\n    print(x)\n",
            "    " + course_grade.HIDDEN_TESTS_NOTE,
        ),
        # Two fences back to back are the loop's body together: one pass is enough.
        (
            "for x in r:\n    ### BEGIN HIDDEN TESTS\n    a(x)\n    ### END HIDDEN TESTS\n"
            "    ### BEGIN HIDDEN TESTS\n    b(x)\n    ### END HIDDEN TESTS\nprint(1)\n",
            "    " + course_grade.HIDDEN_TESTS_NOTE,
        ),
        # if and else, each with a hidden body.
        (
            "if ok:\n    ### BEGIN HIDDEN TESTS\n    check(1)\n    ### END HIDDEN TESTS\nelse:\n"
            "    ### BEGIN HIDDEN TESTS\n    check(2)\n    ### END HIDDEN TESTS\n",
            "    pass  " + course_grade.HIDDEN_TESTS_NOTE,
        ),
    ],
)
def test_feedback_cell_still_compiles(source, expected_line):
    from netlite.course import build as course_build

    visible = course_grade.feedback_source(source)
    assert expected_line in visible.split("\n")
    compile(visible, "feedback cell", "exec")
    compile(course_build.strip_hidden_tests(source, "a check cell"), "exercise cell", "exec")


@pytest.mark.parametrize(
    "before",
    [
        "%precision 3\n",
        "files = !ls\n",
        "d['k'] = !ls\n",
        'x: list = %time f()\n',
        "?len\n",
        "t = %time 1 + 1\n",
        "ok = (a\n      != b)\n",
        'def f():\n    """Why?\n    """\n',
        "%%time\n",
        "\n%%time\n",
        "t = (a\n     % b)\n",
        "t = a \\\n    % b\n",
        "d = {\n    'k': 5\n    % 2,\n}\n",
        "q = '''\n?'''\n",
    ],
)
@pytest.mark.parametrize("with_ipython", [True, False], ids=["IPython", "no IPython"])
def test_hidden_body_after_ipython_syntax(before, with_ipython, monkeypatch):
    import sys

    from IPython.core.inputtransformer2 import TransformerManager

    from netlite.course import build as course_build

    if not with_ipython:
        monkeypatch.setitem(sys.modules, "IPython", None)  # import IPython now fails, as without the course extras
        monkeypatch.setitem(sys.modules, "IPython.core.inputtransformer2", None)
    header = "for row in X:  # one image per row?\n"
    source = before + header + "    ### BEGIN HIDDEN TESTS\n    assert row.any()\n    ### END HIDDEN TESTS\nprint(1)\n"
    for visible in (course_grade.feedback_source(source), course_build.strip_hidden_tests(source, "a check cell")):
        assert header + "    pass" in visible
        code = visible.split("%%time\n", 1)[-1]
        compile(TransformerManager().transform_cell(code), "cell", "exec")


def test_hidden_body_after_magic_without_ipython(monkeypatch):
    import sys

    from netlite.course import build as course_build

    monkeypatch.setitem(sys.modules, "IPython", None)  # import IPython now fails
    source = "%precision 3\nfor x in y:  # all?\n    ### BEGIN HIDDEN TESTS\n    assert x\n    ### END HIDDEN TESTS\n"
    assert course_build.strip_hidden_tests(source, "a check cell").split("\n")[2] == "    pass"


def test_hidden_body_with_many_shell_escapes():
    from netlite.course import build as course_build

    # IPython gives up on so many escapes; the build must not crash on them.
    source = "for x in y:\n    ### BEGIN HIDDEN TESTS\n    assert x\n    ### END HIDDEN TESTS\n" + "!echo\n" * 600
    assert course_build.strip_hidden_tests(source, "a check cell").startswith("for x in y:\n")


def test_feedback_cell_with_magic_gets_pass():
    # IPython syntax does not compile as Python, so the decision must not depend on compiling.
    source = "%precision 3\nfor x in (1, 2):\n    ### BEGIN HIDDEN TESTS\n    assert f(x)\n    ### END HIDDEN TESTS\nprint(x)\n"
    lines = course_grade.feedback_source(source).split("\n")
    assert lines[2] == "    pass  " + course_grade.HIDDEN_TESTS_NOTE
    top_level = "### BEGIN HIDDEN TESTS\nassert f(1) == 2\n### END HIDDEN TESTS\n" + source
    assert course_grade.feedback_source(top_level).split("\n")[0] == course_grade.HIDDEN_TESTS_NOTE


def test_feedback_outputs_hide_hidden_tests(graded):
    # "wrong" fails the hidden test: its traceback and message would show the test's input.
    notebook = nbformat.read(str(graded["out"] / "executed" / "wrong" / NOTEBOOK), as_version=4)
    check = cell_by_grade_id(notebook, "square_check")
    assert [output["output_type"] for output in check["outputs"]] == ["stream"], check["outputs"]
    assert check["outputs"][0]["text"] == "check square_check: failed (AssertionError)\n"
    correct = nbformat.read(str(graded["out"] / "executed" / "correct" / NOTEBOOK), as_version=4)
    assert cell_by_grade_id(correct, "cube_check")["outputs"][-1]["text"] == "check cube_check: passed\n"


def test_make_feedback_removes_printed_history():
    from course_helpers import tiny_solution_notebook

    notebook = tiny_solution_notebook()
    printer = new_code_cell("print(In)")
    printer.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"['x', '{SQUARE_HIDDEN_LINE}']\n")]
    notebook.cells.append(printer)

    course_grade.make_feedback(notebook, statuses={})

    assert len(printer.outputs) == 1
    assert SQUARE_HIDDEN_LINE not in printer.outputs[0]["text"]
    assert "removed this output" in printer.outputs[0]["text"]


def test_make_feedback_removes_disguised_hidden_tests():
    # HTML with the quotes as entities, and an error class named after a hidden test.
    from course_helpers import tiny_solution_notebook

    notebook = tiny_solution_notebook()
    html_cell = new_code_cell("display(HTML(text))")
    escaped = SQUARE_HIDDEN_LINE.replace('"', "&quot;")
    html_cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": f"<pre><span>{escaped}</span></pre>"})]
    notebook.cells.append(html_cell)
    check_index = next(index for index, cell in enumerate(notebook.cells) if course_build.is_check_cell(cell))

    course_grade.make_feedback(notebook, statuses={check_index: ("error", SQUARE_HIDDEN_LINE)})

    assert "removed this output" in html_cell.outputs[0]["text"]
    result = notebook.cells[check_index]["outputs"][-1]["text"]
    assert SQUARE_HIDDEN_LINE not in result
    assert result.endswith(": failed\n")


def test_make_feedback_removes_widget_state():
    # An ipywidgets.Output keeps what it captured, such as a print(In), in the widget state.
    notebook = tiny_solution_notebook()
    captured = {"output_type": "stream", "name": "stdout", "text": f"['x', '{SQUARE_HIDDEN_LINE}']\n"}
    notebook.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {
            "state": {"model-1": {"model_name": "OutputModel", "state": {"outputs": [captured]}}},
            "version_major": 2,
            "version_minor": 0,
        }
    }

    course_grade.make_feedback(notebook, statuses={})

    assert "widgets" not in notebook.metadata
    assert SQUARE_HIDDEN_LINE not in nbformat.writes(notebook)


def test_grading_folder_private(graded):
    assert (graded["out"] / ".grading").stat().st_mode & 0o777 == 0o700


def test_stale_exercises_warned(tmp_path):
    root = make_course(tmp_path / "course")
    course_build.build(root, log=lambda message: None)
    solution_path = root / "solutions" / NOTEBOOK
    solution = nbformat.read(str(solution_path), as_version=4)
    cell_by_grade_id(solution, "square_check")["metadata"]["nbgrader"]["grade_id"] = "square_check_v2"
    write_notebook(solution_path, solution)
    (tmp_path / "submissions").mkdir()
    messages = []
    course_grade.grade(root, tmp_path / "submissions", log=messages.append)
    (warning,) = [message for message in messages if message.startswith("warning:")]
    assert "exercises/ is out of date with solutions/" in warning
    assert "01_tiny.ipynb" in warning
    assert "run 'python -m netlite.course build'" in warning


def test_invalid_time_limit_rejected(tmp_path):
    with pytest.raises(ValueError, match="cell_timeout must be a positive number"):
        course_grade.grade(tmp_path, tmp_path, cell_timeout=0)


INTERACT_CELL = """
import ipywidgets as widgets

def show(n=3):
    print("squared:", n * n)

widgets.interact(show, n=widgets.IntSlider(value=3, min=0, max=9))
print("after interact")
"""


def test_notebook_client_records_interact_output():
    # The client sends no widget state back to the kernel, but still records what the widget showed.
    notebook = nbformat.v4.new_notebook(cells=[new_code_cell(INTERACT_CELL), new_code_cell("print('done')")])
    client = course_grade.notebook_client(notebook, kernel_name="python3", timeout=30)

    client.execute()

    widget_state = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    captured = [
        output
        for model in widget_state.values()
        if model["model_name"] == "OutputModel"
        for output in model["state"].get("outputs", [])
    ]
    assert any("squared: 9" in output.get("text", "") for output in captured)
    assert "after interact" in "".join(output.get("text", "") for output in notebook.cells[0].outputs)
    assert notebook.cells[1].outputs[0]["text"] == "done\n"


def test_forged_cell_records_are_rejected(graded):
    _, result = points_of(graded["results"], "forger")
    assert result.checks[0].points == 0
    assert "the cell records were changed during the run" in result.problem
    assert "forger/01_tiny.results.jsonl" in result.problem


def test_results_file_with_bad_signature_stops_reading(tmp_path):
    path = tmp_path / "student" / "tiny.results.jsonl"
    path.parent.mkdir()
    key = b"k" * 32
    with path.open("w") as file:
        writer = course_grade._ResultsWriter(file, key)
        writer.record(index=1, status="error")
        writer.record(index=2, status="ok")
    good_lines = path.read_text().splitlines()
    assert course_grade._read_results(path, key) == (
        [{"index": 1, "status": "error", "number": 0}, {"index": 2, "status": "ok", "number": 1}],
        None,
    )
    records, problem = course_grade._read_results(path, b"x" * 32)
    assert records == []
    assert "line 1 of .grading/student/tiny.results.jsonl" in problem
    # A signed line repeated out of order does not verify either.
    path.write_text("\n".join([good_lines[0], good_lines[0], good_lines[1]]) + "\n")
    records, problem = course_grade._read_results(path, key)
    assert len(records) == 1
    assert "line 2" in problem
    # A last line cut short by a killed process is dropped without a problem.
    path.write_text(good_lines[0] + "\n" + good_lines[1][:20])
    assert course_grade._read_results(path, key) == ([{"index": 1, "status": "error", "number": 0}], None)


def test_feedback_cuts_huge_outputs():
    huge = nbformat.v4.new_output("stream", name="stdout", text="x" * (course_grade.MAX_FEEDBACK_OUTPUT_CHARS + 5))
    cut = course_grade.shortened(huge)
    assert cut["text"].startswith("x" * course_grade.MAX_FEEDBACK_OUTPUT_CHARS + "\n[The grader cut this output")
    assert f"{course_grade.MAX_FEEDBACK_OUTPUT_CHARS + 5:,} characters" in cut["text"]
    image_data = {"image/png": "A" * (course_grade.MAX_FEEDBACK_OUTPUT_CHARS + 1)}
    image = nbformat.v4.new_output("display_data", data=image_data)
    assert course_grade.shortened(image)["text"].startswith("The grader removed this output")
    small = nbformat.v4.new_output("stream", name="stdout", text="ok\n")
    assert course_grade.shortened(small) is small
    # A deep recursion: the oldest frames go, the failing lines and the error stay.
    traceback = ["  File f, line 1, in g"] * (course_grade.MAX_FEEDBACK_OUTPUT_CHARS // 10) + ["RecursionError: maximum recursion depth exceeded"]
    recursion = nbformat.v4.new_output("error", ename="RecursionError", evalue="maximum recursion depth exceeded", traceback=traceback)
    cut = course_grade.shortened(recursion)
    assert (cut["ename"], cut["evalue"]) == ("RecursionError", "maximum recursion depth exceeded")
    assert cut["traceback"][0].startswith("(The grader removed the ")
    assert cut["traceback"][0].endswith(" earlier lines of this traceback.)")
    assert cut["traceback"][-2:] == ["  File f, line 1, in g", "RecursionError: maximum recursion depth exceeded"]
    # A long message: the failing line stays, and the message is cut.
    message = "arrays differ: " + "9" * 200_000
    long_message = nbformat.v4.new_output("error", ename="AssertionError", evalue=message,
                                          traceback=["----> 7 assert np.allclose(out, expected)", f"AssertionError: {message}"])
    cut = course_grade.shortened(long_message)
    assert cut["traceback"][0] == "----> 7 assert np.allclose(out, expected)"
    assert cut["traceback"][1].endswith("[the grader cut this here: it had 200,031 characters]")
    assert cut["evalue"].endswith("[the grader cut this here: it had 200,015 characters]")


def test_feedback_limits_each_cell():
    # A print in a loop: many outputs, each below the limit, together far above it.
    line = "y" * 999 + "\n"
    flood = [nbformat.v4.new_output("stream", name="stdout", text=line) for _ in range(300)]
    feedback_outputs = course_grade.limited(flood)
    assert sum(len(output["text"]) for output in feedback_outputs) <= course_grade.MAX_FEEDBACK_OUTPUT_CHARS + 200
    assert feedback_outputs[:100] == flood[:100]
    assert feedback_outputs[-1]["text"].startswith("The grader removed the rest of this cell's output (200 outputs with 200,000 characters)")
    small = [nbformat.v4.new_output("stream", name="stdout", text="ok\n")] * 3
    assert course_grade.limited(small) == small
    # The error that ends such a cell stays, after the note.
    error = nbformat.v4.new_output("error", ename="ValueError", evalue="bad value", traceback=["ValueError: bad value"])
    feedback_outputs = course_grade.limited(flood + [error])
    assert feedback_outputs[-2]["text"].startswith("The grader removed the rest of this cell's output (200 outputs")
    assert feedback_outputs[-1] == error


@pytest.mark.parametrize(
    "cells, message",
    [("abc", "its 'cells' entry is a str, expected a list of cells"), ([{"source": ""}], "cell 0 is a dict without")],
)
def test_notebook_with_broken_cells_rejected(cells, message):
    with pytest.raises(ValueError, match=message):
        course_grade._check_cells_are_cells({"cells": cells})


# The last cell, after both checks. It deletes every notebook that "../" reaches and the output
# folder beside the submissions, then writes a file of its own.
DELETES_BY_RELATIVE_PATHS = (
    "import glob, os, shutil\n"
    "for path in glob.glob('../*/*.ipynb'):\n"
    "    os.remove(path)\n"
    "shutil.rmtree('../../graded', ignore_errors=True)\n"
    "with open('scratch.txt', 'w') as file:\n"
    "    file.write('written while graded')\n"
    "print('working directory:', os.getcwd())"
)
# Defines square only when the student's own file is in the working directory.
SQUARE_READS_OWN_FILE = "def square(x):\n    return x * x\n\nassert open('notes.txt').read() == 'mine'"


def grade_quietly(root, submissions, out, messages=None):
    log = messages.append if messages is not None else lambda message: None
    return course_grade.grade(
        root, submissions, out=out, cell_timeout=CELL_TIMEOUT * 10, notebook_timeout=NOTEBOOK_TIMEOUT * 4, log=log
    )


@pytest.fixture(scope="module")
def graded_with_relative_deletes(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("relative_deletes")
    root = make_course(tmp_path / "course")
    course_build.build(root, log=lambda message: None)
    exercise = nbformat.read(str(root / "exercises" / NOTEBOOK), as_version=4)
    submissions = tmp_path / "submissions"
    vandal = solved(exercise)
    vandal.cells.append(new_code_cell(DELETES_BY_RELATIVE_PATHS))
    write_notebook(submissions / "a_vandal" / NOTEBOOK, vandal)
    write_notebook(submissions / "b_reads_own_file" / NOTEBOOK, solved(exercise, square=SQUARE_READS_OWN_FILE))
    (submissions / "b_reads_own_file" / "notes.txt").write_text("mine")
    out = tmp_path / "graded"
    results = grade_quietly(root, submissions, out)
    return {"results": results, "submissions": submissions, "out": out}


def test_relative_paths_miss_other_submissions(graded_with_relative_deletes):
    submissions = graded_with_relative_deletes["submissions"]
    assert (submissions / "a_vandal" / NOTEBOOK).is_file()
    assert (submissions / "b_reads_own_file" / NOTEBOOK).is_file()
    assert not (submissions / "a_vandal" / "scratch.txt").exists()
    out = graded_with_relative_deletes["out"]
    assert (out / "gradebook.csv").is_file()
    assert (out / "executed" / "b_reads_own_file" / NOTEBOOK).is_file()


def test_notebook_reads_own_files(graded_with_relative_deletes):
    results = graded_with_relative_deletes["results"]
    for student in ("a_vandal", "b_reads_own_file"):
        points, result = points_of(results, student)
        assert points == (SQUARE_POINTS, CUBE_POINTS), (student, result.problem, [check.error for check in result.checks])


def test_working_copy_removed_after_run(graded_with_relative_deletes):
    feedback = nbformat.read(str(graded_with_relative_deletes["out"] / "executed" / "a_vandal" / NOTEBOOK), as_version=4)
    (cell,) = [cell for cell in feedback.cells if cell.source == DELETES_BY_RELATIVE_PATHS]
    (line,) = [output["text"] for output in cell.outputs if output.get("name") == "stdout"]
    working_dir = Path(line.removeprefix("working directory:").strip())
    assert working_dir.name == "a_vandal"
    assert working_dir.parent.name == "submissions"
    assert not working_dir.is_relative_to(graded_with_relative_deletes["submissions"])
    assert not working_dir.exists()


def test_deleted_output_folder_zeroes_only_its_student(tmp_path):
    # An absolute path still reaches the output folder: the student who deletes it scores 0, the
    # others are graded and reported, and the feedback deleted with the folder is named.
    root = make_course(tmp_path / "course")
    course_build.build(root, log=lambda message: None)
    exercise = nbformat.read(str(root / "exercises" / NOTEBOOK), as_version=4)
    submissions, out = tmp_path / "submissions", tmp_path / "graded"
    deleter = solved(exercise)
    deleter.cells.append(new_code_cell(f"import shutil\nshutil.rmtree({os.fspath(out)!r})"))
    write_notebook(submissions / "a_correct" / NOTEBOOK, solved(exercise))
    write_notebook(submissions / "b_deletes_output" / NOTEBOOK, deleter)
    write_notebook(submissions / "c_correct" / NOTEBOOK, solved(exercise))
    messages = []

    results = grade_quietly(root, submissions, out, messages)

    points, deleter_result = points_of(results, "b_deletes_output")
    assert points == (0, 0)
    assert "b_deletes_output/01_tiny.results.jsonl went missing" in deleter_result.problem
    assert any(message.startswith("warning: b_deletes_output/01_tiny.ipynb: the cell records") for message in messages)
    for student in ("a_correct", "c_correct"):
        assert points_of(results, student)[0] == (SQUARE_POINTS, CUBE_POINTS)
    with open(out / "gradebook.csv", newline="") as file:
        totals = {row["student"]: float(row["total"]) for row in csv.DictReader(file)}
    assert totals == {"a_correct": 5, "b_deletes_output": 0, "c_correct": 5}
    assert "## b_deletes_output" in (out / "summary.md").read_text()
    assert (out / "executed" / "c_correct" / NOTEBOOK).is_file()
    (lost,) = [message for message in messages if "feedback notebooks are missing" in message]
    assert lost.endswith(": a_correct/01_tiny.ipynb")
    assert (out / ".grading").stat().st_mode & 0o777 == 0o700


def test_special_files_left_out_of_copy(tmp_path, monkeypatch):
    # A named pipe, a socket and a file that cannot be read make shutil.copytree fail. The copy
    # leaves them out, the notebook is graded, and the summary and the log name them.
    root = make_course(tmp_path / "course")
    course_build.build(root, log=lambda message: None)
    exercise = nbformat.read(str(root / "exercises" / NOTEBOOK), as_version=4)
    submissions = tmp_path / "submissions"
    folder = submissions / "a_special"
    write_notebook(folder / NOTEBOOK, solved(exercise))
    os.mkfifo(folder / "pipe")
    monkeypatch.chdir(folder)  # a socket's path is limited to about 100 characters
    with socket.socket(socket.AF_UNIX) as server:
        server.bind("socket")
    (folder / "data").mkdir()
    (folder / "data" / "locked.csv").write_text("1,2\n")
    copy_file = shutil.copyfile

    # The grader may run as root, which reads any file, so the failed read is simulated.
    def copy_file_except_locked(source, destination, **options):
        if Path(source).name == "locked.csv":
            raise PermissionError(13, "Permission denied", os.fspath(source))
        return copy_file(source, destination, **options)

    monkeypatch.setattr(shutil, "copyfile", copy_file_except_locked)
    messages = []

    results = grade_quietly(root, submissions, tmp_path / "graded", messages)

    points, result = points_of(results, "a_special")
    assert points == (SQUARE_POINTS, CUBE_POINTS), result.problem
    assert result.problem is None
    (note,) = result.notes
    assert "pipe (a named pipe)" in note
    assert "socket (a socket)" in note
    assert "data/locked.csv (" in note
    assert "Permission denied" in note
    assert f"  - note: {note}" in (tmp_path / "graded" / "summary.md").read_text()
    assert f"note: a_special/{NOTEBOOK}: {note}" in messages


def test_deleted_student_folder_zeroes_only_its_student(tmp_path):
    # A notebook that deletes another student's folder by its absolute path leaves nothing to copy.
    root = make_course(tmp_path / "course")
    course_build.build(root, log=lambda message: None)
    exercise = nbformat.read(str(root / "exercises" / NOTEBOOK), as_version=4)
    submissions = tmp_path / "submissions"
    deleter = solved(exercise)
    deleter.cells.append(new_code_cell(f"import shutil\nshutil.rmtree({os.fspath(submissions / 'b_deleted')!r})"))
    write_notebook(submissions / "a_deleter" / NOTEBOOK, deleter)
    write_notebook(submissions / "b_deleted" / NOTEBOOK, solved(exercise))
    write_notebook(submissions / "c_correct" / NOTEBOOK, solved(exercise))
    messages = []

    results = grade_quietly(root, submissions, tmp_path / "graded", messages)

    points, result = points_of(results, "b_deleted")
    assert points == (0, 0)
    assert result.problem.startswith("the grader could not start this run (FileNotFoundError: ")
    assert any(message.startswith("error: b_deleted/01_tiny.ipynb: ") for message in messages)
    for student in ("a_deleter", "c_correct"):
        assert points_of(results, student)[0] == (SQUARE_POINTS, CUBE_POINTS)


@pytest.mark.parametrize("inside", ["submissions", "graded"])
def test_temporary_folder_inside_rejected(tmp_path, monkeypatch, inside):
    (tmp_path / "submissions").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", os.fspath(tmp_path / inside / "tmp"))
    with pytest.raises(ValueError, match="set TMPDIR to a folder outside both"):
        course_grade.grade(tmp_path, tmp_path / "submissions", out=tmp_path / "graded")


# Damages every other student's notebook and deletes the output folder, when the submissions are
# unpacked to $TMPDIR/submissions with the output beside them. Whatever "../../" reaches from the
# working copy must lie inside the grader's temporary folder.
DAMAGES_SUBMISSIONS_IN_TMPDIR = (
    "import glob, shutil\n"
    "for path in glob.glob('../../submissions/*/01_tiny.ipynb') + glob.glob('../*/01_tiny.ipynb'):\n"
    "    if '/a_attacker/' not in path:\n"
    "        open(path, 'w').write('garbage')\n"
    "shutil.rmtree('../../submissions-graded', ignore_errors=True)\n"
)


def test_relative_paths_miss_submissions_in_tmpdir(tmp_path, monkeypatch):
    root = make_course(tmp_path / "course")
    course_build.build(root, log=lambda message: None)
    exercise = nbformat.read(str(root / "exercises" / NOTEBOOK), as_version=4)
    temporary_root = tmp_path / "tmp"
    submissions, out = temporary_root / "submissions", temporary_root / "submissions-graded"
    attacker = solved(exercise)
    attacker.cells.append(new_code_cell(DAMAGES_SUBMISSIONS_IN_TMPDIR))
    write_notebook(submissions / "a_attacker" / NOTEBOOK, attacker)
    write_notebook(submissions / "b_victim" / NOTEBOOK, solved(exercise))
    victim_notebook = (submissions / "b_victim" / NOTEBOOK).read_bytes()
    monkeypatch.setattr(tempfile, "tempdir", os.fspath(temporary_root))
    messages = []

    results = grade_quietly(root, submissions, out, messages)

    assert (submissions / "b_victim" / NOTEBOOK).read_bytes() == victim_notebook
    points, result = points_of(results, "a_attacker")
    assert points == (SQUARE_POINTS, CUBE_POINTS), result.problem
    assert not [message for message in messages if message.startswith("warning:")]
    for student in ("a_attacker", "b_victim"):
        assert (out / "executed" / student / NOTEBOOK).is_file()
    assert not list(temporary_root.glob(f"{course_grade.WORKING_COPY_PREFIX}*"))


def test_pipe_named_like_notebook_not_called_unsubmitted(tmp_path):
    root = make_course(tmp_path / "course")
    course_build.build(root, log=lambda message: None)
    folder = tmp_path / "submissions" / "a_pipe"
    folder.mkdir(parents=True)
    os.mkfifo(folder / NOTEBOOK)

    results = grade_quietly(root, tmp_path / "submissions", tmp_path / "graded", [])

    points, result = points_of(results, "a_pipe")
    assert points == (0, 0)
    assert result.problem == f"{NOTEBOOK} in the student's folder is not a notebook file; submit the .ipynb file itself"


def test_links_leading_nowhere_in_copy_noted(tmp_path):
    # A relative link out of the student's folder is copied as it is, so it leads nowhere in the
    # working copy. The note names it, but not the links that still lead to a file.
    root = make_course(tmp_path / "course")
    course_build.build(root, log=lambda message: None)
    exercise = nbformat.read(str(root / "exercises" / NOTEBOOK), as_version=4)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "x.csv").write_text("1,2\n")
    folder = tmp_path / "submissions" / "a_links"
    write_notebook(folder / NOTEBOOK, solved(exercise))
    (folder / "notes.txt").write_text("mine")
    (folder / "data").mkdir()
    os.symlink("../../shared", folder / "shared")
    os.symlink("../../../shared/x.csv", folder / "data" / "x.csv")
    os.symlink("notes.txt", folder / "inside.txt")
    os.symlink(tmp_path / "shared", folder / "absolute")
    os.symlink(tmp_path / "missing", folder / "gone")  # broken in the submission already
    messages = []

    results = grade_quietly(root, tmp_path / "submissions", tmp_path / "graded", messages)

    points, result = points_of(results, "a_links")
    assert points == (SQUARE_POINTS, CUBE_POINTS), result.problem
    note, broken_note = result.notes
    assert broken_note == f"these links lead nowhere in the student's folder: gone -> {tmp_path / 'missing'}"
    assert "data/x.csv -> ../../../shared/x.csv" in note
    assert "shared -> ../../shared" in note
    assert "inside.txt" not in note
    assert "absolute" not in note
    assert f"  - note: {note}" in (tmp_path / "graded" / "summary.md").read_text()
    assert f"note: a_links/{NOTEBOOK}: {note}" in messages


@pytest.mark.parametrize("out", ["submissions", "submissions/alice", "submissions/new/graded"])
def test_output_folder_inside_submissions_rejected(tmp_path, out):
    # Inside the submissions, the output would pass for a student's folder or land in one, hidden tests included.
    root = make_course(tmp_path / "course")
    course_build.build(root, log=lambda message: None)
    exercise = nbformat.read(str(root / "exercises" / NOTEBOOK), as_version=4)
    submissions = tmp_path / "submissions"
    write_notebook(submissions / "alice" / NOTEBOOK, solved(exercise))
    before = sorted(path.relative_to(submissions) for path in submissions.rglob("*"))

    with pytest.raises(ValueError, match="is inside the submissions folder .*; choose a folder outside it"):
        course_grade.grade(root, submissions, out=tmp_path / out, log=lambda message: None)

    assert sorted(path.relative_to(submissions) for path in submissions.rglob("*")) == before


@pytest.mark.parametrize("submissions_path", ["graded/executed", "graded/new/submissions"])
def test_submissions_inside_output_folder_rejected(tmp_path, submissions_path):
    # Grading graded/executed into graded deleted the submitted notebooks before it ran them.
    root = make_course(tmp_path / "course")
    course_build.build(root, log=lambda message: None)
    exercise = nbformat.read(str(root / "exercises" / NOTEBOOK), as_version=4)
    submissions = tmp_path / submissions_path
    write_notebook(submissions / "alice" / NOTEBOOK, solved(exercise))
    before = sorted(path.relative_to(tmp_path) for path in (tmp_path / "graded").rglob("*"))

    with pytest.raises(ValueError, match="is inside the output folder .*; choose an output folder that does not"):
        course_grade.grade(root, submissions, out=tmp_path / "graded", log=lambda message: None)

    assert sorted(path.relative_to(tmp_path) for path in (tmp_path / "graded").rglob("*")) == before


def test_linked_notebooks_and_folders_not_graded(tmp_path):
    # A link leads to someone else's work: another student's notebook or folder, or the solutions.
    root = make_course(tmp_path / "course")
    course_build.build(root, log=lambda message: None)
    exercise = nbformat.read(str(root / "exercises" / NOTEBOOK), as_version=4)
    submissions, out = tmp_path / "submissions", tmp_path / "graded"
    write_notebook(submissions / "alice" / NOTEBOOK, solved(exercise))
    (submissions / "copycat").mkdir()
    os.symlink(f"../alice/{NOTEBOOK}", submissions / "copycat" / NOTEBOOK)
    (submissions / "solver").mkdir()
    os.symlink(root / "solutions" / NOTEBOOK, submissions / "solver" / NOTEBOOK)
    os.symlink("alice", submissions / "alice_again")
    os.symlink("bob", submissions / "bob_gone")  # broken, as when a zip file kept the link but not bob
    (submissions / "readme.txt").write_text("not a student\n")
    os.symlink("readme.txt", submissions / "readme_link.txt")
    # The feedback that an earlier grading wrote from the linked solution must not stay.
    write_notebook(out / "executed" / "solver" / NOTEBOOK, solved(exercise))
    messages = []

    results = grade_quietly(root, submissions, out, messages)

    assert points_of(results, "alice")[0] == (SQUARE_POINTS, CUBE_POINTS)
    for student, target in (("copycat", f"../alice/{NOTEBOOK}"), ("solver", os.fspath(root / "solutions" / NOTEBOOK))):
        points, result = points_of(results, student)
        assert points == (0, 0)
        assert result.problem == (
            f"{NOTEBOOK} in the student's folder is a symbolic link (to {target!r}), so it was not run; "
            f"submit the .ipynb file itself"
        )
        assert not (out / "executed" / student / NOTEBOOK).exists()
    assert sorted({result.student for result in results}) == ["alice", "copycat", "solver"]
    with open(out / "gradebook.csv", newline="") as file:
        assert [row["student"] for row in csv.DictReader(file)] == ["alice", "copycat", "solver"]
    note = "alice_again was not graded, because it is a link to 'alice'"
    broken_note = "bob_gone was not graded, because it is a link to 'bob', which does not exist"
    summary = (out / "summary.md").read_text()
    assert f"## Folders not graded\n\n- {note}" in summary
    assert f"\n- {broken_note}" in summary
    assert "readme" not in summary
    assert any(message.startswith(f"note: {note}") for message in messages)
    assert any(message.startswith(f"note: {broken_note}") for message in messages)


def test_old_feedback_kept_until_run_starts(tmp_path):
    # An interrupted regrade must leave the old feedback of the notebooks it did not reach.
    root = make_course(tmp_path / "course")
    course_build.build(root, log=lambda message: None)
    exercise = nbformat.read(str(root / "exercises" / NOTEBOOK), as_version=4)
    submissions, out = tmp_path / "submissions", tmp_path / "graded"
    for student in ("alice", "bob"):
        write_notebook(submissions / student / NOTEBOOK, solved(exercise))
        write_notebook(out / "executed" / student / NOTEBOOK, nbformat.v4.new_notebook())
    old_feedback_at_start = {}

    def log(message):
        for student in ("alice", "bob"):
            if message == f"grading {student}/{NOTEBOOK}":
                old_feedback_at_start[student] = {
                    other: (out / "executed" / other / NOTEBOOK).is_file() for other in ("alice", "bob")
                }

    course_grade.grade(
        root, submissions, out=out, cell_timeout=CELL_TIMEOUT * 10, notebook_timeout=NOTEBOOK_TIMEOUT * 4, log=log
    )

    assert old_feedback_at_start["alice"] == {"alice": True, "bob": True}
    assert old_feedback_at_start["bob"]["bob"]
    for student in ("alice", "bob"):
        feedback = nbformat.read(str(out / "executed" / student / NOTEBOOK), as_version=4)
        assert cell_by_grade_id(feedback, "square_check")["outputs"][-1]["text"] == "check square_check: passed\n"


def test_link_notes_name_true_reason(tmp_path):
    root = make_course(tmp_path / "course")
    course_build.build(root, log=lambda message: None)
    exercise = nbformat.read(str(root / "exercises" / NOTEBOOK), as_version=4)
    (tmp_path / "x.csv").write_text("1,2\n")
    submissions, out = tmp_path / "submissions", tmp_path / "graded"
    folder = submissions / "a_links"
    write_notebook(folder / NOTEBOOK, solved(exercise))
    os.mkfifo(folder / "pipe")
    os.symlink("pipe", folder / "to_pipe")  # inside the folder, to a file the copy leaves out
    os.symlink("../../x.csv", folder / "new\nline")  # out of the folder, to a file that exists
    os.symlink(tmp_path / "missing", folder / "gone\rname")  # broken in the submission already
    messages = []

    results = grade_quietly(root, submissions, out, messages)

    points, result = points_of(results, "a_links")
    assert points == (SQUARE_POINTS, CUBE_POINTS), result.problem
    assert result.notes == [
        "the working copy leaves out these files of the student's folder: pipe (a named pipe)",
        "these links lead to files that the working copy leaves out: to_pipe -> pipe",
        "these links lead nowhere in the working copy, where a relative link cannot leave the student's folder: "
        "'new\\nline' -> ../../x.csv",
        f"these links lead nowhere in the student's folder: 'gone\\rname' -> {tmp_path / 'missing'}",
    ]
    summary = (out / "summary.md").read_text()
    for note in result.notes:
        assert f"\n  - note: {note}\n" in summary
    assert "\r" not in summary
    for note in result.notes:
        assert f"note: a_links/{NOTEBOOK}: {note}" in messages


def test_reports_escape_names_not_utf8(tmp_path):
    # Zip files often store names in a legacy encoding, here Latin-1, which Python reads as surrogates.
    root = make_course(tmp_path / "course")
    course_build.build(root, log=lambda message: None)
    exercise = nbformat.read(str(root / "exercises" / NOTEBOOK), as_version=4)
    submissions, out = tmp_path / "submissions", tmp_path / "graded"
    student = os.fsdecode(b"Jos\xe9")
    write_notebook(submissions / student / NOTEBOOK, solved(exercise))

    messages = []
    grade_quietly(root, submissions, out, messages)

    # A log line with the raw name would fail where standard output encodes strictly.
    for message in messages:
        message.encode("utf-8")
    assert f"grading 'Jos\\udce9'/{NOTEBOOK}" in messages
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    # The literal starts with an apostrophe, so it gets the one that keeps a spreadsheet from reading a formula.
    assert [row["student"] for row in rows] == ["''Jos\\udce9'"]
    assert float(rows[0]["total"]) == SQUARE_POINTS + CUBE_POINTS
    assert "\n## 'Jos\\udce9'\n" in (out / "summary.md").read_text(encoding="utf-8")


def test_summary_escapes_line_breaks():
    solutions = {NOTEBOOK: tiny_solution_notebook()}
    result = course_grade._zero_result("new\nstudent", NOTEBOOK, solutions[NOTEBOOK], "could not\rread | it")
    result.notes = ["a note\u2028with a line separator"]

    summary = course_grade.summary_markdown(["new\nstudent"], solutions, [result], ["folder\x85skipped"])

    assert "| 'new\\nstudent' | 0 / 5 | 0 |\n" in summary
    assert "\n## 'new\\nstudent'\n" in summary
    assert f"\n- {NOTEBOOK}: 0 of 5 points (could not\\rread \\| it)\n" in summary
    assert "\n  - note: a note\\u2028with a line separator\n" in summary
    assert "\n- folder\\x85skipped\n" in summary
    assert summary.splitlines() == summary.split("\n")[:-1]  # no line ends but the newlines


def test_feedback_written_after_time_limit(tmp_path, monkeypatch):
    # Both notebooks run to the end in time, and writing their feedback goes past the notebook time
    # limit: one ends within EXIT_GRACE_SECONDS and keeps its feedback, the other never ends.
    root = make_course(tmp_path / "course")
    course_build.build(root, log=lambda message: None)
    exercise = nbformat.read(str(root / "exercises" / NOTEBOOK), as_version=4)
    submissions, out = tmp_path / "submissions", tmp_path / "graded"
    notebook_timeout = 20.0
    started = time.monotonic()
    feedback_done = {"a_slow_feedback": started + notebook_timeout + 5, "b_stuck_feedback": started + 600}
    for student, done in feedback_done.items():
        notebook = solved(exercise)
        notebook.cells.append(new_code_cell(f"# feedback done at {done!r}"))
        write_notebook(submissions / student / NOTEBOOK, notebook)
    make_feedback = course_grade.make_feedback

    # Runs in the child process, which fork gave this module as patched here.
    def slow_make_feedback(notebook, *arguments):
        time.sleep(max(0.0, float(notebook.cells[-1].source.split()[-1]) - time.monotonic()))
        make_feedback(notebook, *arguments)

    monkeypatch.setattr(course_grade, "make_feedback", slow_make_feedback)
    messages = []

    results = course_grade.grade(
        root, submissions, out=out, cell_timeout=CELL_TIMEOUT, notebook_timeout=notebook_timeout, jobs=2,
        log=messages.append,
    )

    points, result = points_of(results, "a_slow_feedback")
    assert points == (SQUARE_POINTS, CUBE_POINTS)
    assert result.problem is None
    assert (out / "executed" / "a_slow_feedback" / NOTEBOOK).is_file()
    points, result = points_of(results, "b_stuck_feedback")
    assert points == (SQUARE_POINTS, CUBE_POINTS)
    problem = (
        f"the grading process was killed because it had not written the feedback notebook "
        f"{course_grade.EXIT_GRACE_SECONDS:g} s after the notebook time limit of {notebook_timeout:g} s, so there "
        f"is no feedback notebook; the checks that ran keep their score"
    )
    assert result.problem == problem
    assert not (out / "executed" / "b_stuck_feedback" / NOTEBOOK).exists()
    assert f"- {NOTEBOOK}: 5 of 5 points ({problem})" in (out / "summary.md").read_text()
    assert f"warning: b_stuck_feedback/{NOTEBOOK}: no feedback notebook was written: {problem}" in messages
    assert not [message for message in messages if "feedback notebooks are missing" in message]


def test_problem_keeps_reason_run_stopped():
    # A run that stopped early and was then killed while it wrote the feedback needs both reasons.
    job = course_grade._Job(
        "a_student", NOTEBOOK, tiny_solution_notebook(), {"square_check": 4, "cube_check": 6},
        Path("executed"), Path("work"), Path("submission"),
    )
    job.records = [{"index": 4, "status": "ok"}, {"stopped": "a cell timed out"}]
    job.problem = "the grading process was killed"

    result = course_grade.score(job)

    assert result.problem == "a cell timed out; then the grading process was killed"
    assert [check.points for check in result.checks] == [SQUARE_POINTS, 0]
    assert result.checks[1].error == "not run: a cell timed out; then the grading process was killed"


def stream_message(text, msg_type="stream"):
    """Return an IOPub message as the kernel sends it to nbclient."""
    content = {"name": "stdout", "text": text}
    if msg_type == "error":
        content = {"ename": "KeyboardInterrupt", "evalue": "", "traceback": ["KeyboardInterrupt"]}
    return {"msg_type": msg_type, "header": {"msg_type": msg_type}, "parent_header": {"msg_id": "cell"}, "content": content}


def test_output_recorder_drops_after_limit():
    client = course_grade.notebook_client(nbformat.v4.new_notebook())
    client.clear_before_next_output = False  # as nbclient sets it when it sends a cell to the kernel
    recorder = course_grade._OutputRecorder(client)
    chunk = "y" * (course_grade.MAX_FEEDBACK_OUTPUT_CHARS // 2 + 1)
    outs, other_cell_outs = [], []

    for _ in range(4):
        client.output(outs, stream_message(chunk), None, 0)
    client.output(outs, stream_message("", msg_type="error"), None, 0)
    client.output(other_cell_outs, stream_message("ok\n"), None, 1)

    assert [output["output_type"] for output in outs] == ["stream", "stream", "error"]
    assert recorder.dropped == {0: (2, 2 * len(chunk))}
    assert [output["text"] for output in other_cell_outs] == ["ok\n"]
    # After clear_output(wait=True) the next output replaces the recorded ones.
    client.clear_before_next_output = True
    client.output(outs, stream_message("after clearing\n"), None, 0)
    assert [output["text"] for output in outs] == ["after clearing\n"]
    client.output(outs, stream_message("more\n"), None, 0)
    assert len(outs) == 2


def test_feedback_note_counts_dropped_outputs():
    printed = nbformat.v4.new_output("stream", name="stdout", text="ok\n")
    error = nbformat.v4.new_output("error", ename="KeyboardInterrupt", evalue="", traceback=["KeyboardInterrupt"])

    feedback_outputs = course_grade.limited([printed, error], dropped=(3, 250_000))

    assert feedback_outputs[0] == printed
    assert feedback_outputs[1]["text"].startswith("The grader removed the rest of this cell's output (3 outputs with 250,000 characters)")
    assert feedback_outputs[2] == error


def test_hidden_test_search_reads_shown_part():
    # A flood's output: the feedback shows its start, so only a hidden-test line near the start counts.
    limit = course_grade.MAX_FEEDBACK_OUTPUT_CHARS
    far = "a" * (20 * limit) + SQUARE_HIDDEN_LINE + "\n"
    at_cut = "a" * (limit - 10) + SQUARE_HIDDEN_LINE + "\n"
    notebook = tiny_solution_notebook()
    cells = [new_code_cell("flood()") for _ in range(3)]
    cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text=far)]
    cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text=at_cut)]
    cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text=["a" * 2 * limit, "b\n"])]
    notebook.cells.extend(cells)

    course_grade.make_feedback(notebook, statuses={})

    far_feedback = cells[0].outputs[0]["text"]
    assert far_feedback.startswith("a" * limit + "\n[The grader cut this output here")
    assert f"it had {len(far):,} characters" in far_feedback
    assert cells[1].outputs[0]["text"].startswith("The grader removed this output because it contained a hidden test")
    assert f"it had {2 * limit + 2:,} characters" in cells[2].outputs[0]["text"]
