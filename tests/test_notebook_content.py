"""Checks of the course notebooks themselves: structure, stored outputs, and check cells that catch wrong solutions.

``pytest --nbval`` verifies the notebooks' stored outputs. These tests cover what nbval cannot see,
such as whether each check cell fails for a typical wrong solution with a message that names the value.
The mutation tests start a Jupyter kernel each (a few seconds per test).
"""

import json
import re
from pathlib import Path

import pytest

from netlite.course import grade as course_grade

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))


def load(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def cell_text(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def output_texts(cell):
    for output in cell.get("outputs", []):
        text = output.get("text") or output.get("data", {}).get("text/plain") or ""
        yield output, "".join(text) if isinstance(text, list) else text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_metadata_clean(path):
    notebook = load(path)
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    assert "widgets" not in notebook["metadata"], "store no widget state in the notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_stored_outputs_stable(path):
    for index, cell in enumerate(load(path)["cells"]):
        if cell["cell_type"] != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        assert cell.get("execution_count") is not None or not cell.get("outputs"), f"cell {index} has outputs but no count"
        for output, text in output_texts(cell):
            assert output.get("name") != "stderr", f"cell {index} wrote to stderr: {text[:200]!r}"
            assert output.get("output_type") != "error", f"cell {index} stored an error"
            if "nbval-ignore-output" not in tags:
                assert not re.search(r"at 0x[0-9a-f]+", text), f"cell {index} shows a memory address: {text[:200]!r}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda path: path.name)
def test_solution_cells_well_formed(path):
    cells = load(path)["cells"]
    grade_ids = [nbgrader(cell)["grade_id"] for cell in cells if nbgrader(cell)]
    assert len(grade_ids) == len(set(grade_ids)), f"duplicate grade_id in {grade_ids}"
    n_solutions = n_checks = 0
    for cell in cells:
        meta = nbgrader(cell)
        text = cell_text(cell)
        if meta.get("solution"):
            n_solutions += 1
            assert text.count("### BEGIN SOLUTION") == text.count("### END SOLUTION") >= 1
        if meta.get("grade"):
            n_checks += 1
            assert meta["points"] > 0
            assert meta.get("locked") is True, (
                f"check cell {meta['grade_id']} has 'locked': {meta.get('locked')!r}; set '\"locked\": true' in its "
                f"nbgrader metadata, as docs/course-format.md asks for check cells"
            )
            assert "report_pass(" in text, f"check cell {meta['grade_id']} prints no pass line; end it with report_pass(...)"
    assert n_solutions >= 1, f"{path.name} has no solution cell"
    assert n_checks >= 1, f"{path.name} has no check cell"


def test_tanh_exercise_layout():
    """The browser test of notebook 03 relies on one solution cell defining MyTanh, then a check cell."""
    cells = [cell for cell in load(ROOT / "solutions" / "03_own_activation.ipynb")["cells"]]
    solution_indices = [index for index, cell in enumerate(cells) if nbgrader(cell).get("solution")]
    assert len(solution_indices) == 1
    index = solution_indices[0]
    assert cell_text(cells[index]).startswith("class MyTanh(nl.Layer):")
    assert nbgrader(cells[index + 1]).get("grade") is True


# -- check cells against wrong solutions ---------------------------------------

FAKE_GRADIENT_CHECK = "nl.gradient_check = lambda *args, **kwargs: 0.0"
# The replaced line ends MyTanh.backward, so a line after it at column 0 runs at the top level of the cell.
TANH_WRONG_WITH_GRADIENT_CHECK_FAKED = f"return grad_output * (1 - Y)\n\n\n{FAKE_GRADIENT_CHECK}"
TANH_WRONG_ON_4D_WITH_GRADIENT_CHECK_FAKED = (
    f"return grad_output * (1 - Y * Y) if Y.ndim == 2 else grad_output * (1 - Y)\n\n\n{FAKE_GRADIENT_CHECK}"
)

MOMENTUM_UPDATE = 'param -= self.learning_rate * state["velocity"]'
MOMENTUM_VELOCITY = 'state["velocity"] = self.beta * state["velocity"] + grad\n        ' + MOMENTUM_UPDATE
MOMENTUM_VELOCITY_IN_SELF = (
    'self.velocity = self.beta * getattr(self, "velocity", 0) + grad\n        param -= self.learning_rate * self.velocity'
)
ADAM_UPDATE = "param -= self.learning_rate * m_hat / (np.sqrt(v_hat) + self.eps)"
ADAM_UPDATE_LR_T = (
    "lr_t = self.learning_rate * np.sqrt(1 - self.beta2**t) / (1 - self.beta1**t)\n"
    '        param -= lr_t * state["m"] / (np.sqrt(state["v"]) + self.eps)'
)

# (notebook, solution grade_id, correct line, wrong line, check grade_id, text expected in the error message)
FORWARD_RETURN = 'return {"z1": z1, "a1": a1, "z2": z2, "y_hat": y_hat}'
MSE_RETURN = "return float(np.mean((y_hat - y) ** 2))"
SGD_RETURN = 'return {name: value - learning_rate * grads["d" + name] for name, value in params.items()}'

MUTATIONS = [
    ("02_training_step_by_hand.ipynb", "backward_pass", "dL_dz1 = dL_da1 * a1 * (1 - a1)", "dL_dz1 = dL_da1 * a1",
     "check_backward_pass", "backward_pass(...)['dL_dz1']"),
    ("02_training_step_by_hand.ipynb", "forward_pass", FORWARD_RETURN, "pass",
     "check_forward_pass", "forward_pass(X, ...) returned None, expected a dict with the keys"),
    ("02_training_step_by_hand.ipynb", "forward_pass", FORWARD_RETURN, FORWARD_RETURN.replace('"y_hat"', '"yhat"'),
     "check_forward_pass", "returned a dict without the keys 'y_hat'"),
    ("02_training_step_by_hand.ipynb", "mse_loss", MSE_RETURN, "return (y_hat - y) ** 2",
     "check_mse_loss", "returned an array of shape (2, 1), expected one float"),
    ("02_training_step_by_hand.ipynb", "mse_loss", MSE_RETURN, "y -= y_hat\n    return float(np.mean(y ** 2))",
     "check_mse_loss", "mse_loss changed its argument y in place"),
    ("02_training_step_by_hand.ipynb", "mse_loss", MSE_RETURN, "return float(np.sum((y_hat - y) ** 2) / 2)",
     "check_mse_loss", "expected (1 + 4 + 4) / 3"),
    ("02_training_step_by_hand.ipynb", "backward_pass", "dL_dy_hat = 2 * (y_hat - y) / y_hat.size",
     "y_hat -= y\n    dL_dy_hat = 2 * y_hat / y_hat.size", "check_backward_pass",
     "backward_pass changed its argument forward['y_hat'] in place"),
    ("02_training_step_by_hand.ipynb", "sgd_update", SGD_RETURN,
     'for name in params:\n        params[name] -= learning_rate * grads["d" + name]\n    return params',
     "check_sgd_update", "sgd_update changed its argument params['W1'] in place"),
    ("03_own_activation.ipynb", "my_tanh", "return grad_output * (1 - Y * Y)", "return grad_output * (1 - Y)",
     "check_tanh_backward", "after forward([[-2, -0.5, 0.5, 1.5]]) (tanh'(x) = 1 - tanh(x)**2) returned a wrong value"),
    # The wrong derivative, with nl.gradient_check rebound so that it reports no error.
    ("03_own_activation.ipynb", "my_tanh", "return grad_output * (1 - Y * Y)", TANH_WRONG_WITH_GRADIENT_CHECK_FAKED,
     "check_tanh_backward", "after forward([[-2, -0.5, 0.5, 1.5]]) (tanh'(x) = 1 - tanh(x)**2) returned a wrong value"),
    # Right on the visible checks' 2-D inputs only, so that only the hidden tests can catch it.
    ("03_own_activation.ipynb", "my_tanh", "return grad_output * (1 - Y * Y)", TANH_WRONG_ON_4D_WITH_GRADIENT_CHECK_FAKED,
     "check_tanh_backward", "backward on a random input of shape (2, 4, 4, 3)"),
    ("03_own_activation.ipynb", "my_tanh", "Y = np.tanh(X)", "Y = np.maximum(X, 0)",
     "check_tanh_forward", "tanh(-1.0) returned 0.0, expected -0.7616"),
    ("03_own_activation.ipynb", "my_tanh", "Y = np.tanh(X)", "Y = np.tanh(X, out=X)",
     "check_tanh_forward", "MyTanh().forward changed its input X in place"),
    ("03_own_activation.ipynb", "my_tanh", "        return Y\n", "        return Y.tolist()\n",
     "check_tanh_forward", "returned a list, expected a numpy array of shape (1, 1)"),
    ("04_robust_regression.ipynb", "my_huber_loss", "linear = self.delta * (abs_error - 0.5 * self.delta)",
     "linear = self.delta * abs_error", "check_huber_forward", "large error"),
    # Right for every error but 0, where 0 / 0 gives NaN.
    ("04_robust_regression.ipynb", "my_huber_loss", "return np.clip(error, -self.delta, self.delta) / error.size",
     "return np.minimum(np.abs(error), self.delta) * error / np.abs(error) / error.size",
     "check_huber_backward", "backward() for errors 0 and 0 returned a wrong value at index (0, 0): nan"),
    ("04_robust_regression.ipynb", "my_huber_loss", "return np.clip(error, -self.delta, self.delta) / error.size",
     "np.clip(error, -self.delta, self.delta, out=error)\n        error /= error.size\n        return error",
     "check_huber_backward", "a second MyHuberLoss(1.0).backward() after the same forward (backward must not change self.cache)"),
    ("02_training_step_by_hand.ipynb", "mse_loss", MSE_RETURN, "return float(np.sum((y_hat - y) ** 2) / len(y))",
     "check_mse_loss", "the mean is over the outputs too"),
    ("04_robust_regression.ipynb", "my_huber_loss", "return np.clip(error, -self.delta, self.delta) / error.size",
     "return np.clip(error, -self.delta, self.delta) / len(error)",
     "check_huber_backward", "for errors 0.5 and 3 in one sample of two outputs returned a wrong value"),
    ("05_optimizers.ipynb", "my_adam", "m_hat = state[\"m\"] / (1 - self.beta1**t)", "m_hat = state[\"m\"]",
     "check_adam", "the parameter after step 1 (gradient 4.0, see the hand calculation) returned 0.99"),
    # No bias correction at all: step 1 ends at 0.683772 instead of 0.9.
    ("05_optimizers.ipynb", "my_adam", ADAM_UPDATE, ADAM_UPDATE.replace("m_hat", 'state["m"]').replace("v_hat", 'state["v"]'),
     "check_adam", "in step 1 with the hand calculation: m = 0.4, v = 0.016, m_hat = 4, v_hat = 16, step"),
    # Corrected m and v kept in state: step 1 is right, step 2 is not, and the hint gives step 2's values.
    ("05_optimizers.ipynb", "my_adam", 'm_hat = state["m"] / (1 - self.beta1**t)',
     'm_hat = state["m"] = state["m"] / (1 - self.beta1**t)',
     "check_adam", "in step 2 with the hand calculation: m = 0.16, v = 0.019984"),
    # Right m, v, m_hat and v_hat, but the step added: the hint gives the step and its sign.
    ("05_optimizers.ipynb", "my_adam", ADAM_UPDATE, ADAM_UPDATE.replace("param -=", "param +="),
     "check_adam", "step lr * m_hat / (sqrt(v_hat) + eps) = 0.1 * 4 / 4 = 0.1, subtracted from the parameter (param -= step)"),
    # State kept in self is shared by all parameters, and a counter of its own counts calls, not steps.
    ("05_optimizers.ipynb", "my_momentum", MOMENTUM_VELOCITY, MOMENTUM_VELOCITY_IN_SELF,
     "check_momentum", "Keep each parameter's velocity in its own state dict"),
    ("05_optimizers.ipynb", "my_adam", "t = self.n_steps", 'self.t = getattr(self, "t", 0) + 1\n        t = self.t',
     "check_adam", "take t from self.n_steps, which counts steps, not calls"),
    ("05_optimizers.ipynb", "my_momentum", MOMENTUM_VELOCITY.splitlines()[0],
     'grad += self.beta * state["velocity"]\n        state["velocity"] = grad.copy()',
     "check_momentum", "update_parameter changed grad in place"),
    # Rebinding the local name leaves the caller's array unchanged.
    ("05_optimizers.ipynb", "my_momentum", MOMENTUM_UPDATE, MOMENTUM_UPDATE.replace("param -=", "param = param -"),
     "check_momentum", "update the array in place (param -= ...)"),
    ("05_optimizers.ipynb", "my_adam", ADAM_UPDATE, ADAM_UPDATE.replace("param -=", "param = param -"),
     "check_adam", "update the array in place (param -= ...)"),
    # The rearranged form adds eps to sqrt(v), which differs from the expected form for small gradients.
    ("05_optimizers.ipynb", "my_adam", ADAM_UPDATE, ADAM_UPDATE_LR_T,
     "check_adam", "Forms that put eps elsewhere, such as sqrt(v_hat + eps) or lr_t * m / (sqrt(v) + eps), differ"),
]


def run_to_check(name, solution_id, correct, replacement, check_id, tmp_path):
    """Run a solution notebook up to a check cell, with ``correct`` replaced in a solution cell.

    Returns the notebook as run, the index of the check cell and the CellExecutionError, or None
    when every cell ran without error.
    """
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")

    notebook = nbformat.read(ROOT / "solutions" / name, as_version=4)
    ids = [nbgrader(cell).get("grade_id") for cell in notebook.cells]
    solution_cell = notebook.cells[ids.index(solution_id)]
    assert correct in solution_cell.source, f"{name}: the line to replace is no longer in {solution_id}"
    solution_cell.source = solution_cell.source.replace(correct, replacement)
    check_index = ids.index(check_id)
    notebook.cells = notebook.cells[: check_index + 1]

    client = course_grade.notebook_client(notebook, kernel_name="python3", timeout=120,
                                          resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        return notebook, check_index, error
    return notebook, check_index, None


def failed_cells(notebook):
    return [
        index for index, cell in enumerate(notebook.cells)
        if any(output.get("output_type") == "error" for output in cell.get("outputs", []))
    ]


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda mutation: f"{mutation[0][:2]}-{mutation[4]}-{mutation[2][:12]}")
def test_check_cell_rejects_wrong_solution(mutation, tmp_path):
    name, solution_id, correct, wrong, check_id, expected_message = mutation
    notebook, check_index, error = run_to_check(name, solution_id, correct, wrong, check_id, tmp_path)
    assert error is not None, f"{name}: check cell {check_id} passed the wrong solution {wrong!r}"
    assert failed_cells(notebook) == [check_index], (
        f"expected only the check cell {check_id} to fail, failed: {failed_cells(notebook)}")
    assert error.ename == "AssertionError", f"{error.ename}: {error.evalue}"
    # Only the message counts: the full error text also shows the cell's source, which proves nothing.
    assert expected_message in error.evalue


# (notebook, solution grade_id, line of the solution, another correct way to write it, check grade_id)
CORRECT_VARIANTS = [
    ("02_training_step_by_hand.ipynb", "mse_loss", "return float(np.mean((y_hat - y) ** 2))",
     "return np.mean((y_hat - y) ** 2)", "check_mse_loss"),
    ("04_robust_regression.ipynb", "my_huber_loss",
     "return float(np.mean(np.where(abs_error <= self.delta, quadratic, linear)))",
     "return np.mean(np.where(abs_error <= self.delta, quadratic, linear))", "check_huber_forward"),
    # New arrays put into the params dict: the dict changes, the arrays it held do not.
    ("02_training_step_by_hand.ipynb", "sgd_update", SGD_RETURN,
     'for name in params:\n        params[name] = params[name] - learning_rate * grads["d" + name]\n    return params',
     "check_sgd_update"),
]


@pytest.mark.parametrize("variant", CORRECT_VARIANTS, ids=lambda variant: f"{variant[0][:2]}-{variant[4]}")
def test_check_cell_accepts_correct_variant(variant, tmp_path):
    name, solution_id, correct, other, check_id = variant
    notebook, _, error = run_to_check(name, solution_id, correct, other, check_id, tmp_path)
    assert error is None, f"{name}: check cell {check_id} rejected the correct {other!r}: {error.ename}: {error.evalue}"
