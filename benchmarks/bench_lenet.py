"""Train LeNet-5 on MNIST with NetLite and with PyTorch side by side, and time both.

    bash benchmarks/setup_torch_env.sh
    benchmarks/.venv/bin/python benchmarks/bench_lenet.py            # full grid, takes long
    benchmarks/.venv/bin/python benchmarks/bench_lenet.py --quick    # 6,000 images, one repeat
    benchmarks/.venv/bin/python benchmarks/bench_lenet.py --accuracy # 5 epochs x 3 seeds, both frameworks
    benchmarks/.venv/bin/python benchmarks/bench_lenet.py --accuracy --max-shift 2 # images moved by up to 2 pixels
    benchmarks/.venv/bin/python benchmarks/bench_lenet.py --inference # test-set prediction by batch size

Both frameworks train the same network (conv 5x5 1->6, ReLU, 2x2 average
pool, conv 5x5 6->16, ReLU, average pool, flatten, 400->120->84->10,
cross-entropy on the logits, ADAM with learning rate 1e-3) for one epoch per
measurement. The runs of the two frameworks alternate, so both see the same
load on the machine. The timed epoch includes shuffling and batching; the
test accuracy and the inference time on the 10,000 test images (batches of
1,000, one untimed prediction first) are measured after it. PyTorch gets
NCHW tensors, its native layout; NetLite gets NHWC.

Results go to stdout as Markdown and, with ``--json PATH``, to a JSON file.
"""

import argparse
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# The folder that NetLite's own loader reads when NETLITE_DATA_DIR is set, else the shared copy beside the project.
DEFAULT_DATA_DIR = Path(os.environ.get("NETLITE_DATA_DIR") or ROOT.parent / "shared" / "data" / "mnist")
LEARNING_RATE = 1e-3


# -- data -------------------------------------------------------------------------------


def read_idx(path):
    """Read a gzip-compressed IDX file (the MNIST format) into a uint8 array."""
    with gzip.open(path, "rb") as file:
        data = file.read()
    n_dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * n_dims).reshape(shape)


def load_mnist(data_dir, split, n_images):
    """Return X: (N, 32, 32, 1) float32 in [0, 1], zero-padded from 28x28, and y: (N,) int64."""
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(Path(data_dir) / f"{prefix}-images-idx3-ubyte.gz")[:n_images]
    labels = read_idx(Path(data_dir) / f"{prefix}-labels-idx1-ubyte.gz")[:n_images]
    X = np.zeros((len(images), 32, 32, 1), dtype=np.float32)
    X[:, 2:30, 2:30, 0] = images / np.float32(255)
    return X, labels.astype(np.int64)


# -- NetLite ----------------------------------------------------------------------------


def netlite_lenet(seed):
    """Return the package's LeNet-5 (``nl.models.lenet5``) with weights drawn from ``seed``."""
    import netlite as nl

    nl.seed(seed)
    return nl.models.lenet5()


class NetLiteRun:
    name = "NetLite"

    def __init__(self, seed):
        import netlite as nl

        self.nl = nl
        self.model = netlite_lenet(seed)
        self.optimizer = nl.OptimizerADAM(nl.CrossEntropyLoss(), LEARNING_RATE)
        self.rng = np.random.default_rng(seed)

    def train_epoch(self, X, y, batchsize, max_shift=0):
        """Train one epoch. With ``max_shift`` > 0, ``nl.random_shift`` moves every batch first."""
        for x_batch, y_batch in self.nl.batch_handler(X, y, batchsize=batchsize, shuffle=True, rng=self.rng):
            if max_shift:
                x_batch = self.nl.random_shift(x_batch, max_shift, rng=self.rng)
            self.optimizer.step(self.model, x_batch, y_batch)

    def predict_labels(self, X, batchsize=1000):
        return self.model.predict(X, batchsize=batchsize).argmax(axis=1)


# -- PyTorch ----------------------------------------------------------------------------


