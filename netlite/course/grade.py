"""Grade the students' exercise notebooks: restore the instructor's checks, run, score, report.

For every student folder in the submissions folder and every solution notebook with check cells:

1. The student's notebook gets the instructor's check cells from ``solutions/`` (hidden tests
   included), matched by ``grade_id``. A check cell the student deleted is put back after the cell
   that precedes it in the solution notebook.
2. The notebook runs in a fresh ``python3`` kernel, in a child process of its own. Its working
   directory is a new copy of the student's folder,
   ``$TMPDIR/netlite-grade-XXXX/<submissions folder>/<student>/``, so that a relative path that
   climbs at most two folders (``../<student>``, ``../../<submissions>-graded``) stays inside
   ``netlite-grade-XXXX`` and reaches neither the other submissions nor the output folder, even
   when those are in TMPDIR. A cell that runs longer than the cell time limit is interrupted and
   counts as an error, and the next cell runs once the kernel has stopped it. Code that catches
   the interrupt and goes on (``nl.train`` stops its epochs and returns) is interrupted again every
   second. A cell still running after a second time limit (capped at INTERRUPT_GRACE_SECONDS) ends
   the run. A notebook that runs longer than the notebook time limit is stopped by killing the
   child process and its kernel. A child process whose notebook ended in time gets
   EXIT_GRACE_SECONDS more to write the feedback notebook before it is killed. The checks that ran
   before the run ended keep their score.
3. Each check cell scores its points when it ran without error, else 0.

Outputs in the output folder: ``gradebook.csv``, ``summary.md``, ``executed/<student>/`` with each
executed notebook, and ``.grading/<student>/`` with what the grader ran and the logs. The
two reports are written atomically. The executed notebooks are feedback for the students, without
the hidden tests (see ``make_feedback``). ``.grading/`` contains the
notebooks as run, hidden tests included, the log of each run (the kernel's own output, which the
student's code can fill with anything) and the records of each cell, for the instructor only.

The child process signs each cell record (HMAC-SHA256) with a key that is never written to a file
or passed to the kernel, because the student's code runs in a kernel that can write to the records
file. A record that does not verify ends the reading of the file: the checks after it score 0,
and the notebook's problem says that the file was changed.

NOTE: the key is in the memory of the grader's processes, and on Linux a process can read the
memory of another process of the same user unless ptrace is restricted (Yama's ptrace_scope 1 or
more, and no root). Student code that does so can sign a forged record, so the signature stops the
simple forgery only.

NOTE: the student's code runs with the grader's permissions, in the same kernel as the checks.
Code that replaces the check helpers or the interpreter's error reporting can fake a pass. An
absolute path, a link to one in the student's folder, or a relative path that climbs three or more
folders (to TMPDIR, where the submissions may be) reaches any file of the grader's user. So run the
grader in a sandbox or container and read suspicious notebooks. When a notebook deletes the
grader's files of its own run, the student scores 0 with the reason, and the other students are
graded.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import hmac
import html
import io
import json
import multiprocessing
import multiprocessing.connection
import os
import re
import secrets
import shutil
import signal
import stat
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import build as course_build

# Hidden-test lines shorter than this (``pass``, ``x = 1``) occur in any notebook and reveal nothing.
MIN_HIDDEN_LINE_LENGTH = 12
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # the colours in IPython's tracebacks
MARKUP_TAG = re.compile(r"<[^<>]*>")  # an HTML or XML tag, which the reader of the rendered text does not see
GRADING_DIR = ".grading"  # in the output folder: the notebooks as run and the cell records
WORKING_COPY_PREFIX = "netlite-grade-"  # of the temporary folder that contains the copy of a student's folder
DEFAULT_CELL_TIMEOUT = 300.0
DEFAULT_NOTEBOOK_TIMEOUT = 1800.0
# The maximum time the kernel gets to stop a cell after its time limit, before the run ends.
INTERRUPT_GRACE_SECONDS = 60.0
# Time a child process gets beyond the notebook time limit to write the feedback notebook and exit,
# when its notebook has run to the end or stopped early before the limit.
EXIT_GRACE_SECONDS = 10.0
# Longer outputs, and the outputs of a cell beyond this in all, are cut in the feedback notebooks, so
# that a student's huge print does not make the feedback file too large to open. While a notebook
# runs, the grader keeps no more of a cell's outputs than this (errors excepted, see _OutputRecorder),
# so that a cell printing in an endless loop does not fill the grader's memory.
MAX_FEEDBACK_OUTPUT_CHARS = 100_000
MAX_ERROR_MESSAGE_CHARS = 2_000  # the maximum length of an error's message, or of a traceback line, in an error cut short
# Shown in the feedback notebooks where a check cell's hidden tests were.
HIDDEN_TESTS_NOTE = "# The hidden tests of this check ran here; they are not shown."
# Maximum number of other notebooks listed for a missing one, so that a folder full of files keeps the summary short.
MAX_LISTED_NOTEBOOKS = 10
# Maximum number of files named in a note on the working copy, for the same reason.
MAX_LISTED_FILES = 10
# Endings that copies of a notebook get. Both patterns match a stem whose runs of spaces, hyphens
# and underscores are already one underscore.
COPY_SUFFIX = re.compile(
    r"""(?:
        _?\(\d+\)  # a browser's " (1)"
        | _?\((?:another_|\d+(?:st|nd|rd|th)_)?copy\)  # GNOME Files' " (copy)", " (another copy)", " (3rd copy)"
        | _copy(?:_?\d+)?  # Jupyter's "-Copy1", a file manager's " copy 2" or " - Copy"
        | _checkpoint  # a file copied out of .ipynb_checkpoints
        | \.ipynb  # the extension typed twice
    )$""",
    re.VERBOSE,
)
# The start of Google Colab's copies: "Copy of 03_own_activation.ipynb".
COPY_PREFIX = re.compile(r"^copy_of_")
# First characters that make Excel, LibreOffice Calc or Google Sheets read a CSV cell as a formula. The
# apostrophe is there too, so that removing one leading apostrophe always restores a cell's text.
SPREADSHEET_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


@dataclass
class CheckResult:
    """The score of one check cell of one student's notebook."""

    grade_id: str
    max_points: float
    points: float = 0.0
    error: str | None = None


@dataclass
class NotebookResult:
    """The scores of one student's notebook, with the reason when it did not run to the end."""

    student: str
    notebook: str
    checks: list[CheckResult]
    problem: str | None = None
    notes: list[str] = field(default_factory=list)  # about the run, such as files left out of the working copy

    @property
    def points(self) -> float:
        return sum(check.points for check in self.checks)

    @property
    def max_points(self) -> float:
        return sum(check.max_points for check in self.checks)


# -- preparing the notebook --------------------------------------------------


def _cell_key(cell):
    grade_id = course_build.nbgrader_metadata(cell).get("grade_id")
    if grade_id:
        return ("grade_id", grade_id)
    return ("id", cell.get("id")) if cell.get("id") else None


