"""The two examples of NetLite's original description run against the library as written.

They are read from the description in the shared folder beside the
repository, which contains the API contract. Only the changes the contract
allows are made: ``plt.tile`` becomes ``plt.title`` (a typo), figures go to
the Agg backend instead of a window, and the LeNet example trains on fewer
images for one epoch to keep the suite fast.
"""

import re
from pathlib import Path

import matplotlib
import pytest

import netlite as nl

matplotlib.use("Agg")

DESCRIPTION = Path(__file__).resolve().parents[2] / "shared" / "seed" / "netlite-readme.md"

pytestmark = pytest.mark.skipif(not DESCRIPTION.exists(), reason=f"the original description is not at {DESCRIPTION}")


def example_code(number):
    """Return the Python code block that follows the heading 'Example <number>'."""
    text = DESCRIPTION.read_text()
    section = text.split(f"## Example {number}", 1)[1]
    code = re.search(r"```[Pp]ython\n(.*?)```", section, re.DOTALL).group(1)
    return code.replace("plt.tile(", "plt.title(")


def run(code):
    import matplotlib.pyplot as plt

    namespace = {"__name__": "__example__"}
    try:
        exec(compile(code, str(DESCRIPTION), "exec"), namespace)
    finally:
        plt.close("all")
    return namespace


def test_xor_example_reaches_four_of_four():
    nl.seed(0)
    namespace = run(example_code(1))
    log = namespace["log"]
    assert len(log["loss_train"]) == 500
    assert log["acc_train"][-1] == 1.0, f"XOR accuracy after 500 epochs: {log['acc_train'][-1]}"
    assert log["loss_train"][-1] < log["loss_train"][0]


def test_lenet_example_runs_on_a_subset():
    code = example_code(2)
    replacements = {
        "num_images = 60000": "num_images = 3000",
        "num_images = 10000": "num_images = 1000",
        "n_epochs  =  20": "n_epochs  =  2",
    }
    for old, new in replacements.items():
        assert old in code, f"the example no longer contains {old!r}; update this test"
        code = code.replace(old, new)

    nl.seed(0)
    namespace = run(code)
    log = namespace["log"]
    assert len(log["acc_valid"]) == 2
    # A LeNet trained on 3000 digits for two epochs gets most test digits
    # right; chance level would be 0.1.
    assert log["acc_valid"][-1] > 0.85
    assert log["loss_valid"][-1] < log["loss_valid"][0]
