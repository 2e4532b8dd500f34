"""Tests of ``python -m netlite.course lab``: stopping it stops JupyterLab too.

The tests replace JupyterLab by a small Python child process, so that they need no server or port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="sends SIGTERM, which Windows does not have")

# Stands in for JupyterLab: writes its process id, then waits until a SIGTERM, which it records.
CHILD = """
import os, signal, sys, time
from pathlib import Path

def record_and_exit(signum, frame):
    Path(sys.argv[2]).write_text("SIGTERM")
    sys.exit(0)

signal.signal(signal.SIGTERM, record_and_exit)
Path(sys.argv[1]).write_text(str(os.getpid()))
while True:
    time.sleep(0.1)
"""

# Runs start_lab with the stand-in in place of JupyterLab's command line.
LAB = """
import sys
from netlite.course import lab

root, child, pid_file, signal_file = sys.argv[1:]
lab.lab_command = lambda *args, **kwargs: [sys.executable, "-c", child, pid_file, signal_file]
sys.exit(lab.start_lab(root))
"""

START_SECONDS = 30


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that exited but was not reaped yet is a zombie, which no longer runs.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


def test_lab_sigterm_stops_jupyterlab(tmp_path):
    root = tmp_path / "course"
    (root / "notebooks").mkdir(parents=True)
    (root / "exercises").mkdir()
    pid_file, signal_file = tmp_path / "child.pid", tmp_path / "child.signal"
    lab = subprocess.Popen(
        [sys.executable, "-c", LAB, str(root), CHILD, str(pid_file), str(signal_file)],
        stdout=subprocess.DEVNULL,
    )
    child_pid = None
    try:
        deadline = time.monotonic() + START_SECONDS
        while not (pid_file.exists() and pid_file.read_text()):
            assert lab.poll() is None, f"the lab command exited with status {lab.returncode} before it started the child"
            assert time.monotonic() < deadline, f"the child did not start within {START_SECONDS} s"
            time.sleep(0.05)
        child_pid = int(pid_file.read_text())

        lab.send_signal(signal.SIGTERM)
        status = lab.wait(timeout=START_SECONDS)

        assert signal_file.exists(), "the child never received SIGTERM"
        assert signal_file.read_text() == "SIGTERM"
        assert not is_running(child_pid), "the child still runs after the lab command exited"
        assert status == 0, "the lab command should exit with the child's status"
    finally:
        if lab.poll() is None:
            lab.kill()
            lab.wait()
        if child_pid is not None and is_running(child_pid):
            os.kill(child_pid, signal.SIGKILL)
