"""``train``: the plain training loop with a progress bar, a summary per epoch and a history.

``train(model, optimizer, X_train, y_train, X_valid, y_valid, n_epochs=10)``
runs exactly the loop that the notebooks write by hand::

    for epoch in range(n_epochs):
        for x_batch, y_batch in nl.batch_handler(X_train, y_train, batchsize=batchsize, shuffle=True):
            loss, metrics = optimizer.step(model, x_batch, y_batch)
        for x_batch, y_batch in nl.batch_handler(X_valid, y_valid, batchsize=batchsize, shuffle=False):
            loss, metrics = optimizer.step(model, x_batch, y_batch, forward_only=True)

It draws the batch order from the same generator, so after the same
``nl.seed(n)`` the hand-written loop and ``train`` give identical numbers.
Around that loop it adds what a notebook user wants to see:

- A progress bar for each epoch with the running mean loss, made with tqdm:
  the widget bar (``tqdm.notebook``) in a Jupyter kernel, the text bar
  (``tqdm.std``, written to stderr) in a terminal. This is the same choice that
  ``tqdm.auto`` makes. ``progress="auto"`` shows no bar when neither applies
  (a script whose stderr goes to a file or a pipe, a CI job), and in a
  Jupyter kernel without ipywidgets, because tqdm's text bar would land on
  stderr there. ``progress=True`` forces a bar, ``progress=False`` hides it.
- One summary line per epoch on stdout unless ``verbose=False``, e.g.
  ``Epoch 3/10: loss_train 0.1234, acc_train 0.962, loss_valid 0.1301, acc_valid 0.955``.
  The line contains no timings, so stored notebook outputs stay the same from
  run to run; the seconds per epoch are kept in the history.
- A live plot of the curves in Jupyter (``live_plot=True``, see
  ``netlite.plot.LiveTrainingCurves``).
- Ctrl-C, or the notebook's stop button, ends training cleanly: ``train``
  returns the history of the epochs completed so far, with
  ``history.interrupted`` set. The history leaves out the epoch that was
  running, but the model keeps the updates of its batches that were done.
  A Ctrl-C in the middle of an update may leave some layers updated and
  others not, so retrain or reload a saved model for exact results.
- A loss that becomes NaN or infinite raises ``TrainingDivergedError``, which
  names the epoch and the batch and carries the history so far.

In the normal case nothing is written to stderr, which notebook checks such as
nbval would count as cell output. The exception is the text bar that
``progress=True`` shows outside Jupyter, or in Jupyter without ipywidgets.
"""

import math
import sys
import time

import numpy as np

from .batching import batch_handler
from .network import NeuralNetwork
from .optimizers import Optimizer

HISTORY_KEYS = ("loss_train", "acc_train", "loss_valid", "acc_valid", "seconds")


class History(dict):
    """The per-epoch results of ``train``: a dict of lists, one entry per completed epoch.

    Keys: ``loss_train`` and ``loss_valid`` (the mean loss per sample, i.e. the
    loss summed over the epoch divided by the number of samples),
    ``acc_train`` and ``acc_valid`` (correct predictions / number of samples)
    and ``seconds`` (wall-clock time of the epoch, validation included). The
    validation lists stay empty when ``train`` got no validation data.

    Attributes: ``epochs_completed`` and ``interrupted`` (True when Ctrl-C
    ended training early).
    """

    def __init__(self):
        super().__init__({key: [] for key in HISTORY_KEYS})
        self.interrupted = False

    @property
    def epochs_completed(self):
        return len(self["loss_train"])

    def __repr__(self):
        state = ", interrupted" if self.interrupted else ""
        return f"History({self.epochs_completed} epochs{state}, keys {list(self)})"


class TrainingDivergedError(FloatingPointError):
    """Raised by ``train`` when the loss of a batch is NaN or infinite.

    Attributes: ``epoch`` and ``batch`` (both counted from 1), ``loss`` (the
    value that was not finite) and ``history`` (the epochs completed before).
    The model's parameters are usually NaN by then, so build and train a new
    model rather than continuing with this one.
    """

    def __init__(self, message, epoch, batch, loss, history):
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.loss = loss
        self.history = history