def restore_checks(submission, solution):
    """Return a copy of the student's notebook whose check cells are the instructor's.

    Student cells that carry a check cell's grade_id are replaced. Of several cells with the same
    grade_id (a check cell copied and pasted keeps its metadata), the last one is kept, because the
    code that a check tests comes before it. A missing check cell is inserted after the nearest
    earlier cell of the solution notebook that the submission still has, or at the end. A cell marked
    as a check with a grade_id the solution does not have becomes an ordinary cell, so that its
    feedback does not read as a passed check. Other cells stay as the student left them.
    """
    checks = {check.grade_id: check.cell for check in course_build.check_cells(solution)}
    graded = copy.deepcopy(submission)
    last_copy = {}
    for index, cell in enumerate(graded.cells):
        grade_id = course_build.nbgrader_metadata(cell).get("grade_id")
        if grade_id in checks:
            last_copy[grade_id] = index
    cells, placed = [], set()
    for index, cell in enumerate(graded.cells):
        grade_id = course_build.nbgrader_metadata(cell).get("grade_id")
        if grade_id not in checks:
            if course_build.is_check_cell(cell):  # a check the instructor did not write: it scores nothing
                cell.metadata.pop("nbgrader")
            cells.append(cell)
        elif index == last_copy[grade_id]:
            cells.append(copy.deepcopy(checks[grade_id]))
            placed.add(grade_id)

    for index, solution_cell in enumerate(solution.cells):
        grade_id = course_build.nbgrader_metadata(solution_cell).get("grade_id")
        if grade_id not in checks or grade_id in placed:
            continue
        position = len(cells)
        for earlier in reversed(solution.cells[:index]):
            key = _cell_key(earlier)
            matches = [number for number, cell in enumerate(cells) if key is not None and _cell_key(cell) == key]
            if matches:
                position = matches[0] + 1
                break
        cells.insert(position, copy.deepcopy(checks[grade_id]))
        placed.add(grade_id)

    seen_ids = set()
    for cell in cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        # A student's copy of a check cell without its metadata keeps the check cell's id.
        if "id" in cell:
            while cell["id"] in seen_ids:
                cell["id"] = uuid.uuid4().hex[:8]
            seen_ids.add(cell["id"])
    graded.cells = cells
    graded.metadata.setdefault("kernelspec", {})["name"] = course_build.KERNEL_NAME
    return graded


# -- running one notebook in a child process ----------------------------------


class _ResultsWriter:
    """Append numbered, signed records to a results file, one JSON line each."""

    def __init__(self, file, key: bytes):
        self.file = file
        self.key = key
        self.n_records = 0

    def record(self, **fields) -> None:
        fields["number"] = self.n_records
        self.n_records += 1
        text = json.dumps(fields, sort_keys=True)
        self.file.write(json.dumps({"record": text, "mac": _sign(self.key, text)}) + "\n")
        self.file.flush()


def _sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def notebook_client(notebook, **options):
    """Return an nbclient ``NotebookClient`` for ``notebook`` that does not hang on ipywidgets' Output widgets.

    ``options`` go to ``NotebookClient``. For every output that an Output
    widget captures (``ipywidgets.interact`` uses one), nbclient 0.11 sends
    the widget's new state to the kernel on the shell socket, while another of
    its tasks waits on that socket for the cell's reply. Now and then the reply
    then never reaches that task: the kernel is idle, and the cell waits for
    its time limit. Here that happened in 11 of 46 runs of
    exercises/05_optimizers.ipynb, and in none of 35 runs without the send.
    nbclient's issue tracker reports the same hang for widget cells. This
    client still records the widget's outputs in the notebook but does not
    send them back. Widget state is stored, because nbclient 0.11 raises
    KeyError on interact output without it.

    NOTE: the kernel then never learns what an Output widget captured. A cell
    that reads ``out.outputs`` gets an empty list, and ``out.append_stdout``
    replaces the recorded outputs instead of adding to them. The course's
    notebooks only use ``interact``, where this makes no difference.
    """
    from nbclient import NotebookClient
    from nbclient.output_widget import OutputWidget

    class OutputWidgetWithoutEcho(OutputWidget):
        def sync_state(self) -> None:
            pass

    options.setdefault("store_widget_state", True)
    client = NotebookClient(notebook, **options)
    client.widget_registry = {"@jupyter-widgets/output": {"OutputModel": OutputWidgetWithoutEcho}}
    return client


def feedback_source(source: str) -> str:
    """Return a check cell's source with each hidden-test fence replaced by HIDDEN_TESTS_NOTE.

    The students must not see the hidden tests. The note takes the fence's place, because its text
    claims that the tests ran there, after ``pass`` where the tests were a block's whole body.
    """
    return course_build.replace_hidden_tests(source, "an executed check cell", HIDDEN_TESTS_NOTE)


def hidden_test_lines(notebook) -> set[str]:
    """Return the lines inside the hidden-test fences of the notebook's check cells, whitespace collapsed."""
    lines = set()
    for cell in notebook.cells:
        if not course_build.is_check_cell(cell):
            continue
        source = course_build.source_text(cell).split("\n")
        for begin, end in course_build.fenced_blocks(
            source, course_build.BEGIN_HIDDEN_TESTS, course_build.END_HIDDEN_TESTS, "a check cell"
        ):
            lines.update(" ".join(line.split()) for line in source[begin + 1 : end])
    return {line for line in lines if len(line) >= MIN_HIDDEN_LINE_LENGTH}


def _output_strings(value):
    """Yield every string in a cell's outputs (text, data of any type, tracebacks)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _output_strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _output_strings(item)


def _stream_text(output) -> str:
    """Return a stream output's text, which nbformat stores as a string or as a list of lines."""
    text = output.get("text", "")
    # "".join of a string would make a list of its characters first: seconds and gigabytes for a flood's output.
    return text if isinstance(text, str) else "".join(text)


def shortened(output):
    """Return the output, or a copy cut to MAX_FEEDBACK_OUTPUT_CHARS characters with a note saying so."""
    import nbformat

    if output.get("output_type") == "stream":
        text = _stream_text(output)
        if len(text) <= MAX_FEEDBACK_OUTPUT_CHARS:
            return output
        note = f"\n[The grader cut this output here: it had {len(text):,} characters.]\n"
        return nbformat.v4.new_output(
            "stream", name=output.get("name", "stdout"), text=text[:MAX_FEEDBACK_OUTPUT_CHARS] + note
        )
    size = sum(len(text) for text in _output_strings(output))
    if size <= MAX_FEEDBACK_OUTPUT_CHARS:
        return output
    if output.get("output_type") == "error":  # the error's name and message tell the student why the cell failed
        return _shortened_error(output)
    note = f"The grader removed this output because it had {size:,} characters, more than {MAX_FEEDBACK_OUTPUT_CHARS:,}."
    return nbformat.v4.new_output("stream", name="stdout", text=note + "\n")


