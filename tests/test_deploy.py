"""The production guide's nginx config (deploy/nginx/mosaic.conf) against the service's own limits: the
largest body it accepts, the longest a request may run, the hosts' keep-alive. The config is also run,
rendered as the guide says, by tests/e2e/test_two_hosts.py."""

from __future__ import annotations

import re

from mosaic.commands.generate import BULK_IMAGES_MAX
from mosaic.config import Settings
from mosaic.http.server import KEEP_ALIVE_TIMEOUT_S
from mosaic.http.uploads import body_bytes_max
from tests.e2e.hosts import NGINX_SITE, render_site

UNITS_S = {"": 1, "s": 1, "m": 60, "h": 3600}
UNITS_BYTES = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _code(block: str = "") -> str:
    """The config without its comments; with `block` (e.g. "upstream mosaic"), only that block's body."""
    code = "\n".join(line.split("#", 1)[0] for line in NGINX_SITE.read_text().splitlines())
    return code.split(block + " {", 1)[1].split("}", 1)[0] if block else code


def _directives(name: str, block: str = "") -> list[str]:
    """The values of every `name …;` in the config (or in `block`)."""
    return re.findall(rf"^\s*{name}\s+([^;]+);", _code(block), flags=re.MULTILINE)


def _one(name: str, block: str = "") -> str:
    values = _directives(name, block)
    assert len(values) == 1, f"{name}: {values}"
    return values[0].strip()


def _seconds(value: str) -> float:
    found = re.fullmatch(r"(\d+)([smh]?)", value)
    assert found, value
    return int(found.group(1)) * UNITS_S[found.group(2)]


def _bytes(value: str) -> int:
    found = re.fullmatch(r"(\d+)([kmg]?)", value.lower())
    assert found, value
    return int(found.group(1)) * UNITS_BYTES[found.group(2)]


def _default_budget() -> tuple[float, float]:
    settings = Settings.from_env({"MOSAIC_DATABASE_URL": "postgresql://u@h/db", "MOSAIC_SECRET": "s" * 40})
    budget = settings.time_budget()
    return budget.work_s, budget.reservation_timeout_s


def test_nginx_admits_the_largest_body_the_service_accepts_and_not_much_more() -> None:
    largest = body_bytes_max(BULK_IMAGES_MAX)
    admitted = _bytes(_one("client_max_body_size"))
    assert largest <= admitted <= largest + 2 * 1024**2, (largest, admitted)


def test_nginx_waits_for_an_answer_as_long_as_a_reservation_may_live() -> None:
    work_s, reservation_s = _default_budget()
    read_s = _seconds(_one("proxy_read_timeout"))
    assert work_s < read_s, "a bulk request may work this long before it answers"
    assert read_s == reservation_s, "past it the work is released; the comment derives the one from the other"


def test_nginx_drops_idle_upstream_connections_before_the_hosts_do() -> None:
    assert _seconds(_one("keepalive_timeout", "upstream mosaic")) < KEEP_ALIVE_TIMEOUT_S
    assert _one("keepalive", "upstream mosaic").isdigit()
    assert _one("proxy_http_version") == "1.1", "upstream keepalive needs HTTP/1.1"


def test_slow_clients_are_bounded_and_metrics_are_refused_outside_the_internal_network() -> None:
    for name in ("client_header_timeout", "client_body_timeout", "send_timeout"):
        assert _seconds(_one(name)) <= 60, name
    assert _directives("allow", "location = /metrics") == ["@INTERNAL_NETWORK@"]
    assert _directives("deny", "location = /metrics") == ["all"]


def test_the_guide_renders_one_server_line_per_host_and_leaves_no_placeholder() -> None:
    site = render_site(
        ["10.0.0.11:8000", "10.0.0.12:8000"], listen="80", internal_network="10.0.0.0/8",
        access_log=NGINX_SITE.with_name("access.log"),
    )
    servers = re.findall(r"^\s*server (\S+) ", site, flags=re.MULTILINE)
    assert servers == ["10.0.0.11:8000", "10.0.0.12:8000"]
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Request-ID"):
        assert re.search(rf"^\s*proxy_set_header {header} ", site, flags=re.MULTILINE), header
