"""Serving the app with uvicorn: `serve` for the CLI, `app_from_env` as a uvicorn factory.

    uvicorn --factory mosaic.http.server:app_from_env --host 127.0.0.1 --port 8000
"""

from __future__ import annotations

import gc

import uvicorn
from starlette.applications import Starlette

from mosaic.bootstrap import Services, build
from mosaic.config import Settings
from mosaic.http.app import create_app

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def serve(services: Services, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve `services` on host:port in this process until interrupted (one worker: `services` is
    already built here; run more processes, or more machines, against PostgreSQL to scale out)."""
    app = create_app(services.use_cases, services.settings)
    freeze_startup_heap()
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)


def app_from_env() -> Starlette:
    """Build `Services` from `MOSAIC_*` (background projections on) and an app that closes them."""
    services = build(Settings.from_env(), background=True)
    app = create_app(services.use_cases, services.settings, on_shutdown=services.close)
    freeze_startup_heap()
    return app


def freeze_startup_heap() -> None:
    """Move every object alive after start-up (modules, the ledger, the schema) out of the collector's
    reach: a full collection over them pauses every thread for tens of milliseconds, a request's tail."""
    gc.collect()
    gc.freeze()