def _shortened_error(output):
    """Return an error output cut to MAX_FEEDBACK_OUTPUT_CHARS: long lines cut, then the oldest frames dropped.

    JupyterLab and nbconvert show the traceback, and ename and evalue only without one, so the
    traceback keeps its last lines, which name the failing line and the error.
    """
    import nbformat

    def cut(text):
        if len(text) <= MAX_ERROR_MESSAGE_CHARS:
            return text
        return text[:MAX_ERROR_MESSAGE_CHARS] + f" [the grader cut this here: it had {len(text):,} characters]"

    ename, evalue = str(output.get("ename", "")), cut(str(output.get("evalue", "")))
    lines = [cut(str(line)) for line in output.get("traceback", [])] or [f"{ename}: {evalue}"]
    tail, size = [], 0
    for line in reversed(lines):  # the last lines show where it failed and why
        if size + len(line) > MAX_FEEDBACK_OUTPUT_CHARS:
            tail.append(f"(The grader removed the {len(lines) - len(tail)} earlier lines of this traceback.)")
            break
        tail.append(line)
        size += len(line)
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=tail[::-1])


def _output_size(output) -> int:
    """Return the characters of an output: a stream's text, or every string of another output."""
    if output.get("output_type") == "stream":
        return len(_stream_text(output))
    return sum(len(text) for text in _output_strings(output))


def limited(outputs: list, dropped: tuple[int, int] = (0, 0)) -> list:
    """Return a cell's outputs, each shortened, with at most MAX_FEEDBACK_OUTPUT_CHARS characters in all.

    A print in a loop makes one output per flush, so each output alone may stay within the limit
    while the cell's outputs together pass it. The outputs past the limit become one note, except
    errors, which stay: they tell the student why the cell failed. ``dropped`` is the number of
    outputs, and of their characters, that the run did not record (see _OutputRecorder). The note
    counts them too.
    """
    import nbformat

    feedback_outputs, used = [], 0
    note_position, removed, removed_size = None, 0, 0
    for output in outputs:
        cut = shortened(output)
        size = _output_size(cut)
        is_error = cut.get("output_type") == "error"
        within_limit = note_position is None and (not feedback_outputs or used + size <= MAX_FEEDBACK_OUTPUT_CHARS)
        if is_error or within_limit:
            feedback_outputs.append(cut)
            used += size
            continue
        if note_position is None:
            note_position = len(feedback_outputs)
        removed += 1
        removed_size += _output_size(output)
    dropped_outputs, dropped_size = dropped
    if dropped_outputs and note_position is None:
        # The dropped outputs came after the recorded ones, except errors, which are always recorded.
        note_position = len(feedback_outputs)
        while note_position > 0 and feedback_outputs[note_position - 1].get("output_type") == "error":
            note_position -= 1
    removed += dropped_outputs
    removed_size += dropped_size
    if note_position is not None:
        note = (
            f"The grader removed the rest of this cell's output ({removed:,} outputs with {removed_size:,} "
            f"characters), because the cell's output passed {MAX_FEEDBACK_OUTPUT_CHARS:,} characters."
        )
        feedback_outputs.insert(note_position, nbformat.v4.new_output("stream", name="stdout", text=note + "\n"))
    return feedback_outputs


def _checked_part(output):
    """Return the part of an output that the hidden-test check of ``make_feedback`` must search.

    The search makes several copies of the text, which for a flood's output of hundreds of megabytes
    take seconds and gigabytes of memory, but the feedback shows only the first
    MAX_FEEDBACK_OUTPUT_CHARS characters of a stream (see ``shortened``). The part searched is
    twice as long, so that a hidden-test line that starts in the part shown is found whole unless
    the student's code pads it with that much whitespace. Other outputs that long are not shown at all.
    """
    if _output_size(output) <= 2 * MAX_FEEDBACK_OUTPUT_CHARS or output.get("output_type") == "error":
        return output
    if output.get("output_type") == "stream":
        return {"text": _stream_text(output)[: 2 * MAX_FEEDBACK_OUTPUT_CHARS]}
    return {}


def make_feedback(
    notebook,
    statuses: dict[int, tuple[str, str | None]],
    stopped: str | None = None,
    dropped: dict[int, tuple[int, int]] | None = None,
) -> None:
    """Turn an executed notebook into the students' feedback copy, in place.

    Check cells keep their visible source and their printed text, and their other outputs
    become one line with the result: an error's message and traceback could show a hidden
    test's input and expected value. Any output that contains a hidden-test line, for example
    of a student's ``print(In)``, is replaced by a note. ``statuses`` maps a cell index to
    (status, error name) as executed; ``stopped`` is the reason the run ended early, if it did.
    ``dropped`` maps a cell index to the outputs and characters that the run did not record.
    The ipywidgets state in the notebook's metadata is removed: it contains everything that an
    ``ipywidgets.Output`` captured, which neither the hidden-test check nor the output limits cover.
    """
    import nbformat

    notebook.metadata.pop("widgets", None)
    hidden = hidden_test_lines(notebook)

    def shows_hidden_test(output) -> bool:
        text = ANSI_ESCAPE.sub("", "\n".join(_output_strings(_checked_part(output))))
        text = html.unescape(MARKUP_TAG.sub("", text)) + "\n" + text  # what an HTML output shows, and its source
        text = " ".join(text.split())
        return any(line in text for line in hidden)

    removed = nbformat.v4.new_output(
        "stream", name="stdout", text="The grader removed this output because it contained a hidden test.\n"
    )
    for index, cell in enumerate(notebook.cells):
        if cell.get("cell_type") != "code":
            continue
        outputs = cell.outputs
        if course_build.is_check_cell(cell):
            outputs = [output for output in outputs if output.get("output_type") == "stream"]
        outputs = [copy.deepcopy(removed) if shows_hidden_test(output) else output for output in outputs]
        outputs = limited(outputs, (dropped or {}).get(index, (0, 0)))
        if course_build.is_check_cell(cell):
            grade_id = course_build.nbgrader_metadata(cell).get("grade_id")
            status, ename = statuses.get(index, ("not run", None))
            if status == "ok":
                result = "passed"
            elif status == "not run":
                result = f"did not run: {stopped}" if stopped else "did not run"
            else:
                result = f"failed ({ename})"
            line = nbformat.v4.new_output("stream", name="stdout", text=f"check {grade_id}: {result}\n")
            if shows_hidden_test(line):  # an error class can be named after a hidden test
                line = nbformat.v4.new_output("stream", name="stdout", text=f"check {grade_id}: failed\n")
            cell.source = feedback_source(cell.source)
            outputs.append(line)
        elif statuses.get(index, ("", None))[1] == "CellTimeoutError":  # its traceback shows only KeyboardInterrupt
            outputs.append(nbformat.v4.new_output(
                "stream", name="stdout", text="The grader interrupted this cell because it ran longer than the cell time limit.\n"
            ))
        cell.outputs = outputs


