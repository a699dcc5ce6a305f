"""The pages' session: a JWT in an HttpOnly, SameSite=Strict cookie; a CSRF token on every form;
cross-site posts refused; sign-in throttled as in the API; API routes never read the cookie."""

from __future__ import annotations

from collections.abc import Callable

from mosaic.bootstrap import Services
from tests.http.conftest import PASSWORD, AppClient, memory_limits, signed_in_user
from tests.http.web.pages import csrf_of, post_form, set_cookie_headers, sign_in, sign_up


def test_signing_up_opens_a_session_in_an_httponly_samesite_strict_cookie(client: AppClient) -> None:
    response = sign_up(client, "new@example.com")
    assert response.headers["location"] == "/dashboard?welcome=1"
    [cookie] = set_cookie_headers(response, "mosaic_session")
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in attributes and "samesite=strict" in attributes and "path=/" in attributes
    assert "secure" not in attributes  # served over plain HTTP here
    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 200 and 'id="balance">5<' in dashboard.text


def test_the_cookie_is_secure_when_the_page_is_served_over_https(
    make_services: Callable[..., Services], make_client: Callable[..., AppClient]
) -> None:
    services = make_services(MOSAIC_PUBLIC_URL="https://testserver")
    client = make_client(services)
    form = client.get("/signup")
    [browser] = set_cookie_headers(form, "mosaic_csrf")
    assert "secure" in [part.strip().lower() for part in browser.split(";")]
    client._client.cookies.clear()  # an http:// client keeps no Secure cookie: send it by hand
    response = client.post(
        "/signup", data={"csrf": csrf_of(form.text), "email": "secure@example.com", "password": PASSWORD},
        headers={"Cookie": browser.split(";", 1)[0]},
    )
    [cookie] = set_cookie_headers(response, "mosaic_session")
    assert "secure" in [part.strip().lower() for part in cookie.split(";")]


def test_a_form_post_without_the_token_is_refused_and_changes_nothing(services: Services, client: AppClient) -> None:
    user = signed_in_user(services, client)
    assert sign_in(client, user.email).status_code == 303
    for fields in ({"name": "sneaky"}, {"name": "sneaky", "csrf": "0" * 64}):
        response = client.post("/keys", data=fields)
        assert response.status_code == 403 and "csrf_token_invalid" in response.text
        assert 'role="alert"' in response.text
    assert client.get("/api/keys", headers=user.auth).json()["keys"] == []


def test_a_post_from_another_site_is_refused_even_with_a_valid_token(services: Services, client: AppClient) -> None:
    user = signed_in_user(services, client)
    sign_in(client, user.email)
    token = csrf_of(client.get("/keys").text)
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        response = client.post("/keys", data={"csrf": token, "name": "sneaky"}, headers=headers)
        assert response.status_code == 403 and "cross_origin" in response.text
    assert client.get("/api/keys", headers=user.auth).json()["keys"] == []
    same_site = client.post("/keys", data={"csrf": token, "name": "mine"}, headers={"Origin": "http://testserver"})
    assert same_site.status_code == 201


def test_behind_a_tls_proxy_the_public_urls_origin_is_this_sites(
    make_services: Callable[..., Services], make_client: Callable[..., AppClient]
) -> None:
    services = make_services(MOSAIC_PUBLIC_URL="https://studio.example.com")
    client = make_client(services)
    token = csrf_of(client.get("/signup").text)
    fields = {"csrf": token, "email": "proxied@example.com", "password": PASSWORD}
    elsewhere = client.post("/signup", data=fields, headers={"Origin": "https://evil.example.com"})
    assert elsewhere.status_code == 403
    proxied = client.post("/signup", data=fields, headers={"Origin": "https://studio.example.com"})
    assert proxied.status_code == 303


def test_a_token_from_another_browser_is_refused(services: Services, make_client: Callable[..., AppClient]) -> None:
    ours, theirs = make_client(services), make_client(services)
    user = signed_in_user(services, ours)
    sign_in(ours, user.email)
    their_token = csrf_of(theirs.get("/signin").text)
    assert ours.post("/keys", data={"csrf": their_token, "name": "x"}).status_code == 403


def test_a_signed_out_browser_is_sent_to_sign_in_and_back(services: Services, client: AppClient) -> None:
    response = client.get("/keys")
    assert response.status_code == 303 and response.headers["location"] == "/signin?next=/keys"
    user = signed_in_user(services, client)
    signed_in = post_form(client, "/signin", {"email": user.email, "password": PASSWORD, "next": "/keys"})
    assert signed_in.headers["location"] == "/keys"
    elsewhere = post_form(client, "/signin", {"email": user.email, "password": PASSWORD, "next": "//evil.example/"})
    assert elsewhere.headers["location"] == "/dashboard"


def test_a_wrong_password_is_announced_and_opens_no_session(services: Services, client: AppClient) -> None:
    user = signed_in_user(services, client)
    response = sign_in(client, user.email, "not the password")
    assert response.status_code == 401 and 'role="alert"' in response.text and "invalid_credentials" in response.text
    assert set_cookie_headers(response, "mosaic_session") == []
    assert client.get("/dashboard").status_code == 303


def test_sign_in_is_throttled_per_e_mail_as_in_the_api(
    services: Services, make_client: Callable[..., AppClient]
) -> None:
    client = make_client(services, memory_limits(services, login="3/minute"))
    statuses = [sign_in(client, "someone@example.com", "wrong password").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_signing_out_clears_the_cookie(services: Services, client: AppClient) -> None:
    user = signed_in_user(services, client)
    sign_in(client, user.email)
    response = post_form(client, "/signout", {}, from_page="/dashboard")
    assert response.status_code == 303
    [cleared] = set_cookie_headers(response, "mosaic_session")
    assert "max-age=0" in cleared.lower()
    assert client.get("/dashboard").status_code == 303


def test_the_api_never_accepts_the_session_cookie(services: Services, client: AppClient) -> None:
    user = signed_in_user(services, client)
    sign_in(client, user.email)
    assert client.get("/api/credits/balance").status_code == 401
    assert client.get("/api/credits/balance", headers=user.auth).status_code == 200


def test_pages_carry_the_strict_policy(client: AppClient) -> None:
    response = client.get("/signin")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "form-action 'self'" in policy
    assert "unsafe-inline" not in policy and "default-src 'none'" in policy
    assert response.headers["cache-control"] == "no-store"
