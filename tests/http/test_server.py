"""`mosaic.http.server:app_from_env` serves under uvicorn in its own process (as `mosaic serve` does)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import TEST_SECRET

ROOT = Path(__file__).parents[2]
STARTUP_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_until_listening(port: int, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()[1]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)  # waiting for a process to listen, not for a projection
    raise AssertionError("the server did not start listening")


def test_the_uvicorn_factory_serves_health_and_json_errors(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "MOSAIC_DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}", "MOSAIC_SECRET": TEST_SECRET}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "mosaic.http.server:app_from_env",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait_until_listening(port, server)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            assert client.get("/healthz").json() == {"status": "ok"}
            missing = client.get("/api/credits/balance")
            assert missing.status_code == 401
            assert missing.json()["error"]["request_id"] == missing.headers["x-request-id"]
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert server.returncode in (0, -signal.SIGTERM), stderr  # uvicorn re-raises the signal it handled
    assert "Traceback" not in stderr
