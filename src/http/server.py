"""Serving the app with uvicorn: `serve` for the CLI, `app_from_env` as a uvicorn factory.

One worker serves in this process. With `--workers N` uvicorn's supervisor starts N processes, each
building its whole service from `MOSAIC_*` (`app_from_env`: its writer, image pool, views' runner) and
listening on a socket of its own (`WorkerSocket`), and starts a new one when one dies; the database
arbitrates between them as it does between hosts. By hand, on each host:

    uvicorn --factory mosaic.http.server:app_from_env --host 127.0.0.1 --port 8000

SIGTERM (or Ctrl-C) stops accepting connections, lets requests in flight finish for
`MOSAIC_SHUTDOWN_GRACE_S`, then cancels the rest, whose reservations are released as they unwind
(`mosaic.commands.paid`), and stops the background work last.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
import tempfile
from collections.abc import Iterator
from typing import Any, Final, SupportsIndex

import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from mosaic.bootstrap import Services, build
from mosaic.config import Settings
from mosaic.http import logs
from mosaic.http.app import create_app
from mosaic.http.metrics import MULTIPROC_DIR_VARIABLE

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
HEADERS_TIMEOUT_S: Final = 10.0  # from a request's first byte to its last header line
BODY_IDLE_TIMEOUT_S: Final = 30.0  # between two reads of a request body
KEEP_ALIVE_TIMEOUT_S: Final = 5  # an idle connection between requests
BACKLOG: Final = 2048
# a worker starting on a busy host (importing numpy, scipy and the imaging code, connecting) may not
# answer the supervisor's ping within uvicorn's 5 s, and would be killed and started again for ever
WORKER_HEALTHCHECK_TIMEOUT_S: Final = 60


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the timeouts it lacks: headers must arrive within
    `HEADERS_TIMEOUT_S` of the connection or of the request's first byte, and a body must not stall for
    `BODY_IDLE_TIMEOUT_S`. Without them a client sending a byte now and then (slow-loris) holds a
    connection, and its memory, for ever: uvicorn's only timer is keep-alive's, which the first byte
    of a request disarms."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(HEADERS_TIMEOUT_S)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(HEADERS_TIMEOUT_S)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(BODY_IDLE_TIMEOUT_S)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._arm(BODY_IDLE_TIMEOUT_S)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, timeout_s: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(timeout_s, self._expired, timeout_s)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, timeout_s: float) -> None:
        self._deadline = None
        if self.flow.read_paused:  # we stopped reading (the app is behind), not the client
            self._arm(timeout_s)
            return
        self.transport.close()


def uvicorn_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """What every serving process is run with (one or N workers alike)."""
    return {
        "host": host,
        "port": port,
        "http": GuardedHttpProtocol,
        "loop": "auto",
        "log_config": logs.logging_config(settings),
        "access_log": False,  # the request-id middleware writes the access log
        "server_header": False,
        # X-Forwarded-For names the client only when the peer is a proxy the operator trusts;
        # otherwise anyone could pick the address that sign-in throttling counts
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": list(settings.trusted_proxies) or None,
        "timeout_keep_alive": KEEP_ALIVE_TIMEOUT_S,
        "timeout_graceful_shutdown": settings.shutdown_grace_s,
        "backlog": BACKLOG,
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_TIMEOUT_S,
    }


class WorkerSocket(socket.socket):
    """The supervisor's hold on the address, handed to each worker it spawns.

    Workers sharing one listening socket do not share its connections: whichever wakes first accepts
    every connection waiting, so a burst (a proxy's keep-alive pool, a load generator's 64) can all
    land on one worker while the others idle — measured, all 64 of wrk's on one of two. This socket is
    bound with SO_REUSEPORT and never listens; pickled into a spawned worker (as multiprocessing
    passes the supervisor's sockets) it becomes a new socket of the worker's own on the same address,
    and the kernel spreads new connections over the workers' sockets by their addresses' hash.
    """

    @classmethod
    def hold(cls, host: str, port: int) -> WorkerSocket:
        """Bind `host:port` (port 0: any free one), so a port in use is said before any worker starts."""
        held = cls(_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            _bind_shared(held, host, port)
        except OSError:
            held.close()
            raise
        return held

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        host, port = self.getsockname()[:2]
        return (_worker_listener, (host, port))


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _bind_shared(sock: socket.socket, host: str, port: int) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)


def _worker_listener(host: str, port: int) -> socket.socket:
    """In a worker: its own socket on the supervisor's address (uvicorn makes it listen)."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
    _bind_shared(sock, host, port)
    return sock


def serve(settings: Settings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve on host:port until SIGTERM or Ctrl-C, with `settings.server_workers` processes."""
    logs.configure(settings)
    options = uvicorn_options(settings, host, port)
    if settings.server_workers == 1:
        services = build(settings, background=True)
        app = create_app(services.use_cases, services.settings, on_shutdown=services.close)
        freeze_startup_heap()
        uvicorn.run(app, **options)
        return
    # the workers read their settings from the environment: say how many they are, so each sizes
    # its image pool to its share of the cores
    os.environ["MOSAIC_SERVER_WORKERS"] = str(settings.server_workers)
    config = uvicorn.Config(
        "mosaic.http.server:app_from_env", factory=True, workers=settings.server_workers, **options
    )
    with _metrics_directory(), WorkerSocket.hold(host, port) as held:
        logging.getLogger("uvicorn.error").info(
            "serving on http://%s:%d with %d workers", host, held.getsockname()[1], settings.server_workers
        )
        Multiprocess(config, sockets=[held]).run()


@contextlib.contextmanager
def _metrics_directory() -> Iterator[None]:
    """A fresh directory for the workers' metric files, unless the operator named one (then it must
    be emptied before each start, as prometheus-client documents)."""
    if os.environ.get(MULTIPROC_DIR_VARIABLE):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="mosaic-metrics-") as directory:
        os.environ[MULTIPROC_DIR_VARIABLE] = directory
        try:
            yield
        finally:
            del os.environ[MULTIPROC_DIR_VARIABLE]


def app_from_env() -> Starlette:
    """Build `Services` from `MOSAIC_*` (background projections on) and an app that closes them."""
    settings = Settings.from_env()
    logs.redact.use(settings)
    services: Services = build(settings, background=True)
    app = create_app(services.use_cases, services.settings, on_shutdown=services.close)
    freeze_startup_heap()
    return app


def freeze_startup_heap() -> None:
    """Move every object alive after start-up (modules, the ledger, the schema) out of the collector's
    reach: a full collection over them pauses every thread for tens of milliseconds, a request's tail."""
    gc.collect()
    gc.freeze()
