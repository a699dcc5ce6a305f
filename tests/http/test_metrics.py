"""`GET /metrics`: Prometheus text whose numbers follow what the service did."""

from __future__ import annotations

from tests.http import images
from tests.http.conftest import AppClient, metric_samples
from tests.http.generation_helpers import Studio, studio

__all__ = ["studio"]  # the fixture


def _samples(client: AppClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return metric_samples(client)


def _value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_requests_are_counted_by_route_template_and_status_and_credits_by_movement(studio: Studio) -> None:
    before = _samples(studio.client)
    assert studio.generate(images.photo_jpeg(), filename="photo.jpg", mode="lineart", output="zip").status_code == 200
    refused = studio.client.delete("/api/keys/not-a-key-id", headers=studio.auth)  # an API key on a JWT route
    assert refused.status_code == 401
    after = _samples(studio.client)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("mosaic_http_requests_total", route="/api/generate", method="POST", status="200") == 1
    assert grew("mosaic_http_request_duration_seconds_count", route="/api/generate", method="POST") == 1
    assert grew("mosaic_http_requests_total", route="/api/keys/{key_id}", method="DELETE", status="401") == 1
    assert not any(("route", "/api/keys/not-a-key-id") in labels for _, labels in after)
    assert grew("mosaic_credits_total", movement="reserved") == 1
    assert grew("mosaic_credits_total", movement="captured") == 1
    assert grew("mosaic_credits_total", movement="released") == 0
    assert grew("mosaic_ledger_group_commands_count") >= 2  # the reservation and the capture
    assert _value(after, "mosaic_image_pool_capacity") == studio.services.pool.capacity
    assert _value(after, "mosaic_image_pool_jobs") == 0


def test_the_views_lag_is_read_from_the_shared_tracking_row(studio: Studio) -> None:
    studio.services.runner.catch_up()
    caught_up = _samples(studio.client)
    assert _value(caught_up, "mosaic_views_lag_events") == 0
    assert _value(caught_up, "mosaic_views_lag_seconds") == 0
