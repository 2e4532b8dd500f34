"""Tests for nl.train: same numbers as the hand-written loop, output, interruption, divergence, checks."""

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import textwrap

import numpy as np
import pytest

import netlite as nl
from netlite.training import History, TrainingDivergedError

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_classifier():
    """A small classifier with Dropout, so that the shared generator is used beyond shuffling."""
    return nl.NeuralNetwork(
        [
            nl.FullyConnectedLayer(4, 8),
            nl.ReLU(),
            nl.Dropout(0.2),
            nl.FullyConnectedLayer(8, 3),
            nl.Softmax(),
        ]
    )


def make_data(n_samples, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5).astype(np.int64)
    return X, y


def make_xor():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 3), nl.Tanh(), nl.FullyConnectedLayer(3, 1), nl.Sigmoid()])
    return model, X, y


def hand_written_loop(model, optimizer, X_train, y_train, X_valid, y_valid, n_epochs, batchsize):
    """The loop from the notebooks, written out, collecting the same four curves."""
    curves = {"loss_train": [], "acc_train": [], "loss_valid": [], "acc_valid": []}
    for epoch in range(n_epochs):
        loss_sum, n_correct = 0.0, 0
        for x_batch, y_batch in nl.batch_handler(X_train, y_train, batchsize=batchsize, shuffle=True):
            loss, metrics = optimizer.step(model, x_batch, y_batch)
            loss_sum += loss
            n_correct += metrics["n_correct"]
        curves["loss_train"].append(loss_sum / len(X_train))
        curves["acc_train"].append(n_correct / len(X_train))
        loss_sum, n_correct = 0.0, 0
        for x_batch, y_batch in nl.batch_handler(X_valid, y_valid, batchsize=batchsize, shuffle=False):
            loss, metrics = optimizer.step(model, x_batch, y_batch, forward_only=True)
            loss_sum += loss
            n_correct += metrics["n_correct"]
        curves["loss_valid"].append(loss_sum / len(X_valid))
        curves["acc_valid"].append(n_correct / len(X_valid))
    return curves


# -- same numbers as the hand-written loop -----------------------------------


def test_history_matches_hand_written_loop():
    X_train, y_train = make_data(50, seed=1)  # 50 is not a multiple of the batch size 8
    X_valid, y_valid = make_data(21, seed=2)

    nl.seed(7)
    model = make_classifier()
    optimizer = nl.OptimizerADAM(nl.CrossEntropyLoss(), learning_rate=0.01)
    expected = hand_written_loop(model, optimizer, X_train, y_train, X_valid, y_valid, n_epochs=4, batchsize=8)
    expected_weights = [layer.params["W"].copy() for layer in model.layers if "W" in layer.params]

    nl.seed(7)
    model = make_classifier()
    optimizer = nl.OptimizerADAM(nl.CrossEntropyLoss(), learning_rate=0.01)
    history = nl.train(
        model, optimizer, X_train, y_train, X_valid, y_valid, n_epochs=4, batchsize=8, progress=False, verbose=False
    )

    for key, values in expected.items():
        assert history[key] == values, key
    weights = [layer.params["W"] for layer in model.layers if "W" in layer.params]
    for trained, reference in zip(weights, expected_weights):
        np.testing.assert_array_equal(trained, reference)


def test_history_fields_and_flags():
    X_train, y_train = make_data(30, seed=3)
    nl.seed(0)
    history = nl.train(
        make_classifier(),
        nl.OptimizerSGD(nl.CrossEntropyLoss(), 0.1),
        X_train,
        y_train,
        n_epochs=3,
        batchsize=7,
        progress=False,
        verbose=False,
    )
    assert isinstance(history, dict)
    assert isinstance(history, History)
    assert history.epochs_completed == 3
    assert history.interrupted is False
    assert len(history["loss_train"]) == 3
    assert len(history["acc_train"]) == 3
    assert len(history["seconds"]) == 3
    assert history["loss_valid"] == []
    assert history["acc_valid"] == []
    assert all(seconds > 0 for seconds in history["seconds"])
    assert all(0 <= accuracy <= 1 for accuracy in history["acc_train"])


