"""Each page over the real use cases: keys shown once and revoked, the statement filtered and as CSV,
the playground's page shown with what it cost, the docs' curl lines, the preset cards."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import shlex
import zipfile

from mosaic.bootstrap import Services
from tests.http.conftest import AppClient, signed_in_user
from tests.http.generation_helpers import Studio, multipart_body, studio
from tests.http.images import photo_png
from tests.http.web.pages import csrf_of, post_form, sign_in

__all__ = ["studio"]  # the fixture

_KEY = re.compile(r'id="new-key-value" class="mono" readonly value="(us_live_[A-Za-z0-9]+)"')


def _signed_in(studio: Studio) -> AppClient:
    assert sign_in(studio.client, studio.user.email).status_code == 303
    return studio.client


def test_a_new_key_is_shown_once_then_only_its_prefix_and_it_is_revoked_after_a_confirmation(
    services: Services, client: AppClient
) -> None:
    user = signed_in_user(services, client)
    sign_in(client, user.email)
    created = post_form(client, "/keys", {"name": "<b>Shop</b> bot"})
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    found = _KEY.search(created.text)
    assert found is not None and "shown this once" in created.text
    key = found.group(1)
    assert "<b>Shop</b>" not in created.text and "&lt;b&gt;Shop&lt;/b&gt; bot" in created.text
    assert client.get("/api/credits/balance", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    listed = client.get("/keys").text
    assert key not in listed and key[:12] in listed
    [key_id] = re.findall(r'href="/keys/([0-9a-f-]{36})/revoke"', listed)
    confirm = client.get(f"/keys/{key_id}/revoke")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    revoked = client.post(f"/keys/{key_id}/revoke", data={"csrf": csrf_of(confirm.text)})
    assert revoked.status_code == 303 and revoked.headers["location"] == "/keys?revoked=1"
    assert client.get("/api/credits/balance", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert "revoked" in client.get("/keys").text
    assert client.get(f"/keys/{key_id}/revoke").status_code == 404


def test_someone_elses_key_cannot_be_revoked_from_the_page(services: Services, client: AppClient) -> None:
    owner = signed_in_user(services, client)
    sign_in(client, owner.email)
    post_form(client, "/keys", {"name": "mine"})
    [key_id] = re.findall(r'href="/keys/([0-9a-f-]{36})/revoke"', client.get("/keys").text)
    post_form(client, "/signout", {}, from_page="/keys")
    other = signed_in_user(services, client)
    sign_in(client, other.email)
    assert client.get(f"/keys/{key_id}/revoke").status_code == 404
    refused = post_form(client, f"/keys/{key_id}/revoke", {}, from_page="/keys")
    assert refused.status_code == 404
    assert client.get("/api/keys", headers=owner.auth).json()["keys"][0]["revoked_at"] is None


def test_the_playground_shows_the_sheet_and_the_answer_and_what_they_cost(studio: Studio) -> None:
    client = _signed_in(studio)
    token = csrf_of(client.get("/playground").text)
    body, content_type = multipart_body(
        {"csrf": token, "mode": "cbn", "output": "zip", "colors": "6"}, [("image", "cat.png", photo_png())]
    )
    response = client.post("/playground", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 200, response.text
    assert 'id="charged">1<' in response.text and 'id="remaining">799<' in response.text
    previews = re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]+)"', response.text)
    assert [alt.split(" of ")[0] for _, alt in previews] == ["The mystery sheet", "The answer"]
    assert all(base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n" for data, _ in previews)
    download = re.search(r'href="data:application/zip;base64,([^"]+)" download="([^"]+)"', response.text)
    assert download is not None and download.group(2) == "cat-cbn.zip"
    assert base64.b64decode(download.group(1))[:2] == b"PK"
    assert studio.credit_lines() == [("reserve", -1), ("capture", 0)]


def test_a_playground_post_without_the_token_charges_nothing(studio: Studio) -> None:
    client = _signed_in(studio)
    body, content_type = multipart_body({"mode": "cbn"}, [("image", "cat.png", photo_png())])
    response = client.post("/playground", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 403 and "csrf_token_invalid" in response.text
    assert studio.credit_lines() == []


def test_bad_playground_input_is_named_on_the_page_and_charges_nothing(studio: Studio) -> None:
    client = _signed_in(studio)
    token = csrf_of(client.get("/playground").text)
    body, content_type = multipart_body({"csrf": token, "mode": "cbn", "colors": "99"}, [("image", "a.png", photo_png())])
    response = client.post("/playground", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400 and 'role="alert"' in response.text and "colors" in response.text
    assert studio.credit_lines() == []


OWN_COLORS = ["#e63946", "#f1faee", "#a8dadc", "#457b9d", "#1d3557"]


def _playground_zip(response_text: str) -> zipfile.ZipFile:
    download = re.search(r'href="data:application/zip;base64,([^"]+)"', response_text)
    assert download is not None
    return zipfile.ZipFile(io.BytesIO(base64.b64decode(download.group(1))))


def test_the_playground_colors_a_page_with_the_customers_own_colors(studio: Studio) -> None:
    client = _signed_in(studio)
    token = csrf_of(client.get("/playground").text)
    fields = {"csrf": token, "mode": "hex", "output": "zip", "colors": "5", "own_colors": ", ".join(OWN_COLORS)}
    body, content_type = multipart_body(fields, [("image", "cat.png", photo_png())])
    response = client.post("/playground", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 200, response.text
    used = {color["hex"].lower() for color in json.loads(_playground_zip(response.text).read("palette.json"))["palette"]}
    assert used and used <= set(OWN_COLORS)
    assert ", ".join(OWN_COLORS) in response.text, "the colors stay in the form for the next page"


def test_three_own_colors_in_the_playground_are_named_as_the_problem_and_charge_nothing(studio: Studio) -> None:
    client = _signed_in(studio)
    token = csrf_of(client.get("/playground").text)
    fields = {"csrf": token, "mode": "hex", "own_colors": ", ".join(OWN_COLORS[:3])}
    body, content_type = multipart_body(fields, [("image", "cat.png", photo_png())])
    response = client.post("/playground", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400 and 'role="alert"' in response.text and "palette" in response.text
    assert studio.credit_lines() == []


def test_the_statement_filters_pages_and_downloads_the_same_lines_as_csv(studio: Studio) -> None:
    for _ in range(2):
        assert studio.generate(photo_png(), mode="lineart").status_code == 200
    studio.services.runner.catch_up()
    client = _signed_in(studio)
    everything = client.get("/statement")
    assert everything.status_code == 200 and "5 lines" in everything.text  # grant, 2 × (reserve, capture)
    captures = client.get("/statement?kind=capture&tool=lineart")
    assert "2 lines" in captures.text
    rows = re.findall(r"<tr>\s*<td data-label=\"#\">(\d+)</td>", captures.text)
    exported = client.get("/statement.csv?kind=capture&tool=lineart")
    assert exported.headers["content-disposition"] == 'attachment; filename="statement.csv"'
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert [row["line"] for row in table] == rows and {row["kind"] for row in table} == {"capture"}
    full = list(csv.DictReader(io.StringIO(client.get("/statement.csv").text)))
    assert [row["balance_after"] for row in full] == ["800", "799", "799", "798", "798"]
    assert "0 lines" in client.get("/statement?until=2000-01-01").text
    refused = client.get("/statement?kind=nonsense")
    assert refused.status_code == 400 and 'role="alert"' in refused.text
    assert client.get("/statement?since=yesterday").status_code == 400


def test_the_dashboard_shows_the_balance_and_a_chart_of_credits_spent_with_its_table(studio: Studio) -> None:
    assert studio.generate(photo_png(), mode="lineart").status_code == 200
    studio.services.runner.catch_up()
    client = _signed_in(studio)
    page = client.get("/dashboard").text
    assert 'id="balance">799<' in page and 'id="plan">commercial<' in page and 'id="spent-current">1<' in page
    assert '<svg class="chart"' in page and "<polyline" in page and 'id="usage-table"' in page


def test_the_docs_fill_the_spec_examples_with_this_servers_base_url(services: Services, client: AppClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    balance = re.search(r"(curl http://testserver/api/credits/balance [^<]+)</textarea>", page.text)
    assert balance is not None
    assert shlex.split(balance.group(1).replace("&#34;", '"')) == [
        "curl", "http://testserver/api/credits/balance", "-H", "Authorization: Bearer us_live_YOUR_KEY",
    ]
    assert "&#34;operationId&#34;: &#34;balance&#34;" in page.text  # its OpenAPI description beside it
    documented = client.get("/openapi.json").json()["paths"]
    for path in documented:
        assert f"<code>{path}</code>" in page.text


def test_each_preset_has_a_picture_made_once(studio: Studio) -> None:
    first = studio.client.get("/presets/kids-hex.png")
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    assert first.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert studio.client.get("/presets/kids-hex.png").content == first.content
    assert studio.credit_lines() == []
    assert studio.client.get("/presets/nonsense.png").status_code == 400
