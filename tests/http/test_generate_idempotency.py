"""`Idempotency-Key` on the generation routes: one key and body, one result, one charge."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from mosaic.bootstrap import Services
from mosaic.commands.idempotency import (
    Claimed,
    IdempotencyStore,
    InFlight,
    OtherBody,
    Replay,
    StoredResult,
    request_id_for,
)
from mosaic.commands.paid import SETTLE_TRIES_MAX
from mosaic.imaging.pipeline import generate
from tests import charging
from tests.conftest import both_backends
from tests.fakes.busy_ledger import busy_settling
from tests.http import faults, images
from tests.http.generation_helpers import Studio, error_of, studio

__all__ = ["studio"]


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"order-{uuid.uuid4().hex}"}


def test_the_same_key_and_body_replay_the_first_result_and_charge_once(studio: Studio) -> None:
    key, photo = _key(), images.photo_png()
    first = studio.generate(photo, headers=key, mode="hex", output="mystery")
    again = studio.generate(photo, headers=key, mode="hex", output="mystery")
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["x-credits-charged"] == "1"
    assert again.headers["content-disposition"] == first.headers["content-disposition"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert studio.credit_lines() == [("reserve", -1), ("capture", 0)]
    reference = studio.statement()[-1].reference
    assert reference == str(request_id_for(uuid.UUID(studio.user.account_id), key["Idempotency-Key"]))


def test_the_same_key_with_another_body_is_a_422_and_charges_nothing(studio: Studio) -> None:
    key = _key()
    assert studio.generate(images.photo_png(), headers=key, mode="hex", output="mystery").status_code == 200
    events = studio.events()
    other = studio.generate(images.photo_png(), headers=key, mode="hex", output="answer")
    assert other.status_code == 422
    assert error_of(other)["code"] == "idempotency_key_reused"
    assert studio.events() == events


def test_a_repeat_while_the_first_is_in_flight_is_a_409(studio: Studio) -> None:
    key = _key()
    photo = images.photo_png()
    first = studio.generate(photo, headers=key, mode="hex", output="mystery")  # learn the body's hash
    assert first.status_code == 200
    store = studio.services.use_cases.idempotency
    in_flight = _key()
    row = store.db
    with row.write() as tx:  # the first request with `in_flight` is running (claimed, not completed)
        tx.execute(
            "INSERT INTO idempotency (scope, idem_key, request_hash, state, created_at, expires_at) "
            "SELECT scope, ?, request_hash, 'in_flight', created_at, expires_at + 3600 FROM idempotency "
            "WHERE scope = ? AND idem_key = ?",
            (in_flight["Idempotency-Key"], studio.user.account_id, key["Idempotency-Key"]),
        )
    events = studio.events()
    repeat = studio.generate(photo, headers=in_flight, mode="hex", output="mystery")
    assert repeat.status_code == 409
    assert error_of(repeat)["code"] == "request_in_progress"
    assert repeat.headers["retry-after"] == "1"
    assert studio.events() == events


def test_a_failed_generation_replays_its_error_and_is_never_charged(studio: Studio) -> None:
    studio.services.use_cases.generate.job = faults.explode
    key = _key()
    first = studio.generate(images.photo_png(), headers=key, mode="cbn")
    again = studio.generate(images.photo_png(), headers=key, mode="cbn")
    assert first.status_code == again.status_code == 500
    assert again.json()["error"]["code"] == "generation_failed"
    assert studio.credit_lines() == [("reserve", -1), ("release", 1)]


def test_a_worker_that_dies_under_the_job_is_a_503_to_retry_and_the_retry_succeeds_charging_once(
    studio: Studio,
) -> None:
    key, photo = _key(), images.photo_png()
    studio.services.use_cases.generate.job = faults.die
    lost = studio.generate(photo, headers=key, mode="hex", output="mystery")
    assert lost.status_code == 503, lost.text
    assert error_of(lost)["code"] == "image_worker_lost"
    assert lost.headers["retry-after"] == "1"
    studio.services.use_cases.generate.job = generate  # a new pool, working again
    retried = studio.generate(photo, headers=key, mode="hex", output="mystery")
    assert retried.status_code == 200, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert studio.credit_lines() == [("reserve", -1), ("release", 1), ("reserve", -1), ("capture", 0)]


def test_a_refused_request_gives_its_key_back_so_it_can_be_retried(studio: Studio) -> None:
    key = _key()
    with studio.generations.admit(studio.generations.capacity):
        assert studio.generate(images.photo_png(), headers=key, mode="hex", output="mystery").status_code == 503
    retried = studio.generate(images.photo_png(), headers=key, mode="hex", output="mystery")
    assert retried.status_code == 200
    assert studio.credit_lines() == [("reserve", -1), ("capture", 0)]


def test_a_retry_later_answer_is_not_kept_and_the_same_key_then_succeeds_charging_once(
    studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, photo = _key(), images.photo_png()
    before = studio.balance()
    busy_settling(monkeypatch, studio.services.ledger.writer, captures=SETTLE_TRIES_MAX)
    busy = studio.generate(photo, headers=key, mode="hex", output="mystery")
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    assert error_of(busy)["code"] == "ledger_busy"
    retried = studio.generate(photo, headers=key, mode="hex", output="mystery")
    assert retried.status_code == 200, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert retried.headers["x-credits-charged"] == "1"
    replayed = studio.generate(photo, headers=key, mode="hex", output="mystery")
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.content == retried.content
    assert studio.credit_lines() == [("reserve", -1), ("release", 1), ("reserve", -1), ("capture", 0)]
    assert studio.balance() == before - 1


def test_a_bulk_repeat_replays_the_zip_and_charges_each_image_once(studio: Studio) -> None:
    key = _key()
    photos = [("a.png", images.photo_png()), ("b.png", images.photo_png((64, 64)))]
    first = studio.bulk(photos, headers=key, mode="hex", output="mystery")
    again = studio.bulk(photos, headers=key, mode="hex", output="mystery")
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert sorted(studio.credit_lines()) == sorted([("reserve", -1)] * 2 + [("capture", 0)] * 2)
    clash = studio.generate(images.photo_png(), headers=key, mode="hex")
    assert clash.status_code == 422, "one key, one request, across both routes"


def test_an_idempotency_key_with_spaces_or_too_long_is_a_400(studio: Studio) -> None:
    for bad in ("two words", "x" * 256):
        response = studio.generate(images.photo_png(), headers={"Idempotency-Key": bad})
        assert response.status_code == 400
        assert error_of(response)["code"] == "invalid_idempotency_key"


class Clock:
    def __init__(self) -> None:
        self.now_s = 1_000_000.0

    def __call__(self) -> float:
        return self.now_s


@both_backends()
def test_the_store_claims_replays_refuses_and_takes_over_an_expired_lease(
    make_services: Callable[..., Services],
) -> None:
    clock = Clock()
    store = IdempotencyStore(make_services().db, lease_s=60, ttl_s=3600, clock=clock)
    claim = store.claim(scope="acct", key="k", request_hash="h1")
    assert isinstance(claim, Claimed)
    assert store.claim(scope="acct", key="k", request_hash="h1") == InFlight()
    assert store.claim(scope="acct", key="k", request_hash="h2") == OtherBody()
    assert isinstance(store.claim(scope="other", key="k", request_hash="h2"), Claimed)

    clock.now_s += 61  # the first server crashed: its lease ran out
    takeover = store.claim(scope="acct", key="k", request_hash="h1")
    assert isinstance(takeover, Claimed)
    assert takeover.resumed, "the same body, whose server may have charged it before it stopped"
    stored = StoredResult(200, "image/png", {"x-credits-charged": "1"}, b"\x89PNG")
    assert not store.complete(scope="acct", key="k", claim=claim, result=stored), "lost lease"
    assert store.complete(scope="acct", key="k", claim=takeover, result=stored)
    assert store.claim(scope="acct", key="k", request_hash="h1") == Replay(stored)

    clock.now_s += 3601
    store.purge_expired()
    assert store.claim(scope="acct", key="k", request_hash="h3") == Claimed(clock.now_s)
    clock.now_s += 61
    assert store.claim(scope="acct", key="k", request_hash="h9") == Claimed(clock.now_s), "another body"
    store.abandon(scope="acct", key="k", claim=Claimed(clock.now_s))
    assert isinstance(store.claim(scope="acct", key="k", request_hash="h4"), Claimed)


def _as_left_by_a_server_killed_after_charging(studio: Studio, *, like: str, key: str, charged: list[str]) -> None:
    """What a server killed between its capture and keeping the answer leaves behind: the ledger
    requests `charged` captured, and `key` claimed in flight, for the body of the request sent with
    `like`, under a lease that has run out."""
    account_id = uuid.UUID(studio.user.account_id)
    for name in charged:
        charging.reserve(studio.services, account_id, request_id_for(account_id, name), tool="hex")
        charging.capture(studio.services, account_id, request_id_for(account_id, name))
    with studio.services.use_cases.idempotency.db.write() as tx:
        tx.execute(
            "INSERT INTO idempotency (scope, idem_key, request_hash, state, created_at, expires_at) "
            "SELECT scope, ?, request_hash, 'in_flight', created_at - 7200, created_at - 3600 "
            "FROM idempotency WHERE scope = ? AND idem_key = ?",
            (key, studio.user.account_id, like),
        )


def test_a_retry_of_a_request_charged_by_a_server_that_died_before_answering_gets_its_page_free(
    studio: Studio,
) -> None:
    photo, first = images.photo_png(), _key()
    page = studio.generate(photo, headers=first, mode="hex", output="mystery")
    key = _key()["Idempotency-Key"]
    _as_left_by_a_server_killed_after_charging(studio, like=first["Idempotency-Key"], key=key, charged=[key])
    lines, balance = studio.credit_lines(), studio.balance()

    retried = studio.generate(photo, headers={"Idempotency-Key": key}, mode="hex", output="mystery")
    assert retried.status_code == 200, retried.text
    assert retried.content == page.content, "the work is done again: the same request, the same page"
    assert retried.headers["x-credits-charged"] == "1", "what the request cost, once"
    assert studio.credit_lines() == lines, "nothing reserved, captured or released again"
    assert studio.balance() == balance
    replayed = studio.generate(photo, headers={"Idempotency-Key": key}, mode="hex", output="mystery")
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.content == page.content


def test_another_body_on_the_key_of_a_request_charged_by_a_server_that_died_is_a_409(studio: Studio) -> None:
    photo, first = images.photo_png(), _key()
    assert studio.generate(photo, headers=first, mode="hex", output="mystery").status_code == 200
    key = _key()["Idempotency-Key"]
    _as_left_by_a_server_killed_after_charging(studio, like=first["Idempotency-Key"], key=key, charged=[key])
    events = studio.events()
    other = studio.generate(photo, headers={"Idempotency-Key": key}, mode="hex", output="answer")
    assert other.status_code == 409, other.text
    assert error_of(other)["code"] == "request_already_completed"
    assert studio.events() == events, "another request is never given away on a charge made for this one"


def test_a_retry_later_while_finishing_a_charged_request_keeps_its_key_for_the_next_retry(studio: Studio) -> None:
    photo, first = images.photo_png(), _key()
    page = studio.generate(photo, headers=first, mode="hex", output="mystery")
    key = _key()["Idempotency-Key"]
    _as_left_by_a_server_killed_after_charging(studio, like=first["Idempotency-Key"], key=key, charged=[key])
    lines = studio.credit_lines()
    with studio.generations.admit(studio.generations.capacity):
        busy = studio.generate(photo, headers={"Idempotency-Key": key}, mode="hex", output="mystery")
        assert busy.status_code == 503
    retried = studio.generate(photo, headers={"Idempotency-Key": key}, mode="hex", output="mystery")
    assert retried.status_code == 200, retried.text
    assert retried.content == page.content
    assert studio.credit_lines() == lines


def test_a_bulk_retry_after_a_server_died_charges_only_the_images_it_had_not_charged(studio: Studio) -> None:
    photos = [("a.png", images.photo_png()), ("b.png", images.photo_png((64, 64)))]
    first = _key()
    zipped = studio.bulk(photos, headers=first, mode="hex", output="mystery")
    key = _key()["Idempotency-Key"]
    _as_left_by_a_server_killed_after_charging(
        studio, like=first["Idempotency-Key"], key=key, charged=[f"{key} 0"]
    )
    lines, balance = studio.credit_lines(), studio.balance()
    retried = studio.bulk(photos, headers={"Idempotency-Key": key}, mode="hex", output="mystery")
    assert retried.status_code == 200, retried.text
    assert retried.content == zipped.content
    assert retried.headers["x-credits-charged"] == "2", "both images, the first of them charged before"
    assert studio.credit_lines() == [*lines, ("reserve", -1), ("capture", 0)]
    assert studio.balance() == balance - 1
