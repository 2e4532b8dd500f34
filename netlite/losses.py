"""Loss functions: a number that measures how wrong the network's output is.

Each loss has ``forward(output, target)``, which returns the mean loss over
the batch, and ``backward()``, which returns dLoss/dOutput of that mean. The
optimizer's ``step`` multiplies the mean by the batch size so that the
``loss`` it returns is summed over the batch, while the gradient of the mean
keeps the learning rate independent of the batch size.
"""

import numbers
import warnings

import numpy as np

from .settings import range_error, real_number


def is_truth_value(value):
    """Return True for the values that a ``logits`` switch takes: True, False, None (False), 1 and 0."""
    return value is None or isinstance(value, (bool, np.bool_)) or (type(value) is int and value in (0, 1))


def describe_value(value):
    """Return a short description of a wrong value for a message: a number and its type, else the type."""
    if isinstance(value, (numbers.Number, np.number)):
        return f"{value} of type {type(value).__name__}"
    return type(value).__name__


def _counts(n_labels, n_samples):
    """Return 'got 3 labels for 2 samples', with the singular for 1."""
    labels = "label" if n_labels == 1 else "labels"
    samples = "sample" if n_samples == 1 else "samples"
    return f"got {n_labels} {labels} for {n_samples} {samples}"


# Logits written by hand, such as [[0.5, 0.5], [0.3, 0.7]], can look like probabilities by chance.
# The limit of 16 values is a judgment call that keeps small arrays like that one quiet. The output of
# a Softmax layer reaches it from a batch of 2 samples with 10 classes, or 8 samples with 2 classes,
# and a smaller one gets no warning.
_MIN_VALUES_FOR_PROBABILITY_WARNING = 16


def _look_like_probabilities(rows):
    """Return True if the rows of the 2-D float array ``rows`` have 2 or more entries in [0, 1] that sum to 1.

    Logits of a real network almost never do; the output of a Softmax layer always does.
    """
    return rows.shape[1] > 1 and bool(
        rows.min() >= 0 and rows.max() <= 1 and np.allclose(rows.sum(axis=1), 1, rtol=0, atol=1e-3)
    )


def _is_one_hot(rows):
    """Return True if every row of the 2-D array ``rows`` has one 1 and zeros elsewhere."""
    return bool(np.all((rows == 0) | (rows == 1)) and np.all(rows.sum(axis=1) == 1))


def check_takes_logits(loss_func, caller):
    """Raise TypeError unless ``loss_func.takes_logits`` is True or False (see ``is_truth_value``)."""
    if not is_truth_value(loss_func.takes_logits):
        if "takes_logits" in vars(loss_func):
            where = "it was set on this loss object; remove that assignment, or assign True or False"
        else:
            owner = next((cls for cls in type(loss_func).__mro__ if "takes_logits" in vars(cls)), type(loss_func))
            where = f"set it to True or False in the class body of {owner.__name__}"
        raise TypeError(
            f"{caller}: {type(loss_func).__name__}.takes_logits must be True or False, got "
            f"{describe_value(loss_func.takes_logits)}; {where}"
        )


class Loss:
    """Base class: input checks, ``forward``/``backward`` and the metric hooks."""

    # True when the loss expects raw scores (logits); the network then skips a
    # final Softmax layer during training.
    takes_logits = False

    def __init__(self):
        self.cache = None

    def __call__(self, output, target):
        return self.forward(output, target)

    def forward(self, output, target):
        raise NotImplementedError(f"{type(self).__name__} must implement forward(output, target)")

    def backward(self):
        raise NotImplementedError(f"{type(self).__name__} must implement backward()")

    def _require_cache(self):
        if self.cache is None:
            raise RuntimeError(
                f"{self!r}: backward() called before forward(), or after a forward() that set no self.cache; "
                f"compute the loss first, and keep in self.cache what backward() needs"
            )
        return self.cache

    def _as_array(self, target, advice="give every sample the same number of values"):
        """Return the target as an array; a ragged list gets a message that names this loss and ends with ``advice``."""
        try:
            return np.asarray(target)
        except ValueError as error:  # numpy refuses lists of rows of different lengths
            raise ValueError(f"{self!r}: the target does not form an array ({error}); {advice}") from None

    def _check_regression_pair(self, output, target):
        """Check a regression output and target of the same shape, both as float arrays."""
        y = "y" if isinstance(target, np.ndarray) else "np.asarray(y)"  # how the hint names the targets
        output = np.asarray(output)
        target = self._as_array(target)
        for name, value in (("output", output), ("target", target)):
            if value.dtype.kind not in "biuf":
                raise TypeError(f"{self!r}: expected a real-valued numeric {name}, got dtype {value.dtype}")
        if output.ndim != 2:
            raise ValueError(f"{self!r}: expected output of shape (batch, outputs), got {output.shape}")
        if len(output) == 0:
            raise ValueError(f"{self!r}: expected at least one sample, got an empty batch of shape {output.shape}")
        if target.shape != output.shape:
            hint = ""
            if target.shape == output.shape[:1] and output.shape[1] == 1:
                hint = f"; reshape the targets with {y}.reshape(-1, 1)"
            raise ValueError(
                f"{self!r}: expected target of shape {output.shape} (the output's shape), "
                f"got {target.shape}{hint}"
            )
        dtype = output.dtype if output.dtype.kind == "f" else np.float32
        return output.astype(dtype, copy=False), target.astype(dtype, copy=False)

    def __repr__(self):
        return f"{type(self).__name__}()"


