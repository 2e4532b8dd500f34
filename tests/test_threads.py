"""How NetLite splits a batch between threads (netlite/kernels/threads.py), and what it does to BLAS."""

import os
import subprocess
import sys

import numpy as np
import pytest

import netlite as nl
from netlite.kernels import reference, threads

from test_kernels import PROJECT_ROOT, run_python


@pytest.mark.parametrize("n_threads", [1, 2, 3, 8])
@pytest.mark.parametrize("n_images", [0, 1, 2, 5, 32])
def test_chunks_capped_by_images(use_threads, n_threads, n_images):
    use_threads(n_threads)

    assert threads.threads_for(n_images) == max(1, min(n_threads, n_images))


def test_numba_threads_follow_chunks(use_threads):
    numba = pytest.importorskip("numba")
    use_threads(2)

    threads.threads_for(32)
    assert numba.get_num_threads() == min(2, numba.config.NUMBA_NUM_THREADS)
    threads.threads_for(1)
    assert numba.get_num_threads() == 1


def test_chunks_above_numba_limit(use_threads):
    # The chunks, and so the sums, follow NetLite's thread count; numba runs them on the threads it has.
    numba = pytest.importorskip("numba")
    use_threads(numba.config.NUMBA_NUM_THREADS + 3)
    X = np.random.default_rng(2).random((9, 8, 8, 2))
    W = np.random.default_rng(3).random((3, 3, 2, 4))

    Y = nl.kernels.conv2d_forward(X, W, np.zeros(4))

    assert threads.threads_for(9) == min(9, numba.config.NUMBA_NUM_THREADS + 3)
    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS
    np.testing.assert_allclose(Y, reference.conv2d_forward(X, W, np.zeros(4)), rtol=1e-12)


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, "2", None])
def test_set_num_threads_rejects_invalid(bad):
    with pytest.raises(ValueError, match="expected a positive whole number of threads"):
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


# Imports, and a function that runs ``child_work`` in a fork() child and prints
# the child's exit status, its report and numba's threading layer as JSON.
FORK_HELPER = """
import json, os, warnings
import numpy as np
import numba
import netlite as nl
from netlite.kernels import reference

def report_from_forked_child(child_work):
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = child_work()
        report.update(warnings=[str(w.message) for w in caught], warned_files=[w.filename for w in caught])
        os.write(write_end, json.dumps(report).encode())
        os._exit(0)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    child = json.loads(os.read(read_end, 100000) or b"null")
    print(json.dumps(dict(status=status, child=child, layer=numba.threading_layer())))
"""

FORK_AFTER_THREADS = FORK_HELPER + """
rng = np.random.default_rng(0)
X, W, b = rng.random((6, 9, 9, 2)), rng.random((3, 3, 2, 4)), rng.random(4)
nl.kernels.conv2d_forward(X, W, b)  # the parent runs numba's threads

def child_work():
    Y = nl.kernels.conv2d_forward(X, W, b)
    nl.kernels.conv2d_forward(X, W, b)  # warns once, not twice
    return dict(error=float(np.abs(Y - reference.conv2d_forward(X, W, b)).max()))

report_from_forked_child(child_work)
"""

FORK_AFTER_POOLING = FORK_HELPER + """
rng = np.random.default_rng(0)
X = rng.random((6, 8, 8, 3))
nl.kernels.maxpool2x2_forward(X)  # the parent runs numba's threads in a pooling kernel

def child_work():
    Y, argmax = nl.kernels.maxpool2x2_forward(X)
    averaged = nl.kernels.avgpool2x2_forward(X)
    expected_Y, expected_argmax = reference.maxpool2x2_forward(X)
    return dict(
        error=max(float(np.abs(Y - expected_Y).max()), float(np.abs(averaged - reference.avgpool2x2_forward(X)).max())),
        argmax_equal=bool((argmax == expected_argmax).all()),
    )

report_from_forked_child(child_work)
"""


def test_forked_child_uses_pooling_fallback():
    report, _ = run_python(FORK_AFTER_POOLING, {"NETLITE_NUM_THREADS": "2"})

    assert report["status"] == 0, "the forked child did not exit normally"
    assert report["child"]["error"] < 1e-12
    assert report["child"]["argmax_equal"]
    assert len(report["child"]["warnings"]) == (1 if report["layer"] == "omp" else 0)