class TorchRun:
    name = "PyTorch"

    def __init__(self, seed):
        import torch
        from torch import nn

        self.torch = torch
        torch.manual_seed(seed)
        self.model = nn.Sequential(
            nn.Conv2d(1, 6, 5),
            nn.ReLU(),
            nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5),
            nn.ReLU(),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Linear(400, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, 10),
        )
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LEARNING_RATE)
        self.loss_func = nn.CrossEntropyLoss()
        self.generator = torch.Generator().manual_seed(seed)
        self.rng = np.random.default_rng(seed)  # for the moved images only
        self._tensors = {}

    def _as_tensors(self, X, y):
        key = id(X)
        if key not in self._tensors:
            self._tensors[key] = (
                self.torch.from_numpy(np.ascontiguousarray(X.transpose(0, 3, 1, 2))),
                self.torch.from_numpy(y),
            )
        return self._tensors[key]

    def train_epoch(self, X, y, batchsize, max_shift=0):
        """Train one epoch. With ``max_shift`` > 0, every batch is moved as NetLite's is, in numpy."""
        import netlite as nl

        X_t, y_t = self._as_tensors(X, y)
        self.model.train()
        order = self.torch.randperm(len(X_t), generator=self.generator)
        for start in range(0, len(X_t), batchsize):
            indices = order[start : start + batchsize]
            if max_shift:
                x_batch = nl.random_shift(X[indices.numpy()], max_shift, rng=self.rng)
                inputs = self.torch.from_numpy(np.ascontiguousarray(x_batch.transpose(0, 3, 1, 2)))
            else:
                inputs = X_t[indices]
            self.optimizer.zero_grad()
            loss = self.loss_func(self.model(inputs), y_t[indices])
            loss.backward()
            self.optimizer.step()

    def predict_labels(self, X, batchsize=1000):
        X_t, _ = self._as_tensors(X, np.zeros(len(X), dtype=np.int64))
        self.model.eval()
        with self.torch.no_grad():
            outputs = [self.model(X_t[start : start + batchsize]) for start in range(0, len(X_t), batchsize)]
        return self.torch.cat(outputs).argmax(dim=1).numpy()


# -- threads ----------------------------------------------------------------------------


def set_threads(n_threads, with_torch):
    """Give NetLite and PyTorch ``n_threads`` threads each; return the BLAS limiter to undo afterwards.

    With 2 or more threads NetLite puts BLAS on one thread itself. With one
    thread BLAS is limited here, so that both frameworks run on one core.
    """
    import netlite.kernels
    from threadpoolctl import threadpool_limits

    netlite.kernels.set_num_threads(n_threads)
    limiter = threadpool_limits(limits=1, user_api="blas") if n_threads == 1 else None
    if with_torch:
        import torch

        torch.set_num_threads(n_threads)
    return limiter


# -- measurements in fresh processes ------------------------------------------------------


def time_cold_import(repeats=5):
    """Return the times of ``import netlite`` in fresh interpreters (seconds)."""
    code = "import time; t = time.perf_counter(); import netlite; print(time.perf_counter() - t)"
    return [float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(repeats)]


FIRST_STEP_CODE = """
import time, numpy as np, sys
sys.path.insert(0, {bench_dir!r})
from bench_lenet import netlite_lenet
import netlite as nl
model = netlite_lenet(0)
optimizer = nl.OptimizerADAM(nl.CrossEntropyLoss(), 1e-3)
X = np.random.default_rng(0).random((32, 32, 32, 1), dtype=np.float32)
y = np.arange(32) % 10
start = time.perf_counter()
optimizer.step(model, X, y)
print(time.perf_counter() - start)
"""


def time_first_step():
    """Return (compile seconds, cached seconds): the first training step in a new process.

    The first run gets an empty NUMBA_CACHE_DIR, so every kernel is compiled;
    the second run reuses that folder, as a restarted notebook kernel would.
    """
    code = FIRST_STEP_CODE.format(bench_dir=str(Path(__file__).resolve().parent))
    with tempfile.TemporaryDirectory() as cache_dir:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
        compile_run = float(subprocess.check_output([sys.executable, "-c", code], text=True, env=env))
        cached_runs = [
            float(subprocess.check_output([sys.executable, "-c", code], text=True, env=env)) for _ in range(3)
        ]
    return compile_run, cached_runs