class MseLoss(Loss):
    """Mean squared error: ``mean((output - target) ** 2)`` over outputs, averaged over the batch.

    output, target: (N, D) float arrays of the same shape.
    """

    def forward(self, output, target):
        output, target = self._check_regression_pair(output, target)
        error = output - target
        self.cache = error
        return float(np.mean(error * error))

    def backward(self):
        """Return dLoss/dOutput = 2 (output - target) / (N * D), of shape (N, D)."""
        error = self._require_cache()
        return 2 * error / error.size


class HuberLoss(Loss):
    """The Huber loss: quadratic for small errors, linear for large ones.

    For an error e = output - target: ``0.5 * e**2`` where ``|e| <= delta``,
    else ``delta * (|e| - 0.5 * delta)``. Outliers pull on a fit with a force
    of at most ``delta``, where the squared error would pull with ``|e|``.
    Averaged over outputs and the batch, like MseLoss.
    """

    def __init__(self, delta=1.0):
        super().__init__()
        as_float = real_number("HuberLoss", "delta", delta)  # a float: a Fraction would make object arrays
        if not as_float > 0:
            raise range_error("HuberLoss", "delta", delta, as_float, "positive")
        self.delta = as_float

    def forward(self, output, target):
        output, target = self._check_regression_pair(output, target)
        error = output - target
        self.cache = error
        abs_error = np.abs(error)
        quadratic = 0.5 * error * error
        linear = self.delta * (abs_error - 0.5 * self.delta)
        return float(np.mean(np.where(abs_error <= self.delta, quadratic, linear)))

    def backward(self):
        """Return dLoss/dOutput = clip(error, -delta, delta) / (N * D)."""
        error = self._require_cache()
        return np.clip(error, -self.delta, self.delta) / error.size

    def __repr__(self):
        return f"HuberLoss(delta={self.delta})"


