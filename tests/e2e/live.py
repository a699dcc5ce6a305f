"""Live `mosaic serve` processes on loopback for end-to-end tests, and the CLI that sets them up."""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
from PIL import Image

from tests.conftest import TEST_SECRET

ROOT = Path(__file__).parents[2]
MOSAIC = ROOT / ".venv" / "bin" / "mosaic"
STARTUP_TIMEOUT_S = 60.0
PASSWORD = "correct horse battery"
_KEY = re.compile(r"us_live_\S+")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ, "MOSAIC_DATABASE_URL": database_url, "MOSAIC_SECRET": TEST_SECRET,
        "MOSAIC_IMAGE_WORKERS": "2", **extra,
    }


def cli(env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [str(MOSAIC), *args], check=False, input=stdin, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def create_user_with_key(env: dict[str, str], email: str, *, plan: str = "commercial") -> str:
    """`mosaic users create` (password on stdin) and `mosaic keys create`; returns the printed key."""
    cli(env, "users", "create", email, "--plan", plan, stdin=PASSWORD + "\n")
    found = _KEY.search(cli(env, "keys", "create", email, "--name", "e2e"))
    assert found is not None
    return found.group(0)


@dataclass
class LiveServer:
    process: subprocess.Popen[str]
    port: int
    log_path: Path
    log: IO[str]
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def crash(self) -> None:
        """kill -9 the server and its image workers (its process group): a machine going down."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.crash()
        with contextlib.suppress(ProcessLookupError):  # whatever is left of its group (workers)
            os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


def _wait_until_ready(server: LiveServer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        assert server.process.poll() is None, server.log_path.read_text()
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)  # waiting for a process to listen, not for a projection
    raise AssertionError(f"the server did not start: {server.log_path.read_text()}")


def start_server(
    env: dict[str, str], log_path: Path, port: int | None = None, *, args: tuple[str, ...] = (),
    host: str = "127.0.0.1", prefix: Sequence[str] = (),
) -> LiveServer:
    """`mosaic serve` on host:port (a free loopback port by default; `args`: more options, e.g.
    `--workers 2`), once it answers. Run through `prefix` (e.g. `ip netns exec NAME`, which execs it,
    so the process is still the server's) in a process group of its own."""
    port = port or free_port()
    log = log_path.open("a")
    process = subprocess.Popen(
        [*prefix, str(MOSAIC), "serve", "--host", host, "--port", str(port), *args],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    server = LiveServer(process, port, log_path, log, host)
    try:
        _wait_until_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


@contextmanager
def serving(env: dict[str, str], log_path: Path, *, args: tuple[str, ...] = ()) -> Iterator[LiveServer]:
    server = start_server(env, log_path, args=args)
    try:
        yield server
    finally:
        server.stop()


def fixture_as_jpeg(name: str, path: Path, *, width_px: int | None = None) -> Path:
    with Image.open(ROOT / "tests" / "fixtures" / "images" / name) as im:
        rgb = im.convert("RGB")
        if width_px is not None:
            rgb = rgb.resize((width_px, round(rgb.height * width_px / rgb.width)), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    rgb.save(buffer, "JPEG", quality=90)
    path.write_bytes(buffer.getvalue())
    return path