# -- the arithmetic floor --------------------------------------------------------------------

# Multiply-adds per image in LeNet-5's forward pass: two convolutions (output
# pixels x output channels x kernel entries) and three dense layers.
LENET_MACS_PER_IMAGE = 28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 400 * 120 + 120 * 84 + 84 * 10
# Forward plus a backward pass of twice its work, 2 FLOP per multiply-add, 60,000 images.
LENET_FLOP_PER_EPOCH = 3 * 2 * LENET_MACS_PER_IMAGE * 60000


def sgemm_rate(n_threads, batchsize=256, repeats=20):
    """Return the FLOP/s of numpy's float32 matrix product on LeNet-5's products at ``batchsize``.

    The shapes are those of the forward pass written as matrix products:
    the two convolutions as im2col patches times weights, and the dense layers.
    """
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    shapes = [
        (batchsize * 28 * 28, 25, 6),
        (batchsize * 10 * 10, 150, 16),
        (batchsize, 400, 120),
        (batchsize, 120, 84),
        (batchsize, 84, 10),
    ]
    total_flop, total_seconds = 0, 0.0
    with threadpool_limits(limits=n_threads, user_api="blas"):
        for rows, inner, columns in shapes:
            A = rng.random((rows, inner), dtype=np.float32)
            B = rng.random((inner, columns), dtype=np.float32)
            A @ B
            best = min(timed(lambda: A @ B) for _ in range(repeats))
            total_flop += 2 * rows * inner * columns
            total_seconds += best
    return total_flop / total_seconds


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


# -- machine ------------------------------------------------------------------------------


def describe_machine():
    import numba
    import numpy
    from threadpoolctl import threadpool_info

    cpu_model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "cpu": cpu_model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "blas": [
            {key: entry.get(key) for key in ("internal_api", "version", "architecture", "num_threads", "threading_layer")}
            for entry in threadpool_info()
            if entry.get("user_api") == "blas"
        ],
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
    }
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    return info


# -- the benchmark --------------------------------------------------------------------------


def measure_epochs(runner_classes, X_train, y_train, X_test, y_test, batchsize, n_threads, repeats):
    """Train one epoch per repeat with each framework in turn; return a list of result dicts."""
    results = []
    for repeat in range(repeats):
        for runner_class in runner_classes:
            runner = runner_class(seed=repeat)
            start = time.perf_counter()
            runner.train_epoch(X_train, y_train, batchsize)
            train_seconds = time.perf_counter() - start
            # Inference in steady state: the first prediction after training spends a
            # varying part of its time getting memory for the larger batches, so it is
            # not timed, and the faster of the next two counts.
            labels = runner.predict_labels(X_test)
            inference_seconds = min(timed(lambda: runner.predict_labels(X_test)) for _ in range(2))
            accuracy = float(np.mean(labels == y_test))
            result = dict(
                framework=runner.name,
                batchsize=batchsize,
                threads=n_threads,
                repeat=repeat,
                train_seconds=train_seconds,
                inference_seconds=inference_seconds,
                test_accuracy=accuracy,
            )
            results.append(result)
            print(
                f"  {runner.name:8s} batch {batchsize:4d}, {n_threads} thread(s), repeat {repeat}: "
                f"train {train_seconds:6.2f} s, inference {inference_seconds:5.2f} s, test accuracy {accuracy:.4f}",
                flush=True,
            )
    return results