def execute_notebook(input_path, results_path, key, executed_path, log_path, working_dir, cell_timeout) -> None:
    """Run a notebook with nbclient and append one JSON line per executed cell to ``results_path``.

    Runs in the child process, and signs each line with ``key``. The first line records the
    kernel's process id and group, so the parent can kill the kernel when it has to stop this
    process.
    """
    log = open(log_path, "w", encoding="utf-8")
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    import nbformat
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    notebook = nbformat.read(input_path, as_version=4)
    with open(results_path, "a", encoding="utf-8") as results_file:
        results = _ResultsWriter(results_file, key)
        client = notebook_client(
            notebook,
            timeout=cell_timeout,
            kernel_name=course_build.KERNEL_NAME,
            allow_errors=True,
            interrupt_on_timeout=True,
            error_on_timeout={
                "ename": "CellTimeoutError",
                "evalue": f"the cell did not finish within {cell_timeout:g} s and was interrupted",
                "traceback": [],
            },
            shutdown_kernel="immediate",
            resources={"metadata": {"path": os.fspath(working_dir)}},
        )

        def on_notebook_start(notebook):
            provisioner = getattr(client.km, "provisioner", None)
            results.record(kernel_pid=getattr(provisioner, "pid", None), kernel_pgid=getattr(provisioner, "pgid", None))

        statuses = {}
        grace = min(cell_timeout, INTERRUPT_GRACE_SECONDS)

        async def on_cell_executed(cell, cell_index, execute_reply):
            content = (execute_reply or {}).get("content", {})
            statuses[cell_index] = (content.get("status", "error"), content.get("ename"))
            results.record(
                index=cell_index,
                status=content.get("status", "error"),
                ename=content.get("ename"),
                evalue=content.get("evalue"),
            )
            # The next cell's time limit starts when it is sent, so it must not wait behind this one.
            if content.get("ename") == "CellTimeoutError" and not await _wait_until_stopped(client, grace):
                raise _CellNotStopped(f"the cell that timed out was still running {grace:g} s after the interrupt")

        client.on_notebook_start = on_notebook_start
        client.on_cell_executed = on_cell_executed
        recorder = _OutputRecorder(client)
        stopped = None
        try:
            client.execute()
        except DeadKernelError as error:
            stopped = "the kernel died; the notebook may call exit() or use too much memory"
            results.record(stopped=f"the kernel died ({error}); the notebook may call exit() or use too much memory")
        except CellTimeoutError as error:
            stopped = "a cell timed out"
            results.record(stopped=f"a cell timed out ({str(error).splitlines()[0]})")
        except _CellNotStopped as error:
            stopped = str(error)
            results.record(stopped=str(error))
        except Exception as error:  # noqa: BLE001 - any failure of one notebook is reported, not raised
            stopped = f"the run stopped with {type(error).__name__}"
            results.record(stopped=f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
        else:
            results.record(finished=True)
        make_feedback(notebook, statuses, stopped, recorder.dropped)
        # The kernel has ended, so no student code can delete the folder again after this.
        Path(executed_path).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, executed_path)
    log.close()


class _OutputRecorder:
    """Record a cell's outputs in the notebook until they pass MAX_FEEDBACK_OUTPUT_CHARS, then only count them.

    ``limited`` removes every output after that point from the feedback, except errors, so recording
    them would only fill the memory: a cell that prints in an endless loop until its time limit
    sends gigabytes. Errors are always recorded, and so is an output that comes after the cell
    cleared its outputs.

    NOTE: jupyter_client still reads each message from the kernel whole. The kernel can send
    hundreds of megabytes of a flood in one message, which is recorded whole when the cell's
    outputs before it are within the limit.
    """

    def __init__(self, client):
        self.client = client
        self.record = client.output
        self.sizes: dict[int, tuple[int, int]] = {}  # cell index: (number of outputs, their characters) when counted
        self.dropped: dict[int, tuple[int, int]] = {}  # cell index: (outputs, characters) not recorded
        client.output = self.output

    def output(self, outs, msg, display_id, cell_index):
        import nbformat

        count, size = self.sizes.get(cell_index, (0, 0))
        if count != len(outs):  # cleared since counted
            count, size = len(outs), sum(_output_size(output) for output in outs)
        clearing = getattr(self.client, "clear_before_next_output", False)
        if size > MAX_FEEDBACK_OUTPUT_CHARS and msg["msg_type"] != "error" and not clearing:
            try:
                message_size = _output_size(nbformat.v4.output_from_msg(msg))
            except ValueError:  # not an output; nbclient logs it
                return self.record(outs, msg, display_id, cell_index)
            outputs, characters = self.dropped.get(cell_index, (0, 0))
            self.dropped[cell_index] = (outputs + 1, characters + message_size)
            return None
        out = self.record(outs, msg, display_id, cell_index)
        if out is not None and len(outs) == count + 1 and not clearing:
            size += _output_size(out)
        else:
            size = sum(_output_size(output) for output in outs)
        self.sizes[cell_index] = (len(outs), size)
        return out


class _CellNotStopped(Exception):
    """A cell that timed out kept running after the interrupts: the run ends."""


async def _wait_until_stopped(client, grace: float) -> bool:
    """Return True once the kernel has finished the interrupted cell, or False after ``grace`` seconds.

    The kernel runs one request after another, so the reply to an empty request sent now comes
    when the interrupted cell is done. While it does not come, the kernel is interrupted again
    once a second.
    """
    from queue import Empty

    from nbclient.util import ensure_async

    probe = client.kc.execute("", silent=True, store_history=False)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            reply = await ensure_async(client.kc.shell_channel.get_msg(timeout=1))
        except Empty:
            await ensure_async(client.km.interrupt_kernel())
            continue
        if reply["parent_header"].get("msg_id") == probe:
            return True
    return False


def _read_results(path: Path, key: bytes) -> tuple[list[dict], str | None]:
    """Return the verified records of a results file, and a problem if a line did not verify.

    Reading stops at the first line that is not a record signed with ``key`` and numbered in
    order. The last line of a killed process may be cut short, which is no problem.
    """
    if not path.exists():
        return [], None
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as error:
        return [], f"the cell records {GRADING_DIR}/{path.parent.name}/{path.name} could not be read ({error})"
    records = []
    for line_number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
            text, mac = entry["record"], entry["mac"]
            record = json.loads(text)
            verified = hmac.compare_digest(str(mac), _sign(key, str(text)))
            in_order = record.get("number") == len(records)
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            if line_number == len(lines):
                break
            verified = in_order = False
        if not (verified and in_order):
            return records, (
                f"the cell records were changed during the run (line {line_number} of "
                f"{GRADING_DIR}/{path.parent.name}/{path.name}), so the checks after it count as not run; "
                f"read the notebook, whose code may have written to that file"
            )
        records.append(record)
    return records, None