def test_accuracy_counts_correct_samples():
    # Targets equal to the model's own predictions give accuracy 1; the inverted targets give 0.
    model, X, _ = make_xor()
    nl.seed(0)
    predictions = (model.predict(X) > 0.5).astype(np.float32)
    optimizer = nl.OptimizerSGD(nl.MseLoss(), learning_rate=1e-9)  # too small to change a prediction
    with pytest.warns(RuntimeWarning, match="the first update left 'W' of layer 0"):  # on purpose here
        history = nl.train(model, optimizer, X, predictions, X, 1 - predictions, n_epochs=1, batchsize=3,
                           progress=False, verbose=False)
    assert history["acc_train"] == [1.0]
    assert history["acc_valid"] == [0.0]


def test_loss_is_mean_per_sample():
    # With a learning rate that changes nothing measurable, the loss equals the MSE of the fixed outputs.
    model, X, y = make_xor()
    expected = float(np.mean((model.predict(X) - y) ** 2))
    optimizer = nl.OptimizerSGD(nl.MseLoss(), learning_rate=1e-12)
    with pytest.warns(RuntimeWarning, match="the first update left 'W' of layer 0"):  # on purpose here
        history = nl.train(model, optimizer, X, y, X, y, n_epochs=1, batchsize=3, progress=False, verbose=False)
    assert history["loss_train"][0] == pytest.approx(expected, rel=1e-5)
    assert history["loss_valid"][0] == pytest.approx(expected, rel=1e-5)


def test_xor_learns():
    nl.seed(3)
    model, X, y = make_xor()
    history = nl.train(model, nl.OptimizerSGD(nl.MseLoss(), 2.0), X, y, n_epochs=600, batchsize=4,
                       progress=False, verbose=False)
    assert history["loss_train"][-1] < 0.5 * history["loss_train"][0]


# -- printed output ----------------------------------------------------------


def test_summary_line_per_epoch(capsys):
    X_train, y_train = make_data(20, seed=4)
    X_valid, y_valid = make_data(10, seed=5)
    nl.seed(0)
    nl.train(make_classifier(), nl.OptimizerSGD(nl.CrossEntropyLoss(), 0.1), X_train, y_train, X_valid, y_valid,
             n_epochs=3, batchsize=8)
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 3
    pattern = (
        r"Epoch {}/3: loss_train \d+\.\d{{4}}, acc_train \d\.\d{{3}}, "
        r"loss_valid \d+\.\d{{4}}, acc_valid \d\.\d{{3}}"
    )
    for epoch, line in enumerate(lines, start=1):
        assert re.fullmatch(pattern.format(epoch), line), line
    # pytest's captured stderr is no terminal, so "auto" shows no bar, and nothing else writes there.
    assert captured.err == ""


def test_summary_without_validation(capsys):
    model, X, y = make_xor()
    nl.train(model, nl.OptimizerSGD(nl.MseLoss(), 1.0), X, y, n_epochs=1, batchsize=2)
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(r"Epoch 1/1: loss_train \d\.\d{4}, acc_train \d\.\d{3}", line), line


def test_quiet_prints_nothing(capsys):
    model, X, y = make_xor()
    nl.train(model, nl.OptimizerSGD(nl.MseLoss(), 1.0), X, y, n_epochs=2, batchsize=2, progress=False, verbose=False)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def test_forced_progress_bar_writes_to_stderr(capsys):
    model, X, y = make_xor()
    nl.train(model, nl.OptimizerSGD(nl.MseLoss(), 1.0), X, y, X, y, n_epochs=2, batchsize=1, progress=True,
             verbose=False)
    err = capsys.readouterr().err
    assert "Epoch 1/2" in err
    assert "Epoch 2/2" in err
    assert "/8" in err  # 4 training + 4 validation batches per epoch


