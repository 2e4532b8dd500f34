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

# Stands in for JupyterLab in a terminal, where Ctrl+C only makes it ask whether to shut down.
# It records every SIGINT and SIGTERM and exits SHUTDOWN_SECONDS after the first SIGTERM.
INTERACTIVE_CHILD = """
import os, signal, sys, time
from pathlib import Path

SHUTDOWN_SECONDS = 1.0
stopping = []

def record(signum, frame):
    with open(sys.argv[2], "a") as file:
        file.write(signal.Signals(signum).name + "\\n")
    if signum == signal.SIGTERM:
        stopping.append(signum)

signal.signal(signal.SIGINT, record)
signal.signal(signal.SIGTERM, record)
Path(sys.argv[1]).write_text(str(os.getpid()))
while not stopping:
    time.sleep(0.05)
time.sleep(SHUTDOWN_SECONDS)
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
    lab, child_pid = start_lab_with_stand_in(tmp_path, CHILD)
    try:
        lab.send_signal(signal.SIGTERM)
        status = lab.wait(timeout=START_SECONDS)

        assert received_signals(tmp_path) == ["SIGTERM"], "the child never received SIGTERM"
        assert not is_running(child_pid), "the child still runs after the lab command exited"
        assert status == 0, "the lab command should exit with the child's status"
    finally:
        stop_leftovers(lab, child_pid)


def start_lab_with_stand_in(tmp_path, child, **popen_options):
    """Start the lab command with ``child`` in place of JupyterLab, and return it and the child's process id."""
    root = tmp_path / "course"
    (root / "notebooks").mkdir(parents=True)
    (root / "exercises").mkdir()
    pid_file, signal_file = tmp_path / "child.pid", tmp_path / "child.signals"
    lab = subprocess.Popen(
        [sys.executable, "-c", LAB, str(root), child, str(pid_file), str(signal_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        **popen_options,
    )
    deadline = time.monotonic() + START_SECONDS
    while not (pid_file.exists() and pid_file.read_text()):
        if lab.poll() is not None or time.monotonic() >= deadline:
            lab.kill()
            _, stderr = lab.communicate()
            pytest.fail(
                f"the child did not start within {START_SECONDS} s (lab command status {lab.returncode}): {stderr}"
            )
        time.sleep(0.05)
    return lab, int(pid_file.read_text())


def received_signals(tmp_path) -> list[str]:
    signal_file = tmp_path / "child.signals"
    return signal_file.read_text().split() if signal_file.exists() else []


def stop_leftovers(lab, child_pid) -> None:
    if lab.poll() is None:
        lab.kill()
        lab.wait()
    if is_running(child_pid):
        os.kill(child_pid, signal.SIGKILL)


@pytest.mark.parametrize("presses", [1, 2])
def test_lab_ctrl_c_exits_quietly(tmp_path, presses):
    # A session of its own makes the lab command and the child a process group, like a terminal's
    # foreground job, so that killpg() reaches both as Ctrl+C does.
    lab, child_pid = start_lab_with_stand_in(tmp_path, INTERACTIVE_CHILD, start_new_session=True)
    try:
        os.killpg(lab.pid, signal.SIGINT)
        deadline = time.monotonic() + START_SECONDS
        while "SIGTERM" not in received_signals(tmp_path):
            assert lab.poll() is None, f"the lab command exited with status {lab.returncode} before the child"
            assert time.monotonic() < deadline, f"the child got no SIGTERM within {START_SECONDS} s"
            time.sleep(0.05)
        if presses == 2:
            # Pressed again while the child shuts down.
            os.killpg(lab.pid, signal.SIGINT)
        _, stderr = lab.communicate(timeout=START_SECONDS)

        assert "Traceback" not in stderr
        assert "KeyboardInterrupt" not in stderr
        assert lab.returncode == 130
        assert received_signals(tmp_path).count("SIGTERM") == 1
        assert not is_running(child_pid), "the lab command exited before the child"
    finally:
        stop_leftovers(lab, child_pid)


def test_lab_keeps_ignored_sigint(tmp_path):
    # A shell without job control starts a background command like this.
    lab, child_pid = start_lab_with_stand_in(
        tmp_path, INTERACTIVE_CHILD, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)
    )
    try:
        lab.send_signal(signal.SIGINT)
        time.sleep(1.0)

        assert lab.poll() is None, "the lab command exited on an ignored SIGINT"
        assert received_signals(tmp_path) == []

        lab.send_signal(signal.SIGTERM)
        _, stderr = lab.communicate(timeout=START_SECONDS)

        assert received_signals(tmp_path) == ["SIGTERM"]
        assert lab.returncode == 0, stderr
    finally:
        stop_leftovers(lab, child_pid)


def test_lab_ctrl_c_before_start(tmp_path, monkeypatch):
    from netlite.course import __main__ as course_main
    from netlite.course import lab as course_lab

    root = tmp_path / "course"
    (root / "notebooks").mkdir(parents=True)
    (root / "exercises").mkdir()

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    # start_lab builds the command line just before it starts JupyterLab.
    monkeypatch.setattr(course_lab, "lab_command", interrupt)

    try:
        status = course_main.main(["--root", str(root), "lab"])
    except KeyboardInterrupt:
        pytest.fail("Ctrl+C before JupyterLab started raised KeyboardInterrupt out of main()")
    assert status == 130