def _kill_kernel(records: list[dict]) -> None:
    """Kill the kernel started by a stopped child process, if it still runs."""
    for record in records:
        pid, pgid = record.get("kernel_pid"), record.get("kernel_pgid")
        if not pid:
            continue
        try:
            command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            command_line = b"ipykernel" if sys.platform != "linux" else b""
        # The process id may have been reused after the kernel ended; kill only an ipykernel.
        if b"ipykernel" not in command_line:
            continue
        try:
            if pgid:
                os.killpg(pgid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@dataclass
class _Job:
    student: str
    notebook: str
    solution: object
    graded_indices: dict[str, int]
    folder: Path  # executed/<student>: the feedback copy of the notebook
    work: Path  # .grading/<student>: the notebook as run, hidden tests included, its log and the cell records
    submission: Path  # the student's folder in the submissions, copied before the run
    temporary: Path | None = None  # contains the copy of the student's folder that the notebook runs in
    process: object = None
    deadline: float = 0.0
    in_exit_grace: bool = False  # the deadline passed after the run ended, and EXIT_GRACE_SECONDS were added
    problem: str | None = None
    notes: list = field(default_factory=list)  # on the working copy, for the summary
    records: list = field(default_factory=list)
    key: bytes = b""  # signs the child's records; made when the job starts
    wrote_feedback: bool = False  # the feedback notebook was there when the child process ended

    @property
    def results_path(self) -> Path:
        return self.work / f"{Path(self.notebook).stem}.results.jsonl"


def _multiprocessing_context():
    # fork lets each child reuse the parent's imported nbclient and nbformat, whose import
    # takes seconds; spawn is the fallback where fork does not exist.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


# -- grading -----------------------------------------------------------------


def _first_line(text) -> str:
    lines = str(text or "").strip().splitlines()
    return lines[0] if lines else ""


def score(job: _Job) -> NotebookResult:
    """Score the check cells of a finished or stopped job from the records of its child process."""
    by_index = {record["index"]: record for record in job.records if "index" in record}
    stopped = [record["stopped"] for record in job.records if "stopped" in record]
    finished = any(record.get("finished") for record in job.records)
    problem = "; then ".join(reason for reason in (stopped[0] if stopped else None, job.problem) if reason) or None
    if problem is None and not finished:
        problem = f"the notebook stopped without reporting why (see its log in {GRADING_DIR}/)"

    check_indices = set(job.graded_indices.values())
    # The first cell of the student's own code that failed, which often explains the failed checks after it.
    first_failure = min(
        (index for index, record in by_index.items() if record.get("status") != "ok" and index not in check_indices),
        default=None,
    )
    checks = []
    for check in course_build.check_cells(job.solution):
        result = CheckResult(check.grade_id, check.points)
        index = job.graded_indices[check.grade_id]
        record = by_index.get(index)
        if record is None:
            result.error = "not run" + (f": {problem}" if problem else "")
        elif record.get("status") == "ok":
            result.points = check.points
        else:
            ename, evalue = record.get("ename") or "error", _first_line(record.get("evalue"))
            result.error = f"{ename}: {evalue}" if evalue else ename
            if first_failure is not None and first_failure < index:
                earlier = by_index[first_failure]
                earlier_error = f"{earlier.get('ename') or 'error'}: {_first_line(earlier.get('evalue'))}".rstrip(": ")
                result.error += f" (cell {first_failure} failed before it: {earlier_error})"
        checks.append(result)
    return NotebookResult(job.student, job.notebook, checks, problem, notes=list(job.notes))


def _check_cells_are_cells(notebook) -> None:
    """Raise ValueError unless the notebook's cells are a list of cells with a type each."""
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        raise ValueError(f"its 'cells' entry is a {type(cells).__name__}, expected a list of cells")
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise ValueError(f"cell {index} is a {type(cell).__name__} without a cell_type, expected a cell")


def _zero_result(student, notebook, solution, problem, error=None) -> NotebookResult:
    """Return a result that scores every check 0, with ``error`` (default: ``problem``) as each check's reason."""
    checks = [
        CheckResult(check.grade_id, check.points, error=error or problem)
        for check in course_build.check_cells(solution)
    ]
    return NotebookResult(student, notebook, checks, problem)


def other_notebooks(folder: Path, graded_names) -> list[str]:
    """Return the ``.ipynb`` files in a student's folder and its subfolders that are not graded.

    The paths are relative to ``folder``, with ``/`` between parts. Only files named in
    ``graded_names`` and placed directly in ``folder`` are graded. Hidden files and folders, such
    as JupyterLab's ``.ipynb_checkpoints``, are skipped, and links to folders are not followed.
    """
    found = []
    for directory, subfolders, files in os.walk(folder):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        relative = Path(directory).relative_to(folder)
        for name in sorted(files):
            if not name.lower().endswith(".ipynb") or name.startswith("."):
                continue
            if relative == Path(".") and name in graded_names:
                continue
            found.append((relative / name).as_posix())
    return found


def plain_stem(path: str) -> str:
    """Return a notebook's file name without folders and ``.ipynb``, with case and separators normalized.

    Letters are lowercased, and each run of spaces, hyphens and underscores becomes one underscore.
    Copy marks are kept.
    """
    stem = PurePosixPath(path).name.lower().removesuffix(".ipynb")
    return re.sub(r"[\s_-]+", "_", stem).strip("_")


def normalized_stem(path: str, graded_stems) -> str:
    """Return the part of a notebook's path that names the notebook, to match renamed copies.

    The prefixes and suffixes of copies are removed from the ``plain_stem`` one at a time, as often
    as they repeat, but removal stops at a stem in ``graded_stems``. For example
    ``downloads/Copy of 03 Own Activation-Copy1 (1).ipynb`` becomes ``03_own_activation``, and
    ``06_deep_copy (1).ipynb`` becomes ``06_deep_copy`` when that is a graded notebook's stem.
    """
    stem = plain_stem(path)
    while stem not in graded_stems:
        # The prefix goes first, so that "Copy of 06_deep_copy" stops at a graded 06_deep_copy.
        if COPY_PREFIX.match(stem):
            stem = COPY_PREFIX.sub("", stem)
        elif COPY_SUFFIX.search(stem):
            stem = COPY_SUFFIX.sub("", stem).strip("_")
        else:
            break
    return stem


def not_submitted_problem(folder: Path, notebook: str, graded_names) -> str:
    """Return the problem of a missing notebook, listing the student's notebooks that may be renamed copies of it.

    The list starts with the notebooks in ``folder`` whose normalized stem equals that of ``notebook``,
    followed by those whose stem matches no name in ``graded_names`` (an ``Untitled.ipynb`` may be any
    of them). Notebooks that match another graded notebook are left out, because they are most likely
    copies of that one.
    """
    graded_stems = {plain_stem(name) for name in graded_names}
    missing_stem = normalized_stem(notebook, graded_stems)
    others = other_notebooks(folder, graded_names)
    stems = {name: normalized_stem(name, graded_stems) for name in others}
    alike = [name for name in others if stems[name] == missing_stem]
    unmatched = [name for name in others if stems[name] not in graded_stems]
    candidates = alike + unmatched
    if not candidates:
        return "notebook not submitted"
    listed = ", ".join(repr(name) for name in candidates[:MAX_LISTED_NOTEBOOKS])
    if len(candidates) > MAX_LISTED_NOTEBOOKS:
        listed += f" and {len(candidates) - MAX_LISTED_NOTEBOOKS} more"
    return (
        f"notebook not submitted. The grader takes only this exact file name at the top of the student's folder "
        f"and did not grade these notebooks, which may be this one renamed or moved: {listed}"
    )


def _make_work_folder(work: Path) -> None:
    """Create ``.grading/<student>/``, with ``.grading/`` readable by its owner only.

    The notebooks as run keep the hidden tests. A notebook graded earlier may have deleted the
    output folder, so this runs again before each notebook.
    """
    work.parent.mkdir(parents=True, exist_ok=True)
    work.parent.chmod(0o700)
    work.mkdir(exist_ok=True)


def _copy_submission(submission: Path, temporary: Path) -> tuple[Path, list[str]]:
    """Copy a student's folder to ``temporary/<submissions folder>/<student>``, returning the copy and notes on it.

    The copy lies two levels below ``temporary``, as the student's folder lies two levels below the
    submissions' parent. So ``../`` contains only this copy, and ``../../<name>`` stays inside
    ``temporary`` even when the submissions and the output folder are in TMPDIR too. Links are
    copied as links, so a link that leads out of the student's folder by a relative path leads
    nowhere in the copy, and one note names such links. Folders are made writable by the owner, so
    that the notebook can save files as in its own folder, even from submissions that were made
    read-only.

    Special files (named pipes, sockets, devices) and files that cannot be read are left out, so
    that the notebook still runs, and one note names them. Raises OSError when the student's
    folder itself cannot be read.
    """
    copy_path = temporary / submission.parent.name / submission.name
    left_out = []

    def special_files(directory, names):
        # Reading a named pipe or a device could block or never end, so these are not opened at all.
        special = []
        for name in names:
            path = os.path.join(directory, name)
            try:
                kind = _special_file_kind(os.lstat(path).st_mode)
            except OSError:
                continue  # copytree reports the error when it copies the file
            if kind is not None:
                special.append(name)
                left_out.append(f"{shown_name(os.path.relpath(path, submission))} (a {kind})")
        return special

    try:
        shutil.copytree(submission, copy_path, symlinks=True, ignore=special_files)
    except shutil.Error as error:  # raised after copying everything else, with one entry per failed file
        for source, _, reason in error.args[0]:
            left_out.append(f"{shown_name(os.path.relpath(source, submission))} ({reason})")
    # The links that lead nowhere in the copy: to a file left out of it, out of the student's folder by
    # a relative path, or nowhere in the student's folder already.
    to_left_out, leading_out, broken = [], [], []
    for directory, folders, files in os.walk(copy_path):
        mode = os.stat(directory).st_mode
        os.chmod(directory, mode | stat.S_IRWXU)
        # os.walk lists a link to a folder among the folders and a broken link among the files.
        for name in sorted(folders + files):
            path = os.path.join(directory, name)
            if not os.path.islink(path) or os.path.exists(path):
                continue
            relative = os.path.relpath(path, copy_path)
            link = f"{shown_name(relative)} -> {shown_name(os.readlink(path))}"
            original = os.path.join(submission, relative)
            if not os.path.exists(original):
                broken.append(link)
            elif Path(os.path.realpath(original)).is_relative_to(os.path.realpath(submission)):
                to_left_out.append(link)
            else:
                leading_out.append(link)

    notes = []
    if left_out:
        notes.append(f"the working copy leaves out these files of the student's folder: {_listed(left_out)}")
    if to_left_out:
        notes.append(f"these links lead to files that the working copy leaves out: {_listed(to_left_out)}")
    if leading_out:
        notes.append(
            f"these links lead nowhere in the working copy, where a relative link cannot leave the "
            f"student's folder: {_listed(leading_out)}"
        )
    if broken:
        notes.append(f"these links lead nowhere in the student's folder: {_listed(broken)}")
    return copy_path, notes


def _special_file_kind(mode: int) -> str | None:
    """Return the kind of a special file from its ``st_mode``, or None for a file, folder or link."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "named pipe"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device file"
    return "special file"


def shown_name(name: str) -> str:
    """Return a file name for the summary and the log, as a Python string literal if it has unprintable characters.

    A line break or carriage return in a name would otherwise break the lines of both.
    """
    return name if name.isprintable() else repr(name)


def _listed(items: list[str]) -> str:
    """Return the first MAX_LISTED_FILES items joined by commas, and how many more there are."""
    listed = ", ".join(items[:MAX_LISTED_FILES])
    if len(items) > MAX_LISTED_FILES:
        listed += f" and {len(items) - MAX_LISTED_FILES} more"
    return listed


def _remove_temporary(job: _Job) -> None:
    # NOTE: a folder that the student's code made read-only stays behind (unless the grader runs as root).
    if job.temporary is not None:
        shutil.rmtree(job.temporary, ignore_errors=True)


def _start(job: _Job, graded, cell_timeout, notebook_timeout, context) -> None:
    """Copy the student's folder to a new temporary folder and start the child process that runs the notebook there.

    Raises OSError when the folder cannot be copied or the grader's files cannot be written.
    """
    import nbformat

    job.temporary = Path(tempfile.mkdtemp(prefix=WORKING_COPY_PREFIX))
    working_dir, job.notes = _copy_submission(job.submission, job.temporary)
    _make_work_folder(job.work)
    job.folder.mkdir(parents=True, exist_ok=True)
    input_path = job.work / f"{Path(job.notebook).stem}.input.ipynb"
    nbformat.write(graded, input_path)
    job.results_path.write_bytes(b"")  # made here, so that a missing file means the run deleted it
    job.key = secrets.token_bytes(32)  # made here, so that the children forked before never had it
    job.process = context.Process(
        target=execute_notebook,
        args=(
            os.fspath(input_path),
            os.fspath(job.results_path),
            job.key,
            os.fspath(job.folder / job.notebook),
            os.fspath(job.work / f"{Path(job.notebook).stem}.log"),
            os.fspath(working_dir),
            cell_timeout,
        ),
        daemon=False,
    )
    job.process.start()
    job.deadline = time.monotonic() + notebook_timeout


def _stop(job: _Job, reason: str) -> None:
    job.process.kill()
    job.process.join()
    job.problem = reason
    _kill_kernel(_read_results(job.results_path, job.key)[0])
    _remove_temporary(job)


def _finish(job: _Job, log) -> NotebookResult:
    """Score a job whose child process has ended, from its cell records, and remove its working copy."""
    job.records, changed = _read_results(job.results_path, job.key)
    if not job.results_path.is_file():
        changed = (
            f"the cell records {GRADING_DIR}/{job.student}/{job.results_path.name} went missing during the run, "
            f"so no check counts; the notebook's code may have deleted them or the output folder"
        )
    if changed:
        log(f"warning: {shown_name(job.student)}/{job.notebook}: {changed}")
    job.problem = changed or job.problem
    _remove_temporary(job)
    result = score(job)
    job.wrote_feedback = (job.folder / job.notebook).is_file()
    if not job.wrote_feedback:
        reason = result.problem or "the grading process did not write it"
        log(f"warning: {shown_name(job.student)}/{job.notebook}: no feedback notebook was written: {reason}")
    return result


def _run_ended(job: _Job) -> bool:
    """Return True when the child's records show that its notebook ran to the end or stopped early."""
    records, _ = _read_results(job.results_path, job.key)
    return any(record.get("finished") or "stopped" in record for record in records)


def grade(
    root: Path,
    submissions: Path,
    out: Path | None = None,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT,
    notebook_timeout: float = DEFAULT_NOTEBOOK_TIMEOUT,
    jobs: int = 1,
    log=print,
) -> list[NotebookResult]:
    """Grade every student folder in ``submissions`` against the solutions in ``root``.

    Returns one NotebookResult per student and graded notebook, and writes ``gradebook.csv``,
    ``summary.md`` and ``executed/`` to ``out`` (default: ``<submissions>-graded`` beside it).
    """
    for name, value in (("cell_timeout", cell_timeout), ("notebook_timeout", notebook_timeout)):
        if not value > 0:
            raise ValueError(f"grade: {name} must be a positive number of seconds, got {value!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"grade: jobs must be a positive integer, got {jobs!r}")
    submissions = Path(submissions).resolve()
    if not submissions.is_dir():
        raise FileNotFoundError(f"grade: submissions folder {submissions} not found")
    out = Path(out).resolve() if out is not None else submissions.with_name(submissions.name + "-graded")
    if out.is_relative_to(submissions):
        # The output would pass for a student's folder or land in one, with the hidden tests in .grading/.
        raise ValueError(
            f"grade: the output folder {out} is inside the submissions folder {submissions}; choose a folder "
            f"outside it, such as the default {submissions.name}-graded beside it"
        )
    if submissions.is_relative_to(out):
        # The grader writes and deletes files in the output folder, the students' notebooks among them.
        raise ValueError(
            f"grade: the submissions folder {submissions} is inside the output folder {out}; choose an output "
            f"folder that does not contain it, such as the default {submissions.name}-graded beside it"
        )
    temporary_root = Path(tempfile.gettempdir()).resolve()
    for name, folder in (("submissions", submissions), ("output", out)):
        if temporary_root.is_relative_to(folder):
            raise ValueError(
                f"grade: the temporary folder {temporary_root} is inside the {name} folder {folder}, so the "
                f"notebooks would reach it by relative paths; set TMPDIR to a folder outside both"
            )

    solutions = {
        name: notebook
        for name, notebook in course_build.load_solutions(Path(root)).items()
        if course_build.check_cells(notebook)
    }
    if not solutions:
        raise course_build.CourseFormatError(f"grade: no solution notebook in {Path(root).resolve()} has a check cell")
    stale = course_build.check(Path(root))
    if not stale.up_to_date:
        log(
            f"warning: {course_build.EXERCISES_DIR}/ is out of date with {course_build.SOLUTIONS_DIR}/:\n{stale.describe()}\n"
            f"the students' notebooks came from {course_build.EXERCISES_DIR}/, so a check cell whose grade_id changed "
            f"since is not found in them, and one whose visible part changed is graded in the new form; if the "
            f"change is meant for the students, run 'python -m netlite.course build' and hand out the new exercises"
        )
    students, skipped_folders = _student_folders(submissions)
    for note in skipped_folders:
        log(f"note: {note}")

    # Import before forking, so every child process reuses the loaded modules.
    import nbclient  # noqa: F401
    import nbformat

    context = _multiprocessing_context()
    results: list[NotebookResult] = []
    pending: list[tuple[_Job, object]] = []
    for student in students:
        for name, solution in solutions.items():
            path = student / name
            folder, work = out / "executed" / student.name, out / GRADING_DIR / student.name
            folder.mkdir(parents=True, exist_ok=True)
            # A feedback notebook from an earlier grading into this folder must not pass for this one's. It is
            # deleted only when this notebook is graded (below, or when its run starts), so that an interrupted
            # grading keeps the old feedback of the notebooks it did not reach.
            old_feedback = folder / name
            _make_work_folder(work)
            if path.is_symlink():
                # A link may lead to another student's notebook or to the solutions, and the feedback would show it.
                problem = (
                    f"{name} in the student's folder is a symbolic link (to {os.readlink(path)!r}), so it was not run; "
                    f"submit the .ipynb file itself"
                )
                old_feedback.unlink(missing_ok=True)
                results.append(_zero_result(student.name, name, solution, problem))
                continue
            if path.exists() and not path.is_file():
                # A folder or a named pipe under the notebook's name: submitted, but not as a file.
                problem = f"{name} in the student's folder is not a notebook file; submit the .ipynb file itself"
                old_feedback.unlink(missing_ok=True)
                results.append(_zero_result(student.name, name, solution, problem))
                continue
            if not path.is_file():
                problem = not_submitted_problem(student, name, solutions)
                old_feedback.unlink(missing_ok=True)
                results.append(_zero_result(student.name, name, solution, problem, error="notebook not submitted"))
                continue
            try:
                submission = nbformat.read(os.fspath(path), as_version=4)
                _check_cells_are_cells(submission)
                graded = restore_checks(submission, solution)
            except Exception as error:  # noqa: BLE001 - an unreadable notebook scores 0, the others go on
                problem = f"notebook could not be read ({type(error).__name__}: {_first_line(error)})"
                old_feedback.unlink(missing_ok=True)
                results.append(_zero_result(student.name, name, solution, problem))
                continue
            indices = {
                course_build.nbgrader_metadata(cell).get("grade_id"): index
                for index, cell in enumerate(graded.cells)
                if course_build.is_check_cell(cell)
            }
            pending.append((_Job(student.name, name, solution, indices, folder, work, student), graded))

    running: list[_Job] = []
    finished: list[_Job] = []
    try:
        while pending or running:
            while pending and len(running) < jobs:
                job, graded = pending.pop(0)
                log(f"grading {shown_name(job.student)}/{job.notebook}")
                try:
                    (job.folder / job.notebook).unlink(missing_ok=True)
                    _start(job, graded, cell_timeout, notebook_timeout, context)
                except OSError as error:  # the student's folder or the grader's files, maybe deleted by a notebook
                    _remove_temporary(job)
                    problem = f"the grader could not start this run ({type(error).__name__}: {_first_line(error)})"
                    log(f"error: {shown_name(job.student)}/{job.notebook}: {problem}; the other notebooks are graded")
                    results.append(_zero_result(job.student, job.notebook, job.solution, problem))
                    continue
                for note in job.notes:
                    log(f"note: {shown_name(job.student)}/{job.notebook}: {note}")
                running.append(job)
            if not running:
                continue
            wait_for = max(0.0, min(job.deadline for job in running) - time.monotonic())
            multiprocessing.connection.wait([job.process.sentinel for job in running], timeout=wait_for)
            for job in list(running):
                if not job.process.is_alive():
                    job.process.join()
                    if job.process.exitcode != 0:
                        job.problem = f"the grading process ended with exit code {job.process.exitcode}"
                        _kill_kernel(_read_results(job.results_path, job.key)[0])
                elif time.monotonic() < job.deadline:
                    continue
                elif job.in_exit_grace:
                    _stop(job, (
                        f"the grading process was killed because it had not written the feedback notebook "
                        f"{EXIT_GRACE_SECONDS:g} s after the notebook time limit of {notebook_timeout:g} s, so there is "
                        f"no feedback notebook; the checks that ran keep their score"
                    ))
                elif _run_ended(job):
                    # The kernel has ended, and the child process is writing the feedback notebook.
                    job.in_exit_grace = True
                    job.deadline = time.monotonic() + EXIT_GRACE_SECONDS
                    continue
                else:
                    _stop(job, f"stopped after the notebook time limit of {notebook_timeout:g} s")
                results.append(_finish(job, log))
                running.remove(job)
                finished.append(job)
    finally:
        for job in running:
            _stop(job, "grading was interrupted")

    # A notebook that deletes the output folder by its absolute path also deletes the feedback of the notebooks before it.
    lost = [
        f"{shown_name(job.student)}/{job.notebook}"
        for job in finished
        if job.wrote_feedback and not (job.folder / job.notebook).is_file()
    ]
    if lost:
        log(
            f"warning: these feedback notebooks are missing from {out / 'executed'}, because a notebook graded "
            f"later deleted them; grade these students again to write them: {', '.join(lost)}"
        )

    order = {(student.name, name): number for number, (student, name) in enumerate(
        (student, name) for student in students for name in solutions
    )}
    results.sort(key=lambda result: order[(result.student, result.notebook)])
    write_reports(out, [student.name for student in students], solutions, results, skipped_folders)
    log(f"wrote {out / 'gradebook.csv'} and {out / 'summary.md'}")
    return results


def _student_folders(submissions: Path) -> tuple[list[Path], list[str]]:
    """Return the student folders in ``submissions``, sorted, and a note on each link to a folder there.

    Hidden folders and files are ignored, and so are links to files. A link to a folder is not
    graded, because it may lead to another student's folder, which would then be graded twice, or
    to the solutions. A broken link gets a note too, because it may have led to a student's folder.
    """
    students, skipped = [], []
    for path in sorted(submissions.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_symlink() and not path.exists():
            skipped.append(
                f"{shown_name(path.name)} was not graded, because it is a link to {os.readlink(path)!r}, which "
                f"does not exist; a student's submission must be a folder of its own, so replace the link by "
                f"the student's folder"
            )
        elif not path.is_dir():
            continue
        elif path.is_symlink():
            skipped.append(
                f"{shown_name(path.name)} was not graded, because it is a link to {os.readlink(path)!r}; a "
                f"student's submission must be a folder of its own, so replace the link by a copy of the folder it "
                f"leads to"
            )
        else:
            students.append(path)
    return students, skipped


# -- reports -----------------------------------------------------------------


def _format_points(points: float) -> str:
    return f"{points:g}"


def gradebook_csv(students, solutions, results) -> str:
    """Return the gradebook: one row per student, one column per ``notebook:grade_id``, and the total."""
    columns = [
        (name, check.grade_id)
        for name, solution in solutions.items()
        for check in course_build.check_cells(solution)
    ]
    points = {
        (result.student, result.notebook, check.grade_id): check.points for result in results for check in result.checks
    }
    buffer = io.StringIO()
    # Rows end in CRLF, as RFC 4180 has it, because csv quotes a cell with a carriage return only when the
    # line terminator contains one, and a spreadsheet starts a new row at an unquoted carriage return.
    writer = csv.writer(buffer, lineterminator="\r\n")
    header = ["student"] + [f"{Path(name).stem}:{grade_id}" for name, grade_id in columns] + ["total"]
    writer.writerow([_spreadsheet_text(name) for name in header])
    for student in students:
        row = [points.get((student, name, grade_id), 0.0) for name, grade_id in columns]
        name = _spreadsheet_text(_utf8_name(student))
        writer.writerow([name] + [_format_points(value) for value in row] + [_format_points(sum(row))])
    return buffer.getvalue()


def _utf8_name(name: str) -> str:
    """Return a folder name as it is, or as a Python string literal when it is not valid UTF-8.

    Python keeps the bytes of such a name (from a zip file, for example ``b"Jos\\xe9"``) as surrogates
    (``'Jos\\udce9'``), which cannot be written to a UTF-8 file. The summary shows the same literal.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return repr(name)
    return name


def _spreadsheet_text(text: str) -> str:
    """Return ``text`` with an apostrophe before it when it starts like a spreadsheet formula.

    A student's folder named ``=HYPERLINK(...)`` would otherwise run as a formula when the instructor
    opens the gradebook. Spreadsheets read a cell that starts with an apostrophe as text.
    """
    return "'" + text if text.startswith(SPREADSHEET_FORMULA_START) else text


def _markdown_cell(text: str) -> str:
    """Return ``text`` for one line of a Markdown table or list, with ``|`` and unprintable characters escaped."""
    printable = [char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text]
    return "".join(printable).replace("|", "\\|")


def summary_markdown(students, solutions, results, skipped_folders=()) -> str:
    """Return a readable report: a table of totals, the folders not graded, then each student's failed checks.

    Each failed check is shown with the first line of its error. ``skipped_folders`` contains a
    note on each folder of the submissions that was not graded.
    """
    maximum = sum(check.points for solution in solutions.values() for check in course_build.check_cells(solution))
    by_student = {student: [result for result in results if result.student == student] for student in students}
    stems = [Path(name).stem for name in solutions]
    lines = [
        "# Grading summary",
        "",
        f"{len(students)} students, {len(solutions)} graded notebooks, {_format_points(maximum)} points in total.",
        "",
        "| student | " + " | ".join(stems) + " | total |",
        "|---|" + "---:|" * (len(stems) + 1),
    ]
    for student, student_results in by_student.items():
        cells = [f"{_format_points(result.points)} / {_format_points(result.max_points)}" for result in student_results]
        total = sum(result.points for result in student_results)
        name = _markdown_cell(shown_name(student))
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {_format_points(total)} |")
    if skipped_folders:
        lines.extend(["", "## Folders not graded", ""])
        lines.extend(f"- {_markdown_cell(note)}" for note in skipped_folders)
    for student, student_results in by_student.items():
        lines.extend(["", f"## {_markdown_cell(shown_name(student))}", ""])
        for result in student_results:
            lines.append(
                f"- {result.notebook}: {_format_points(result.points)} of {_format_points(result.max_points)} points"
                + (f" ({_markdown_cell(result.problem)})" if result.problem else "")
            )
            lines.extend(f"  - note: {_markdown_cell(note)}" for note in result.notes)
            for check in result.checks:
                if check.error is not None:
                    lines.append(
                        f"  - {check.grade_id} (0 of {_format_points(check.max_points)}): {_markdown_cell(check.error)}"
                    )
    return "\n".join(lines) + "\n"


def write_reports(out: Path, students, solutions, results, skipped_folders=()) -> None:
    out.mkdir(parents=True, exist_ok=True)
    course_build.write_text_atomically(out / "gradebook.csv", gradebook_csv(students, solutions, results))
    summary = summary_markdown(students, solutions, results, skipped_folders)
    course_build.write_text_atomically(out / "summary.md", summary)
