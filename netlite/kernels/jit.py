"""The numba plumbing: compile a kernel on its first call, never at import.

Importing numba takes about 0.4 s, and the first call of any numba function
costs about as much again, so ``import netlite`` does not import numba. A
function decorated with ``@kernel(...)`` stays a plain Python function until
it is first called. That call imports numba and compiles the function with
``cache=True``, so a restarted process loads the machine code from
``__pycache__`` instead of compiling again.

Three situations change what runs:

- ``NUMBA_DISABLE_JIT=1`` in the environment: numba returns the Python function
  unchanged, so the loops run as ordinary, slow Python that a debugger can step
  through. Results agree up to rounding (bit for bit where the kernel has no
  ``fastmath`` option).
- numba is not installed: the kernels call their numpy ``fallback`` instead
  (slower; bit-identical for pooling, equal up to rounding for the
  convolution), and one RuntimeWarning reports it.
- no cache folder is writable: the kernels are compiled without the cache, in
  every new process again.
"""

import importlib
import os
import threading
import warnings

_lock = threading.Lock()
_numba = None  # the numba module after the first successful import
_numba_missing = False  # True after an import of numba failed


def load_numba():
    """Import numba on first use and return it, or return None if it cannot be imported.

    Warns once per process when numba is missing.
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
                    stacklevel=4,
                )
    return _numba


def jit_disabled():
    """Return True when ``NUMBA_DISABLE_JIT=1`` turns kernels into plain Python."""
    return os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0")


class Kernel:
    """A numba-compilable function with a numpy fallback of the same signature and result.

    ``py_func`` is written in the subset of Python that numba compiles, and
    ``fallback`` uses numpy only.
    """

    def __init__(self, py_func, fallback, fastmath=()):
        self.py_func = py_func
        self.fallback = fallback
        self.fastmath = set(fastmath)
        self._compiled = None
        self.__name__ = py_func.__name__
        self.__doc__ = py_func.__doc__
        self.__wrapped__ = py_func

    def __call__(self, *args):
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = self._compile()
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
        # nogil: other Python threads run while the kernel runs (see threads.py).
        options = dict(error_model="numpy", nogil=True, fastmath=self.fastmath or False)
        try:
            return numba.njit(cache=True, **options)(self.py_func)
        except (RuntimeError, OSError):
            # numba raises RuntimeError("cannot cache function ...: no locator
            # available") when neither __pycache__ beside the source,
            # NUMBA_CACHE_DIR nor the user cache folder is writable.
            return numba.njit(cache=False, **options)(self.py_func)

    def __repr__(self):
        return f"<netlite kernel {self.__name__}>"


def kernel(fallback, fastmath=()):
    """Decorate a numba-compilable function; see :class:`Kernel`.

    ``fastmath`` lists the floating-point shortcuts numba may take, for
    example ``{"reassoc"}`` to sum a loop in any order, which lets the
    compiler use vector instructions for a sum.
    """

    def decorate(py_func):
        return Kernel(py_func, fallback, fastmath)

    return decorate