def summarize(results, n_train_images):
    """Print a Markdown table: min and median epoch time per framework, and the ratio."""
    scale = 60000 / n_train_images
    print()
    if scale != 1:
        print(f"Times scaled to a 60,000-image epoch from {n_train_images} images.\n")
    print("| batch | threads | NetLite min / median (s) | PyTorch min / median (s) | ratio of minima | "
          "inference NetLite / PyTorch (s) | test acc. NetLite / PyTorch |")
    print("|---|---|---|---|---|---|---|")
    keys = sorted({(r["batchsize"], r["threads"]) for r in results})
    rows = []
    for batchsize, threads in keys:
        row = {"batchsize": batchsize, "threads": threads}
        for framework in ("NetLite", "PyTorch"):
            chosen = [r for r in results if (r["batchsize"], r["threads"], r["framework"]) == (batchsize, threads, framework)]
            if not chosen:
                continue
            times = [r["train_seconds"] * scale for r in chosen]
            row[framework] = dict(
                min=min(times),
                median=statistics.median(times),
                inference_min=min(r["inference_seconds"] for r in chosen),
                accuracy=statistics.mean(r["test_accuracy"] for r in chosen),
            )
        rows.append(row)
        netlite, torch = row.get("NetLite"), row.get("PyTorch")
        ratio = f"{netlite['min'] / torch['min']:.2f}" if netlite and torch else "-"
        times = " | ".join(f"{e['min']:.2f} / {e['median']:.2f}" if e else "-" for e in (netlite, torch))
        inference = " / ".join(f"{e['inference_min']:.2f}" if e else "-" for e in (netlite, torch))
        accuracy = " / ".join(f"{e['accuracy']:.4f}" if e else "-" for e in (netlite, torch))
        print(f"| {batchsize} | {threads} | {times} | {ratio} | {inference} | {accuracy} |")
    return rows


def run_accuracy_mode(args):
    """Train the introductory LeNet for 5 epochs with 3 seeds and report test accuracy per epoch.

    NetLite always; PyTorch too, with the same network, optimizer, batch size,
    seeds and moved images, when it is installed and ``--no-torch`` is not given.
    Each training batch is moved by up to ``--max-shift`` pixels (``nl.random_shift``).
    """
    X_train, y_train = load_mnist(args.data_dir, "train", args.images)
    X_test, y_test = load_mnist(args.data_dir, "test", 10000)
    runner_classes = [NetLiteRun] + ([TorchRun] if not args.no_torch and torch_available() else [])
    if len(args.threads) > 1:
        print(f"--accuracy uses one thread count, the first: {args.threads[0]} (ignoring {args.threads[1:]})")
    set_threads(args.threads[0], with_torch=TorchRun in runner_classes)  # for the whole run
    report = {
        "mode": "accuracy",
        "threads": args.threads[0],
        "n_train_images": len(X_train),
        "epochs": args.epochs,
        "seeds": args.seeds,
        "batchsize": 32,
        "max_shift": args.max_shift,
    }
    # One untimed pass compiles or loads every kernel, so that the first epoch's time is training only.
    NetLiteRun(0).train_epoch(X_train[:64], y_train[:64], 32)
    for runner_class in runner_classes:
        histories = []
        for seed in range(args.seeds):
            runner = runner_class(seed)
            history = []
            for epoch in range(args.epochs):
                start = time.perf_counter()
                runner.train_epoch(X_train, y_train, 32, args.max_shift)
                seconds = time.perf_counter() - start
                accuracy = float(np.mean(runner.predict_labels(X_test) == y_test))
                history.append(accuracy)
                print(
                    f"{runner.name}, seed {seed}, epoch {epoch + 1}: {seconds:6.2f} s, test accuracy {accuracy:.4f}",
                    flush=True,
                )
            histories.append(history)
        mean_per_epoch = np.mean(histories, axis=0)
        reached = mean_per_epoch >= 0.99
        first_epoch = int(np.argmax(reached)) + 1 if reached.any() else None
        print(f"\n{runner_class.name}: mean test accuracy per epoch over seeds:", ", ".join(f"{a:.4f}" for a in mean_per_epoch))
        print("first epoch with mean >= 99.0 %:", first_epoch if first_epoch else f"none within {args.epochs} epochs")
        result = {"histories": histories, "mean_per_epoch": mean_per_epoch.tolist(), "first_epoch_99": first_epoch}
        if runner_class is NetLiteRun:
            report.update(result)  # NetLite's figures stay at the top level, where earlier files have them
        else:
            report["torch"] = result
    return report


