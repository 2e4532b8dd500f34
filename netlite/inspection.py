"""A look inside the network: per-layer statistics of activations, gradients and parameters.

A network that does not learn usually shows why in these numbers: an output
std that shrinks layer by layer, gradients that vanish towards the first
layer or explode, or ReLU outputs that are all zero.

- ``layer_statistics(model, X, y, loss_func)`` runs one forward and one
  backward pass on a batch, without updating any parameter, and returns a
  table with one row per layer::

      print(nl.layer_statistics(model, X_train[:64], y_train[:64], optimizer.loss_func))

- ``record(model)`` is the mechanism underneath, and it also works around a
  real training step::

      with nl.inspection.record(model) as recording:
          loss, metrics = optimizer.step(model, x_batch, y_batch)
      print(recording.statistics())

  Inside the ``with`` block each layer instance gets its ``forward`` and
  ``backward`` replaced by a small wrapper. The wrapper calls the original
  method and stores the output of forward and the gradient passed to backward.
  Leaving the block removes the wrappers, and the layer classes are never
  changed.

The gradient in the table is dLoss/dOutput, the gradient each layer receives
in backward. It has the same shape as the layer's output, and it exists for
the first layer too, whose input gradient the network skips (see
``NeuralNetwork``). The loss is the batch mean, so these gradients are about
1/N times the per-sample ones.
"""

import contextlib

import numpy as np

from .losses import Loss, check_takes_logits


class Recording:
    """The outputs and output gradients of the layers of ``model`` in the last pass inside ``record(model)``.

    outputs[i]: the output of layer i's last forward, (N, ...), or None if it
    did not run (a final Softmax is skipped when the loss takes logits).
    output_grads[i]: the dLoss/dOutput that layer i's last backward received,
    of the same shape, or None.
    """

    def __init__(self, model):
        self.model = model
        self.outputs = [None] * len(model.layers)
        self.output_grads = [None] * len(model.layers)

    def statistics(self):
        """Return the ``LayerStatistics`` table of the recorded pass and the layers' current parameters."""
        rows = []
        for index, layer in enumerate(self.model.layers):
            output = self.outputs[index]
            output_grad = self.output_grads[index]
            rows.append(
                {
                    "index": index,
                    "layer": repr(layer),
                    "output_shape": None if output is None else tuple(np.shape(output)),
                    "output_mean": _mean(output),
                    "output_std": _std(output),
                    "output_grad_mean": _mean(output_grad),
                    "output_grad_std": _std(output_grad),
                    "param_norm": _norm(layer.params) if layer.params else None,
                    "param_grad_norm": _norm(layer.grads) if layer.grads else None,
                }
            )
        return LayerStatistics(rows)


@contextlib.contextmanager
def record(model):
    """Record every layer's output and output gradient while the ``with`` block runs.

    Yields a ``Recording``. The wrappers are removed when the block ends,
    also when it ends with an exception.
    """
    recording = Recording(model)
    # (layer, the instance attributes "forward"/"backward" it had before), to restore them exactly.
    replaced = []
    try:
        for index, layer in enumerate(model.layers):
            previous = {name: vars(layer)[name] for name in ("forward", "backward") if name in vars(layer)}
            replaced.append((layer, previous))
            layer.forward = _forward_and_record(layer.forward, recording.outputs, index)
            layer.backward = _backward_and_record(layer.backward, recording.output_grads, index)
        yield recording
    finally:
        # Reverse order, so a layer instance that appears twice in the model ends up unwrapped.
        for layer, previous in reversed(replaced):
            for name in ("forward", "backward"):
                if name in previous:
                    setattr(layer, name, previous[name])
                else:
                    delattr(layer, name)  # the class's method is visible again


def _forward_and_record(forward, outputs, index):
    def forward_and_record(X):
        output = forward(X)
        outputs[index] = output
        return output

    return forward_and_record


def _backward_and_record(backward, output_grads, index):
    def backward_and_record(grad_output):
        output_grads[index] = grad_output
        return backward(grad_output)

    return backward_and_record


