"""The playground's AI prompt form, shown where an upstream is configured and charged as the API is."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

from tests.http.ai.conftest import AiApp
from tests.http.web.pages import post_form, sign_in


def test_the_prompt_form_draws_the_picture_in_the_page_and_charges_what_the_api_does(
    make_ai: Callable[..., AiApp],
) -> None:
    app = make_ai()
    sign_in(app.client, app.user.email)
    assert 'id="ai-form"' in app.client.get("/playground").text
    drawn = post_form(
        app.client, "/playground/ai", {"prompt": "a cute unicorn in a flower garden", "quality": "low"},
        from_page="/playground",
    )
    assert drawn.status_code == 200, drawn.text
    assert 'id="charged">1<' in drawn.text and 'id="remaining">799<' in drawn.text
    [picture] = re.findall(r'<img src="data:image/png;base64,([^"]+)"', drawn.text)
    assert base64.b64decode(picture)[:8] == b"\x89PNG\r\n\x1a\n"
    assert app.balance() == 799


def test_a_prompt_too_short_is_named_and_charges_nothing(make_ai: Callable[..., AiApp]) -> None:
    app = make_ai()
    sign_in(app.client, app.user.email)
    refused = post_form(app.client, "/playground/ai", {"prompt": "x"}, from_page="/playground")
    assert refused.status_code == 400 and 'role="alert"' in refused.text and "prompt" in refused.text
    assert app.balance() == 800