def run_inference_mode(args):
    """Time the prediction of the 10,000 test images at several batch sizes, both frameworks.

    Each framework first trains one epoch at batch 32, so that the weights
    are those of a trained network. Then, for every thread count and batch
    size, the two frameworks take turns: one untimed prediction, then the
    fastest of ``--repeats`` timed ones.
    """
    X_train, y_train = load_mnist(args.data_dir, "train", args.images)
    X_test, _ = load_mnist(args.data_dir, "test", 10000)
    runner_classes = [NetLiteRun] + ([TorchRun] if not args.no_torch and torch_available() else [])
    report = {"mode": "inference", "n_train_images": len(X_train), "repeats": args.repeats, "results": []}
    runners = []
    for runner_class in runner_classes:
        limiter = set_threads(args.threads[0], with_torch=TorchRun in runner_classes)
        runner = runner_class(0)
        runner.train_epoch(X_train, y_train, 32)
        runners.append(runner)
        if limiter is not None:
            limiter.restore_original_limits()
    print("| prediction batch | threads | NetLite (ms) | PyTorch (ms) | ratio |")
    print("|---|---|---|---|---|")
    for n_threads in args.threads:
        limiter = set_threads(n_threads, with_torch=TorchRun in runner_classes)
        for batchsize in args.inference_batch_sizes:
            seconds = {}
            for runner in runners:
                runner.predict_labels(X_test, batchsize)
                seconds[runner.name] = min(timed(lambda: runner.predict_labels(X_test, batchsize)) for _ in range(args.repeats))
                report["results"].append(
                    dict(framework=runner.name, threads=n_threads, batchsize=batchsize, seconds=seconds[runner.name])
                )
            netlite, torch = seconds.get("NetLite"), seconds.get("PyTorch")
            ratio = f"{netlite / torch:.2f}" if torch else "-"
            torch_ms = f"{torch * 1000:.0f}" if torch else "-"
            print(f"| {batchsize} | {n_threads} | {netlite * 1000:.0f} | {torch_ms} | {ratio} |", flush=True)
        if limiter is not None:
            limiter.restore_original_limits()
    return report


def torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        print("PyTorch is not installed in this environment; run benchmarks/setup_torch_env.sh. Measuring NetLite only.")
        return False
    return True