class CrossEntropyLoss(Loss):
    """Cross-entropy of integer class labels under the softmax of the logits.

    output: (N, C) logits (raw scores, no softmax applied); target: (N,)
    integer labels in [0, C). The softmax is folded into the loss:
    ``loss_i = logsumexp(z_i) - z_i[y_i]``, computed with the row maximum
    subtracted so that exp() cannot overflow, and its gradient is simply
    ``softmax(z) - onehot(y)``. Computing log(softmax(z)) in two steps
    instead would give log(0) = -inf once a probability underflows.

    forward() warns when the output looks like probabilities: 16 or more
    values, with every row in [0, 1] and summing to 1.
    """

    takes_logits = True

    def forward(self, output, target):
        logits, labels = self._check_classification_pair(output, target)
        if logits.size >= _MIN_VALUES_FOR_PROBABILITY_WARNING and _look_like_probabilities(logits):
            warnings.warn(
                f"{self!r}: every row of the input lies in [0, 1] and sums to 1, like the output of a Softmax "
                f"layer, but the loss expects logits and applies the softmax itself; pass "
                f"model.forward(X, logits=True), which skips a final Softmax layer",
                UserWarning,
                stacklevel=2,
            )
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_sum_exp = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        log_probs = shifted - log_sum_exp
        self.cache = (log_probs, labels)
        rows = np.arange(len(labels))
        return float(-log_probs[rows, labels].mean())

    def backward(self):
        """Return dLoss/dLogits = (softmax(z) - onehot(y)) / N, of shape (N, C)."""
        log_probs, labels = self._require_cache()
        grad = np.exp(log_probs)
        grad[np.arange(len(labels)), labels] -= 1
        return grad / len(labels)

    def _check_classification_pair(self, output, target):
        output = np.asarray(output)
        y = "y" if isinstance(target, np.ndarray) else "np.asarray(y)"  # how the hints name the labels
        target = self._as_array(target, advice="give one class label per sample, such as [3, 0, 7]")
        if output.dtype.kind not in "biuf":
            raise TypeError(f"{self!r}: expected real-valued logits, got dtype {output.dtype}")
        if output.ndim != 2:
            raise ValueError(f"{self!r}: expected logits of shape (batch, classes), got {output.shape}")
        n_samples, n_classes = output.shape
        if n_samples == 0:
            raise ValueError(f"{self!r}: expected at least one sample, got an empty batch of shape {output.shape}")
        if target.ndim == 2 and target.shape[1] == 1:
            target = target[:, 0]
        if target.dtype.kind not in "iu":
            hint = self._label_hint(target, y, n_samples, n_classes)
            raise TypeError(f"{self!r}: expected integer class labels, got dtype {target.dtype}; {hint}")
        if target.shape != (n_samples,):
            hint = f"; {self._label_hint(target, y, n_samples, n_classes)}"
            raise ValueError(
                f"{self!r}: expected labels of shape ({n_samples},) for logits of shape "
                f"{output.shape}, got {target.shape}{hint}"
            )
        if n_samples and (target.min() < 0 or target.max() >= n_classes):
            bad = target[(target < 0) | (target >= n_classes)][0]
            raise ValueError(
                f"{self!r}: label {bad} is outside the class range [0, {n_classes - 1}] "
                f"of logits with {n_classes} classes; check the labels or the size of the last layer"
            )
        dtype = output.dtype if output.dtype.kind == "f" else np.float32
        return output.astype(dtype, copy=False), target

    @staticmethod
    def _label_hint(target, y, n_samples, n_classes):
        """Return how to turn ``target`` into one integer label in [0, n_classes) per sample, for an error message.

        ``y`` is how the hint names the caller's labels: ``y``, or ``np.asarray(y)`` for a list.
        """
        to_int, as_numbers = ".astype(int)", ""
        # Text such as "3" or "3.0". The hints convert it to float, because argmax on text compares characters.
        text = target.dtype.kind in "US" or (
            target.dtype.kind == "O" and any(isinstance(v, (str, bytes)) for v in target.flat)
        )
        try:
            if text:
                values, to_int, as_numbers = target.astype(np.float64), ".astype(float).astype(int)", ".astype(float)"
            else:
                values = np.asarray(target, dtype=np.float64)
        except OverflowError:  # a Python int such as 10**400
            return (
                f"labels are whole numbers from 0 to {n_classes - 1}, but one is a number beyond float's range; "
                f"check how the labels were made"
            )
        except (TypeError, ValueError):
            return f"labels are whole numbers from 0 to {n_classes - 1}; give each class its number"
        if values.ndim == 2 and values.shape[1] > 1 and values.shape != (1, n_samples):
            layouts = []  # the ways the array reads as one-hot rows of n_classes
            for rows, transpose in ((values, ""), (values.T, ".T")):
                if _is_one_hot(rows) and rows.shape[1] == n_classes:
                    layouts.append((transpose, len(rows)))
            if layouts:
                n_rows = layouts[0][1]
                count = "" if n_rows == n_samples else f"; then give one label per sample: {_counts(n_rows, n_samples)}"
                if len(layouts) == 2:  # square, so both readings fit
                    return (
                        f"for one-hot targets pass {y}{as_numbers}.argmax(axis=1) if each row is a sample, or "
                        f"{y}{as_numbers}.T.argmax(axis=1) if each column is{count}"
                    )
                return f"for one-hot targets pass {y}{as_numbers}{layouts[0][0]}.argmax(axis=1){count}"
            if _is_one_hot(values):
                return (
                    f"these one-hot targets have {values.shape[1]} classes, but the logits {n_classes}; "
                    f"check the size of the last layer"
                )
            if _is_one_hot(values.T) and values.shape[1] == n_samples:
                return (
                    f"these one-hot targets, one column per sample, have {values.shape[0]} classes, but the "
                    f"logits {n_classes}; check the size of the last layer"
                )
            if values.shape[1] == n_classes:
                return "CrossEntropyLoss takes one class label per sample, not one value per class"
            return f"give one class label per sample, as an array of shape ({n_samples},)"
        valid = np.isfinite(values) & (values == np.round(values)) & (values >= 0) & (values < n_classes)
        if not np.all(valid):
            return f"labels are whole numbers from 0 to {n_classes - 1}, but one is {target[~valid].flat[0]}"
        if values.size != n_samples:
            if n_samples == 1 and values.size == n_classes and _is_one_hot(values.reshape(1, -1)):
                return f"for a one-hot target pass {y}{as_numbers}.reshape(1, -1).argmax(axis=1)"
            return f"give one label per sample: {_counts(values.size, n_samples)}"
        reshape = ".reshape(-1)" if values.shape != (n_samples,) else ""
        convert = to_int if target.dtype.kind not in "iu" else ""
        return f"pass {y}{reshape}{convert}"
