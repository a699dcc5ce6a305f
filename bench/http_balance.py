"""HTTP benchmark: `GET /api/credits/balance` with a real API key against a bare Starlette JSON route.

Run: `.venv/bin/python bench/http_balance.py [--seconds 10] [--connections 64] [--rounds 2] [--postgres]`
(about a minute).

Both apps are served the same way (uvicorn.run with the same options, one worker, loopback) in their
own processes; the load generator is a third process (raw asyncio HTTP/1.1 with keep-alive, one
request in flight per connection), so it does not share the server's core or event loop. Runs
alternate between the two servers and the best of each is kept, so load from other processes on the
machine hurts both alike. Prints requests/s, p50 and p99 for each and the ratio (target: ≥ 0.5 of
the bare route, p99 ≤ 10 ms). With 64 connections each waiting for its answer, latency is about
64 / rate, so it also runs ours paced at half the bare rate, timing each request from when it was
due: that p99 is the server's own tail. No assertions. (`wrk` is not needed; for a second opinion: `apt-get install -y wrk` and
`wrk -c64 -t2 -d10s -H "Authorization: Bearer $KEY" http://127.0.0.1:PORT/api/credits/balance`.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]
PYTHON: Final = sys.executable
UVICORN_OPTIONS: Final = "host='127.0.0.1', log_level='warning', access_log=False, workers=1"
BARE_SERVER: Final = f"""
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def balance(request):
    return JSONResponse({{"balance": 742, "monthly_quota": 800, "plan_name": "commercial", "sub_status": "active"}})

app = Starlette(routes=[Route("/api/credits/balance", balance)])
uvicorn.run(app, port=int(__import__("sys").argv[1]), {UVICORN_OPTIONS})
"""
OUR_SERVER: Final = f"""
import uvicorn
uvicorn.run("mosaic.http.server:app_from_env", factory=True, port=int(__import__("sys").argv[1]),
            {UVICORN_OPTIONS})
"""
PATH: Final = "/api/credits/balance"
STARTUP_TIMEOUT_S: Final = 30.0
WARMUP_S: Final = 2.0
PACED_SHARES: Final = (0.25, 0.5)


# -- load generator (runs in its own process: `bench/http_balance.py --load PORT KEY SECONDS CONNS`) --------


async def _connection(
    port: int, request: bytes, *, stop_at: float, warm_at: float, interval_s: float, out: list[float]
) -> int:
    """One keep-alive connection. interval_s 0: back to back (closed loop); else one request per
    interval, latency measured from when it was due (so a slow server cannot hide its queue)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    errors = 0
    due = time.perf_counter() + random.uniform(0, interval_s)
    while due < stop_at:
        if interval_s:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
        else:
            due = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        if not head.startswith(b"HTTP/1.1 200"):
            errors += 1
        if due >= warm_at:
            out.append(time.perf_counter() - due)
        due += interval_s
    writer.close()
    return errors


async def _load(port: int, key: str, seconds: float, connections: int, rate: float) -> dict[str, Any]:
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    request = f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode()
    start = time.perf_counter()
    warm_at, stop_at = start + WARMUP_S, start + WARMUP_S + seconds
    latencies: list[float] = []
    interval_s = connections / rate if rate else 0.0
    errors = await asyncio.gather(
        *(
            _connection(port, request, stop_at=stop_at, warm_at=warm_at, interval_s=interval_s, out=latencies)
            for _ in range(connections)
        )
    )
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "rps": n / seconds,
        "p50_ms": latencies[n // 2] * 1000 if n else 0.0,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000 if n else 0.0,
        "errors": sum(errors),
    }


# -- orchestration ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server on port {port} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the server on port {port} did not start")


@contextlib.contextmanager
def _serving(server_code: str, env: dict[str, str]) -> Iterator[int]:
    """Run a server process on a free loopback port for the duration of the block."""
    port = _free_port()
    server = subprocess.Popen([PYTHON, "-c", server_code, str(port)], cwd=ROOT, env=env)
    try:
        _wait_listening(port, server)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def _drive(port: int, env: dict[str, str], key: str, args: argparse.Namespace, rate: float) -> dict[str, Any]:
    """One load run against `port` from a separate process (rate 0: as fast as it answers)."""
    load = subprocess.run(
        [PYTHON, __file__, "--load", str(port), key, str(args.seconds), str(args.connections), str(rate)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )
    result: dict[str, Any] = json.loads(load.stdout)
    return result


def _database(postgres: bool, tmp: Path) -> tuple[str, str | None]:
    """A fresh database URL (and the PostgreSQL database to drop afterwards)."""
    if not postgres:
        return f"sqlite:///{tmp / 'bench.db'}", None
    import psycopg

    from mosaic.commands.schema import upgrade
    from mosaic.config import DatabaseUrl

    name = f"mosaic_bench_{secrets.token_hex(4)}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    upgrade(DatabaseUrl.parse(url))
    return url, name


def _api_key(env: dict[str, str]) -> str:
    from mosaic.bootstrap import build
    from mosaic.config import Settings

    services = build(Settings.from_env(env), background=False)
    try:
        committed = services.ledger.register_user(
            email="bench@example.com", password="bench password", plan_name="commercial"
        )
        services.settle(committed)
        created, key = services.ledger.create_key(user_id=committed.value.user_id, name="bench")
        services.settle(created)
        return key
    finally:
        services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of each server")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL on 127.0.0.1 (else SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url, pg_name = _database(args.postgres, Path(tmp))
        env = {
            **os.environ,
            "MOSAIC_DATABASE_URL": url,
            "MOSAIC_SECRET": secrets.token_urlsafe(48),
            "MOSAIC_RATELIMIT": "100000000/minute",
        }
        key = _api_key(env)
        with _serving(BARE_SERVER, env) as bare_port, _serving(OUR_SERVER, env) as our_port:
            runs: dict[str, list[dict[str, Any]]] = {"bare": [], "ours": []}
            for _ in range(args.rounds):  # alternate, so a noisy neighbour hurts both alike
                runs["bare"].append(_drive(bare_port, env, "", args, 0.0))
                runs["ours"].append(_drive(our_port, env, key, args, 0.0))
            bare = max(runs["bare"], key=lambda r: r["rps"])
            ours = max(runs["ours"], key=lambda r: r["rps"])
            paced = [(share, _drive(our_port, env, key, args, bare["rps"] * share)) for share in PACED_SHARES]
        if pg_name is not None:
            import psycopg

            with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')  # type: ignore[arg-type]
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"GET {PATH}, {args.connections} connections, {args.seconds:.0f} s a run, one uvicorn worker each;"
        f" best of {args.rounds} alternating runs"
    )
    rows = [("bare Starlette JSON route", bare), (f"ours, API key, {backend}", ours)]
    rows += [(f"ours paced at {share:.0%} of bare", result) for share, result in paced]
    for name, r in rows:
        print(
            f"  {name:34s} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms"
            f"  non-200: {r['errors']}"
        )
    print(f"  ratio ours/bare: {ours['rps'] / bare['rps']:.2f}  (target >= 0.5; p99 target <= 10 ms)")
    print(
        "  (closed loop: each connection waits for its answer, so latency is about connections / rate;"
        " paced runs offer a share of the bare rate and time each request from when it was due)"
    )


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--load":
        _, _, port, key, seconds, conns, rate = sys.argv
        print(json.dumps(asyncio.run(_load(int(port), key, float(seconds), int(conns), float(rate)))))
    else:
        main()
