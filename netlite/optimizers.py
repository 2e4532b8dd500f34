"""Optimizers: one training step (forward, loss, backward) and the parameter update.

All optimizers share ``Optimizer.step``. Each subclass only defines how one
parameter array is updated from its gradient (``update_parameter``). The
update rules, for a parameter p with gradient g and learning rate lr:

- SGD:       p <- p - lr * g
- Momentum:  v <- beta * v + g;  p <- p - lr * v
- ADAM:      see OptimizerADAM
"""

import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from .kernels.jit import stacklevel_outside_netlite
from .losses import Loss, check_takes_logits, describe_value
from .metrics import count_correct
from .settings import range_error, real_number, short_repr


def _has_batch_axis(value):
    """Return True if ``value`` has a first axis, as arrays, lists and tuples do; None, numbers and iterators have none."""
    try:
        return np.ndim(value) > 0
    except ValueError:  # a ragged list, which has a first axis; the loss names the problem
        return True


class _UpdateSetting(NamedTuple):
    """A number that ``update_parameter`` converts to the parameter's dtype, such as the learning rate."""

    name: str  # how a message names the number
    value: float
    # The message's consequence and fix for a number that becomes inf in the dtype.
    advice: str
    # The same for a number that becomes 0, given only for a divisor such as ADAM's eps. None where a 0
    # only leaves the parameters as they are, which step() warns about after the first update.
    zero_advice: str | None = None


class _Range(NamedTuple):
    """The values a setting may take: what the constructor checks, and step() again before every update."""

    description: str  # completes "must be ...", as in "in [0, 1)"
    contains: Callable[[float], bool]  # False for NaN


_POSITIVE_AND_FINITE = _Range("positive and finite", lambda x: 0 < x < np.inf)
_FRACTION = _Range("in [0, 1)", lambda x: 0 <= x < 1)