def test_live_plot_outside_jupyter_prints_hint(capsys):
    model, X, y = make_xor()
    history = nl.train(model, nl.OptimizerSGD(nl.MseLoss(), 1.0), X, y, n_epochs=1, batchsize=2, live_plot=True)
    captured = capsys.readouterr()
    assert "live_plot=True needs a Jupyter notebook" in captured.out
    assert "nl.plot.training_curves(history)" in captured.out
    assert captured.err == ""
    assert history.epochs_completed == 1


def test_live_plot_updates_display_handle(monkeypatch):
    pytest.importorskip("IPython")
    import IPython.display

    import netlite.training

    calls = []

    class FakeHandle:
        def update(self, figure):
            calls.append(("update", [list(line.get_ydata()) for line in figure.axes[0].lines]))

    def fake_display(figure, display_id=False):
        calls.append(("display", display_id))
        return FakeHandle()

    monkeypatch.setattr(IPython.display, "display", fake_display)
    monkeypatch.setattr(netlite.training, "_in_jupyter_kernel", lambda: True)
    model, X, y = make_xor()
    history = nl.train(model, nl.OptimizerSGD(nl.MseLoss(), 1.0), X, y, X, y, n_epochs=3, batchsize=2,
                       progress=False, verbose=False, live_plot=True)

    assert calls[0] == ("display", True)
    assert [kind for kind, _ in calls[1:]] == ["update"] * 3
    # The last frame shows the whole history: training and validation loss.
    assert calls[-1][1] == [history["loss_train"], history["loss_valid"]]


# -- progress bar in a terminal and in a pipe --------------------------------

SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import netlite as nl
    nl.seed(0)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 3, dtype=np.float32)
    y = np.array([[0], [1], [1], [0]] * 3, dtype=np.float32)
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(2, 3), nl.Tanh(), nl.FullyConnectedLayer(3, 1), nl.Sigmoid()])
    nl.train(model, nl.OptimizerSGD(nl.MseLoss(), 1.0), X, y, n_epochs=2, batchsize=4, progress={progress})
    """
)


def run_in_terminal(progress):
    """Run the training script with stdout and stderr on a pseudo-terminal; return everything it wrote."""
    controller, terminal = pty.openpty()
    # A new pseudo-terminal has 0 columns, on which tqdm draws nothing; give it a usual size.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT.format(progress=progress)],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        cwd=REPO_ROOT,
    )
    os.close(terminal)
    output = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 60)
        if not ready:
            process.kill()
            raise AssertionError(f"the training script wrote nothing for 60 s; output so far: {output!r}")
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # Linux raises EIO once the process has closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert process.wait(timeout=60) == 0, output
    return output.decode()


def test_progress_bar_in_terminal():
    output = run_in_terminal('"auto"')
    assert "Epoch 1/2:   0%" in output
    assert "0/3 [" in output  # the bar counts the 3 training batches
    assert "batch" in output
    assert "Epoch 2/2: loss_train" in output


def test_no_progress_bar_when_turned_off():
    output = run_in_terminal("False")
    assert "%|" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 2
    assert lines[0].startswith("Epoch 1/2: loss_train")


def test_no_progress_bar_in_pipe():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(progress='"auto"')],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert len(result.stdout.splitlines()) == 2


# -- interruption ------------------------------------------------------------


def test_interrupt_in_callback_returns_history(capsys):
    def stop_in_epoch_2(epoch, history):
        if epoch == 2:
            raise KeyboardInterrupt

    model, X, y = make_xor()
    history = nl.train(model, nl.OptimizerSGD(nl.MseLoss(), 1.0), X, y, X, y, n_epochs=5, batchsize=2,
                       on_epoch_end=stop_in_epoch_2)
    assert history.interrupted is True
    assert history.epochs_completed == 2
    assert len(history["loss_valid"]) == 2
    assert "Training interrupted after 2 of 5 epochs" in capsys.readouterr().out


class InterruptingLoss(nl.MseLoss):
    """An MSE loss that raises KeyboardInterrupt on a given call of forward, like Ctrl-C mid-epoch."""

    def __init__(self, interrupt_on_call):
        super().__init__()
        self.interrupt_on_call = interrupt_on_call
        self.n_calls = 0

    def forward(self, output, target):
        self.n_calls += 1
        if self.n_calls == self.interrupt_on_call:
            raise KeyboardInterrupt
        return super().forward(output, target)


def test_interrupt_mid_epoch_drops_epoch(capsys):
    model, X, y = make_xor()
    # 2 training + 2 validation batches per epoch: call 6 is the second training batch of epoch 2.
    loss = InterruptingLoss(interrupt_on_call=6)
    optimizer = nl.OptimizerSGD(loss, 1.0)
    history = nl.train(model, optimizer, X, y, X, y, n_epochs=4, batchsize=2, progress=True)
    assert history.interrupted is True
    assert history.epochs_completed == 1
    assert all(len(values) == 1 for values in history.values())
    # The model keeps the update of epoch 2's first batch, as the module docstring states.
    assert optimizer.n_steps == 3
    captured = capsys.readouterr()
    assert "Training interrupted after 1 of 4 epochs" in captured.out


def test_interrupt_during_validation_restores_training_mode():
    nl.seed(0)
    model = make_classifier()
    X, y = make_data(8, seed=6)

    class InterruptingCrossEntropy(nl.CrossEntropyLoss):
        def forward(self, output, target):
            if not model.is_training:
                raise KeyboardInterrupt
            return super().forward(output, target)

    history = nl.train(model, nl.OptimizerSGD(InterruptingCrossEntropy(), 0.1), X, y, X, y, n_epochs=2,
                       batchsize=4, progress=False, verbose=False)
    assert history.interrupted is True
    assert history.epochs_completed == 0
    assert model.is_training


# -- divergence --------------------------------------------------------------


def test_nan_input_names_epoch_and_batch():
    model, X, y = make_xor()
    X_train = np.tile(X, (3, 1))
    y_train = np.tile(y, (3, 1))
    X_train[7, 0] = np.nan  # samples 6, 7, 8 form batch 3 of 4 (batchsize 3, no shuffling)
    with pytest.raises(TrainingDivergedError) as caught, pytest.warns(RuntimeWarning, match="the loss is nan"):
        nl.train(model, nl.OptimizerSGD(nl.MseLoss(), 0.5), X_train, y_train, n_epochs=3, batchsize=3,
                 shuffle=False, progress=False, verbose=False)
    error = caught.value
    assert error.epoch == 1
    assert error.batch == 3
    assert np.isnan(error.loss)
    assert error.history.epochs_completed == 0
    message = str(error)
    assert "epoch 1/3, batch 3" in message
    assert "smaller learning rate" in message


def test_nan_in_validation_is_reported():
    model, X, y = make_xor()
    X_valid = X.copy()
    X_valid[3, 1] = np.nan
    with pytest.raises(TrainingDivergedError, match="validation loss became nan in epoch 1/2, batch 2"):
        nl.train(model, nl.OptimizerSGD(nl.MseLoss(), 0.5), X, y, X_valid, y, n_epochs=2, batchsize=2,
                 progress=False, verbose=False)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy reports the overflow on its way to inf/nan
def test_huge_learning_rate_diverges():
    nl.seed(1)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3)).astype(np.float32)
    y = (X @ np.array([[3.0], [-2.0], [1.0]]) * 100).astype(np.float32)
    model = nl.NeuralNetwork([nl.FullyConnectedLayer(3, 16), nl.ReLU(), nl.FullyConnectedLayer(16, 1)])
    with pytest.raises(TrainingDivergedError) as caught:
        nl.train(model, nl.OptimizerSGD(nl.MseLoss(), 1e3), X, y, n_epochs=50, batchsize=8, progress=False,
                 verbose=False)
    error = caught.value
    assert isinstance(error, FloatingPointError)
    assert isinstance(error, ArithmeticError)
    assert not np.isfinite(error.loss)
    assert error.history.epochs_completed == error.epoch - 1
    assert "than 1000.0" in str(error)


# -- input checks ------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"y_train": np.zeros((3, 1), np.float32)}, "X_train and y_train must have the same number of samples"),
        ({"n_epochs": 0}, "n_epochs must be a positive integer, got 0"),
        ({"n_epochs": 2.5}, "n_epochs must be a positive integer, got 2.5"),
        ({"n_epochs": True}, "n_epochs must be a positive integer, got True"),
        ({"batchsize": 0}, "batchsize must be a positive integer, got 0"),
        ({"batchsize": "32"}, "batchsize must be a positive integer"),
        ({"X_valid": np.zeros((4, 2), np.float32)}, "X_valid was given without y_valid"),
        ({"y_valid": np.zeros((4, 1), np.float32)}, "y_valid was given without X_valid"),
        (
            {"X_valid": np.zeros((4, 2), np.float32), "y_valid": np.zeros((2, 1), np.float32)},
            "X_valid and y_valid must have the same number of samples, got 4 inputs and 2 targets",
        ),
        ({"progress": "yes"}, "progress must be 'auto', True or False"),
        ({"progress": 1}, "progress must be 'auto', True or False"),
        ({"X_train": np.zeros((0, 2), np.float32), "y_train": np.zeros((0, 1), np.float32)}, "X_train is empty"),
    ],
)
def test_invalid_arguments_raise_value_error(changes, message):
    model, X, y = make_xor()
    arguments = {"X_train": X, "y_train": y, "n_epochs": 1, "batchsize": 2, "progress": False, "verbose": False}
    arguments.update(changes)
    with pytest.raises(ValueError, match=re.escape(message)):
        nl.train(model, nl.OptimizerSGD(nl.MseLoss(), 1.0), **arguments)


def test_swapped_model_and_optimizer_raise_type_error():
    model, X, y = make_xor()
    optimizer = nl.OptimizerSGD(nl.MseLoss(), 1.0)
    with pytest.raises(TypeError, match=r"the order is train\(model, optimizer"):
        nl.train(optimizer, model, X, y)
    with pytest.raises(TypeError, match="optimizer must be an optimizer"):
        nl.train(model, nl.MseLoss(), X, y)


def test_list_input_raises_type_error():
    model, X, y = make_xor()
    with pytest.raises(TypeError, match=r"X_train must be a numpy array, got list"):
        nl.train(model, nl.OptimizerSGD(nl.MseLoss(), 1.0), X.tolist(), y)


# -- in a real Jupyter kernel ------------------------------------------------


def test_jupyter_kernel_output_has_no_stderr(monkeypatch):
    """Run train in a Jupyter kernel, as nbval does: widget bar, live plot, summary lines, nothing on stderr."""
    # The kernel inherits the environment; without MPLBACKEND it uses the inline backend, as in JupyterLab.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from netlite.course import grade as course_grade

    code = SCRIPT.format(progress='"auto"').replace("batchsize=4,", "batchsize=4, live_plot=True,")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    course_grade.notebook_client(notebook, kernel_name="python3", timeout=120).execute()

    outputs = notebook.cells[0].outputs
    streams = [output for output in outputs if output.output_type == "stream"]
    assert [stream.name for stream in streams] == ["stdout"] * len(streams)
    stdout = "".join(stream.text for stream in streams)
    assert re.findall(r"^Epoch \d/2: loss_train", stdout, flags=re.MULTILINE) == ["Epoch 1/2: loss_train",
                                                                                 "Epoch 2/2: loss_train"]
    displays = [output for output in outputs if output.output_type == "display_data"]
    widgets = [output for output in displays if "application/vnd.jupyter.widget-view+json" in output.data]
    images = [output for output in displays if "image/png" in output.data]
    assert len(widgets) == 2  # one progress bar per epoch
    assert len(images) == 1  # the live plot, updated in place rather than displayed again
    assert images[0].data["text/plain"] == "<Figure size 1000x400 with 2 Axes>"
