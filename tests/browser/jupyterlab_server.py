"""Start and stop a JupyterLab server on 127.0.0.1 that ignores the user's Jupyter settings."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
ANNOUNCEMENTS_PLUGIN = "@jupyterlab/apputils-extension:announcements"

# Requests go to 127.0.0.1 only, so proxy settings from the environment must not apply.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class JupyterLabServer:
    """A running ``jupyter lab`` process with its address, token and log file."""

    process: subprocess.Popen
    port: int
    token: str
    root_dir: Path
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """Return the address of ``path`` in JupyterLab, e.g. ``lab/tree/exercises/x.ipynb?reset``."""
        return f"{self.base_url}/{path}"

    def api(self, method: str, path: str, timeout: float = 10.0):
        """Send a request to the server's REST API and return the decoded JSON body (None when empty)."""
        request = urllib.request.Request(
            f"{self.base_url}/api/{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with _OPENER.open(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _isolated_environment(state_dir: Path, python_path: Path) -> dict[str, str]:
    """Return the server's environment: Jupyter and IPython folders inside ``state_dir``, no plot backend override."""
    environment = dict(os.environ)
    folders = {
        "JUPYTER_CONFIG_DIR": "config",
        "JUPYTER_DATA_DIR": "data",
        "JUPYTER_RUNTIME_DIR": "runtime",
        "JUPYTERLAB_SETTINGS_DIR": "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": "lab-workspaces",
        "IPYTHONDIR": "ipython",
    }
    for variable, name in folders.items():
        folder = state_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        environment[variable] = str(folder)
    # The test suite sets MPLBACKEND=Agg, but a student's kernel uses the inline backend.
    environment.pop("MPLBACKEND", None)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(python_path), environment.get("PYTHONPATH")]))
    return environment


def _disable_announcements(config_dir: Path) -> None:
    """Disable the plugin that shows a pop-up about news and update checks on first start."""
    labconfig = config_dir / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    page_config = {"disabledExtensions": {ANNOUNCEMENTS_PLUGIN: True}}
    (labconfig / "page_config.json").write_text(json.dumps(page_config, indent=2))


def start_jupyterlab(root_dir: Path, state_dir: Path, python_path: Path) -> JupyterLabServer:
    """Start ``jupyter lab`` serving ``root_dir`` and wait until ``/api/status`` returns.

    Jupyter's configuration, data, runtime and workspace folders are created in ``state_dir``, so
    the user's settings and open workspaces do not change what the browser shows. ``python_path``
    is put first on the kernel's PYTHONPATH so that ``import netlite`` finds this checkout.
    """
    environment = _isolated_environment(state_dir, python_path)
    _disable_announcements(Path(environment["JUPYTER_CONFIG_DIR"]))
    port = free_port()
    token = secrets.token_hex(24)
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--IdentityProvider.token={token}",
        "--allow-root",
        f"--ServerApp.root_dir={root_dir}",
    ]
    log_path = state_dir / "jupyterlab.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            command, cwd=root_dir, env=environment, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    server = JupyterLabServer(process, port, token, root_dir, log_path)
    try:
        _wait_until_ready(server)
    except BaseException:
        stop_jupyterlab(server)
        raise
    return server


def _wait_until_ready(server: JupyterLabServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"jupyter lab exited with status {server.process.returncode} before it served /api/status; "
                f"its log ends with:\n{server.log_tail()}"
            )
        try:
            server.api("GET", "status", timeout=2.0)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"jupyter lab did not respond to {server.base_url}/api/status within {START_TIMEOUT:g} s; "
                f"its log ends with:\n{server.log_tail()}"
            )
        time.sleep(0.25)


def stop_jupyterlab(server: JupyterLabServer) -> None:
    """Shut down the server's kernels through the REST API, then stop the server process."""
    if server.process.poll() is None:
        try:
            for kernel in server.api("GET", "kernels"):
                server.api("DELETE", f"kernels/{kernel['id']}", timeout=STOP_TIMEOUT)
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            pass  # The server is stopped below either way, and it shuts down its kernels on SIGTERM too.
        server.process.terminate()
    try:
        server.process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=STOP_TIMEOUT)
