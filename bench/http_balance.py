"""HTTP benchmark: `GET /api/credits/balance` with a real API key against a bare Starlette JSON route.

Run: `.venv/bin/python bench/http_balance.py [--seconds 10] [--connections 64] [--rounds 3] [--postgres]
[--profile FILE]` (`wrk`: the Debian package; `--profile`: py-spy in the venv).

Ours is served as `mosaic serve` serves it (one worker, JSON logs with an access line per request,
written to a file), the bare route by uvicorn with the same options (`uvicorn_options`), each in its
own process on loopback, and both are driven by `wrk -t1 -c64` (one load thread, keep-alive, one request in flight per
connection), whose Lua `done` hook prints the figures as JSON. Each round runs the bare route, then
ours, so load from other processes on the machine hurts both alike; every round prints requests/s,
p50 and p99 of each and their ratio (target: ours >= 0.5 of the bare route), and each server's CPU
time per request (from /proc) with its ratio, which time spent waiting for a busy core does not
blur. With 64 connections each waiting for its answer, latency is about 64 / rate.

`--profile FILE` then runs one more wrk run against each under `py-spy record` (raw collapsed stacks
in FILE and FILE.bare, idle samples included) and prints the main thread's microseconds per request
in each part, for both and the difference: the event loop, uvicorn's HTTP protocol, middleware,
authentication, the rate limit, the balance read, encoding the response, Starlette's routing and
responses. A sample counts for the first part named in its frames, leaf first.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
PYTHON: Final = sys.executable
PY_SPY: Final = str(Path(PYTHON).with_name("py-spy"))
# Both are served as `mosaic serve` serves (one worker): its uvicorn options (protocol with timeouts,
# loop, logging config, no uvicorn access log). Ours is `serve` itself, so it also writes its JSON
# access line per request (to a file here, as to journald in production).
BARE_SERVER: Final = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from mosaic.config import Settings
from mosaic.http.server import uvicorn_options

async def balance(request):
    return JSONResponse({"balance": 742, "monthly_quota": 800, "plan_name": "commercial", "sub_status": "active"})

app = Starlette(routes=[Route("/api/credits/balance", balance)])
uvicorn.run(app, **uvicorn_options(Settings.from_env(), "127.0.0.1", int(sys.argv[1])))
"""
OUR_SERVER: Final = """
import sys
from mosaic.config import Settings
from mosaic.http.server import serve
serve(Settings.from_env(), "127.0.0.1", int(sys.argv[1]))
"""
PATH: Final = "/api/credits/balance"
STARTUP_TIMEOUT_S: Final = 30.0
WARMUP_S: Final = 2
# wrk calls `done` once at the end; its figures are in microseconds.
WRK_REPORT: Final = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non_2xx":%d,"socket_errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""
# Where the server's main thread is, by the first of these found in a sample's frames (leaf first).
PROFILE_PARTS: Final = (
    ("authentication", ("http/auth.py",)),
    ("rate limit", ("http/ratelimit.py", "limits/")),
    ("balance read", ("http/balances.py", "queries/views.py", "run_in_threadpool", "routes/credits.py:2")),
    ("encoding the response", ("json_response", "msgspec", "render", "Response.__init__", "init_headers")),
    ("request-id middleware", ("http/middleware.py",)),
    ("metrics and logging middleware", ("prometheus", "http/metrics", "logging/", "http/logs")),
    ("route wrapper", ("http/routing.py",)),
    ("Starlette (routing, request, response)", ("starlette/",)),
    ("uvicorn's HTTP protocol", ("uvicorn/", "httptools")),
)


