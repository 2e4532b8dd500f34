"""The student's path through an exercise, in JupyterLab in a real (headless) Chromium.

A JupyterLab server on 127.0.0.1 serves a copy of the tanh exercise notebook. Chromium, driven by
Playwright, runs all cells and expects the check to fail with the exercise's NotImplementedError, pastes a
correct ``MyTanh`` into the solution cell, restarts the kernel and runs all cells again, expects both
checks to pass and the training progress bar appear, and saves. The saved notebook is then graded
with ``python -m netlite.course grade``. Screenshots of each step are written to
``test-artifacts/browser/`` (or to the folder in ``NETLITE_BROWSER_ARTIFACTS``).

Needs Debian's ``/usr/bin/chromium`` (skipped without it) and never downloads a browser. Deselect
with ``-m "not browser"``.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("jupyterlab", reason="the browser test needs JupyterLab (pip install -e '.[course]')")
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs Playwright (pip install -e '.[dev]')")

from browser import lab_page  # noqa: E402
from browser.jupyterlab_server import start_jupyterlab, stop_jupyterlab  # noqa: E402

pytestmark = pytest.mark.browser

REPOSITORY = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
EXERCISE_NAME = "03_own_activation.ipynb"
EXERCISE_SOURCE = REPOSITORY / "exercises" / EXERCISE_NAME
ARTIFACTS = Path(os.environ.get("NETLITE_BROWSER_ARTIFACTS", REPOSITORY / "test-artifacts" / "browser"))
STUDENT = "student_a"
UNSOLVED_STUDENT = "student_b"

# Chromium flags: headless, no sandbox (runs as root in CI), and no background traffic to Google.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--no-proxy-server",
]
NOT_LOCAL_URL = re.compile(r"^(?!http://127\.0\.0\.1:\d+/)")

# Time limits in milliseconds for the browser and in seconds for the grader. Generous because
# CI machines are often busy. The whole test took 60 to 70 s on a busy 2-core machine.
PAGE_LOAD_MS = 90_000
RUN_ALL_MS = 150_000
SAVE_MS = 30_000
GRADE_TIMEOUT_S = 240

# A correct tanh layer written the way a student might, differently from the instructor's solution:
# backward uses 1 - Y ** 2 with a float literal, forward returns the cached array.
STUDENT_TANH = '''class MyTanh(nl.Layer):
    """The hyperbolic tangent as a layer, on inputs of any shape."""

    def forward(self, X):
        X = self._check_input(X, None)
        self.cache = np.tanh(X)
        return self.cache

    def backward(self, grad_output):
        Y = self._require_cache()
        grad_output = self._check_grad_output(grad_output, Y.shape)
        return grad_output * (1.0 - Y ** 2)'''


# -- the exercise notebook's structure, read from its nbgrader metadata -------------------------


def nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def source(cell) -> str:
    text = cell.get("source", "")
    return text if isinstance(text, str) else "".join(text)


class ExerciseLayout:
    """Indices of the cells the test looks at, found from the notebook's metadata."""

    def __init__(self, notebook: dict):
        cells = notebook["cells"]
        self.cell_count = len(cells)
        solutions = [i for i, cell in enumerate(cells) if nbgrader(cell).get("solution")]
        assert len(solutions) == 1, f"expected one solution cell in {EXERCISE_NAME}, found {len(solutions)}"
        self.solution = solutions[0]
        self.solution_id = nbgrader(cells[self.solution])["grade_id"]
        self.checks = {
            nbgrader(cell)["grade_id"]: (i, nbgrader(cell)["points"])
            for i, cell in enumerate(cells)
            if nbgrader(cell).get("grade")
        }
        assert self.checks, f"{EXERCISE_NAME} has no check cell"
        self.first_check = min(index for index, _ in self.checks.values())
        training = [
            i for i, cell in enumerate(cells)
            if "uses-exercise" in cell.get("metadata", {}).get("tags", [])
            and "nl.train(" in source(cell) and "MyTanh" in source(cell)
        ]
        assert training, f"{EXERCISE_NAME} has no uses-exercise cell that trains with MyTanh through nl.train"
        self.training = training[0]


