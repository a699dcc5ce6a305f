"""The chain's canonical encoding, and the shortcut the auditor takes for bodies stored canonical."""

from __future__ import annotations

import msgspec

from mosaic.queries.chain import CANONICAL_AROUND_STORED, canonical, json_string


def test_a_body_stored_as_canonical_json_is_the_canonical_event_inside_the_stored_envelope() -> None:
    body = {"timestamp": "2026-11-29T08:31:46.808816Z", "request_id": "r-1", "cost_credits": 2, "summary": "crème"}
    stored = msgspec.json.encode(body, order="sorted")
    aggregate, topic = "b372a872-7213-44a3-9ee2-18b6eec33259", "mosaic.domain.accounts:Account.CreditsReserved"
    around = CANONICAL_AROUND_STORED % (json_string(aggregate), stored, 17, json_string(topic), 4)
    assert around == canonical((17, aggregate, 4, topic, body))
