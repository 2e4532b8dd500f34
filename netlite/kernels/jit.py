"""The numba plumbing: compile a kernel on its first call, never at import.

Importing numba takes about 0.4 s, and the first call of any numba function
costs about as much again, so ``import netlite`` does not import numba. A
function decorated with ``@kernel(...)`` stays a plain Python function until
it is first called. That call imports numba and compiles the function with
``cache=True``, so a restarted process loads the machine code from
``__pycache__`` instead of compiling again.

Four situations change what runs:

- ``NUMBA_DISABLE_JIT=1`` in the environment: numba returns the Python function
  unchanged, so the loops run as ordinary, slow Python that a debugger can step
  through. Results agree up to rounding (bit for bit where the kernel has no
  ``fastmath`` option, except that a NaN may come out with the other sign bit).
- numba is not installed: the kernels call their numpy ``fallback`` instead
  (slower; bit-identical for pooling, equal up to rounding for the
  convolution), and one RuntimeWarning reports it.
- no cache folder is writable: the kernels are compiled without the cache, in
  every new process again.
- the process is a ``fork()`` of one that had started numba's OpenMP threads
  (NetLite's kernels or any other parallel numba code): the parallel kernels
  call their numpy ``fallback``, and one RuntimeWarning reports it. GNU OpenMP
  cannot run in such a child, and numba would end the child process at the
  first parallel loop. NOTE: this needs netlite imported before the fork,
  because importing it registers the handler that notices the fork. A child
  that imports netlite only after the fork is not protected.

numba's fallback threading layer, ``workqueue`` (used when neither GNU
OpenMP nor TBB is installed), ends the process when two threads start
parallel loops at the same time. With that layer the parallel kernels run
one call at a time.
"""

import importlib
import os
import sys
import threading
import warnings

_lock = threading.Lock()
_numba = None  # the numba module after the first successful import
_numba_missing = False  # True after an import of numba failed
_forked_after_openmp = False  # True in a fork() child of a process whose OpenMP threads ran
_forked_warned = False  # True once this process has warned about it
_serial_calls = threading.Lock()  # held around each parallel kernel call on the workqueue layer
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the netlite folder


def load_numba():
    """Import numba on first use and return it, or return None if it cannot be imported.

    Warns once per process when numba is missing.
    NOTE: a process forked while another of its threads is importing numba
    waits forever on Python's import lock when it imports numba itself; that
    is how CPython's imports behave after fork(), for any module.
    """
    global _numba, _numba_missing
    with _lock:
        if _numba is None and not _numba_missing:
            try:
                _numba = importlib.import_module("numba")
            except ImportError as error:
                _numba_missing = True
                warnings.warn(
                    f"netlite: numba could not be imported ({error}); convolution and pooling "
                    f"use slower numpy code instead. Install numba for the fast kernels.",
                    RuntimeWarning,
                    stacklevel=stacklevel_outside_netlite(),
                )
    return _numba


def jit_disabled():
    """Return True when ``NUMBA_DISABLE_JIT=1`` turns kernels into plain Python."""
    return os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0")


class Kernel:
    """A numba-compilable function with a numpy fallback of the same signature and result.

    ``py_func`` is written in the subset of Python that numba compiles, and
    ``fallback`` uses numpy only. A ``parallel`` kernel runs the iterations of
    its ``prange`` loops on numba's threads (see threads.py); its module binds
    ``prange = range`` until the first call binds it to ``numba.prange``.
    """

    def __init__(self, py_func, fallback, fastmath=(), parallel=False):
        self.py_func = py_func
        self.fallback = fallback
        self.fastmath = set(fastmath)
        self.parallel = parallel
        self._compiled = None
        self.__name__ = py_func.__name__
        self.__doc__ = py_func.__doc__
        self.__wrapped__ = py_func

    def __call__(self, *args):
        if self.parallel and _forked_after_openmp:
            _warn_forked_once()
            return self.fallback(*args)
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = self._compile()
        if self.parallel and compiled is not self.fallback and _threading_layer() not in ("omp", "tbb"):
            with _serial_calls:  # see the module docstring: workqueue is not thread-safe
                return compiled(*args)
        return compiled(*args)

    def numba_function(self):
        """Return the numba dispatcher (compiling it if needed), or None when numba is missing."""
        if self._compiled is None:
            self._compiled = self._compile()
        return None if self._compiled is self.fallback else self._compiled

    def _compile(self):
        numba = load_numba()
        if numba is None:
            return self.fallback
        if self.parallel:
            # The kernel's module binds ``prange = range``, so that it imports without
            # numba; numba parallelises only loops over its own ``numba.prange``.
            self.py_func.__globals__["prange"] = numba.prange
        # nogil: other Python threads run while the kernel runs.
        options = dict(error_model="numpy", nogil=True, fastmath=self.fastmath or False, parallel=self.parallel)
        try:
            return numba.njit(cache=True, **options)(self.py_func)
        except (RuntimeError, OSError):
            # numba raises RuntimeError("cannot cache function ...: no locator
            # available") when neither __pycache__ beside the source,
            # NUMBA_CACHE_DIR nor the user cache folder is writable.
            return numba.njit(cache=False, **options)(self.py_func)

    def __repr__(self):
        return f"<netlite kernel {self.__name__}>"


def kernel(fallback, fastmath=(), parallel=False):
    """Decorate a numba-compilable function; see :class:`Kernel`.

    ``fastmath`` lists the floating-point shortcuts numba may take, for
    example ``{"reassoc"}`` to sum a loop in any order, which lets the
    compiler use vector instructions for a sum. ``parallel=True`` runs the
    function's ``numba.prange`` loops on numba's threads.
    """

    def decorate(py_func):
        return Kernel(py_func, fallback, fastmath, parallel)

    return decorate


def stacklevel_outside_netlite():
    """Return the ``stacklevel`` for warnings.warn that names the caller's first frame outside netlite."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR + os.sep):
        frame = frame.f_back
        level += 1
    return level


def _warn_forked_once():
    global _forked_warned
    if not _forked_warned:
        _forked_warned = True
        warnings.warn(
            "netlite: this process is a fork() of one that ran numba's OpenMP threads, which cannot "
            "run here; convolution and pooling use slower numpy code in this process. Start worker processes "
            "with multiprocessing's 'spawn' or 'forkserver' method to keep the fast kernels.",
            RuntimeWarning,
            stacklevel=stacklevel_outside_netlite(),
        )


def _threading_layer():
    """Return the name of numba's threading layer, or None before numba has started its threads."""
    threading_layer = getattr(sys.modules.get("numba"), "threading_layer", None)
    if threading_layer is None:  # numba not imported, or still being imported by another thread
        return None
    try:
        return threading_layer()
    except ValueError:  # no parallel loop has started the threads yet
        return None


def _note_fork_in_child():
    # If the parent started numba's OpenMP threads (by NetLite's kernels or other code),
    # numba ends this child at its first parallel loop. A lock held at the fork stays held.
    global _forked_after_openmp, _forked_warned, _lock, _serial_calls
    _lock = threading.Lock()
    _serial_calls = threading.Lock()
    if _threading_layer() == "omp":
        _forked_after_openmp = True
        _forked_warned = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_note_fork_in_child)

