"""Run notebooks top to bottom and save their new outputs: ``python -m netlite.course execute NOTEBOOK...``.

nbval compares only the cells that have stored outputs, so a cell added to a solution notebook
or changed in it goes unchecked until its outputs are saved again. This command runs each
notebook with nbclient in a fresh ``python3`` kernel, with the notebook's folder as working
directory as under nbval. It saves no widget state in the notebook's metadata, because
``tests/test_notebook_content.py`` rejects that.
"""

from __future__ import annotations

from pathlib import Path

from . import build as course_build

DEFAULT_CELL_TIMEOUT = 600.0  # seconds, the same as the --nbval-cell-timeout in pyproject.toml


class NotebookRunError(RuntimeError):
    """A notebook did not run to the end (a cell raised or timed out, or the kernel died), so nothing was saved."""


def execute_in_place(path, cell_timeout: float = DEFAULT_CELL_TIMEOUT) -> None:
    """Run the notebook at ``path`` in a fresh kernel and write it back with the new outputs.

    Raises NotebookRunError, and leaves the file unchanged, when the notebook does not run to the end.
    """
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    from .grade import notebook_client

    path = Path(path)
    notebook = course_build.read_notebook(path)
    # notebook_client keeps ipywidgets' interact from hanging, and stores the widget state, without
    # which nbclient 0.11 raises KeyError on interact's output.
    client = notebook_client(
        notebook,
        timeout=cell_timeout,
        kernel_name=course_build.KERNEL_NAME,
        resources={"metadata": {"path": str(path.resolve().parent)}},
        record_timing=False,  # no timestamps in every cell's metadata, so the diff shows only the outputs
    )
    try:
        client.execute()
    except CellExecutionError as error:
        index = _failed_cell(notebook)
        lines = str(error.evalue).strip().splitlines()
        first_line = lines[0] if lines else ""
        raise NotebookRunError(
            f"{path}: cell {index} raised {error.ename}: {first_line}; "
            f"fix the cell and run the command again (the file was left unchanged)"
        ) from None
    except CellTimeoutError:
        raise NotebookRunError(
            f"{path}: a cell did not finish within {cell_timeout:g} s; the file was left unchanged"
        ) from None
    except DeadKernelError as error:
        raise NotebookRunError(f"{path}: the kernel died ({error}); the file was left unchanged") from None
    # The widget state is for the browser only, and the repository's notebooks do not store it.
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:  # nbclient keeps run times from earlier runs even with record_timing=False
        cell.get("metadata", {}).pop("execution", None)
    course_build.write_text_atomically(path, course_build.notebook_text(notebook))


def _failed_cell(notebook):
    for index, cell in enumerate(notebook.cells):
        if any(output.get("output_type") == "error" for output in cell.get("outputs", [])):
            return index
    return None
