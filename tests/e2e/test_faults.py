"""Faults under load, on PostgreSQL: each test ends with `mosaic audit verify` passing and every
balance equal to the model of the requests the clients saw answered (`tests.e2e.load`)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest

from mosaic.bootstrap import RUNNER_APPLICATION_NAME, Services, build
from mosaic.config import DatabaseUrl
from mosaic.domain.errors import InsufficientCredits
from tests import charging
from tests.conftest import PG_ADMIN, TEST_SECRET, settings_for
from tests.e2e.live import LiveServer, cli, create_user_with_key, free_port, server_env, serving, start_server
from tests.e2e.load import MixedLoad, assert_no_secret_in, assert_the_ledger_matches, balance_of
from tests.http.images import photo_png

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]

START_CREDITS = 800
LOAD_S = 4.0
# short, so a reservation the killed worker held is released by the sweeper within the test
FAST_SWEEP = {"MOSAIC_RESERVATION_TIMEOUT_S": "20", "MOSAIC_RATELIMIT": "100000/minute"}


def _users(env: dict[str, str], count: int) -> list[str]:
    return [create_user_with_key(env, f"load{i}@example.com") for i in range(count)]


def _workers(server: LiveServer) -> set[int]:
    """The serving processes uvicorn's supervisor started (spawned interpreters, not their helpers)."""
    children = subprocess.run(
        ["ps", "-ww", "-o", "pid=,args=", "--ppid", str(server.process.pid)], capture_output=True, text=True, check=True
    ).stdout
    return {int(line.split()[0]) for line in children.splitlines() if "spawn_main" in line}


def _wait_for_workers(server: LiveServer, count: int, *, other_than: set[int] = frozenset()) -> set[int]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        workers = _workers(server)
        if len(workers) == count and not workers & other_than:
            return workers
        time.sleep(0.2)
    raise AssertionError(f"expected {count} workers, found {_workers(server)}")


def test_kill_9_of_one_worker_of_two_during_mixed_load_loses_and_doubles_nothing(
    database_url: str, tmp_path: Path
) -> None:
    env = server_env(database_url, MOSAIC_IMAGE_WORKERS="1", **FAST_SWEEP)
    keys = _users(env, 3)
    with serving(env, tmp_path / "server.log", args=("--workers", "2")) as server:
        first = _wait_for_workers(server, 2)
        with MixedLoad(server.url, keys, photo_png((48, 32))) as load:
            time.sleep(LOAD_S)
            victim = min(first)
            os.kill(victim, signal.SIGKILL)
            replaced = _wait_for_workers(server, 2, other_than={victim})
            time.sleep(LOAD_S)  # both workers, the new one included, under load
        outcome = load.outcome
        assert len(replaced - first) == 1, "the supervisor started one new worker"
        assert outcome.statuses[200] > 0
        assert_the_ledger_matches(env, server.url, keys, outcome, START_CREDITS)
    assert_no_secret_in((tmp_path / "server.log").read_text(), keys, TEST_SECRET)


WRITERS = 16
KILL_EVERY_S = 5.0
KILLS = 3


def _terminate_runner_connections(database_url: str) -> int:
    dbname = DatabaseUrl.parse(database_url).dbname
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            (dbname, RUNNER_APPLICATION_NAME),
        ).fetchall()
    return len(rows)


def test_the_views_runner_loses_its_connection_every_5_s_under_16_writers_and_skips_no_event(
    make_services: Callable[..., Services], database_url: str
) -> None:
    services = make_services(background=True)
    accounts = []
    for i in range(WRITERS):
        registered = services.ledger.register_user(
            email=f"writer{i}@example.com", password="correct horse battery", plan_name="commercial"
        )
        accounts.append(registered.value.account_id)
    stopping = threading.Event()
    cycles = [0] * WRITERS

    def write(index: int) -> None:
        while not stopping.is_set():
            request_id = uuid.uuid4()
            try:
                charging.reserve(services, accounts[index], request_id, tool="cbn", cost_credits=1)
            except InsufficientCredits:
                return  # this account is spent: a fast machine gets there within the test
            charging.capture(services, accounts[index], request_id)
            cycles[index] += 1

    writers = [threading.Thread(target=write, args=(i,), daemon=True) for i in range(WRITERS)]
    for thread in writers:
        thread.start()
    terminated = 0
    for _ in range(KILLS):
        time.sleep(KILL_EVERY_S)
        terminated += _terminate_runner_connections(database_url)
    stopping.set()
    for thread in writers:
        thread.join(timeout=30)
    head = services.store.recorder.max_notification_id() or 0
    stopped_at = time.monotonic()
    assert services.runner.wait_for(head, timeout_s=60), "the views never caught up"
    caught_up_s = time.monotonic() - stopped_at
    print(f"runner connections terminated: {terminated}; caught up {caught_up_s:.2f} s after the writers stopped")
    assert terminated >= KILLS, "each round found the runner's connections to cut"
    assert sum(cycles) > 0
    live = services.views.dump()
    services.runner.rebuild()
    assert services.views.dump() == live, "no event skipped or applied twice"
    for index, account_id in enumerate(accounts):
        balance = services.views.balance(str(account_id))
        assert balance is not None and balance.balance == 800 - cycles[index]


