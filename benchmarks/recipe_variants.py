"""Try common changes to the LeNet-5 recipe on a validation split, never on the test set.

    .venv/bin/python benchmarks/recipe_variants.py --seeds 5

The introductory recipe (``nl.models.lenet5``, ADAM with learning rate 1e-3,
batch 32, pixels scaled to [0, 1]) ends near 98.95 % test accuracy after 5
epochs, just short of 99.0 %. This script tests whether the data or the start
weights keep it there. It trains on the first 50,000 training images and
measures accuracy on the last 10,000 training images after each epoch, for:

- ``as-is``: the recipe unchanged;
- ``standardized``: pixels shifted and scaled to mean 0 and standard
  deviation 1 (computed on the 50,000 training images);
- ``uniform-init``: weights and biases drawn from U(-1/sqrt(fan_in),
  1/sqrt(fan_in)), PyTorch's default for its convolution and linear layers,
  instead of NetLite's He-normal weights and zero biases;
- ``shifted``: every training batch moved by up to 2 pixels in each
  direction (``nl.random_shift``), a new draw each time;
- ``glorot-init``: weights drawn from U(-a, a) with a = sqrt(6 / (fan_in +
  fan_out)) (Glorot and Bengio, 2010; Keras's default), zero biases;
- ``lecun-init``: weights drawn from a normal distribution with standard
  deviation sqrt(1 / fan_in) (LeCun et al., 1998), zero biases.

The optimizer, learning rate, batch size and network stay as they are: the
issue fixes them. The test images are not read.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lenet import DEFAULT_DATA_DIR, LEARNING_RATE, load_mnist, netlite_lenet, whole_number  # noqa: E402

VARIANTS = ("as-is", "standardized", "uniform-init", "shifted", "glorot-init", "lecun-init")
N_TRAIN = 50000  # The other 10,000 training images are the validation split.


def draw_uniform_init(model, rng):
    """Replace every weight and bias by U(-1/sqrt(fan_in), 1/sqrt(fan_in)) draws, in place."""
    for layer in model.layers:
        if "W" not in layer.params:
            continue
        W, b = layer.params["W"], layer.params["b"]
        fan_in = W.size // W.shape[-1]  # (K, K, C_in, C_out) or (n_inputs, n_outputs)
        bound = 1 / np.sqrt(fan_in)
        W[...] = rng.uniform(-bound, bound, W.shape)
        b[...] = rng.uniform(-bound, bound, b.shape)


def draw_fan_init(model, rng, rule):
    """Replace every weight by Glorot-uniform (``rule="glorot"``) or LeCun-normal (``"lecun"``) draws, in place.

    The biases stay zero, as NetLite sets them.
    """
    for layer in model.layers:
        if "W" not in layer.params:
            continue
        W = layer.params["W"]
        fan_in = W.size // W.shape[-1]  # (K, K, C_in, C_out) or (n_inputs, n_outputs)
        fan_out = W.size // W.shape[-2]  # K * K * C_out, or n_outputs
        if rule == "glorot":
            bound = np.sqrt(6 / (fan_in + fan_out))
            W[...] = rng.uniform(-bound, bound, W.shape)
        else:
            W[...] = rng.standard_normal(W.shape) * np.sqrt(1 / fan_in)


def train_and_validate(variant, seed, X_train, y_train, X_valid, y_valid, epochs):
    """Train one network of ``variant`` from ``seed`` and return the validation accuracy after each epoch."""
    import netlite as nl

    if variant == "standardized":
        mean, std = X_train.mean(), X_train.std()
        X_train, X_valid = (X_train - mean) / std, (X_valid - mean) / std
    model = netlite_lenet(seed)
    if variant == "uniform-init":
        draw_uniform_init(model, np.random.default_rng(seed))
    if variant in ("glorot-init", "lecun-init"):
        draw_fan_init(model, np.random.default_rng(seed), variant.removesuffix("-init"))
    optimizer = nl.OptimizerADAM(nl.CrossEntropyLoss(), LEARNING_RATE)
    rng = np.random.default_rng(seed)
    accuracies = []
    for _ in range(epochs):
        for x_batch, y_batch in nl.batch_handler(X_train, y_train, batchsize=32, shuffle=True, rng=rng):
            if variant == "shifted":
                x_batch = nl.random_shift(x_batch, max_shift=2, rng=rng)
            optimizer.step(model, x_batch, y_batch)
        predicted = model.predict(X_valid, batchsize=1000).argmax(axis=1)
        accuracies.append(float(np.mean(predicted == y_valid)))
    return accuracies


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=whole_number(1), default=5, help="seeds per variant (default 5)")
    parser.add_argument("--epochs", type=whole_number(1), default=5, help="epochs per run (default 5)")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS), help="variants to train")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="folder with the gzip IDX MNIST files")
    parser.add_argument("--json", type=Path, help="also write the accuracies to this JSON file")
    args = parser.parse_args()

    X, y = load_mnist(args.data_dir, "train", 60000)
    X_train, y_train, X_valid, y_valid = X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:]
    report = {"n_train": N_TRAIN, "n_valid": len(y_valid), "epochs": args.epochs, "seeds": args.seeds, "variants": {}}
    for variant in args.variants:
        histories = []
        for seed in range(args.seeds):
            history = train_and_validate(variant, seed, X_train, y_train, X_valid, y_valid, args.epochs)
            print(f"{variant}, seed {seed}: " + ", ".join(f"{a:.4f}" for a in history), flush=True)
            histories.append(history)
        report["variants"][variant] = histories

    print("\n| variant | validation accuracy after each epoch, mean of seeds | after the last epoch: min / max |")
    print("|---|---|---|")
    for variant, histories in report["variants"].items():
        means = np.mean(histories, axis=0)
        last = [history[-1] for history in histories]
        print(f"| {variant} | " + ", ".join(f"{a:.4f}" for a in means) + f" | {min(last):.4f} / {max(last):.4f} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
