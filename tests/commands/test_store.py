"""The event store's own replay (no repository, `apply` called directly) against the library's."""

from __future__ import annotations

import base64
import json
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgspec
import pytest
from eventsourcing.domain import Aggregate, OriginatorVersionError
from eventsourcing.persistence import Mapper, StoredEvent

from mosaic.bootstrap import Services
from mosaic.commands.store import MsgspecTranscoder, events_table
from tests import charging
from tests.conftest import both_backends

ARCHIVES = Path(__file__).parents[1] / "fixtures" / "events"


def archived_streams(name: str = "archive-v2.jsonl") -> dict[uuid.UUID, list[StoredEvent]]:
    streams: dict[uuid.UUID, list[StoredEvent]] = defaultdict(list)
    for line in (ARCHIVES / name).read_text().splitlines():
        row = json.loads(line)
        originator_id = uuid.UUID(row["originator_id"])
        streams[originator_id].append(
            StoredEvent(originator_id, row["originator_version"], row["topic"], base64.b64decode(row["state"]))
        )
    return streams


def library_replay(stored_events: list[StoredEvent], upto: int | None = None) -> Any:
    mapper: Mapper[uuid.UUID] = Mapper(transcoder=MsgspecTranscoder())
    aggregate = None
    for stored in sorted(stored_events, key=lambda s: s.originator_version):
        if upto is None or stored.originator_version <= upto:
            aggregate = mapper.to_domain_event(stored).mutate(aggregate)  # type: ignore[attr-defined]
    return aggregate


def state_of(aggregate: Aggregate) -> dict[str, Any]:
    return {name: repr(value) for name, value in sorted(vars(aggregate).items())}


@both_backends()
@pytest.mark.parametrize("archive", ["archive-v1.jsonl", "archive-v2.jsonl"])
def test_replay_from_the_store_equals_the_librarys_event_by_event_mutate(services: Services, archive: str) -> None:
    streams = archived_streams(archive)
    services.store.recorder.insert_events([e for events in streams.values() for e in events])
    for originator_id, events in streams.items():
        expected = library_replay(events)
        replayed = services.store.replay(originator_id)
        assert state_of(replayed) == state_of(expected)
        assert (replayed.version, replayed.modified_on) == (expected.version, expected.modified_on)
        halfway = library_replay(events, upto=max(1, len(events) // 2))
        assert state_of(services.store.replay(originator_id, into=halfway)) == state_of(expected)


@both_backends()
def test_a_gap_in_an_aggregates_versions_stops_its_replay(services: Services) -> None:
    streams = archived_streams()
    services.store.recorder.insert_events([e for events in streams.values() for e in events])
    originator_id, events = max(streams.items(), key=lambda item: len(item[1]))
    assert len(events) > 3
    stored_id: Any = originator_id.hex if services.db.dialect == "sqlite" else originator_id
    with services.db.write() as tx:
        tx.execute(
            f"DELETE FROM {events_table(services.db.dialect)} WHERE originator_id = ? AND originator_version = 3",
            (stored_id,),
        )
    with pytest.raises(OriginatorVersionError):
        services.store.replay(originator_id)


@both_backends()
def test_the_store_writes_each_body_as_canonical_json(services: Services) -> None:
    """What lets the auditor hash bodies as stored (queries/chain.py: sorted keys, no whitespace)."""
    committed = services.ledger.register_user(email="ada@example.com", password="correct horse battery", plan_name="commercial")
    request_id = uuid.uuid4()
    charging.reserve(services, committed.value.account_id, request_id, tool="cbn", cost_credits=2)
    charging.capture(services, committed.value.account_id, request_id)
    with services.db.read() as tx:
        states = [bytes(row[0]) for row in tx.all(f"SELECT state FROM {events_table(services.db.dialect)}")]
    assert len(states) >= 5
    for state in states:
        assert msgspec.json.encode(msgspec.json.decode(state), order="sorted") == state