def whole_number(low, high=None):
    """Return an argparse type that accepts whole numbers from ``low`` to ``high`` (no upper limit if None)."""

    def parse(text):
        value = int(text)
        if value < low or (high is not None and value > high):
            upper = f" to {high}" if high is not None else " or more"
            raise argparse.ArgumentTypeError(f"expected {low}{upper}, got {value}")
        return value

    return parse


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short run: 6,000 training images, 1 repeat, batch 32 only (overrides --images, --repeats, --batch-sizes)",
    )
    parser.add_argument("--accuracy", action="store_true", help="train 5 epochs with 3 seeds, batch 32, report test accuracy")
    parser.add_argument(
        "--inference",
        action="store_true",
        help="time the prediction of the test set at the --inference-batch-sizes, after one training epoch",
    )
    parser.add_argument(
        "--inference-batch-sizes",
        type=whole_number(1),
        nargs="+",
        default=[100, 256, 1000, 10000],
        help="prediction batch sizes in --inference mode (default 100 256 1000 10000)",
    )
    parser.add_argument(
        "--images", type=whole_number(1, 60000), default=60000, help="training images per epoch, 1 to 60000 (default 60000)"
    )
    parser.add_argument(
        "--batch-sizes", type=whole_number(1), nargs="+", default=[32, 128, 256], help="batch sizes (default 32 128 256)"
    )
    parser.add_argument("--threads", type=whole_number(1), nargs="+", default=[1, 2], help="thread counts (default 1 2)")
    parser.add_argument(
        "--repeats",
        type=whole_number(1),
        default=3,
        help="epochs measured per configuration and framework, or timed predictions in --inference mode (default 3)",
    )
    parser.add_argument("--epochs", type=whole_number(1), default=5, help="epochs per seed in --accuracy mode (default 5)")
    parser.add_argument("--seeds", type=whole_number(1), default=3, help="seeds in --accuracy mode (default 3)")
    parser.add_argument(
        "--max-shift",
        type=whole_number(0, 13),
        default=0,
        help="in --accuracy mode, move each training image by up to this many pixels (default 0: unchanged images)",
    )
    parser.add_argument("--no-torch", action="store_true", help="measure NetLite only")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="folder with the gzip IDX MNIST files")
    parser.add_argument("--json", type=Path, help="also write all measurements to this JSON file")
    args = parser.parse_args()
    if args.quick:
        args.images, args.repeats, args.batch_sizes = min(args.images, 6000), 1, [32]
        args.epochs, args.seeds = min(args.epochs, 1), min(args.seeds, 1)

    if args.accuracy and args.inference:
        parser.error("--accuracy and --inference are separate runs; give one of them")
    if args.accuracy:
        report = run_accuracy_mode(args)
        report["machine"] = describe_machine()
    elif args.inference:
        report = run_inference_mode(args)
        report["machine"] = describe_machine()
    else:
        report = run_speed_mode(args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


def run_speed_mode(args):
    import_times = time_cold_import()
    compile_seconds, cached_first_steps = time_first_step()
    print(f"cold 'import netlite': min {min(import_times):.3f} s, median {statistics.median(import_times):.3f} s")
    print(f"first training step with an empty numba cache (compiles every kernel): {compile_seconds:.2f} s")
    print(f"first training step in a new process with the cache: min {min(cached_first_steps):.3f} s")

    X_train, y_train = load_mnist(args.data_dir, "train", args.images)
    X_test, y_test = load_mnist(args.data_dir, "test", 10000)
    runner_classes = [NetLiteRun] + ([TorchRun] if not args.no_torch and torch_available() else [])
    machine = describe_machine()
    print(json.dumps(machine))

    results = []
    for n_threads in args.threads:
        limiter = set_threads(n_threads, with_torch=TorchRun in runner_classes)
        # One untimed pass compiles or loads every kernel before the clock runs.
        NetLiteRun(0).train_epoch(X_train[:64], y_train[:64], 32)
        for batchsize in args.batch_sizes:
            results += measure_epochs(runner_classes, X_train, y_train, X_test, y_test, batchsize, n_threads, args.repeats)
        if limiter is not None:
            limiter.restore_original_limits()
    rows = summarize(results, args.images)
    floors = {}
    for n_threads in args.threads:
        rate = sgemm_rate(n_threads)
        floors[n_threads] = {"sgemm_flop_per_second": rate, "floor_seconds": LENET_FLOP_PER_EPOCH / rate}
        best = min(row["NetLite"]["min"] for row in rows if row["threads"] == n_threads and "NetLite" in row)
        print(
            f"\n{n_threads} thread(s): numpy sgemm on LeNet's products {rate / 1e9:.1f} GFLOP/s, "
            f"floor {LENET_FLOP_PER_EPOCH / 1e9:.0f} GFLOP / rate = {LENET_FLOP_PER_EPOCH / rate:.2f} s per epoch; "
            f"NetLite's best epoch is {best / (LENET_FLOP_PER_EPOCH / rate):.1f} times the floor"
        )
    return {
        "mode": "speed",
        "machine": machine,
        "n_train_images": args.images,
        "cold_import_seconds": import_times,
        "first_step_compile_seconds": compile_seconds,
        "first_step_cached_seconds": cached_first_steps,
        "results": results,
        "summary": rows,
        "arithmetic_floor": floors,
    }


if __name__ == "__main__":
    main()