def train(
    model,
    optimizer,
    X_train,
    y_train,
    X_valid=None,
    y_valid=None,
    n_epochs=10,
    batchsize=32,
    shuffle=True,
    progress="auto",
    live_plot=False,
    verbose=True,
    on_epoch_end=None,
    augment=None,
):
    """Train ``model`` for ``n_epochs`` epochs and return a ``History``.

    model: a ``NeuralNetwork``; optimizer: an ``Optimizer`` such as
    ``nl.OptimizerSGD(loss_func, learning_rate)``.
    X_train: (N, ...) inputs with y_train: (N, ...) targets; X_valid, y_valid
    likewise (optional, both or neither), evaluated after every epoch with
    ``forward_only=True``.
    shuffle: draw a new batch order for the training data in every epoch.
    progress: "auto", True or False (see the module docstring).
    live_plot: redraw the loss and accuracy curves after every epoch (Jupyter).
    verbose: print one summary line per epoch and a message on interruption.
    on_epoch_end: optional function called as ``on_epoch_end(epoch, history)``
    after each epoch has been added to the history (epoch counted from 1).
    augment: optional function that takes a copy of a batch of training
    inputs and returns new ones of the same shape, such as ``nl.random_shift``. The
    validation data is never augmented.

    Raises ValueError for invalid arguments, TypeError when model and
    optimizer are not what they should be, and TrainingDivergedError when
    the loss becomes NaN or infinite.
    """
    has_valid = _check_arguments(
        model, optimizer, X_train, y_train, X_valid, y_valid, n_epochs, batchsize, progress, on_epoch_end, augment
    )
    history = History()
    progress_bar_class = _choose_progress_bar(progress)
    live_curves = _start_live_plot(n_epochs, verbose) if live_plot else None

    n_train_batches = math.ceil(len(X_train) / batchsize)
    n_valid_batches = math.ceil(len(X_valid) / batchsize) if has_valid else 0
    bar = None
    try:
        for epoch in range(1, n_epochs + 1):
            start_time = time.perf_counter()
            if progress_bar_class is not None:
                bar = progress_bar_class(
                    total=n_train_batches + n_valid_batches,
                    desc=f"Epoch {epoch}/{n_epochs}",
                    unit="batch",
                    leave=False,
                )

            # The training pass: the same calls as the hand-written loop.
            loss_sum, n_correct, n_seen = 0.0, 0, 0
            batches = batch_handler(X_train, y_train, batchsize=batchsize, shuffle=shuffle)
            for batch, (x_batch, y_batch) in enumerate(batches, start=1):
                if augment is not None:
                    x_batch = _augmented(augment, x_batch)
                loss, metrics = optimizer.step(model, x_batch, y_batch)
                _check_finite(loss, "training", epoch, batch, n_epochs, optimizer, history)
                loss_sum += loss
                n_correct += metrics["n_correct"]
                n_seen += len(x_batch)
                if bar is not None:
                    bar.set_postfix_str(f"loss {loss_sum / n_seen:.4f}", refresh=False)
                    bar.update()
            epoch_results = {"loss_train": loss_sum / n_seen, "acc_train": n_correct / n_seen}

            # The validation pass: forward only, in evaluation mode, in a fixed order.
            if has_valid:
                loss_sum, n_correct = 0.0, 0
                batches = batch_handler(X_valid, y_valid, batchsize=batchsize, shuffle=False)
                for batch, (x_batch, y_batch) in enumerate(batches, start=1):
                    loss, metrics = optimizer.step(model, x_batch, y_batch, forward_only=True)
                    _check_finite(loss, "validation", epoch, batch, n_epochs, optimizer, history)
                    loss_sum += loss
                    n_correct += metrics["n_correct"]
                    if bar is not None:
                        bar.update()
                epoch_results["loss_valid"] = loss_sum / len(X_valid)
                epoch_results["acc_valid"] = n_correct / len(X_valid)

            if bar is not None:
                bar.close()
                bar = None
            epoch_results["seconds"] = time.perf_counter() - start_time
            for key, value in epoch_results.items():
                history[key].append(value)

            if verbose:
                print(_epoch_summary(epoch, n_epochs, history), flush=True)
            if live_curves is not None:
                live_curves.update(history)
            if on_epoch_end is not None:
                on_epoch_end(epoch, history)

    except KeyboardInterrupt:
        history.interrupted = True
        if verbose:
            print(
                f"Training interrupted after {history.epochs_completed} of {n_epochs} epochs; "
                f"returning the history so far.",
                flush=True,
            )
    finally:
        if bar is not None:
            bar.close()
    return history


def _epoch_summary(epoch, n_epochs, history):
    """Format the one-line summary of the last epoch in ``history``."""
    text = (
        f"Epoch {epoch}/{n_epochs}: loss_train {history['loss_train'][-1]:.4f}, "
        f"acc_train {history['acc_train'][-1]:.3f}"
    )
    if history["loss_valid"]:
        text += f", loss_valid {history['loss_valid'][-1]:.4f}, acc_valid {history['acc_valid'][-1]:.3f}"
    return text


def _check_finite(loss, phase, epoch, batch, n_epochs, optimizer, history):
    """Raise TrainingDivergedError when a batch's loss is NaN or infinite."""
    if np.isfinite(loss):
        return
    raise TrainingDivergedError(
        f"train: the {phase} loss became {loss} in epoch {epoch}/{n_epochs}, batch {batch}; "
        f"the parameters have diverged. Check that the data contain no NaN or infinite values, then build "
        f"a new model and train it with a smaller learning rate than {optimizer.learning_rate}, e.g. 10 times "
        f"smaller. The exception's history attribute "
        f"contains the {history.epochs_completed} completed epochs.",
        epoch=epoch,
        batch=batch,
        loss=loss,
        history=history,
    )


# -- progress bar and live plot ---------------------------------------------


