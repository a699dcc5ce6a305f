"""Helpers for the web pages' tests: a browser-like client (it keeps cookies) and the CSRF token."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.http.conftest import PASSWORD, AppClient

_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


def post_form(client: AppClient, path: str, fields: dict[str, str], *, from_page: str | None = None,
              **kwargs: Any) -> httpx.Response:
    """Post `fields` as the browser would from `from_page` (default: `path`): with that page's token."""
    token = csrf_of(client.get(from_page or path).text)
    return client.post(path, data={"csrf": token, **fields}, **kwargs)


def sign_up(client: AppClient, email: str, password: str = PASSWORD) -> httpx.Response:
    response = post_form(client, "/signup", {"email": email, "password": password})
    assert response.status_code == 303, response.text
    return response


def sign_in(client: AppClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return post_form(client, "/signin", {"email": email, "password": password})


def set_cookie_headers(response: httpx.Response, name: str) -> list[str]:
    return [value for value in response.headers.get_list("set-cookie") if value.startswith(f"{name}=")]
