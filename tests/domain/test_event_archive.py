"""Rule 8: events written by earlier versions still replay, to the same state."""

from __future__ import annotations

import base64
import json
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Mapper, StoredEvent

from mosaic.commands.store import MsgspecTranscoder
from mosaic.domain.accounts import Account
from mosaic.domain.billing import BillingCustomer
from mosaic.domain.keys import ApiKey
from mosaic.domain.users import EmailIndex, User

ARCHIVES = Path(__file__).parents[1] / "fixtures" / "events"
ARCHIVE = ARCHIVES / "archive-v1.jsonl"


def replay_archive(path: Path = ARCHIVE) -> dict[type[Aggregate], Aggregate]:
    mapper: Mapper[uuid.UUID] = Mapper(transcoder=MsgspecTranscoder())
    streams: dict[uuid.UUID, list[StoredEvent]] = defaultdict(list)
    for line in path.read_text().splitlines():
        row = json.loads(line)
        streams[uuid.UUID(row["originator_id"])].append(
            StoredEvent(
                originator_id=uuid.UUID(row["originator_id"]),
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=base64.b64decode(row["state"]),
            )
        )
    aggregates: dict[type[Aggregate], Aggregate] = {}
    for stored_events in streams.values():
        aggregate = None
        for stored in sorted(stored_events, key=lambda s: s.originator_version):
            aggregate = mapper.to_domain_event(stored).mutate(aggregate)  # type: ignore[attr-defined]
        assert aggregate is not None
        aggregates[type(aggregate)] = aggregate
    return aggregates


@pytest.mark.parametrize(
    "archive",
    ["archive-v1.jsonl", "archive-v2.jsonl", "archive-v3.jsonl", "archive-v4.jsonl", "archive-v5.jsonl"],
)
def test_every_archived_event_still_replays_to_the_same_state(archive: str) -> None:
    aggregates = replay_archive(ARCHIVES / archive)
    account = aggregates[Account]
    assert isinstance(account, Account)
    assert (account.plan_name, account.sub_status, account.api_access) == ("free", "canceled", False)
    if archive in ("archive-v3.jsonl", "archive-v4.jsonl", "archive-v5.jsonl"):
        # the paid period's grant expired the 2026-11 quota; its own expired when the subscription
        # ended; the pack was refunded whole
        assert account.available_credits == 1 + 5
        assert account.customer_id == "cus_archive" and account.subscription_ended
        assert account.packs["pi_archive"].remaining_credits == 0
        if archive == "archive-v5.jsonl":  # the refund noted before its purchase took it back whole
            assert account.packs["pi_late"].remaining_credits == 0 and account.refunds_waiting == {}
        index = aggregates[BillingCustomer]
        assert isinstance(index, BillingCustomer) and index.account_id == str(account.id)
    else:
        assert account.available_credits == 800 + 1 + 5  # 2026-11 quota + the refund and goodwill kept
    assert account.key_ids == set()
    key = aggregates[ApiKey]
    assert isinstance(key, ApiKey) and key.is_revoked
    user = aggregates[User]
    assert isinstance(user, User)
    if archive in ("archive-v4.jsonl", "archive-v5.jsonl"):
        # verified, then reset: the reset's password, and two session ends (the change, the reset)
        assert user.email_verified and user.token_version == 2 and user.password_hash.endswith("aGFzaDM")
        assert all(token.used for token in user.mail_tokens.values()) and len(user.mail_tokens) == 2
    else:
        assert user.password_hash.endswith("aGFzaDI") and not user.email_verified and user.token_version == 0
    assert isinstance(aggregates[EmailIndex], EmailIndex)


def test_the_archive_covers_every_event_class_the_domain_defines() -> None:
    topics = {
        json.loads(line)["topic"] for path in ARCHIVES.glob("archive-v*.jsonl") for line in path.read_text().splitlines()
    }
    defined = set()
    for aggregate in (Account, ApiKey, User, EmailIndex, BillingCustomer):
        events = [c for c in vars(aggregate).values() if isinstance(c, type) and issubclass(c, Aggregate.Event)]
        named_creation = [c for c in events if issubclass(c, Aggregate.Created) and c.__name__ != "Created"]
        for cls in events:
            if cls.__name__ == "Event" or (cls.__name__ == "Created" and named_creation):
                continue  # the library's own base classes, never triggered
            defined.add(f"{cls.__module__}:{cls.__qualname__}")
    assert defined <= topics, defined - topics


def test_a_version_1_reservation_is_upcast_with_an_empty_summary() -> None:
    mapper: Mapper[uuid.UUID] = Mapper(transcoder=MsgspecTranscoder())
    for line in ARCHIVE.read_text().splitlines():
        row = json.loads(line)
        if row["topic"].endswith("CreditsReserved"):
            stored = StoredEvent(uuid.UUID(row["originator_id"]), row["originator_version"], row["topic"],
                                 base64.b64decode(row["state"]))
            event = mapper.to_domain_event(stored)
            assert isinstance(event, Account.CreditsReserved) and event.summary == ""


def test_version_1_grants_and_releases_are_upcast_holding_and_expiring_nothing() -> None:
    mapper: Mapper[uuid.UUID] = Mapper(transcoder=MsgspecTranscoder())
    seen = set()
    for line in ARCHIVE.read_text().splitlines():
        row = json.loads(line)
        stored = StoredEvent(uuid.UUID(row["originator_id"]), row["originator_version"], row["topic"],
                             base64.b64decode(row["state"]))
        event = mapper.to_domain_event(stored)
        if isinstance(event, Account.MonthlyQuotaGranted):
            assert event.held == {}
            seen.add("grant")
        elif isinstance(event, Account.ReservationReleased):
            assert event.expired_credits == 0
            seen.add("release")
    assert seen == {"grant", "release"}
