"""The auditor's rules for payments, on hand-made logs: a refund delivered before its purchase is
noted, then taken back; noting a refund of a pack that is bought already is a finding."""

from __future__ import annotations

import uuid
from typing import Any

from mosaic.queries.audit import ACCOUNT, LogEvent, Replay

ACCOUNT_ID = str(uuid.uuid4())


def replay(*events: tuple[str, dict[str, Any]]) -> list[tuple[int, str]]:
    log = Replay()
    log.feed(LogEvent(1, ACCOUNT_ID, 1, ACCOUNT + "Opened", {}))
    for position, (kind, body) in enumerate(events, start=2):
        log.feed(LogEvent(position, ACCOUNT_ID, position, ACCOUNT + kind, body))
    return log.report.discrepancies


BOUGHT = ("PackPurchased", {"purchase_id": "pi_1", "amount_credits": 100})


def test_a_refund_noted_before_its_purchase_then_taken_back_verifies() -> None:
    assert replay(
        ("RefundNoted", {"purchase_id": "pi_1", "refunded_cents": 500}),
        ("RefundNoted", {"purchase_id": "pi_1", "refunded_cents": 999}),
        BOUGHT,
        ("PackRefunded", {"purchase_id": "pi_1", "amount_credits": 100}),
    ) == []


def test_a_refund_noted_for_a_pack_bought_already_is_a_finding() -> None:
    (finding,) = replay(BOUGHT, ("RefundNoted", {"purchase_id": "pi_1", "refunded_cents": 999}))
    assert finding[0] == 3 and "whose pack is bought" in finding[1]


def test_a_refund_noted_twice_for_the_same_amount_is_a_finding() -> None:
    noted = ("RefundNoted", {"purchase_id": "pi_1", "refunded_cents": 999})
    (finding,) = replay(noted, noted)
    assert finding[0] == 3 and "no more than noted before" in finding[1]
