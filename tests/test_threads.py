"""How NetLite splits a batch between threads (netlite/kernels/threads.py), and what it does to BLAS."""

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import netlite as nl
from netlite.kernels import threads

from test_kernels import PROJECT_ROOT, run_python


@pytest.mark.parametrize("n_threads", [1, 2, 3, 8])
@pytest.mark.parametrize("n_images", [1, 2, 5, 32, 1000])
def test_image_ranges_split_evenly(use_threads, n_threads, n_images):
    use_threads(n_threads)

    ranges = threads.image_ranges(n_images)

    assert len(ranges) == min(n_threads, n_images)
    assert ranges[0][0] == 0
    assert ranges[-1][1] == n_images
    assert all(stop == next_start for (_, stop), (next_start, _) in zip(ranges, ranges[1:]))
    sizes = [stop - start for start, stop in ranges]
    assert min(sizes) >= 1
    assert max(sizes) - min(sizes) <= 1


def test_ranges_run_concurrently_in_order(use_threads):
    use_threads(3)
    barrier = threading.Barrier(3, timeout=10)

    def work(start, stop):
        # Every range waits until all three run at once, which fails if they run one after another.
        barrier.wait()
        return start, stop, threading.get_ident()

    results = threads.run_in_threads(work, [(0, 2), (2, 4), (4, 5)])

    assert [(start, stop) for start, stop, _ in results] == [(0, 2), (2, 4), (4, 5)]
    assert len({ident for _, _, ident in results}) == 3
    assert results[-1][2] == threading.get_ident()  # the caller takes the last range


def test_error_waits_for_other_ranges(use_threads):
    use_threads(3)
    finished = []

    def work(start, stop):
        if start == 0:
            raise ValueError("first range failed")
        time.sleep(0.3)
        finished.append(start)

    with pytest.raises(ValueError, match="first range failed"):
        threads.run_in_threads(work, [(0, 1), (1, 2), (2, 3)])

    assert sorted(finished) == [1, 2]


def test_error_in_a_worker_range_reaches_the_caller(use_threads):
    use_threads(2)

    def work(start, stop):
        if start == 0:
            raise ValueError(f"bad image range {start}:{stop}")
        return stop

    with pytest.raises(ValueError, match="bad image range 0:3"):
        threads.run_in_threads(work, [(0, 3), (3, 6)])


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, "2", None])
def test_set_num_threads_rejects_invalid(bad):
    with pytest.raises(ValueError, match="expected a positive number of threads"):
        nl.kernels.set_num_threads(bad)


def test_training_same_with_one_or_three_threads(use_threads):
    # The per-thread sums of dW are added in another order, so the results agree to rounding only.
    rng = np.random.default_rng(3)
    X = rng.random((12, 12, 12, 1), dtype=np.float32)
    y = np.arange(12) % 3
    results = []
    for n_threads in (1, 3):
        use_threads(n_threads)
        nl.seed(0)
        model = nl.NeuralNetwork(
            [nl.ConvolutionalLayer(3, 1, 4), nl.ReLU(), nl.ConvolutionalLayer(3, 4, 5), nl.Flatten(),
             nl.FullyConnectedLayer(320, 3)]
        )
        optimizer = nl.OptimizerADAM(nl.CrossEntropyLoss(), 1e-2)
        losses = [optimizer.step(model, X, y)[0] for _ in range(5)]
        results.append((losses, model.layers[2].params["W"].copy()))

    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-4)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-3, atol=1e-5)
    assert results[0][0][-1] < results[0][0][0]


BLAS_THREADS = """
import json
from threadpoolctl import threadpool_info
import numpy as np
import netlite as nl
def blas_threads():
    return [entry["num_threads"] for entry in threadpool_info() if entry["user_api"] == "blas"]
before = blas_threads()
X = np.random.default_rng(0).random((8, 10, 10, 1), dtype=np.float32)
nl.NeuralNetwork([nl.FullyConnectedLayer(100, 5)]).forward(X.reshape(8, 100))
after_dense = blas_threads()
nl.ConvolutionalLayer(3, 1, 2).forward(X)
after_conv = blas_threads()
print(json.dumps(dict(threads=nl.kernels.get_num_threads(), before=before, after_dense=after_dense, after_conv=after_conv)))
"""


def test_convolution_threads_limit_blas():
    report, _ = run_python(BLAS_THREADS, {"NETLITE_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"})

    assert report["threads"] == 2
    assert report["before"] == report["after_dense"] == [2]
    assert report["after_conv"] == [1]


SET_THEN_RESET = """
import json
from threadpoolctl import threadpool_info
import netlite as nl
def blas_threads():
    return [entry["num_threads"] for entry in threadpool_info() if entry["user_api"] == "blas"]
seen = []
for n in (1, 2, 3, 1, 2, 1):
    nl.kernels.set_num_threads(n)
    seen.append(blas_threads())
print(json.dumps(seen))
"""


def test_set_num_threads_one_restores_blas():
    seen, _ = run_python(SET_THEN_RESET, {"OPENBLAS_NUM_THREADS": "2"})

    assert seen == [[2], [1], [1], [2], [1], [2]]


def test_one_thread_leaves_blas_alone():
    report, _ = run_python(BLAS_THREADS, {"NETLITE_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "2"})

    assert report["threads"] == 1
    assert report["after_conv"] == [2]


@pytest.mark.parametrize("value", ["two", "0", "-1", "1e3", "\u00b9"])
def test_invalid_thread_variable_raises(value):
    result = subprocess.run(
        [sys.executable, "-c", "import netlite as nl; nl.kernels.get_num_threads()"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "NETLITE_NUM_THREADS": value},
        timeout=300,
    )

    assert result.returncode != 0
    assert f"NETLITE_NUM_THREADS must be a positive whole number, got {value!r}" in result.stderr


@pytest.mark.parametrize(
    "files, expected",
    [
        ({"/sys/fs/cgroup/cpu.max": "max 100000\n"}, None),
        ({"/sys/fs/cgroup/cpu.max": "150000 100000\n"}, 2),
        ({"/sys/fs/cgroup/cpu.max": "100000 100000\n"}, 1),
        ({"/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({"/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "300000\n", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n"}, 3),
        ({}, None),
    ],
)
def test_cgroup_cpu_quota_parsing(monkeypatch, files, expected):
    class FakePath:
        def __init__(self, path):
            self.path = path

        def read_text(self):
            if self.path not in files:
                raise FileNotFoundError(self.path)
            return files[self.path]

    monkeypatch.setattr(threads, "Path", FakePath)

    assert threads._cgroup_cpu_quota() == expected


def test_default_threads_respect_cpu_quota(monkeypatch):
    monkeypatch.setattr(threads, "_cgroup_cpu_quota", lambda: 1)
    monkeypatch.delenv("NETLITE_NUM_THREADS", raising=False)

    assert threads._threads_from_environment() == 1


def test_disabled_jit_defaults_to_one_thread(monkeypatch):
    monkeypatch.setenv("NUMBA_DISABLE_JIT", "1")
    monkeypatch.delenv("NETLITE_NUM_THREADS", raising=False)

    assert threads._threads_from_environment() == 1


def test_thread_variable_wins_over_disabled_jit(monkeypatch):
    monkeypatch.setenv("NUMBA_DISABLE_JIT", "1")
    monkeypatch.setenv("NETLITE_NUM_THREADS", "3")

    assert threads._threads_from_environment() == 3
