"""Start JupyterLab on the course folder: ``python -m netlite.course lab``.

It runs the ``jupyter lab`` of the Python that runs NetLite, in the course
folder (the one with ``notebooks/`` and ``exercises/``), so the notebooks'
``python3`` kernel finds the same netlite. As root, which is common in
containers and on lab machines set up by scripts, JupyterLab refuses to
start without ``--allow-root``, so that flag is added there.

SIGTERM to this command (from ``kill``, a process manager or a container
stop) is passed on to JupyterLab, and the command exits once JupyterLab
has shut down its kernels and exited. Ctrl+C stops JupyterLab the same
way, and the command then exits with status 130 without a traceback.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

# Exit status after Ctrl+C. Shells report 128 + SIGINT (130) for a command that SIGINT ended.
EXIT_STATUS_INTERRUPTED = 128 + signal.SIGINT


def lab_command(root, port=None, no_browser=False, extra_args=()):
    """Return the command line that starts JupyterLab on ``root``."""
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={Path(root).resolve()}"]
    if port is not None:
        command.append(f"--port={port}")
    if no_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    command.extend(extra_args)
    return command


def start_lab(root=".", port=None, no_browser=False, extra_args=()):
    """Run JupyterLab on ``root`` until it is stopped; return its exit status."""
    root = Path(root)
    missing = [name for name in ("notebooks", "exercises") if not (root / name).is_dir()]
    if missing:
        raise FileNotFoundError(
            f"{root.resolve()} is not a NetLite course folder (no {' or '.join(name + '/' for name in missing)} in it); "
            f"run the command in the course folder or pass --root"
        )
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        raise FileNotFoundError(
            "JupyterLab is not installed in this Python; install the course extras with pip install -e '.[course]'"
        ) from None
    command = lab_command(root, port, no_browser, extra_args)
    print("starting:", " ".join(command), flush=True)
    return run_passing_sigterm(command)


def run_passing_sigterm(command):
    """Run ``command`` until it exits and return its exit status, passing SIGTERM on to it.

    subprocess.call would leave the child running when this process gets SIGTERM, because the
    signal ends this process at once. Ctrl+C (SIGINT) sends the child one SIGTERM, so that
    JupyterLab shuts down its kernels, and the function returns EXIT_STATUS_INTERRUPTED after the
    child has exited. Call this from the main thread, which handles signals.
    """
    process = subprocess.Popen(command)
    interrupted = False

    def pass_on(signum, frame):
        process.send_signal(signum)

    def stop_child(signum, frame):
        # Handling SIGINT here, in place of a KeyboardInterrupt, prints no traceback, and a second
        # Ctrl+C cannot break off the wait. A terminal sends every Ctrl+C to JupyterLab as well,
        # so JupyterLab handles the presses after the first.
        nonlocal interrupted
        if not interrupted:
            interrupted = True
            process.terminate()

    previous_sigterm_handler = signal.signal(signal.SIGTERM, pass_on)
    # POSIX shells without job control start background commands with SIGINT ignored. Python
    # leaves it ignored at startup, and so does this function.
    previous_sigint_handler = signal.getsignal(signal.SIGINT)
    handles_sigint = previous_sigint_handler != signal.SIG_IGN
    if handles_sigint:
        signal.signal(signal.SIGINT, stop_child)
    try:
        status = process.wait()
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm_handler)
        if handles_sigint:
            signal.signal(signal.SIGINT, previous_sigint_handler)

    if interrupted:
        return EXIT_STATUS_INTERRUPTED
    return status
