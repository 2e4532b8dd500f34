"""The threads that share a batch: a convolution gives each thread its own range of images.

The numba kernels release Python's GIL while they run, so ordinary Python
threads can compute different images of one batch at the same time.

By default NetLite uses one thread per CPU core that this process may run
on. ``NETLITE_NUM_THREADS=n`` in the environment, or ``set_num_threads(n)``,
chooses another number. ``set_num_threads(1)`` runs every kernel in the
calling thread, which is the easiest to step through in a debugger.

Once NetLite starts its threads, it limits BLAS (the library behind numpy's
matrix products) to one thread in this process, because the two kinds of
threads slow each other down. OpenBLAS's threads keep spinning on the cores
for a while after each product. On the 2-core AMD EPYC machine of
docs/benchmarks.md, a LeNet-5 training step at batch 32 took 12.5 ms with two
NetLite threads and two OpenBLAS threads, and 7.7 ms with OpenBLAS on one
thread. (Numba's own parallel loops next to OpenBLAS's threads were 15 times
slower than one thread.) The dense layers of small networks gain little
from BLAS threads anyway. A network without convolutions never starts
NetLite's threads and leaves BLAS as it was.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_lock = threading.RLock()
_num_threads = None  # None until first needed, then the number of threads in use
_pool = None  # the ThreadPoolExecutor with _num_threads - 1 workers; the caller is the last thread
_blas_limiter = None  # the threadpoolctl limit that keeps BLAS on one thread, once set


def _cores_available():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no sched_getaffinity
        return os.cpu_count() or 1


def _threads_from_environment():
    value = os.environ.get("NETLITE_NUM_THREADS", "").strip()
    if not value:
        return _cores_available()
    if not value.isdigit() or int(value) < 1:
        raise ValueError(
            f"NETLITE_NUM_THREADS must be a positive whole number, got {value!r}; "
            f"unset it to use one thread per CPU core"
        )
    return int(value)


def get_num_threads():
    """Return how many threads the convolution kernels use."""
    global _num_threads
    if _num_threads is None:
        with _lock:
            if _num_threads is None:
                _num_threads = _threads_from_environment()
    return _num_threads


def set_num_threads(n):
    """Use ``n`` threads for the convolution kernels, and one thread for BLAS.

    Returns the threadpoolctl limiter of BLAS: ``.restore_original_limits()``
    gives BLAS its earlier number of threads back. NetLite's own thread
    count stays at ``n`` until the next call.
    """
    global _num_threads, _pool
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive number of threads, got {n!r}")
    with _lock:
        if n != _num_threads and _pool is not None:
            _pool.shutdown(wait=True)
            _pool = None
        _num_threads = n
        return _limit_blas_to_one_thread()


def _limit_blas_to_one_thread():
    global _blas_limiter
    from threadpoolctl import threadpool_limits

    _blas_limiter = threadpool_limits(limits=1, user_api="blas")
    return _blas_limiter


def image_ranges(n_images):
    """Split ``range(n_images)`` into one (start, stop) range per thread, as equal as possible."""
    n_parts = max(1, min(get_num_threads(), n_images))
    bounds = [n_images * part // n_parts for part in range(n_parts + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def run_in_threads(function, ranges):
    """Call ``function(start, stop)`` for every range, in parallel, and return the results in order.

    The calling thread runs the last range itself. An exception in any
    range is raised here after all ranges have finished.
    """
    if len(ranges) == 1:
        return [function(*ranges[0])]
    futures = [_get_pool().submit(function, start, stop) for start, stop in ranges[:-1]]
    try:
        last = function(*ranges[-1])
    finally:
        results = [future.result() for future in futures] if futures else []
    return results + [last]


def _get_pool():
    global _pool
    with _lock:
        if _pool is None:
            if _blas_limiter is None:
                _limit_blas_to_one_thread()
            _pool = ThreadPoolExecutor(max_workers=max(1, get_num_threads() - 1), thread_name_prefix="netlite")
        return _pool


def _forget_pool_after_fork():
    # A forked child process has none of the parent's threads, so it starts a new pool when needed.
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)
