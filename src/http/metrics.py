"""`GET /metrics`: the Prometheus text exposition of this host's serving processes.

With one process the instruments' default registry is read as it is. With several
(`PROMETHEUS_MULTIPROC_DIR` set), every process writes its values to files there and whichever
worker is scraped sums them all (prometheus-client's multiprocess collector), so a scrape through the
host's one port sees the host, not one worker. A worker that died leaves its counters (they stay
true: what it did happened) but its live gauges are dropped when the scrape finds its pid gone.
The views' lag is one value for the whole service, read from the database at scrape time.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Final

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from mosaic.queries.health import ViewsLag

MULTIPROC_DIR_VARIABLE: Final = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w*_(\d+)\.db")


class _Lag(Collector):
    def __init__(self, lag: ViewsLag) -> None:
        self.lag = lag

    def collect(self) -> list[Metric]:
        events = GaugeMetricFamily(
            "mosaic_views_lag_events", "Events in the log the views have not folded yet"
        )
        events.add_metric([], self.lag.events)
        seconds = GaugeMetricFamily(
            "mosaic_views_lag_seconds", "Age of the oldest event the views have not folded (0: caught up)"
        )
        seconds.add_metric([], self.lag.seconds)
        return [events, seconds]


def exposition(lag: ViewsLag) -> bytes:
    """Every instrument of this host, then the service's views lag, as Prometheus text."""
    directory = os.environ.get(MULTIPROC_DIR_VARIABLE)
    if directory:
        _forget_dead_workers(Path(directory))
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]  # untyped upstream
    else:
        registry = REGISTRY
    extra = CollectorRegistry()
    extra.register(_Lag(lag))
    return generate_latest(registry) + generate_latest(extra)


def _forget_dead_workers(directory: Path) -> None:
    names = (path.name for path in directory.glob("gauge_live*.db"))
    pids = {int(m.group(1)) for name in names if (m := _LIVE_GAUGE_FILE.fullmatch(name))}
    for pid in pids:
        if not _alive(pid):
            mark_process_dead(pid, path=str(directory))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