def layer_statistics(model, X, y, loss_func):
    """Run one forward and backward pass on the batch (X, y) and return per-layer statistics.

    X: (N, ...) inputs and y: (N, ...) targets, a batch such as
    ``X_train[:64]``. loss_func: the loss the model is trained with, e.g.
    ``optimizer.loss_func``. The pass runs in the model's current mode
    (training mode unless ``model.eval()`` was called). No parameter changes,
    and BatchNorm's running statistics and the Dropout generators are put back
    as they were, so a later training run gives the same numbers as without
    this call. The layers' gradients (``layer.grads``) and what they keep
    for backward are those of this pass afterwards.
    """
    if not isinstance(loss_func, Loss):
        raise TypeError(
            f"layer_statistics: loss_func must be a loss such as nl.CrossEntropyLoss(), got "
            f"{type(loss_func).__name__}; pass the loss the model is trained with, e.g. optimizer.loss_func"
        )
    check_takes_logits(loss_func, "layer_statistics")
    if len(X) != len(y):
        raise ValueError(
            f"layer_statistics: X and y must have the same number of samples, got {len(X)} inputs and {len(y)} targets"
        )
    saved_state = _save_layer_state(model)
    try:
        with record(model) as recording:
            output = model.forward(X, logits=loss_func.takes_logits)
            loss_func.forward(output, y)
            model.backward(loss_func.backward())
    finally:
        _restore_layer_state(model, saved_state)
    return recording.statistics()


def _save_layer_state(model):
    """Copy what a forward pass in training mode changes besides the caches: buffers and random generators."""
    saved = []
    for layer in model.layers:
        buffers = {name: value.copy() for name, value in layer.buffers.items()}
        rng = getattr(layer, "rng", None)
        rng_state = rng.bit_generator.state if isinstance(rng, np.random.Generator) else None
        saved.append((buffers, rng_state))
    return saved


def _restore_layer_state(model, saved):
    for layer, (buffers, rng_state) in zip(model.layers, saved):
        layer.buffers.update(buffers)
        if rng_state is not None:
            layer.rng.bit_generator.state = rng_state


def _mean(values):
    return None if values is None else float(np.mean(values))


def _std(values):
    return None if values is None else float(np.std(values))


def _norm(arrays):
    """Compute the L2 norm of all arrays of a dict together, as if they were one vector."""
    return float(np.sqrt(sum(np.sum(np.square(value, dtype=np.float64)) for value in arrays.values())))


class LayerStatistics:
    """The table returned by ``layer_statistics``: one row per layer.

    ``rows`` is a list of dicts with the keys index, layer, output_shape,
    output_mean, output_std, output_grad_mean, output_grad_std, param_norm
    and param_grad_norm. A value is None where it does not apply: a layer
    without parameters, or a layer that did not run. ``table[i]`` is row i.
    ``print(table)`` shows an aligned text table, and so does a notebook cell
    that ends with the table.
    """

    COLUMNS = (
        ("index", "#"),
        ("layer", "layer"),
        ("output_shape", "output shape"),
        ("output_mean", "output mean"),
        ("output_std", "output std"),
        ("output_grad_mean", "dL/doutput mean"),
        ("output_grad_std", "dL/doutput std"),
        ("param_norm", "param norm"),
        ("param_grad_norm", "grad norm"),
    )

    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        return self.rows[index]

    def __iter__(self):
        return iter(self.rows)

    def __str__(self):
        header = [title for _, title in self.COLUMNS]
        body = [[_format_cell(row[key]) for key, _ in self.COLUMNS] for row in self.rows]
        widths = [max(len(line[column]) for line in [header] + body) for column in range(len(header))]
        # The layer name is left-aligned, numbers and shapes are right-aligned.
        left_aligned = {1}
        lines = []
        for line in [header] + body:
            cells = [
                cell.ljust(width) if column in left_aligned else cell.rjust(width)
                for column, (cell, width) in enumerate(zip(line, widths))
            ]
            lines.append("  ".join(cells).rstrip())
        lines.insert(1, "-" * max(len(line) for line in lines))
        return "\n".join(lines)

    def __repr__(self):
        return str(self)


def _format_cell(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