class Optimizer:
    """Base class: runs a training step and applies ``update_parameter`` to every parameter.

    The optimizer keeps every layer it has updated, with that layer's state, for as long as it
    exists. A new model trained with the same optimizer gets fresh state. The old layers stay in
    memory until the optimizer goes, so create a new optimizer for each model. Pickle or copy
    the model and its optimizer together, as in ``copy.deepcopy((model, optimizer))``. Then the
    copied optimizer finds the copied layers. An optimizer copied alone starts afresh.
    """

    # Setting name -> the values it may take. Subclasses add their own settings.
    _setting_ranges = {"learning_rate": _POSITIVE_AND_FINITE}

    def __init__(self, loss_func, learning_rate):
        if not isinstance(loss_func, Loss):
            raise TypeError(
                f"{type(self).__name__}: loss_func must be a loss such as nl.CrossEntropyLoss(), "
                f"got {type(loss_func).__name__}; did you forget the parentheses, as in nl.MseLoss()?"
            )
        check_takes_logits(loss_func, type(self).__name__)
        self.learning_rate = self._checked_setting(type(self).__name__, "learning_rate", learning_rate)
        self.loss_func = loss_func
        self.n_steps = 0
        # Per-parameter state (velocities, moments): state[id(layer)]["params"][name]. Each entry
        # also keeps its layer alive, so that no new layer can get that id and inherit the state.
        self.state = {}
        self._warned_non_finite = False  # step() warns once about a NaN or infinite loss
        self._checked_settings = None  # the settings and parameter dtypes that passed step()'s checks last

    def step(self, model, X, y, forward_only=False):
        """Run one training step on a batch and return ``(loss, metrics)``.

        ``loss`` is the loss summed over the batch, so an epoch's sum divided
        by the number of samples is the mean. ``metrics['n_correct']`` is the
        number of correct predictions (see ``netlite.metrics.count_correct``).
        The gradient is that of the batch's mean loss.

        With ``forward_only=True`` the model runs in evaluation mode and
        nothing is updated: use it for validation and test data. The first
        step warns if its update left a parameter with a nonzero gradient as
        it was (see ``_warn_if_nothing_changed``). Before the forward pass, every step raises
        ValueError if a setting is out of the range that the constructor accepts, such as a NaN
        learning rate (see ``_check_settings_in_range``), or if a setting becomes inf, or ADAM's
        eps becomes 0, in a parameter's dtype (see ``_check_settings_fit_parameters``).
        """
        # Checked by its attributes, so that this module does not import network.py.
        if not (hasattr(model, "layers") and callable(getattr(model, "forward", None))):
            raise TypeError(
                f"{type(self).__name__}.step: model must be a nl.NeuralNetwork, got {type(model).__name__}; "
                f"call step(model, X, y), with the network first"
            )
        for name, value in (("X", X), ("y", y)):
            if not _has_batch_axis(value):
                if value is None:
                    got = "None"
                elif isinstance(value, np.ndarray):
                    got = "a 0-d array"
                else:
                    got = describe_value(value)
                raise TypeError(
                    f"{type(self).__name__}.step: expected {name} with one entry per sample along its first axis, "
                    f"got {got}; call step(model, X, y) with a batch's inputs and its targets, as arrays or lists"
                )
        if len(X) != len(y):
            raise ValueError(
                f"{type(self).__name__}.step: X and y must have the same number of samples, "
                f"got {len(X)} inputs and {len(y)} targets"
            )
        if forward_only:
            return self._evaluate(model, X, y)
        self._check_settings(model)

        output = model.forward(X, logits=self.loss_func.takes_logits)
        loss = self._checked_loss(self.loss_func.forward(output, y))
        self._warn_if_not_finite(loss)
        metrics = {"n_correct": count_correct(output, y)}
        model.backward(self.loss_func.backward())

        self.n_steps += 1
        before_first_update = self._parameter_copies(model) if self.n_steps == 1 else None
        for layer in model.layers:
            for name, param in layer.params.items():
                if name not in layer.grads:
                    raise ValueError(
                        f"{type(self).__name__}.step: {layer!r} has a parameter '{name}' but no gradient of that "
                        f"name; store it in backward() as self.grads['{name}'], under the parameter's name"
                    )
                entry = self.state.setdefault(id(layer), {"layer": layer, "params": {}})
                state = entry["params"].setdefault(name, {})
                self.update_parameter(param, layer.grads[name], state)
        if before_first_update is not None:
            self._warn_if_nothing_changed(model, before_first_update)
        return loss * len(X), metrics

    def _checked_setting(self, owner, name, value):
        """Return the setting ``name`` as a float, or raise TypeError or ValueError if it is not in its range.

        ``owner`` begins the message, such as "OptimizerSGD" in the constructor.
        """
        as_float = real_number(owner, name, value)
        allowed = self._setting_ranges[name]
        if not allowed.contains(as_float):
            raise range_error(owner, name, value, as_float, allowed.description)
        return as_float

    def _check_settings(self, model):
        """Run the setting checks before an update, unless the settings and dtypes passed them unchanged.

        A learning-rate schedule may change a setting between steps, and ``astype`` a parameter's
        dtype. Skipping the unchanged case cut their cost from about 40 to 7
        microseconds per LeNet-5 step on the 2-core Intel Xeon of docs/benchmarks.md. A NaN setting never equals the last one, so it is always checked.
        """
        settings = tuple(getattr(self, name) for name in self._setting_ranges)
        dtypes = tuple(np.asarray(param).dtype for layer in model.layers for param in layer.params.values())
        # Only plain floats are compared, because == on an array that a caller set as a setting is ambiguous.
        key = (settings, dtypes) if all(type(value) is float for value in settings) else None
        if key is not None and key == getattr(self, "_checked_settings", None):
            return
        self._check_settings_in_range()
        self._check_settings_fit_parameters(model)
        self._checked_settings = key

    def _check_settings_in_range(self):
        """Raise TypeError or ValueError if a setting was changed after the constructor to a value it rejects."""
        for name in self._setting_ranges:
            try:
                self._checked_setting(f"{type(self).__name__}.step", name, getattr(self, name))
            except (TypeError, ValueError) as exc:
                raise type(exc)(
                    f"{exc}. {name} was changed after the optimizer was created, for example by a learning-rate "
                    f"schedule; set optimizer.{name} to a valid value before the next step"
                ) from None

    def _update_settings(self):
        """Return an ``_UpdateSetting`` for each number that ``update_parameter`` converts to the parameter's dtype."""
        advice = "the update would make the parameters inf or NaN, so lower learning_rate; typical values lie between 1e-4 and 0.1"
        return [_UpdateSetting("learning_rate", self.learning_rate, advice)]

    def _check_settings_fit_parameters(self, model):
        """Raise ValueError if a setting becomes inf, or a divisor's setting 0, in the dtype of a float parameter.

        numpy computes ``param -= learning_rate * grad`` in the parameter's dtype, so a learning
        rate beyond float32's maximum becomes inf there and makes every float32 parameter inf or NaN.
        """
        checked_dtypes = set()
        for index, layer in enumerate(model.layers):
            for name, param in layer.params.items():
                dtype = np.asarray(param).dtype
                if dtype.kind != "f" or dtype in checked_dtypes:
                    continue
                checked_dtypes.add(dtype)
                for setting in self._update_settings():
                    with np.errstate(over="ignore", under="ignore"):
                        in_dtype = dtype.type(setting.value)
                    if np.isinf(in_dtype):
                        problem, advice = f"beyond {np.finfo(dtype).max:g}, the maximum of {dtype.name}", setting.advice
                    elif in_dtype == 0 and setting.value != 0 and setting.zero_advice is not None:
                        smallest = np.finfo(dtype).smallest_subnormal
                        problem = f"which rounds to 0 in {dtype.name}, whose smallest positive value is {smallest:g}"
                        advice = setting.zero_advice
                    else:
                        continue
                    raise ValueError(
                        f"{type(self).__name__}.step: {setting.name} is {setting.value!r}, {problem}. '{name}' of "
                        f"layer {index} ({layer!r}) has dtype {dtype.name}; {advice}"
                    )

    @staticmethod
    def _parameter_copies(model):
        """Return a copy of every parameter, by layer index and name (np.array: a parameter may be a number)."""
        return {
            (index, name): np.array(param, copy=True)
            for index, layer in enumerate(model.layers)
            for name, param in layer.params.items()
        }

    def _warn_if_nothing_changed(self, model, copies):
        """Warn once when the first update left a parameter as it was, although its gradient is not zero."""
        for (index, name), copy in copies.items():
            layer = model.layers[index]
            unchanged = np.array_equal(layer.params[name], copy, equal_nan=True)
            if unchanged and np.any(np.asarray(layer.grads[name]) != 0):
                warnings.warn(
                    f"{type(self).__name__}.step: the first update left '{name}' of layer {index} ({layer!r}) as it "
                    f"was, although its gradient is not zero. Unless that is on purpose, update_parameter must change "
                    f"param in place (param -= ..., not param = param - ...), and learning_rate * gradient must not "
                    f"round to 0 in the parameter's dtype (learning_rate is {self.learning_rate!r})",
                    RuntimeWarning,
                    stacklevel=stacklevel_outside_netlite(),
                )
                return

    def __setstate__(self, attributes):
        """Key the state by the ids of the copied layers after pickle or copy.deepcopy."""
        self.__dict__.update(attributes)
        self.state = {id(entry["layer"]): entry for entry in self.state.values()}

    def _warn_if_not_finite(self, loss):
        """Warn once per optimizer when the loss is NaN or infinite: the update then spoils every parameter."""
        if np.isfinite(loss) or self._warned_non_finite:
            return
        self._warned_non_finite = True
        warnings.warn(
            f"{type(self).__name__}.step: the loss is {loss}, so this update makes the parameters NaN or inf; "
            f"lower the learning rate, or check X and y for NaN and inf",
            RuntimeWarning,
            stacklevel=stacklevel_outside_netlite(),
        )

    def _evaluate(self, model, X, y):
        was_training = model.is_training
        model.eval()
        try:
            output = model.forward(X, logits=self.loss_func.takes_logits)
            loss = self._checked_loss(self.loss_func.forward(output, y))
        finally:
            if was_training:
                model.train()
        return loss * len(X), {"n_correct": count_correct(output, y)}

    def _checked_loss(self, loss):
        """Return what the loss's forward() returned as a float, or raise TypeError if it is not one real number.

        A float, not the loss's own dtype, so that float16 or int8 sums over an epoch cannot overflow.
        """
        if loss is None:
            raise TypeError(
                f"{type(self).__name__}.step: forward() of {self.loss_func!r} returned None; end forward() "
                f"with 'return' and the loss"
            )
        inside = ""  # how the message describes a value that came in a 0-d array
        if isinstance(loss, np.ndarray) and loss.ndim == 0:
            loss, inside = loss[()], "a 0-d array holding "
        text = (str, bytes, bytearray, memoryview, np.str_, np.bytes_)  # float() would parse these
        not_real = (bool, np.bool_, complex, np.complexfloating, np.datetime64, np.timedelta64)
        if not isinstance(loss, (np.ndarray, list, tuple, *text, *not_real)):
            try:
                return float(loss)  # Python and numpy numbers, Fraction and Decimal
            except OverflowError:  # an int or Fraction beyond float's range, which the finite check then reports
                return np.inf if loss > 0 else -np.inf
            except (TypeError, ValueError):
                pass
        if isinstance(loss, np.ndarray):
            got = f"an array of shape {loss.shape}"
        elif isinstance(loss, (list, tuple)):
            got = f"a {type(loss).__name__} of {len(loss)} item{'' if len(loss) == 1 else 's'}"
        else:
            got = f"{inside}{type(loss).__name__} {short_repr(loss)}"
        raise TypeError(
            f"{type(self).__name__}.step: forward() of {self.loss_func!r} returned {got}; a loss returns one "
            f"real number, the mean over the batch, for example float(np.mean(...))"
        )

    def update_parameter(self, param, grad, state):
        """Update ``param`` in place from ``grad``; ``state`` is this parameter's own dict."""
        raise NotImplementedError(f"{type(self).__name__} must implement update_parameter(param, grad, state)")

    def __repr__(self):
        return f"{type(self).__name__}(loss_func={self.loss_func!r}, learning_rate={self.learning_rate})"