def format_points(points: float) -> str:
    return f"{points:g}"


# -- fixtures: course copy, server, browser -----------------------------------------------------


@pytest.fixture
def course_copy(tmp_path):
    """A student's course folder with a copy of the exercise notebook, and the notebook's layout."""
    if not EXERCISE_SOURCE.is_file():
        pytest.fail(f"{EXERCISE_SOURCE} is missing; run 'python -m netlite.course build' to generate it")
    root = tmp_path / "course"
    (root / "exercises").mkdir(parents=True)
    notebook_path = root / "exercises" / EXERCISE_NAME
    shutil.copyfile(EXERCISE_SOURCE, notebook_path)
    return notebook_path, ExerciseLayout(json.loads(notebook_path.read_text()))


@pytest.fixture
def jupyterlab(course_copy, tmp_path):
    notebook_path, _ = course_copy
    server = start_jupyterlab(notebook_path.parents[1], tmp_path / "jupyter-state", python_path=REPOSITORY)
    try:
        yield server
    finally:
        stop_jupyterlab(server)


@pytest.fixture
def page():
    """A Chromium page that can reach 127.0.0.1 only. Other requests are aborted and listed."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found; install Debian's chromium package to run the browser test")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    blocked = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})

            def block(route):
                blocked.append(route.request.url)
                route.abort()

            context.route(NOT_LOCAL_URL, block)
            new_page = context.new_page()
            new_page.blocked_requests = blocked
            yield new_page
        finally:
            browser.close()


def screenshot(target, name: str) -> Path:
    """Save a PNG of a page or an element under ARTIFACTS and return its path."""
    path = ARTIFACTS / f"{name}.png"
    target.screenshot(path=str(path))
    return path


_SCROLL_TWICE = """async (node) => {
    node.scrollIntoView({block: "start"});
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    node.scrollIntoView({block: "start"});
}"""


def screenshot_notebook_at(page, element, name: str) -> Path:
    """Scroll ``element`` to the top of the notebook and save a picture of the notebook panel.

    Cells can be taller than the window, and an element screenshot of such a cell is cut off by
    the notebook's scroll area, so the picture is of the visible notebook instead. Cells outside
    the window have a placeholder height until they render, so the element is scrolled twice.
    """
    element.evaluate(_SCROLL_TWICE)
    return screenshot(page.locator(".jp-NotebookPanel").first, name)


# -- the test ---------------------------------------------------------------------------------


def test_student_solves_tanh_exercise(jupyterlab, page, course_copy, tmp_path):
    notebook_path, layout = course_copy
    try:
        walk_student_path(jupyterlab, page, notebook_path, layout)
    except BaseException:
        page.screenshot(path=str(ARTIFACTS / "failure.png"))
        raise
    assert page.blocked_requests == [], f"the page requested addresses other than 127.0.0.1: {page.blocked_requests}"

    gradebook = grade_submissions(notebook_path, tmp_path)
    stem = Path(EXERCISE_NAME).stem
    for grade_id, (_, points) in layout.checks.items():
        column = f"{stem}:{grade_id}"
        assert float(gradebook[STUDENT][column]) == points, f"{STUDENT}'s {column} in gradebook.csv"
        assert float(gradebook[UNSOLVED_STUDENT][column]) == 0, f"{UNSOLVED_STUDENT}'s {column} in gradebook.csv"


def walk_student_path(server, page, notebook_path, layout):
    url = server.url(f"lab/tree/exercises/{EXERCISE_NAME}?reset&token={server.token}")
    lab_page.open_notebook(page, url, layout.cell_count, PAGE_LOAD_MS)
    screenshot(page, "01-notebook-opened")

    # Run all cells as given: the first check stops with the exercise's NotImplementedError.
    lab_page.choose_menu_item(page, "Run", "Run All Cells")
    first_check = lab_page.cell(page, layout.first_check)
    first_check.locator(".jp-OutputArea-output", has_text="NotImplementedError").wait_for(
        state="attached", timeout=RUN_ALL_MS
    )
    lab_page.wait_for_run_to_finish(page, RUN_ALL_MS)
    failure = lab_page.output_text(first_check)
    assert f"NotImplementedError: {layout.solution_id}" in failure, failure
    screenshot_notebook_at(page, first_check.locator(".jp-OutputArea"), "02-check-fails-unsolved")

    # Paste a correct MyTanh into the solution cell through the editor.
    solution_cell = lab_page.cell(page, layout.solution)
    lab_page.replace_cell_source(page, solution_cell, STUDENT_TANH)
    assert lab_page.editor_text(solution_cell) == STUDENT_TANH
    screenshot_notebook_at(page, solution_cell, "03-solution-typed")

    # Restart the kernel and run all cells, recording the progress bars that nl.train shows.
    lab_page.record_progress_bars(page)
    lab_page.choose_menu_item(page, "Kernel", "Restart Kernel and Run All Cells")
    lab_page.accept_dialog(page)
    for grade_id, (index, points) in layout.checks.items():
        pass_line = re.compile(rf"PASS \S+: {format_points(points)} of {format_points(points)} points")
        check_cell = lab_page.cell(page, index)
        try:
            check_cell.locator(".jp-OutputArea-output", has_text=pass_line).wait_for(state="attached", timeout=RUN_ALL_MS)
        except sync_api.TimeoutError:
            text = lab_page.output_text(check_cell)
            pytest.fail(f"check cell {grade_id} printed {text!r}, expected a line matching {pass_line.pattern!r}")
    lab_page.wait_for_run_to_finish(page, RUN_ALL_MS)
    notebook_text = page.locator(lab_page.CELLS).all_text_contents()
    tracebacks = [text for text in notebook_text if "Traceback" in text]
    assert tracebacks == [], "a cell raised an error after the solution was pasted"
    # nl.train closes each epoch's bar after tens of milliseconds here, so a screenshot rarely
    # catches one. The recorder lists every bar that was added.
    bars = lab_page.progress_bars(page)
    (ARTIFACTS / "progress-bars.json").write_text(json.dumps(bars, indent=1))
    assert any(bar["cell"] == layout.training for bar in bars), (
        f"no progress-bar widget appeared in the training cell (cell {layout.training}); bars seen: {bars}"
    )
    screenshot_notebook_at(page, lab_page.cell(page, layout.first_check), "04-check-passes")
    screenshot_notebook_at(page, lab_page.cell(page, layout.training), "05-training-output")

    # Save with Ctrl+S in command mode and check the file on disk.
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    lab_page.has_unsaved_changes(page).wait_for(state="detached", timeout=SAVE_MS)
    screenshot(page, "06-saved")
    saved = json.loads(notebook_path.read_text())
    assert source(saved["cells"][layout.solution]) == STUDENT_TANH


def grade_submissions(notebook_path, tmp_path) -> dict[str, dict[str, str]]:
    """Grade the saved notebook and the unsolved exercise with the course's grading command.

    Returns the gradebook rows by student name.
    """
    submissions = tmp_path / "submissions"
    (submissions / STUDENT).mkdir(parents=True)
    (submissions / UNSOLVED_STUDENT).mkdir(parents=True)
    shutil.copyfile(notebook_path, submissions / STUDENT / EXERCISE_NAME)
    shutil.copyfile(EXERCISE_SOURCE, submissions / UNSOLVED_STUDENT / EXERCISE_NAME)
    out = tmp_path / "graded"
    environment = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}
    command = [
        sys.executable, "-m", "netlite.course", "--root", str(REPOSITORY),
        "grade", str(submissions), "--out", str(out), "--jobs", "2",
    ]
    completed = subprocess.run(
        command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=GRADE_TIMEOUT_S
    )
    assert completed.returncode == 0, f"grading failed:\n{completed.stdout}\n{completed.stderr}"
    shutil.copyfile(out / "summary.md", ARTIFACTS / "grading-summary.md")
    with open(out / "gradebook.csv", newline="") as file:
        return {row["student"]: row for row in csv.DictReader(file)}