@contextlib.contextmanager
def _wrk_script() -> Iterator[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_REPORT)
    try:
        yield f.name
    finally:
        os.unlink(f.name)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wrk(port: int, key: str, seconds: float, connections: int, *, script: str, pid: int) -> dict[str, float]:
    """One `wrk -t1` run; requests/s, p50 and p99 in ms, answers other than 2xx, and the server's CPU
    microseconds per request (steadier than requests/s on a shared machine: time spent waiting for
    a core is not counted)."""
    cpu_before = _cpu_s(pid)
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", script]
    if key:
        command += ["-H", f"Authorization: Bearer {key}"]
    out = subprocess.run(
        [*command, f"http://127.0.0.1:{port}{PATH}"], capture_output=True, text=True, check=True
    ).stdout
    cpu_s = _cpu_s(pid) - cpu_before
    report = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    return {
        "cpu_us": 1e6 * cpu_s / max(report["requests"], 1),
        "rps": report["requests"] / (report["duration_us"] / 1e6),
        "p50_ms": report["p50_us"] / 1000,
        "p99_ms": report["p99_us"] / 1000,
        "errors": report["non_2xx"] + report["socket_errors"],
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
def _serving(server_code: str, env: dict[str, str], log: Path) -> Iterator[tuple[int, int]]:
    """Run a server process on a free loopback port for the duration of the block: (port, pid).
    Its stderr (its log) goes to `log`."""
    port = _free_port()
    with log.open("wb") as stderr:
        server = subprocess.Popen([PYTHON, "-c", server_code, str(port)], cwd=ROOT, env=env, stderr=stderr)
    try:
        _wait_listening(port, server)
        yield port, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


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


def _profile(
    pid: int, port: int, key: str, args: argparse.Namespace, script: str, *, output: str
) -> tuple[float, dict[str, float]]:
    """One more wrk run under py-spy (not pausing the server: --nonblocking); requests/s meanwhile,
    and the main thread's microseconds per request in each part (its wall time: it is busy or idle)."""
    spy = subprocess.Popen(
        [PY_SPY, "record", "--pid", str(pid), "--idle", "--threads", "--nonblocking", "--format", "raw",
         "--rate", "100", "--duration", str(max(1, round(args.seconds))), "--output", output],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)  # py-spy attaches before the load starts
    run = _wrk(port, key, args.seconds, args.connections, script=script, pid=pid)
    spy.wait(timeout=args.seconds + 60)
    parts: collections.Counter[str] = collections.Counter()
    for line in Path(output).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "MainThread" not in stack:
            continue  # worker threads (the views' runner, anyio's pool) wait most of the time
        parts[_part(stack.split(";")[::-1])] += int(count)  # leaf first
    total = sum(parts.values())
    per_request_us = 1e6 / run["rps"]
    return run["rps"], {name: per_request_us * count / total for name, count in parts.items()}


def _print_profiles(bare: tuple[float, dict[str, float]], ours: tuple[float, dict[str, float]]) -> None:
    (bare_rps, bare_us), (our_rps, our_us) = bare, ours
    print(
        f"\nprofile under wrk, main thread, microseconds per request (bare {bare_rps:.0f}, ours {our_rps:.0f}"
        " req/s while sampled; py-spy costs both some speed):"
    )
    above = sum(our_us.values()) - sum(bare_us.values())
    print(f"  {'part':42s} {'bare':>7s} {'ours':>7s} {'above bare':>11s}")
    for name in sorted(our_us.keys() | bare_us.keys(), key=lambda n: -our_us.get(n, 0.0)):
        b, o = bare_us.get(name, 0.0), our_us.get(name, 0.0)
        share = f"{100 * (o - b) / above:5.1f}%" if above > 0 else ""
        print(f"  {name:42s} {b:7.1f} {o:7.1f} {o - b:+7.1f} {share}")
    print(f"  {'total':42s} {sum(bare_us.values()):7.1f} {sum(our_us.values()):7.1f} {above:+7.1f}")


def _part(frames: list[str]) -> str:
    if frames and any(w in frames[0] for w in ("select", "epoll", "run_forever", "Runner.run ")):
        return "event loop in C (uvloop: polling, reading, idle)"  # no Python frame below the loop's
    for frame in frames:
        for name, needles in PROFILE_PARTS:
            if any(needle in frame for needle in needles):
                return name
    return "other (event loop, asyncio, interpreter)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of bare then ours")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL on 127.0.0.1 (else SQLite)")
    parser.add_argument("--profile", metavar="FILE", help="then profile ours under wrk with py-spy")
    args = parser.parse_args()
    backend = "PostgreSQL" if args.postgres else "SQLite"
    with tempfile.TemporaryDirectory() as tmp, _wrk_script() as script:
        url, pg_name = _database(args.postgres, Path(tmp))
        env = {
            **os.environ,
            "MOSAIC_DATABASE_URL": url,
            "MOSAIC_SECRET": secrets.token_urlsafe(48),
            "MOSAIC_RATELIMIT": "100000000/minute",
        }
        key = _api_key(env)
        print(
            f"GET {PATH}, wrk -t1 -c{args.connections} -d{round(args.seconds)}s, one uvicorn worker each, "
            f"ours on {backend} with an API key"
        )
        bare_log, our_log = Path(tmp) / "bare.log", Path(tmp) / "ours.log"
        with (
            _serving(BARE_SERVER, env, bare_log) as (bare_port, bare_pid),
            _serving(OUR_SERVER, env, our_log) as (our_port, our_pid),
        ):
            _wrk(bare_port, "", WARMUP_S, args.connections, script=script, pid=bare_pid)
            _wrk(our_port, key, WARMUP_S, args.connections, script=script, pid=our_pid)
            ratios, cpu_ratios = [], []
            for number in range(1, args.rounds + 1):  # alternate, so a noisy neighbour hurts both alike
                bare = _wrk(bare_port, "", args.seconds, args.connections, script=script, pid=bare_pid)
                ours = _wrk(our_port, key, args.seconds, args.connections, script=script, pid=our_pid)
                ratios.append(ours["rps"] / bare["rps"])
                cpu_ratios.append(bare["cpu_us"] / ours["cpu_us"])
                print(
                    f"round {number}: bare {bare['rps']:6.0f} req/s p50 {bare['p50_ms']:5.2f} p99 {bare['p99_ms']:6.2f} ms"
                    f" {bare['cpu_us']:5.1f} us CPU/req | ours {ours['rps']:6.0f} req/s p50 {ours['p50_ms']:5.2f}"
                    f" p99 {ours['p99_ms']:6.2f} ms {ours['cpu_us']:5.1f} us CPU/req | ratio {ratios[-1]:.2f}"
                    f" (CPU {cpu_ratios[-1]:.2f})  errors {bare['errors']:.0f}/{ours['errors']:.0f}"
                )
            print(
                f"ratio ours/bare: median {statistics.median(ratios):.2f}, {min(ratios):.2f}-{max(ratios):.2f}"
                f" (target >= 0.5); by CPU per request: median {statistics.median(cpu_ratios):.2f},"
                f" {min(cpu_ratios):.2f}-{max(cpu_ratios):.2f}"
            )
            if args.profile:
                bare_profile = _profile(bare_pid, bare_port, "", args, script, output=f"{args.profile}.bare")
                our_profile = _profile(our_pid, our_port, key, args, script, output=args.profile)
                _print_profiles(bare_profile, our_profile)
                print(f"  (raw collapsed stacks in {args.profile} and {args.profile}.bare)")
        with our_log.open("rb") as lines:
            print(f"our server's log: {sum(1 for _ in lines):,} lines (JSON; no access line a request unless MOSAIC_ACCESS_LOG=on)")
        if pg_name is not None:
            import psycopg

            with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
