"""Time loading all 60,000 MNIST training images from the local gzip files.

    .venv/bin/python benchmarks/bench_loading.py [--repeats 5] [--data-dir DIR]

Three figures, each the median of ``--repeats`` runs:

cold process   a new Python process imports ``netlite.datasets`` (which imports the whole
               ``netlite`` package first) and calls ``load_mnist("train")``: read, decompress,
               sha256 check, parse, and conversion to float32 (N, 32, 32, 1). The import and
               the load are reported separately; interpreter start-up is not included.
cold in-process  the same call after ``clear_cache()`` in a process that already imported
               everything: read, decompress, hash, parse, convert.
warm           a repeated call: the verified uint8 arrays come from the in-memory cache, so
               this is the float32 conversion and padding alone.

The data folder is ``--data-dir``, else ``$NETLITE_DATA_DIR``, else ``<repo>/../shared/data/mnist``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent

COLD_SCRIPT = """
import time
start = time.perf_counter()
from netlite.datasets import load_mnist
imported = time.perf_counter()
X, y = load_mnist("train", download=False)
print(imported - start, time.perf_counter() - imported)
"""


def default_data_dir() -> Path:
    env_dir = os.environ.get("NETLITE_DATA_DIR")
    return Path(env_dir) if env_dir else REPOSITORY.parent / "shared" / "data" / "mnist"


def time_cold_process(data_dir: Path) -> tuple[float, float]:
    """Return (import seconds, load seconds) measured in a new process."""
    env = {**os.environ, "NETLITE_DATA_DIR": str(data_dir)}
    result = subprocess.run(
        [sys.executable, "-c", COLD_SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    import_seconds, load_seconds = result.stdout.strip().splitlines()[-1].split()
    return float(import_seconds), float(load_seconds)


def time_call(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure (default 5)")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder with the MNIST files")
    args = parser.parse_args()
    data_dir = args.data_dir or default_data_dir()
    os.environ["NETLITE_DATA_DIR"] = str(data_dir)

    import numpy as np

    from netlite.datasets import clear_cache, load_mnist

    cold_runs = [time_cold_process(data_dir) for _ in range(args.repeats)]
    cold_import = [import_seconds for import_seconds, _ in cold_runs]
    cold_load = [load_seconds for _, load_seconds in cold_runs]

    def load_train():
        X, y = load_mnist("train", download=False)
        assert X.shape == (60000, 32, 32, 1)
        assert y.shape == (60000,)

    cold_in_process = []
    for _ in range(args.repeats):
        clear_cache()
        cold_in_process.append(time_call(load_train))
    warm = [time_call(load_train) for _ in range(args.repeats)]

    print(f"MNIST training set, 60000 images, from {data_dir}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs, {platform.machine()}, {platform.processor() or 'unknown CPU'}")  # fmt: skip
    print(f"median of {args.repeats} runs (min - max), seconds:")
    for label, times in [
        ("cold process: import netlite.datasets", cold_import),
        ("cold process: load_mnist('train')", cold_load),
        ("cold in-process (load after clear_cache)", cold_in_process),
        ("warm (in-memory cache)", warm),
    ]:
        print(f"  {label:42s} {statistics.median(times):6.3f}  ({min(times):.3f} - {max(times):.3f})")


if __name__ == "__main__":
    main()
