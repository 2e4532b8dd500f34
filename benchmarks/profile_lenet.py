"""Time each layer of NetLite's LeNet-5 during training and inference, to show where an epoch goes.

    .venv/bin/python benchmarks/profile_lenet.py              # 1 and 2 threads
    .venv/bin/python benchmarks/profile_lenet.py --threads 2

It needs only the package's own environment, not PyTorch.

Training: a quarter epoch (15,000 images, 469 steps at batch 32), with a
timer around every layer's forward and backward call, and around the loss.
The whole step is timed too, with the timers in place, so it includes the
ADAM update and batching. The times per step are averages over all steps,
the last and smaller batch included. Inference: the 10,000 test images in batches of
1,000, as bench_lenet.py measures them, with the same timers on forward;
the fastest of 3 runs.
Prints one Markdown table per mode, in milliseconds per step or per test set.
"""

import argparse
import time
from collections import defaultdict

import numpy as np

from bench_lenet import DEFAULT_DATA_DIR, LEARNING_RATE, load_mnist, netlite_lenet, set_threads, whole_number

# Rows of the table: a label and the indices of the layers in nl.models.lenet5() that it sums.
GROUPS = [
    ("ConvolutionalLayer(5x5, 1 -> 6)", [0]),
    ("ConvolutionalLayer(5x5, 6 -> 16)", [3]),
    ("both AvgPoolingLayers", [2, 5]),
    ("all ReLUs", [1, 4, 8, 10]),
    ("Flatten and the three FullyConnectedLayers", [6, 7, 9, 11]),
]
# Training skips the final Softmax (the loss takes the logits), so only inference has this row.
SOFTMAX = ("Softmax", [12])


class LayerTimers:
    """Wrap the forward and backward methods of every layer (and the loss) with timers."""

    def __init__(self, model, loss):
        self.seconds = defaultdict(float)  # (name, "forward" or "backward") -> total seconds
        for index, layer in enumerate(model.layers):
            self._wrap(layer, index)
        self._wrap(loss, "loss")

    def _wrap(self, obj, name):
        for method_name in ("forward", "backward"):
            method = getattr(obj, method_name)

            def timed(*args, _method=method, _key=(name, method_name), **kwargs):
                start = time.perf_counter()
                result = _method(*args, **kwargs)
                self.seconds[_key] += time.perf_counter() - start
                return result

            setattr(obj, method_name, timed)

    def reset(self):
        self.seconds.clear()

    def milliseconds(self, names, method_name, per):
        return 1000 * sum(self.seconds[(name, method_name)] for name in names) / per


def profile_training(nl, X, y, batchsize=32):
    model = netlite_lenet(0)
    loss = nl.CrossEntropyLoss()
    optimizer = nl.OptimizerADAM(loss, LEARNING_RATE)
    timers = LayerTimers(model, loss)
    rng = np.random.default_rng(0)
    for x_batch, y_batch in nl.batch_handler(X[:640], y[:640], batchsize=batchsize, rng=rng):
        optimizer.step(model, x_batch, y_batch)  # loads or compiles every kernel before the clock runs
    timers.reset()
    n_steps = 0
    start = time.perf_counter()
    for x_batch, y_batch in nl.batch_handler(X, y, batchsize=batchsize, shuffle=True, rng=rng):
        optimizer.step(model, x_batch, y_batch)
        n_steps += 1
    step_ms = 1000 * (time.perf_counter() - start) / n_steps
    return timers, n_steps, step_ms


def profile_inference(model, timers, X_test, batchsize=1000, repeats=3):
    """Predict the test set ``repeats`` times; return the fastest run's milliseconds and keep its layer times."""
    model.predict(X_test[:batchsize], batchsize=batchsize)
    best_ms, best_seconds = float("inf"), None
    for _ in range(repeats):
        timers.reset()
        start = time.perf_counter()
        model.predict(X_test, batchsize=batchsize)
        total_ms = 1000 * (time.perf_counter() - start)
        if total_ms < best_ms:
            best_ms, best_seconds = total_ms, dict(timers.seconds)
    timers.seconds = defaultdict(float, best_seconds)
    return best_ms


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=whole_number(1), nargs="+", default=[1, 2], help="thread counts (default 1 2)")
    parser.add_argument("--images", type=whole_number(1, 60000), default=15000, help="training images, 1 to 60000 (default 15000)")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="folder with the gzip IDX MNIST files")
    args = parser.parse_args()

    import netlite as nl

    X, y = load_mnist(args.data_dir, "train", args.images)
    X_test, _ = load_mnist(args.data_dir, "test", 10000)
    training, inference = {}, {}
    for n_threads in args.threads:
        limiter = set_threads(n_threads, with_torch=False)
        training[n_threads] = profile_training(nl, X, y)
        model = netlite_lenet(0)
        timers = LayerTimers(model, nl.CrossEntropyLoss())
        total_ms = profile_inference(model, timers, X_test)
        inference[n_threads] = (timers, total_ms)
        if limiter is not None:
            limiter.restore_original_limits()

    header = " | ".join(f"{n} thread{'s' if n > 1 else ''}: forward / backward (ms)" for n in args.threads)
    print(f"Training at batch 32, per step ({args.images} images):\n")
    print(f"| part | {header} |")
    print("|---|" + "---|" * len(args.threads))
    for label, indices in GROUPS + [("the loss", ["loss"])]:
        cells = []
        for n_threads in args.threads:
            timers, n_steps, _ = training[n_threads]
            cells.append(
                f"{timers.milliseconds(indices, 'forward', n_steps):.2f} / "
                f"{timers.milliseconds(indices, 'backward', n_steps):.2f}"
            )
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("| whole step, including the ADAM update | " + " | ".join(f"{training[n][2]:.2f}" for n in args.threads) + " |")

    print("\nInference on the 10,000 test images in batches of 1,000:\n")
    print("| part | " + " | ".join(f"{n} thread{'s' if n > 1 else ''} (ms)" for n in args.threads) + " |")
    print("|---|" + "---|" * len(args.threads))
    for label, indices in GROUPS + [SOFTMAX]:
        print(f"| {label} | " + " | ".join(f"{inference[n][0].milliseconds(indices, 'forward', 1):.0f}" for n in args.threads) + " |")
    print("| whole prediction | " + " | ".join(f"{inference[n][1]:.0f}" for n in args.threads) + " |")


if __name__ == "__main__":
    main()
