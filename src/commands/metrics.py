"""The process's metric instruments (prometheus-client), updated where things happen and exported at
`/metrics` by the HTTP layer.

Counters and histograms are per process; with several serving processes on a host prometheus-client's
multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`, set by `mosaic serve --workers N` before the workers
start) keeps each process's values in a file and `/metrics` sums them, so any worker answers for the
host. What is one value for the whole service (the views' lag) is read from the database when scraped,
not kept here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS_S: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
)
GROUP_SIZE_BUCKETS: Final = (1, 2, 4, 8, 16, 32, 64, 128, 256)

HTTP_REQUESTS: Final = Counter(
    "mosaic_http_requests", "HTTP requests answered, by route template, method and status",
    ("route", "method", "status"),
)
HTTP_LATENCY: Final = Histogram(
    "mosaic_http_request_duration_seconds", "Time from a request's arrival to its last body byte sent",
    ("route", "method"), buckets=LATENCY_BUCKETS_S,
)
CREDITS: Final = Counter(
    "mosaic_credits", "Credits moved by the ledger: reserved, captured, released, refunded, granted, expired",
    ("movement",),
)
POOL_IN_FLIGHT: Final = Gauge(
    "mosaic_image_pool_jobs", "Image jobs admitted and not finished (running or queued)",
    multiprocess_mode="livesum",
)
POOL_CAPACITY: Final = Gauge(
    "mosaic_image_pool_capacity", "Image jobs a process admits at once (workers and their queues)",
    multiprocess_mode="livesum",
)
POOL_BUSY: Final = Counter(
    "mosaic_image_pool_busy_rejections", "Requests refused because the image pool was full"
)
POOL_LOST: Final = Counter("mosaic_image_workers_lost", "Image worker processes that died under a job")
AI_CALLS: Final = Counter(
    "mosaic_ai_calls", "Calls to the upstream AI service, by outcome (ok, busy, refused, failed, timeout)",
    ("outcome",),
)
LEDGER_GROUP_SIZE: Final = Histogram(
    "mosaic_ledger_group_commands", "Commands committed together in one ledger transaction",
    buckets=GROUP_SIZE_BUCKETS,
)
LEDGER_CONFLICTS: Final = Counter(
    "mosaic_ledger_conflicts", "Ledger transactions retried because another writer changed the same account"
)
LEDGER_BUSY: Final = Counter(
    "mosaic_ledger_busy", "Ledger commands refused as busy (503): queue full or database down"
)
RATE_LIMITER_FAILURES: Final = Counter(
    "mosaic_rate_limiter_failures", "Times the rate-limit storage did not answer and a process counted alone"
)

# event class → (movement, the field holding its credits); the writer counts what it committed, so
# every path that moves credits (payments, the sweeper, support, grants) is counted once, by whoever
# wrote it
_CREDIT_MOVEMENTS: Final = {
    "CreditsReserved": ("reserved", "cost_credits"),
    "ReservationCaptured": ("captured", "cost_credits"),
    "ReservationReleased": ("released", "cost_credits"),
    "CreditsRefunded": ("refunded", "amount_credits"),
    "MonthlyQuotaGranted": ("granted", "amount_credits"),
    "CreditsGranted": ("granted", "amount_credits"),
    "CreditsExpired": ("expired", "amount_credits"),
}


def count_credit_movements(events: Iterable[object]) -> None:
    """Add the credits moved by committed `events` to `CREDITS`."""
    for event in events:
        found = _CREDIT_MOVEMENTS.get(type(event).__name__)
        if found is not None:
            movement, field = found
            CREDITS.labels(movement).inc(int(getattr(event, field)))
        # a release of credits whose period ended while they were held: they expire, not come back
        if expired := int(getattr(event, "expired_credits", 0) or 0):
            CREDITS.labels("expired").inc(expired)
