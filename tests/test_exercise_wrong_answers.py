"""Wrong answers to the course exercises fail their visible check cells, with a message that names the mistake.

For each notebook, the solution code goes into the exercise notebook, which runs up to its last
check cell in a fresh kernel: every check must pass on the right answers. Then each case defines
the exercise again with one change to the solution code and runs the exercise's check cell once
more. That check must fail with an AssertionError whose message matches the case's pattern,
because a check that passes a wrong answer gives points for it, and a message that names another
cause sends the student to the wrong line.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from netlite.course import build as course_build
from netlite.course import grade as course_grade

REPOSITORY = Path(__file__).resolve().parents[1]
CELL_TIMEOUT = 300
FENCES = ("### BEGIN SOLUTION", "### END SOLUTION")


@dataclass(frozen=True)
class WrongAnswer:
    notebook: str
    label: str
    exercise: str  # the grade_id of the solution cell that gets the change
    old: str  # text that occurs once in the solution code
    new: str
    check: str  # the grade_id of the check cell that must catch it
    pattern: str  # a regular expression that the check's message must match


N02 = "02_training_step_by_hand.ipynb"
N03 = "03_own_activation.ipynb"
N04 = "04_robust_regression.ipynb"
N05 = "05_optimizers.ipynb"
SGD_STEP = 'value - learning_rate * grads["d" + name]'
TANH_DERIVATIVE = "return grad_output * (1 - Y * Y)"
MOMENTUM_VELOCITY = 'state["velocity"] = self.beta * state["velocity"] + grad'
MOMENTUM_UPDATE = 'param -= self.learning_rate * state["velocity"]'
HUBER_GRADIENT = "return np.clip(error, -self.delta, self.delta) / error.size"

FIXED_SGD_STEP = r"sgd_update\(\.\.\.\)\['W1'\] is the same for learning_rate 2 and 0\.5.*Use the argument learning_rate"
FIXED_LEARNING_RATE = r"learning rates 0\.1 and 0\.5.*Use self\.learning_rate"
# The name that the check of backward_pass gives a gradient in its random case with two outputs.
BACKWARD_TWO_OUTPUTS = r"backward_pass\(\.\.\.\)\['{}'\] for a random batch of 2 samples and 2 outputs"
FORWARD_GLOBALS = r"forward_pass\(\.\.\.\)\['z1'\] for random weights.*The function must use its arguments"
# (?!.*float32) rejects a message that names float32, which these mistakes have nothing to do with.
NOT_FLOAT32 = r"^(?!.*float32)"

WRONG_ANSWERS = [
    # Right for the notebook's own weights, which are the globals that the function reads.
    WrongAnswer(N02, "forward_pass reading the global W1", "forward_pass", "z1 = X @ W1 + b1\n",
                "z1 = X @ globals()['W1'] + b1\n", "check_forward_pass", FORWARD_GLOBALS),
    WrongAnswer(N02, "forward_pass without the argument W1", "forward_pass", "def forward_pass(X, W1, b1, W2, b2):",
                "def forward_pass(X, weights, b1, W2, b2):", "check_forward_pass", FORWARD_GLOBALS),
    WrongAnswer(N02, "sgd_update with a fixed learning rate", "sgd_update", SGD_STEP,
                'value - 2.0 * grads["d" + name]', "check_sgd_update", FIXED_SGD_STEP),
    WrongAnswer(N02, "sgd_update with a fixed step of 0.5", "sgd_update", SGD_STEP,
                'value - 0.5 * grads["d" + name]', "check_sgd_update", FIXED_SGD_STEP),
    WrongAnswer(N02, "sgd_update with a fixed step of 0.1", "sgd_update", SGD_STEP,
                'value - 0.1 * grads["d" + name]', "check_sgd_update", FIXED_SGD_STEP),
    WrongAnswer(N02, "sgd_update returning float32", "sgd_update", SGD_STEP, f"({SGD_STEP}).astype(np.float32)",
                "check_sgd_update", r"sgd_update.*dtype float32"),
    WrongAnswer(N02, "sgd_update returning lists", "sgd_update", SGD_STEP, f"({SGD_STEP}).tolist()",
                "check_sgd_update", r"sgd_update.*\['W1'\] returned a list, expected a numpy array"),
    WrongAnswer(N02, "backward_pass returning a list first", "backward_pass", "dL_dy_hat = 2 * (y_hat - y) / y_hat.size",
                "dL_dy_hat = (2 * (y_hat - y) / y_hat.size).tolist()", "check_backward_pass",
                r"backward_pass\(\.\.\.\)\['dL_dy_hat'\] returned a list, expected a numpy array"),
    WrongAnswer(N02, "backward_pass returning a list last", "backward_pass", "db1 = dL_dz1.sum(axis=0)",
                "db1 = dL_dz1.sum(axis=0).tolist()", "check_backward_pass",
                r"backward_pass\(\.\.\.\)\['db1'\] returned a list, expected a numpy array"),
    # Right for the network of the notebook, which has one output, and wrong for two or more.
    WrongAnswer(N02, "backward_pass dividing by N only", "backward_pass", "dL_dy_hat = 2 * (y_hat - y) / y_hat.size",
                "dL_dy_hat = 2 * (y_hat - y) / len(y_hat)", "check_backward_pass",
                rf"{BACKWARD_TWO_OUTPUTS.format('dL_dy_hat')}.* returned a wrong value"),
    WrongAnswer(N02, "backward_pass with dW2 element-wise", "backward_pass", "dW2 = a1.T @ dL_dz2",
                "dW2 = (a1 * dL_dz2).sum(axis=0)[:, np.newaxis]", "check_backward_pass",
                rf"{BACKWARD_TWO_OUTPUTS.format('dW2')} returned an array of shape \(2, 1\), expected shape \(2, 2\)"),
    WrongAnswer(N02, "backward_pass summing db2 over all outputs", "backward_pass", "db2 = dL_dz2.sum(axis=0)",
                "db2 = np.array([dL_dz2.sum()])", "check_backward_pass",
                rf"{BACKWARD_TWO_OUTPUTS.format('db2')} returned an array of shape \(1,\), expected shape \(2,\)"),
    WrongAnswer(N02, "backward_pass with dL_da1 element-wise", "backward_pass", "dL_da1 = dL_dz2 @ W2.T",
                "dL_da1 = dL_dz2 * W2.T", "check_backward_pass",
                rf"{BACKWARD_TWO_OUTPUTS.format('dL_da1')}.* returned a wrong value"),
    WrongAnswer(N02, "mse_loss through float32", "mse_loss", "return float(np.mean((y_hat - y) ** 2))",
                "return float(np.float32(np.mean((y_hat - y) ** 2)))", "check_mse_loss", r"mse_loss.*float32"),
    WrongAnswer(N03, "MyTanh.forward through float32", "my_tanh", "Y = np.tanh(X)\n",
                "Y = np.tanh(X.astype(np.float32)).astype(X.dtype)\n", "check_tanh_forward",
                r"MyTanh\(\)\.forward.*float32"),
    WrongAnswer(N03, "MyTanh.forward returning float32", "my_tanh", "Y = np.tanh(X)\n",
                "Y = np.tanh(X).astype(np.float32)\n", "check_tanh_forward", r"MyTanh\(\)\.forward.*dtype float32"),
    WrongAnswer(N03, "MyTanh.backward returning a list", "my_tanh", TANH_DERIVATIVE,
                "return (grad_output * (1 - Y * Y)).tolist()", "check_tanh_backward",
                r"backward.* returned a list, expected a numpy array"),
    WrongAnswer(N03, "MyTanh.backward changing grad_output", "my_tanh", TANH_DERIVATIVE,
                "grad_output *= 1 - Y * Y\n        return grad_output", "check_tanh_backward",
                r"MyTanh\(\)\.backward changed grad_output in place"),
    WrongAnswer(N03, "MyTanh.backward changing its cache", "my_tanh", TANH_DERIVATIVE,
                "Y **= 2\n        return grad_output * (1 - Y)", "check_tanh_backward",
                r"MyTanh\(\)\.backward changed self\.cache, the array that forward returned, in place"),
    WrongAnswer(N03, "MyTanh.backward returning float32", "my_tanh", TANH_DERIVATIVE,
                "return (grad_output * (1 - Y * Y)).astype(np.float32)", "check_tanh_backward", r"dtype float32"),
    WrongAnswer(N04, "MyHuberLoss.forward through float32", "my_huber_loss", "error = output - target\n",
                "error = (output - target).astype(np.float32)\n", "check_huber_forward",
                r"MyHuberLoss\(1\.0\)\.forward.*float32"),
    WrongAnswer(N04, "MyHuberLoss.backward returning a list", "my_huber_loss", HUBER_GRADIENT,
                "return (np.clip(error, -self.delta, self.delta) / error.size).tolist()", "check_huber_backward",
                r"MyHuberLoss\(1\.0\)\.backward\(\).* returned a list, expected a numpy array"),
    WrongAnswer(N04, "MyHuberLoss.backward returning float32", "my_huber_loss", HUBER_GRADIENT,
                "return (np.clip(error, -self.delta, self.delta) / error.size).astype(np.float32)",
                "check_huber_backward", r"MyHuberLoss\(1\.0\)\.backward\(\).*dtype float32"),
    WrongAnswer(N04, "MyHuberLoss.backward with a fixed delta", "my_huber_loss", HUBER_GRADIENT,
                "return np.clip(error, -1.0, 1.0) / error.size", "check_huber_backward",
                r"MyHuberLoss\(2\.0\)\.backward\(\).*Use self\.delta"),
    WrongAnswer(N04, "MyHuberLoss.forward with a fixed delta", "my_huber_loss",
                "linear = self.delta * (abs_error - 0.5 * self.delta)", "linear = 1.0 * (abs_error - 0.5 * 1.0)",
                "check_huber_forward", NOT_FLOAT32 + r".*MyHuberLoss\(2\.0\)\.forward.*Use self\.delta"),
    WrongAnswer(N04, "MyHuberLoss.forward dividing by len", "my_huber_loss",
                "return float(np.mean(np.where(abs_error <= self.delta, quadratic, linear)))",
                "return float(np.sum(np.where(abs_error <= self.delta, quadratic, linear)) / len(error))",
                "check_huber_forward", NOT_FLOAT32 + r".*MyHuberLoss\(1\.0\)\.forward.* returned 2\.205, expected 1\.10"),
    WrongAnswer(N05, "MyMomentum with a fixed learning rate of 0.1", "my_momentum",
                'param -= self.learning_rate * state["velocity"]', 'param -= 0.1 * state["velocity"]',
                "check_momentum", FIXED_LEARNING_RATE),
    WrongAnswer(N05, "MyMomentum with a fixed learning rate of 0.01", "my_momentum",
                'param -= self.learning_rate * state["velocity"]', 'param -= 0.01 * state["velocity"]',
                "check_momentum", FIXED_LEARNING_RATE),
    WrongAnswer(N05, "MyMomentum keeping a float32 velocity", "my_momentum",
                'state["velocity"] = self.beta * state["velocity"] + grad',
                'state["velocity"] = (self.beta * state["velocity"] + grad).astype(np.float32)',
                "check_momentum", r"state\['velocity'\] has dtype float32"),
    WrongAnswer(N04, "MyHuberLoss.forward with a fixed threshold", "my_huber_loss", "abs_error <= self.delta",
                "abs_error <= 1.0", "check_huber_forward", r"MyHuberLoss\(2\.0\)\.forward.*Use self\.delta"),
    WrongAnswer(N05, "MyADAM with eps fixed at Keras's 1e-7", "my_adam", "(np.sqrt(v_hat) + self.eps)",
                "(np.sqrt(v_hat) + 1e-7)", "check_adam", r"eps 1e-8 and 0\.5.*Use self\.eps"),
    WrongAnswer(N05, "MyMomentum with a float32 learning rate", "my_momentum", "param -= self.learning_rate *",
                "param -= np.float32(self.learning_rate) *", "check_momentum", r"probably computed in float32"),
    WrongAnswer(N05, "MyMomentum with a fixed beta", "my_momentum", "self.beta * state",
                "0.9 * state", "check_momentum", r"beta = 0\.5.*Use self\.beta"),
    WrongAnswer(N05, "MyADAM with a fixed beta1", "my_adam", 'state["m"] = self.beta1 * state["m"] + (1 - self.beta1) * grad',
                'state["m"] = 0.9 * state["m"] + 0.1 * grad', "check_adam",
                r"beta1 0\.6, beta2 0\.95.*Use self\.beta1 and self\.beta2"),
    WrongAnswer(N05, "MyADAM with a fixed beta2", "my_adam", "v_hat = state[\"v\"] / (1 - self.beta2**t)",
                'v_hat = state["v"] / (1 - 0.999**t)', "check_adam",
                r"beta1 0\.6, beta2 0\.95.*Use self\.beta1 and self\.beta2"),
    WrongAnswer(N05, "MyADAM with a fixed learning rate", "my_adam",
                "param -= self.learning_rate * m_hat", "param -= 0.1 * m_hat", "check_adam", FIXED_LEARNING_RATE),
    WrongAnswer(N05, "MyADAM with a fixed eps", "my_adam", "(np.sqrt(v_hat) + self.eps)", "(np.sqrt(v_hat) + 1e-8)",
                "check_adam", r"eps.*0\.5.*Use self\.eps"),
    WrongAnswer(N05, "MyADAM keeping a float32 v", "my_adam",
                'state["v"] = self.beta2 * state["v"] + (1 - self.beta2) * grad**2',
                'state["v"] = (self.beta2 * state["v"] + (1 - self.beta2) * grad**2).astype(np.float32)',
                "check_adam", r"state\['v'\] has dtype float32"),
    WrongAnswer(N05, "MyADAM with a float32 v_hat", "my_adam", 'v_hat = state["v"] / (1 - self.beta2**t)',
                'v_hat = (state["v"] / (1 - self.beta2**t)).astype(np.float32)', "check_adam",
                r"^(?!.*eps is added).*first 6 digits, so part of the update was probably computed in float32"),
    WrongAnswer(N05, "MyADAM with eps inside the square root", "my_adam", "(np.sqrt(v_hat) + self.eps)",
                "np.sqrt(v_hat + self.eps)", "check_adam", NOT_FLOAT32 + r".*eps is added after the square root"),
    # The update is right, but the checks that leave eps at its default then fail as if eps were misplaced.
    WrongAnswer(N05, "MyADAM with Keras's 1e-7 as the default eps", "my_adam", "eps=1e-8):", "eps=1e-7):",
                "check_adam", r"^(?!.*eps is added)MyADAM\.__init__ has eps=1e-07, expected eps=1e-08"),
    # np.float32(0.999) changes 1 - beta2 by about 1e-5 of its size, too much to look like float32 rounding.
    WrongAnswer(N05, "MyADAM with a float32 beta2", "my_adam",
                'state["v"] = self.beta2 * state["v"] + (1 - self.beta2) * grad**2',
                'state["v"] = np.float32(self.beta2) * state["v"] + (1 - np.float32(self.beta2)) * grad**2',
                "check_adam", r"^(?!.*eps is added).*betas were probably rounded to float32"),
    WrongAnswer(N05, "MyMomentum with a float32 beta", "my_momentum", "self.beta * state",
                "np.float32(self.beta) * state", "check_momentum",
                r"^(?!.*velocity and the learning rate).*beta was probably rounded to float32"),
    # The velocity starts at 0, so the parameter stays at 1 in step 1, as it would if it were rebound.
    WrongAnswer(N05, "MyMomentum updating param before the velocity", "my_momentum",
                f"{MOMENTUM_VELOCITY}\n        {MOMENTUM_UPDATE}", f"{MOMENTUM_UPDATE}\n        {MOMENTUM_VELOCITY}",
                "check_momentum", r"^(?!.*rebinds).*Update the velocity first.*then the parameter with the new velocity"),
    WrongAnswer(N05, "MyADAM without eps", "my_adam", "(np.sqrt(v_hat) + self.eps)", "np.sqrt(v_hat)",
                "check_adam", r"^(?!.*fixed number).*without eps.*Add self\.eps"),
]


def solved_source(source: str) -> str:
    """Return solution code without its fence lines, as a student who solved the exercise has it."""
    return "\n".join(line for line in source.split("\n") if line.strip() not in FENCES)


@functools.cache
def run_wrong_answers(notebook_name: str) -> tuple[dict, dict]:
    """Run the solved exercise notebook and then every wrong answer for it.

    Returns the errors of the first run's check cells, ``{grade_id: (ename, evalue)}``, and the
    error of each case, ``{label: (ename, evalue)}``, with ``(None, None)`` for a check that passed.
    """
    solutions = course_build.read_notebook(REPOSITORY / "solutions" / notebook_name)
    exercise = course_build.read_notebook(REPOSITORY / "exercises" / notebook_name)
    solved = {
        course_build.nbgrader_metadata(cell)["grade_id"]: solved_source(course_build.source_text(cell))
        for cell in solutions.cells
        if course_build.is_solution_cell(cell)
    }
    cases = [case for case in WRONG_ANSWERS if case.notebook == notebook_name]
    checks = {case.check for case in cases}

    # The exercise up to its last check cell that a case needs: the cells after it may train on MNIST.
    cells, check_sources, check_indices = [], {}, {}
    for cell in exercise.cells:
        if cell.cell_type != "code":
            continue
        grade_id = course_build.nbgrader_metadata(cell).get("grade_id")
        source = solved.get(grade_id, course_build.source_text(cell))
        if course_build.is_check_cell(cell):
            check_sources[grade_id] = source
            check_indices[grade_id] = len(cells)
        cells.append(new_code_cell(source))
        if checks <= set(check_sources):
            break

    case_indices = {}
    for case in cases:
        original = solved[case.exercise]
        assert original.count(case.old) == 1, f"{case.label}: {case.old!r} occurs {original.count(case.old)} times"
        cells.append(new_code_cell(original.replace(case.old, case.new)))
        case_indices[case.label] = len(cells)
        cells.append(new_code_cell(check_sources[case.check]))
    cells.append(new_code_cell("print('all cases ran')"))

    notebook = new_notebook(cells=cells, metadata=exercise.metadata)
    client = course_grade.notebook_client(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(REPOSITORY / "exercises")}},
    )
    client.execute()

    def error_of(index):
        for output in notebook.cells[index].get("outputs", []):
            if output.get("output_type") == "error":
                return output["ename"], output["evalue"]
        return None, None

    right_answers = {grade_id: error_of(index) for grade_id, index in check_indices.items()}
    wrong_answers = {label: error_of(index) for label, index in case_indices.items()}
    return right_answers, wrong_answers


@pytest.mark.parametrize("notebook_name", sorted({case.notebook for case in WRONG_ANSWERS}))
def test_right_answers_pass_checks(notebook_name):
    right_answers, _ = run_wrong_answers(notebook_name)
    failed = {grade_id: error for grade_id, error in right_answers.items() if error != (None, None)}
    assert not failed, f"{notebook_name}: the solution code failed these check cells: {failed}"


@pytest.mark.parametrize("case", WRONG_ANSWERS, ids=lambda case: case.label.replace(" ", "-"))
def test_wrong_answer_caught_with_cause(case):
    _, wrong_answers = run_wrong_answers(case.notebook)
    ename, evalue = wrong_answers[case.label]
    assert ename is not None, f"{case.label}: {case.check} passed"
    assert ename == "AssertionError", f"{case.label}: {case.check} raised {ename}: {evalue}"
    assert re.search(case.pattern, evalue, flags=re.DOTALL), (
        f"{case.label}: the message of {case.check} does not match {case.pattern!r}: {evalue}"
    )
