"""Actions on a JupyterLab 4 page, done the way a student does them: menus, clicks and the keyboard.

JupyterLab 4 keeps every cell of a notebook in the DOM but skips rendering the cells outside the
viewport (CSS ``content-visibility: auto``). Playwright counts elements in skipped cells as not
visible, so waits for text in cells use ``state="attached"``.
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page

CELLS = ".jp-Notebook .jp-Cell"
KERNEL_IDLE = re.compile(r"\| Idle$")

# Records every progress-bar widget (ipywidgets FloatProgress, as drawn by tqdm.notebook) that is
# added to a notebook cell, with the cell's index. nl.train closes each epoch's bar when the epoch
# ends, so the bars live for a fraction of a second and only an observer records all of them.
_RECORD_PROGRESS_BARS = """() => {
    window.__progressBars = [];
    const observer = new MutationObserver((mutations) => {
        for (const mutation of mutations) {
            for (const node of mutation.addedNodes) {
                if (node.nodeType !== Node.ELEMENT_NODE) continue;
                const bars = node.matches('.widget-hprogress') ? [node] : [...node.querySelectorAll('.widget-hprogress')];
                for (const bar of bars) {
                    const cell = bar.closest('.jp-Cell');
                    const cells = [...document.querySelectorAll('.jp-Notebook .jp-Cell')];
                    window.__progressBars.push({cell: cells.indexOf(cell), text: bar.closest('.widget-hbox')?.textContent ?? ''});
                }
            }
        }
    });
    observer.observe(document.body, {childList: true, subtree: true});
}"""


def open_notebook(page: Page, url: str, cell_count: int, timeout_ms: float) -> None:
    """Open the notebook at ``url``, wait until all ``cell_count`` cells are in the page and the kernel is idle."""
    page.goto(url)
    page.wait_for_function(
        "([selector, count]) => document.querySelectorAll(selector).length === count",
        arg=[CELLS, cell_count],
        timeout=timeout_ms,
    )
    wait_for_idle_kernel(page, timeout_ms)


def wait_for_idle_kernel(page: Page, timeout_ms: float) -> None:
    """Wait until the status bar shows the notebook's kernel as idle."""
    page.get_by_text(KERNEL_IDLE).wait_for(timeout=timeout_ms)


def cell(page: Page, index: int) -> Locator:
    """Return the notebook cell at ``index`` (0-based, as in the .ipynb file)."""
    return page.locator(CELLS).nth(index)


def choose_menu_item(page: Page, menu: str, item: str) -> None:
    """Open the menu bar's ``menu`` and click its entry ``item`` (the label's start, e.g. ``Run All Cells``)."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(menu)}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}")).first.click()


def accept_dialog(page: Page) -> None:
    """Click the accept button (e.g. "Restart") of the open dialog."""
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()


def editor_text(code_cell: Locator) -> str:
    """Return the text in the cell's CodeMirror editor, lines joined by newlines."""
    return code_cell.locator(".cm-content").evaluate(
        "content => [...content.querySelectorAll('.cm-line')].map(line => line.textContent).join('\\n')"
    )


def replace_cell_source(page: Page, code_cell: Locator, source: str) -> None:
    """Click into the cell's editor, select all of it and insert ``source`` as one paste.

    CodeMirror auto-indents typed newlines, but an insert keeps the indentation as given.
    """
    code_cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(source)


def wait_for_run_to_finish(page: Page, timeout_ms: float) -> None:
    """Wait until no cell is queued or running (no ``[*]:`` prompt) and the kernel is idle.

    Call it after something shows that the run started, such as a new output.
    """
    page.wait_for_function(
        "selector => ![...document.querySelectorAll(selector)].some(prompt => prompt.textContent.includes('[*]'))",
        arg=f"{CELLS} .jp-InputPrompt",
        timeout=timeout_ms,
    )
    wait_for_idle_kernel(page, timeout_ms)


def output_text(code_cell: Locator) -> str:
    """Return the text of all outputs of the cell, rendered or not."""
    return code_cell.locator(".jp-OutputArea").text_content() or ""


def record_progress_bars(page: Page) -> None:
    """Start recording the progress-bar widgets that appear in the notebook (see ``progress_bars``)."""
    page.evaluate(_RECORD_PROGRESS_BARS)


def progress_bars(page: Page) -> list[dict]:
    """Return the progress bars seen since ``record_progress_bars``: ``{"cell": index, "text": bar text}``."""
    return page.evaluate("window.__progressBars")


def has_unsaved_changes(page: Page) -> Locator:
    """Return the tab bar tabs marked as having unsaved changes."""
    return page.locator(".lm-TabBar-tab.jp-mod-dirty")
