"""Tests of ``python -m netlite.course execute``, which saves a notebook's new outputs in place."""

from __future__ import annotations

import nbformat
from course_helpers import write_notebook
from nbformat.v4 import new_code_cell, new_notebook, new_output

from netlite.course.__main__ import main

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

# ipywidgets' interact, which makes plain nbclient 0.11 raise KeyError unless it stores widget state.
INTERACT_CELL = """
import ipywidgets as widgets

def show(n=3):
    print("squared:", n * n)

widgets.interact(show, n=widgets.IntSlider(value=3, min=0, max=9));
"""


def test_execute_saves_new_outputs(tmp_path):
    stale = new_code_cell(
        "print('new')", execution_count=7, outputs=[new_output("stream", name="stdout", text="old\n")]
    )
    stale.metadata["execution"] = {"iopub.execute_input": "2026-12-04T10:00:00.000000Z"}  # from an earlier run
    notebook = new_notebook(
        cells=[
            new_code_cell("import os\nprint(os.path.basename(os.getcwd()))"),
            stale,
            new_code_cell(INTERACT_CELL),
        ],
        metadata={"kernelspec": KERNELSPEC},
    )
    path = write_notebook(tmp_path / "course folder" / "01_outputs.ipynb", notebook)

    assert main(["execute", str(path)]) == 0

    saved = nbformat.read(str(path), as_version=4)
    # The kernel runs in the notebook's folder, as under nbval.
    assert saved.cells[0].outputs[0]["text"] == "course folder\n"
    assert saved.cells[1].outputs[0]["text"] == "new\n"
    assert saved.cells[1].execution_count == 2
    assert saved.cells[2].outputs, "the interact cell stored no output"
    assert "widgets" not in saved.metadata
    assert all("execution" not in cell.metadata for cell in saved.cells)  # no timestamps


def test_execute_failing_cell_leaves_file_unchanged(tmp_path, capsys):
    notebook = new_notebook(
        cells=[new_code_cell("print('runs')"), new_code_cell("1 / 0"), new_code_cell("print('not reached')")],
        metadata={"kernelspec": KERNELSPEC},
    )
    path = write_notebook(tmp_path / "02_fails.ipynb", notebook)
    before = path.read_bytes()

    assert main(["execute", str(path)]) == 1

    assert path.read_bytes() == before
    message = capsys.readouterr().err
    assert "cell 1 raised ZeroDivisionError: division by zero" in message
    assert "the file was left unchanged" in message


def test_execute_missing_notebook(tmp_path, capsys):
    assert main(["execute", str(tmp_path / "missing.ipynb")]) == 2
    assert "missing.ipynb" in capsys.readouterr().err