def test_forked_child_uses_fallback():
    report, _ = run_python(FORK_AFTER_THREADS, {"NETLITE_NUM_THREADS": "2"})

    assert report["status"] == 0, "the forked child did not exit normally"
    assert report["child"]["error"] < 1e-12
    if report["layer"] == "omp":
        assert len(report["child"]["warnings"]) == 1
        assert "fork() of one that ran numba's OpenMP threads" in report["child"]["warnings"][0]
        assert report["child"]["warned_files"] == ["<string>"]  # the caller's line, not netlite's
    else:  # other threading layers run in a forked child, so nothing changes
        assert report["child"]["warnings"] == []


FORK_AFTER_OTHER_PRANGE = FORK_HELPER + """
@numba.njit(parallel=True)
def double(values):
    for i in numba.prange(values.shape[0]):
        values[i] *= 2

double(np.ones(16))  # the parent starts numba's threads without any NetLite kernel
rng = np.random.default_rng(0)
X, W, b = rng.random((4, 7, 7, 1)), rng.random((3, 3, 1, 2)), rng.random(2)

def child_work():
    Y = nl.kernels.conv2d_forward(X, W, b)
    return dict(error=float(np.abs(Y - reference.conv2d_forward(X, W, b)).max()))

report_from_forked_child(child_work)
"""


def test_fork_after_other_numba_threads():
    report, _ = run_python(FORK_AFTER_OTHER_PRANGE, {"NETLITE_NUM_THREADS": "2"})

    assert report["status"] == 0, "the forked child did not exit normally"
    assert report["child"]["error"] < 1e-12
    assert len(report["child"]["warnings"]) == (1 if report["layer"] == "omp" else 0)


FORK_WHILE_LOCK_HELD = """
import json, os, signal, threading
from netlite.kernels import jit
lock_taken, release = threading.Event(), threading.Event()

def hold_lock():
    with jit._lock:
        lock_taken.set()
        release.wait()

threading.Thread(target=hold_lock).start()
lock_taken.wait()
pid = os.fork()
if pid == 0:
    signal.alarm(60)  # a deadlocked child ends here instead of hanging the test
    jit.load_numba()
    os._exit(0)
release.set()
_, status = os.waitpid(pid, 0)
print(json.dumps(dict(status=status)))
"""


def test_fork_while_another_thread_loads_numba():
    report, _ = run_python(FORK_WHILE_LOCK_HELD)

    assert report["status"] == 0, f"the child waited for a lock held at the fork (status {report['status']})"


CONCURRENT_CALLS = """
import json, threading
import numpy as np
import numba
import netlite as nl
from netlite.kernels import reference
rng = np.random.default_rng(0)
X, W, b = rng.random((6, 9, 9, 2)), rng.random((3, 3, 2, 4)), rng.random(4)
expected = reference.conv2d_forward(X, W, b)
errors = []

def work():
    for _ in range(5):
        errors.append(float(np.abs(nl.kernels.conv2d_forward(X, W, b) - expected).max()))

threads = [threading.Thread(target=work) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps(dict(errors=errors, layer=numba.threading_layer())))
"""


@pytest.mark.parametrize("layer", ["workqueue", "default"])
def test_kernels_called_from_several_threads(layer):
    env = {"NETLITE_NUM_THREADS": "2"}
    if layer != "default":
        env["NUMBA_THREADING_LAYER"] = layer

    report, _ = run_python(CONCURRENT_CALLS, env)

    assert len(report["errors"]) == 20
    assert max(report["errors"]) < 1e-12
    if layer != "default":
        assert report["layer"] == layer


def test_set_num_threads_accepts_numpy_integer(use_threads):
    use_threads(np.int64(2))

    assert nl.kernels.get_num_threads() == 2
    assert type(nl.kernels.get_num_threads()) is int


def test_disabled_jit_leaves_blas_alone():
    report, _ = run_python(BLAS_THREADS, {"NETLITE_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2", "NUMBA_DISABLE_JIT": "1"})

    assert report["threads"] == 2
    assert report["after_conv"] == [2]


def test_set_num_threads_with_disabled_jit_leaves_blas():
    seen, _ = run_python(SET_THEN_RESET, {"OPENBLAS_NUM_THREADS": "2", "NUMBA_DISABLE_JIT": "1"})

    assert seen == [[2]] * 6
