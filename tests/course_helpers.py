"""A tiny solution notebook in the course format, and helpers to write and edit course folders in tests.

The notebook has two exercises: ``square`` (a function with a hint and a hidden test) and
``cube`` (a method, so its fence sits eight spaces deep, without a hint), each followed by a
check cell, plus a ``uses-exercise`` cell and ordinary cells, one with a stored output.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

SQUARE_SOLUTION_LINE = "return x * x"
CUBE_SOLUTION_LINE = "return x ** 3"
SQUARE_HIDDEN_LINE = 'check_close("square(-2.5)", square(-2.5), 6.25)'
CUBE_HIDDEN_LINE = 'check_equal("Cuber().cube(-1.0)", Cuber().cube(-1.0), -1.0)'
SQUARE_POINTS = 2
CUBE_POINTS = 3


def nbgrader(grade_id, solution=False, grade=False, points=None, locked=False):
    metadata = {"grade_id": grade_id, "solution": solution, "grade": grade, "locked": locked, "schema_version": 3}
    if points is not None:
        metadata["points"] = points
    return {"nbgrader": metadata}


def tiny_solution_notebook():
    """Return the tiny solution notebook (see the module docstring)."""
    imports = new_code_cell("import numpy as np\nfrom netlite.course.checks import check_close, check_equal, report_pass")
    ready = new_code_cell('print("ready")', execution_count=1, outputs=[new_output("stream", name="stdout", text="ready\n")])
    square = new_code_cell(
        "def square(x):\n"
        '    """Return x squared."""\n'
        "    ### BEGIN SOLUTION\n"
        "    # Hint: multiply x by itself\n"
        f"    {SQUARE_SOLUTION_LINE}\n"
        "    ### END SOLUTION",
        metadata=nbgrader("square", solution=True),
        execution_count=2,
        outputs=[new_output("stream", name="stdout", text="defined\n")],
    )
    square_check = new_code_cell(
        'check_close("square(3.0)", square(3.0), 9.0)\n'
        "### BEGIN HIDDEN TESTS\n"
        f"{SQUARE_HIDDEN_LINE}\n"
        "### END HIDDEN TESTS\n"
        f'report_pass("square", {SQUARE_POINTS})',
        metadata=nbgrader("square_check", grade=True, points=SQUARE_POINTS, locked=True),
        execution_count=3,
        outputs=[new_output("stream", name="stdout", text=f"PASS square: {SQUARE_POINTS} of {SQUARE_POINTS} points\n")],
    )
    cube = new_code_cell(
        "class Cuber:\n"
        "    def cube(self, x):\n"
        "        ### BEGIN SOLUTION\n"
        f"        {CUBE_SOLUTION_LINE}\n"
        "        ### END SOLUTION",
        metadata=nbgrader("cube", solution=True),
    )
    cube_check = new_code_cell(
        "### BEGIN HIDDEN TESTS\n"
        f"{CUBE_HIDDEN_LINE}\n"
        "### END HIDDEN TESTS\n"
        f'check_close("Cuber().cube(2.0)", Cuber().cube(2.0), 8.0, points={CUBE_POINTS})',
        metadata=nbgrader("cube_check", grade=True, points=CUBE_POINTS, locked=True),
    )
    uses = new_code_cell(
        "print(square(4.0))",
        metadata={"tags": ["uses-exercise"]},
        execution_count=4,
        outputs=[new_output("stream", name="stdout", text="16.0\n")],
    )
    ordinary = new_code_cell("print(1 + 1)", execution_count=5, outputs=[new_output("stream", name="stdout", text="2\n")])
    notebook = new_notebook(
        cells=[new_markdown_cell("# Tiny exercise"), imports, ready, square, square_check, cube, cube_check, uses, ordinary],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
            "language_info": {"name": "python"},
        },
    )
    return notebook


def write_notebook(path: Path, notebook) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))
    return path


def make_course(root: Path, name: str = "01_tiny.ipynb", notebook=None) -> Path:
    """Create ``root/solutions/<name>`` and a minimal repository layout around it; return the root."""
    write_notebook(root / "solutions" / name, notebook if notebook is not None else tiny_solution_notebook())
    (root / "netlite").mkdir(parents=True, exist_ok=True)
    (root / "netlite" / "__init__.py").write_text('"""Stand-in library."""\n')
    (root / "notebooks").mkdir(exist_ok=True)
    (root / "docs").mkdir(exist_ok=True)
    (root / "README.md").write_text("# Course\n")
    (root / "pyproject.toml").write_text('[project]\nname = "course"\n')
    return root


def cell_by_grade_id(notebook, grade_id):
    for cell in notebook.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)
