"""The account owner's web pages: server-rendered (Jinja2) over the same use cases as the JSON API.

`pages.py` is the page layer's one wrapper (session cookie → CSRF → rate limit → handler → HTML,
and any `Failure` → a page naming it); `session.py` the cookie and CSRF rules; the other modules
one family of pages each, as thin as the API's routes. Pages are not in `/openapi.json`: they are
not an API.
"""
