"""The threads that share a batch: each gets its own consecutive range of images.

A convolution or pooling kernel splits its batch into ``threads_for(n_images)``
chunks of consecutive images and runs them in a ``numba.prange`` loop, one
chunk per thread (see convolution.py and pooling.py). numba's threads, not Python's, do the work: on
Linux numba uses GNU OpenMP, whose threads wait for the next loop by
spinning for a moment instead of sleeping. A loop starts in about 2
microseconds that way. Python threads had to be woken by the operating system
for every kernel call. On the 2-core Intel Xeon of docs/benchmarks.md that took
about 0.1 ms per call, and a training step calls the convolution kernels four
times.

By default NetLite uses one thread per CPU core that this process may run
on (its CPU affinity, capped by a container's CPU quota), and one thread
under ``NUMBA_DISABLE_JIT=1``. ``NETLITE_NUM_THREADS=n`` in the environment, or ``set_num_threads(n)``,
chooses another number. With ``set_num_threads(1)`` every kernel runs in the
calling thread, which is the easiest to step through in a debugger. The
number of chunks is the number of threads, so a run repeats exactly with the
same setting, whatever numba's own thread limit (``NUMBA_NUM_THREADS``) is.

Once NetLite uses more than one thread, it limits BLAS (the library behind
numpy's matrix products) to one thread in this process, because the two
kinds of threads slow each other down: both keep spinning on the cores for a
while after their work. Take a LeNet-5 training step at batch 32 with two
NetLite threads on the 2-core AMD EPYC machine measured earlier: with two
OpenBLAS threads it took 12.5 ms in one measurement and 7.8 ms in another;
with one OpenBLAS thread, 7.7 ms and 6.3 ms. The dense layers of small
networks gain little from BLAS threads anyway. A network without
convolutions never starts NetLite's threads and leaves BLAS as it was.
"""

import math
import os
import threading
from pathlib import Path

import numpy as np

from .jit import jit_disabled, load_numba

_lock = threading.RLock()
_num_threads = None  # None until first needed, then the number of threads in use
_blas_limiter = None  # while NetLite keeps BLAS on one thread: the threadpoolctl limiter that can undo it


def _cores_available():
    """Return the CPU cores this process may use: its CPU affinity, capped by a cgroup CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no sched_getaffinity
        cores = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    return max(1, min(cores, quota)) if quota else cores


def _cgroup_cpu_quota():
    """Return the CPU limit of a container (JupyterHub, Docker) in whole cores, rounded up, or None."""
    try:  # cgroup v2: "max 100000" (no limit) or "200000 100000" (2 cores)
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        return None if quota == "max" else math.ceil(int(quota) / int(period))
    except (OSError, ValueError):
        pass
    try:  # cgroup v1: a quota of -1 means no limit
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return math.ceil(quota / period) if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def _threads_from_environment():
    value = os.environ.get("NETLITE_NUM_THREADS", "").strip()
    if not value:
        # Python loops hold the GIL, so under NUMBA_DISABLE_JIT=1 more threads only
        # slow them down, and a debugger is easier to follow in one thread.
        return 1 if jit_disabled() else _cores_available()
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(
            f"NETLITE_NUM_THREADS must be a positive whole number, got {value!r}; "
            f"unset it to use one thread per CPU core"
        )
    return n


def get_num_threads():
    """Return how many threads the convolution and pooling kernels use."""
    global _num_threads
    if _num_threads is None:
        with _lock:
            if _num_threads is None:
                _num_threads = _threads_from_environment()
    return _num_threads


def set_num_threads(n):
    """Use ``n`` threads for the convolution and pooling kernels from now on.

    With ``n`` above 1, BLAS goes to one thread (see the module docstring),
    unless numba is missing or ``NUMBA_DISABLE_JIT=1`` keeps the kernels in
    the calling thread.
    With ``n == 1``, BLAS gets back the number of threads it had when NetLite
    first limited it, so ``set_num_threads(1)`` and ``NETLITE_NUM_THREADS=1``
    leave BLAS alike. (If that first limit happened inside a threadpoolctl
    block of your own, it restores what BLAS had inside that block.)
    """
    global _num_threads
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive whole number of threads, got {n!r}")
    n = int(n)
    kernels_use_threads = n > 1 and not jit_disabled() and load_numba() is not None
    with _lock:
        _num_threads = n
        if kernels_use_threads:
            _limit_blas_to_one_thread()
        else:
            _restore_blas_threads()


def _limit_blas_to_one_thread():
    global _blas_limiter
    if _blas_limiter is None:
        from threadpoolctl import threadpool_limits

        _blas_limiter = threadpool_limits(limits=1, user_api="blas")


def _restore_blas_threads():
    global _blas_limiter
    if _blas_limiter is not None:
        _blas_limiter.restore_original_limits()
        _blas_limiter = None


def threads_for(n_images):
    """Return how many chunks of images a kernel should split ``n_images`` into, one per thread.

    Also gets the threads ready: BLAS goes to one thread when there are
    several chunks, and numba runs the chunks on up to that many threads.
    Without numba, or under ``NUMBA_DISABLE_JIT=1``, the chunks run one after
    another and BLAS keeps its threads.
    numba's thread count belongs to the calling thread, so it is set on
    every call.
    """
    n_chunks = max(1, min(get_num_threads(), n_images))
    numba = None if jit_disabled() else load_numba()
    if numba is None:  # the chunks run one after another in this thread
        return n_chunks
    if n_chunks > 1:
        with _lock:
            _limit_blas_to_one_thread()
    numba.set_num_threads(min(n_chunks, numba.config.NUMBA_NUM_THREADS))
    return n_chunks


def _forget_threads_after_fork():
    # A lock that another thread held at the fork stays held in the child.
    global _lock
    _lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_threads_after_fork)
