"""The auditor's own fold of the credit rules (queries/audit.py), event by event, with no chain."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from mosaic.domain.accounts import Account
from mosaic.queries.audit import GRANT_NAMESPACE, Report, RuleFold
from tests.domain.test_accounts import commercial_account

ACCOUNT = "mosaic.domain.accounts:Account."
KEY = "mosaic.domain.keys:ApiKey."
ACCOUNT_ID = "b372a872-7213-44a3-9ee2-18b6eec33259"
KEY_ID = "5b0c7f0e-9d4c-4a57-8d11-2f7d3c1e9a01"
GRANT_ID = str(uuid.uuid5(GRANT_NAMESPACE, f"{ACCOUNT_ID}:2026-11"))


class Log:
    """Events of one account (and one key), numbered as the store would number them."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, str, int, str, dict[str, Any]]] = []
        self.versions: dict[str, int] = {}

    def add(self, kind: str, aggregate: str = ACCOUNT_ID, topic: str = ACCOUNT, **body: Any) -> Log:
        version = self.versions[aggregate] = self.versions.get(aggregate, 0) + 1
        self.rows.append((len(self.rows) + 1, aggregate, version, topic + kind, body))
        return self

    def opened_with_800(self) -> Log:
        self.add("Opened").add("MonthlyQuotaGranted", period="2026-11", grant_id=GRANT_ID, amount_credits=800)
        return self

    def reserve(self, request: str, cost: int) -> Log:
        return self.add("CreditsReserved", request_id=request, cost_credits=cost, tool="cbn")

    def capture(self, request: str, cost: int) -> Log:
        return self.add("ReservationCaptured", request_id=request, cost_credits=cost)

    def release(self, request: str, cost: int) -> Log:
        return self.add("ReservationReleased", request_id=request, cost_credits=cost)

    def refund(self, refund: str, charge: str, amount: int) -> Log:
        return self.add("CreditsRefunded", refund_id=refund, charge_id=charge, amount_credits=amount)


def fold(log: Log, views_at: int | None = None) -> tuple[Report, RuleFold]:
    report = Report()
    rules = RuleFold(report, views_at=views_at)
    rules.run(log.rows)
    rules.finish()
    return report, rules


def test_a_history_that_keeps_every_rule_folds_to_its_balances_charges_and_keys() -> None:
    log = Log().opened_with_800().reserve("r1", 5).capture("r1", 5).reserve("r2", 3).release("r2", 3)
    log.refund("f1", "r1", 2).add("CreditsGranted", amount_credits=10).add("CreditsExpired", amount_credits=4)
    log.reserve("r3", 7).add("Created", aggregate=KEY_ID, topic=KEY).add("Revoked", aggregate=KEY_ID, topic=KEY)
    report, rules = fold(log, views_at=12)
    assert report.discrepancies == []
    assert (report.events, report.accounts, report.keys) == (12, 1, 1)
    views = rules.expected_views
    assert views is not None and views.position == 12
    assert views.balances == {ACCOUNT_ID: (800 - 5 + 2 + 10 - 4, 7)}
    assert views.charges == {("r1", 5, 2)}
    assert views.keys_revoked == {KEY_ID: True}


def test_the_views_position_keeps_the_state_the_views_had_folded() -> None:
    log = Log().opened_with_800().reserve("r1", 5).capture("r1", 5).reserve("r2", 3)
    _, rules = fold(log, views_at=4)
    assert rules.expected_views is not None
    assert rules.expected_views.position == 4
    assert rules.expected_views.balances == {ACCOUNT_ID: (795, 0)}