class OptimizerSGD(Optimizer):
    """Plain stochastic gradient descent: ``p <- p - lr * g``."""

    def update_parameter(self, param, grad, state):
        param -= self.learning_rate * grad


class OptimizerMomentum(Optimizer):
    """SGD with classical (heavy-ball) momentum, the variant PyTorch's SGD uses.

    ``v <- beta * v + g``, then ``p <- p - lr * v``, with v starting at 0.
    Some textbooks use an exponential average ``v <- beta * v + (1 - beta) * g``
    instead; it is the same rule with the learning rate scaled by (1 - beta).
    """

    _setting_ranges = {**Optimizer._setting_ranges, "beta": _FRACTION}

    def __init__(self, loss_func, learning_rate, beta=0.9):
        super().__init__(loss_func, learning_rate)
        self.beta = self._checked_setting(type(self).__name__, "beta", beta)

    def update_parameter(self, param, grad, state):
        if "velocity" not in state:
            state["velocity"] = np.zeros_like(param)
        velocity = state["velocity"]
        velocity *= self.beta
        velocity += grad
        param -= self.learning_rate * velocity


class OptimizerADAM(Optimizer):
    """ADAM (Kingma and Ba, 2015, Algorithm 1), with bias correction.

    With t counting this parameter's updates, starting at 1 (per parameter,
    as in PyTorch, so an optimizer reused on a new model starts its bias
    correction afresh):
    ``m <- beta1 * m + (1 - beta1) * g`` and ``v <- beta2 * v + (1 - beta2) * g**2``
    are running averages of the gradient and its square. Both start at 0, so
    they are biased towards 0 in the first steps; dividing by (1 - beta**t)
    removes that bias: ``m_hat = m / (1 - beta1**t)``, ``v_hat = v / (1 - beta2**t)``.
    Then ``p <- p - lr * m_hat / (sqrt(v_hat) + eps)``. The stored m and v
    stay uncorrected, as in the paper.
    """

    _setting_ranges = {**Optimizer._setting_ranges, "beta1": _FRACTION, "beta2": _FRACTION, "eps": _POSITIVE_AND_FINITE}

    def __init__(self, loss_func, learning_rate=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(loss_func, learning_rate)
        owner = type(self).__name__
        self.beta1 = self._checked_setting(owner, "beta1", beta1)
        self.beta2 = self._checked_setting(owner, "beta2", beta2)
        self.eps = self._checked_setting(owner, "eps", eps)

    def _update_settings(self):
        # update_parameter adds eps to sqrt(v_hat) and divides by the sum, and multiplies m by
        # learning_rate / (1 - beta1**t), which is largest in the first step (t = 1).
        eps = _UpdateSetting(
            "eps",
            self.eps,
            "an inf eps would make every update 0, so choose a smaller eps, such as the default 1e-8",
            zero_advice="the update would divide 0 by 0 where the gradient is 0 and make the parameters NaN there, "
            "so choose a larger eps",
        )
        first_learning_rate = _UpdateSetting(
            "learning_rate / (1 - beta1), the first step's learning rate after bias correction,",
            self.learning_rate / (1 - self.beta1),
            "the first update would make the parameters inf or NaN, so lower learning_rate or beta1",
        )
        return super()._update_settings() + [eps, first_learning_rate]

    def update_parameter(self, param, grad, state):
        if "m" not in state:
            state["m"] = np.zeros_like(param)
            state["v"] = np.zeros_like(param)
            state["t"] = 0
        state["t"] += 1
        m, v, t = state["m"], state["v"], state["t"]

        m *= self.beta1
        m += (1 - self.beta1) * grad
        v *= self.beta2
        v += (1 - self.beta2) * grad * grad

        # p <- p - lr * m_hat / (sqrt(v_hat) + eps), in fewer passes over the arrays:
        # m_hat = m / (1 - beta1**t) becomes a factor of the scalar learning rate.
        sqrt_v_hat = np.sqrt(v / (1 - self.beta2**t))
        sqrt_v_hat += self.eps
        param -= (self.learning_rate / (1 - self.beta1**t)) * m / sqrt_v_hat