@contextmanager
def _redis(port: int, tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """A Redis of the test's own on `port` (the shared one is other tests' counters); yields a
    function that starts it again after the test stopped it."""
    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", str(port), "ping"], check=False, capture_output=True, text=True).stdout.strip() == "PONG":
                return process
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    started = [start()]
    try:
        yield lambda: started.append(start()) or started[-1]
    finally:
        for process in started:
            process.kill()
            process.wait()


def test_redis_stopped_during_load_is_counted_in_each_process_and_never_a_500_or_503(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = server_env(
        database_url, MOSAIC_IMAGE_WORKERS="1", MOSAIC_RATELIMIT_STORAGE=f"redis://127.0.0.1:{port}", **FAST_SWEEP
    )
    keys = _users(env, 3)
    with _redis(port, tmp_path) as restart_redis, serving(env, tmp_path / "server.log", args=("--workers", "2")) as server:
        with MixedLoad(server.url, keys, photo_png((48, 32))) as load:
            time.sleep(LOAD_S)
            subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True, check=False)
            time.sleep(LOAD_S)  # Redis away
            restart_redis()
            time.sleep(LOAD_S)
        outcome = load.outcome
        assert outcome.codes["rate_limiter_unavailable"] == 0
        assert outcome.statuses[200] > 0
        assert_the_ledger_matches(env, server.url, keys, outcome, START_CREDITS)
    log = (tmp_path / "server.log").read_text()
    assert "counting in this process" in log
    assert_no_secret_in(log, keys, TEST_SECRET)


def _postgres(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action, *(["-m", "fast"] if action == "stop" else [])],
        check=True, capture_output=True,
    )


def test_postgresql_restarted_during_load_answers_503s_with_retry_after_then_recovers_by_itself(
    database_url: str, tmp_path: Path
) -> None:
    env = server_env(database_url, MOSAIC_IMAGE_WORKERS="1", **FAST_SWEEP)
    keys = _users(env, 3)
    with serving(env, tmp_path / "server.log", args=("--workers", "2")) as server:
        with MixedLoad(server.url, keys, photo_png((48, 32))) as load:
            time.sleep(LOAD_S)
            _postgres("stop")
            try:
                time.sleep(LOAD_S)  # PostgreSQL down
            finally:
                _postgres("start")
            recovered = _answers_again(server.url, keys[0])
            time.sleep(LOAD_S)
        outcome = load.outcome
        assert recovered, "the service did not come back by itself"
        assert outcome.statuses[503] > 0, "the outage was answered with 503s"
        assert outcome.codes["database_unavailable"] + outcome.codes["ledger_busy"] > 0, outcome.codes
        assert_the_ledger_matches(env, server.url, keys, outcome, START_CREDITS)


def _answers_again(url: str, key: str) -> bool:
    for _ in range(300):
        try:
            if httpx.get(f"{url}/api/credits/balance", headers={"Authorization": f"Bearer {key}"}, timeout=5).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


def test_sigterm_during_bulk_jobs_finishes_or_releases_every_one(database_url: str, tmp_path: Path) -> None:
    env = server_env(database_url, MOSAIC_IMAGE_WORKERS="1", MOSAIC_SHUTDOWN_GRACE_S="2", **FAST_SWEEP)
    key = create_user_with_key(env, "bulk@example.com")
    photo = photo_png((160, 120))
    server = start_server(env, tmp_path / "server.log")
    answers: list[httpx.Response | Exception] = []

    def bulk() -> None:
        try:
            answers.append(httpx.post(
                f"{server.url}/api/bulk", headers={"Authorization": f"Bearer {key}"},
                files=[("images", (f"p{i}.png", photo)) for i in range(8)], data={"mode": "cbn", "output": "zip"},
                timeout=120,
            ))
        except httpx.HTTPError as exc:
            answers.append(exc)

    clients = [threading.Thread(target=bulk) for _ in range(3)]
    for thread in clients:
        thread.start()
    time.sleep(3.0)  # the bulks are reserved and in the pool
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=60) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it obeyed
    for thread in clients:
        thread.join(timeout=60)
    server.stop()
    charged = sum(int(a.headers["x-credits-charged"]) for a in answers if isinstance(a, httpx.Response) and a.status_code == 200)
    assert len(answers) == 3
    log = (tmp_path / "server.log").read_text()
    assert "left to the sweeper" not in log, "every cancelled bulk released its own credits"
    services = build(settings_for(database_url), background=False)
    try:
        services.runner.catch_up()
        assert services.views.accounts_with_reservations_before("9999") == [], "nothing left reserved"
    finally:
        services.close()
    with serving(env, tmp_path / "again.log") as again:
        assert balance_of(again.url, key) == START_CREDITS - charged
        assert "discrepancies: 0" in cli(env, "audit", "verify")