BROKEN: dict[str, tuple[Log, int, str]] = {
    "more reserved than available": (
        Log().opened_with_800().reserve("r1", 801), 3, "reserves 801 with 800 available"),
    "a request reserved twice": (
        Log().opened_with_800().reserve("r1", 1).reserve("r1", 1), 4, "reserves request r1 a second time"),
    "a released reservation captured": (
        Log().opened_with_800().reserve("r1", 2).release("r1", 2).capture("r1", 2), 5,
        "settles reservation r1 which is released, not open"),
    "a reservation captured twice": (
        Log().opened_with_800().reserve("r1", 2).capture("r1", 2).capture("r1", 2), 5,
        "settles reservation r1 which is captured, not open"),
    "a capture of another cost": (
        Log().opened_with_800().reserve("r1", 2).capture("r1", 3), 4,
        "settles reservation r1 for a different cost than reserved"),
    "a refund over its charge": (
        Log().opened_with_800().reserve("r1", 2).capture("r1", 2).refund("f1", "r1", 1).refund("f2", "r1", 2), 6,
        "refunds 2 of charge r1 with 1 left"),
    "a refund of no charge": (
        Log().opened_with_800().refund("f1", "r9", 1), 3, "refunds r9, which is not a captured charge"),
    "a refund applied twice": (
        Log().opened_with_800().reserve("r1", 4).capture("r1", 4).refund("f1", "r1", 1).refund("f1", "r1", 1), 6,
        "applies refund f1 twice"),
    "a period granted twice": (
        Log().opened_with_800().add("MonthlyQuotaGranted", period="2026-11", grant_id=GRANT_ID, amount_credits=800),
        3, "grants period 2026-11 a second time"),
    "a grant id that is not the period's": (
        Log().add("Opened").add("MonthlyQuotaGranted", period="2026-12", grant_id=GRANT_ID, amount_credits=800),
        2, "grant id of period 2026-12 is not the deterministic one"),
    "credits expired below zero": (
        Log().opened_with_800().reserve("r1", 700).add("CreditsExpired", amount_credits=200), 4,
        f"account {ACCOUNT_ID} goes negative (-100)"),
    "an event before the account was opened": (
        Log().add("CreditsGranted", amount_credits=5), 1, f"CreditsGranted on account {ACCOUNT_ID} before it was opened"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_broken_rule_is_named_at_its_position(case: str) -> None:
    log, position, message = BROKEN[case]
    report, _ = fold(log)
    assert report.discrepancies == [(position, message)]


def test_a_version_gap_and_positions_out_of_order_are_named() -> None:
    log = Log().opened_with_800().reserve("r1", 1)
    position, aggregate, _, topic, body = log.rows[-1]
    log.rows[-1] = (position, aggregate, 5, topic, body)
    log.rows.append((2, aggregate, 6, ACCOUNT + "CreditsGranted", {"amount_credits": 1}))
    report, _ = fold(log)
    assert report.discrepancies == [
        (3, f"aggregate {ACCOUNT_ID} jumps to version 5, not 3"),
        (2, "positions out of order"),
    ]


def _domain_log(account: Account) -> Log:
    """The account's events as the auditor reads them (bodies with the events' own fields)."""
    log = Log()
    for event in account.collect_events():
        body = {k: v for k, v in vars(event).items() if k not in ("originator_id", "originator_version", "timestamp")}
        log.add(type(event).__name__, aggregate=str(account.id), **body)
    return log


def _held_across_two_periods(settle: str) -> Account:
    account = commercial_account("2026-11")
    request_id = uuid.uuid4()
    account.reserve(request_id=request_id, tool="cbn", cost_credits=790)
    account.start_period(period="2026-12")
    if settle == "capture":
        account.capture(request_id=request_id)
    else:
        account.release(request_id=request_id, reason="failed")
    account.start_period(period="2027-01")
    return account


@pytest.mark.parametrize("settle", ["capture", "release"])
def test_credits_held_across_a_period_start_fold_to_the_domains_balance(settle: str) -> None:
    account = _held_across_two_periods(settle)
    log = _domain_log(account)
    report, rules = fold(log, views_at=len(log.rows))
    assert report.discrepancies == []
    assert rules.expected_views is not None
    assert rules.expected_views.balances == {str(account.id): (800, 0)} == {str(account.id): (account.balance_credits, 0)}


def test_a_release_that_gives_back_credits_of_an_ended_period_is_named() -> None:
    log = _domain_log(_held_across_two_periods("release"))
    position, aggregate, version, topic, body = next(row for row in log.rows if row[3].endswith("Released"))
    log.rows[position - 1] = (position, aggregate, version, topic, {**body, "expired_credits": 0})
    report, _ = fold(log)
    assert report.discrepancies[0] == (
        position, f"release of {body['request_id']} expires 0 credit(s); it held 790 of an ended period"
    )


def test_a_grant_that_forgets_the_quota_a_reservation_holds_is_named() -> None:
    log = _domain_log(_held_across_two_periods("capture"))
    rows = [row for row in log.rows if row[3].endswith("MonthlyQuotaGranted") and row[4]["held"]]
    position, aggregate, version, topic, body = rows[0]
    log.rows[position - 1] = (position, aggregate, version, topic, {**body, "held": {}})
    report, _ = fold(log)
    assert report.discrepancies[0][0] == position
    assert "of the ended quota held; expected" in report.discrepancies[0][1]