def _in_jupyter_kernel():
    """Return True when this code runs in a Jupyter (IPython) kernel, not in a terminal."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def _choose_progress_bar(progress):
    """Return the tqdm class for the bar, or None for no bar (see the module docstring)."""
    if progress is False:
        return None
    if _in_jupyter_kernel():
        from tqdm.notebook import IProgress

        if IProgress is not None:
            from tqdm.notebook import tqdm as notebook_tqdm

            return notebook_tqdm
        # Without ipywidgets tqdm can only draw its text bar, on stderr.
        if progress == "auto":
            return None
    elif progress == "auto" and not _is_terminal(sys.stderr):
        return None

    from tqdm.std import tqdm as text_tqdm

    return text_tqdm


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        # A stream without isatty(), or a closed one, is no terminal to draw on.
        return False


def _start_live_plot(n_epochs, verbose):
    """Create the live curves in a Jupyter kernel; elsewhere return None, with a hint if verbose."""
    if not _in_jupyter_kernel():
        if verbose:
            print(
                "train: live_plot=True needs a Jupyter notebook; plot the curves after training "
                "with nl.plot.training_curves(history)",
                flush=True,
            )
        return None
    from . import plot

    return plot.LiveTrainingCurves(n_epochs)


# -- argument checks ---------------------------------------------------------


def _augmented(augment, x_batch):
    """Return ``augment(x_batch)``, or raise ValueError when it returned None or changed the batch's shape.

    augment gets a copy: without shuffling the batch is a view of X_train, which an augment that
    works in place would change a little more in every epoch.
    """
    label = f"augment={getattr(augment, '__name__', augment)!r}"
    new_batch = augment(np.array(x_batch))
    if new_batch is None:
        raise ValueError(
            f"train: {label} returned None; "
            f"end it with 'return' and the new batch"
        )
    try:
        new_batch = np.asarray(new_batch)
    except ValueError:  # parts of different shapes, such as (images, labels)
        raise ValueError(
            f"train: {label} returned a {type(new_batch).__name__} "
            f"that is not one array (parts of different shapes); it must return only the batch of inputs, "
            f"all of one shape"
        ) from None
    if new_batch.dtype.kind == "f" and not np.isfinite(new_batch).all() and np.isfinite(x_batch).all():
        raise ValueError(
            f"train: {label} turned a batch of finite inputs into one "
            f"with NaN or infinite values; check the augment function"
        )
    if new_batch.shape != np.shape(x_batch):
        raise ValueError(
            f"train: {label} turned a batch of shape {np.shape(x_batch)} "
            f"into {new_batch.shape}; it must return only the inputs, in the shape it gets"
        )
    return new_batch


def _check_arguments(
    model, optimizer, X_train, y_train, X_valid, y_valid, n_epochs, batchsize, progress, on_epoch_end, augment
):
    """Raise ValueError or TypeError for invalid arguments; return whether validation data was given."""
    if not isinstance(model, NeuralNetwork):
        hint = "; the order is train(model, optimizer, ...)" if isinstance(model, Optimizer) else ""
        raise TypeError(f"train: model must be a nl.NeuralNetwork, got {type(model).__name__}{hint}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"train: optimizer must be an optimizer such as nl.OptimizerSGD(loss_func, learning_rate), "
            f"got {type(optimizer).__name__}"
        )
    _check_positive_int("n_epochs", n_epochs)
    _check_positive_int("batchsize", batchsize)
    if not (isinstance(progress, bool) or (isinstance(progress, str) and progress == "auto")):
        raise ValueError(f"train: progress must be 'auto', True or False, got {progress!r}")
    if on_epoch_end is not None and not callable(on_epoch_end):
        raise TypeError(f"train: on_epoch_end must be a function (epoch, history) or None, got {on_epoch_end!r}")
    if augment is not None and not callable(augment):
        raise TypeError(f"train: augment must be a function of a batch of inputs, such as nl.random_shift, or None, got {augment!r}")

    _check_pair("X_train", X_train, "y_train", y_train)
    if len(X_train) == 0:
        raise ValueError("train: X_train is empty (0 samples); pass at least one training sample")
    if (X_valid is None) != (y_valid is None):
        given, missing = ("X_valid", "y_valid") if y_valid is None else ("y_valid", "X_valid")
        raise ValueError(f"train: {given} was given without {missing}; pass both or neither")
    if X_valid is None:
        return False
    _check_pair("X_valid", X_valid, "y_valid", y_valid)
    if len(X_valid) == 0:
        raise ValueError("train: X_valid is empty (0 samples); pass validation data or leave out X_valid and y_valid")
    return True


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"train: {name} must be a positive integer, got {value!r}")


def _check_pair(X_name, X, y_name, y):
    for name, value in ((X_name, X), (y_name, y)):
        if not hasattr(value, "__len__") or not hasattr(value, "shape"):
            raise TypeError(f"train: {name} must be a numpy array, got {type(value).__name__}; use np.asarray({name})")
    if len(X) != len(y):
        raise ValueError(
            f"train: {X_name} and {y_name} must have the same number of samples, "
            f"got {len(X)} inputs and {len(y)} targets"
        )
