"""The upstream AI service: an OpenAI-compatible images API, called with httpx.

`POST {base}/images/generations` makes a picture from a prompt; `POST {base}/images/edits` redraws an
uploaded picture (AI coloring). Either answers `{"data": [{"b64_json": …}]}` or `{"data": [{"url": …}]}`;
a url is fetched with the same client (without our key: it names someone else's storage).

Limits: one call, retries included, ends within `timeout_s` (`UpstreamFailed` after that); at most
`concurrency` calls are in flight per process, and a call waits at most `timeout_s` for its turn
(`UpstreamBusy`). Connect errors and 5xx are retried `ATTEMPTS_MAX` times with backoff; 4xx never are.

The key goes out in the `Authorization` header of calls to `{base}` and nowhere else: it is kept out
of reprs, and every reason an upstream gives is scrubbed of it before it reaches a message.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

import anyio
import httpx

from mosaic.commands import metrics
from mosaic.config import Settings
from mosaic.domain.errors import ErrorKind, Failure

log = logging.getLogger(__name__)

ImageSize = Literal["1024x1024", "1024x1536", "1536x1024"]
ImageQuality = Literal["low", "medium", "high"]
IMAGE_SIZES: Final[tuple[ImageSize, ...]] = get_args(ImageSize)
IMAGE_QUALITIES: Final[tuple[ImageQuality, ...]] = get_args(ImageQuality)

ATTEMPTS_MAX: Final = 3
BACKOFF_FIRST_S: Final = 0.2  # doubles after each failed attempt
ANSWER_BYTES_MAX: Final = 48 * 1024 * 1024  # a JSON answer (base64 of a large PNG) or a fetched image
REASON_CHARS_MAX: Final = 300
KEY_FRAGMENT_CHARS: Final = 8  # a word sharing this many characters with the key is scrubbed
_WORD: Final = re.compile(r"\S+")

assert ATTEMPTS_MAX >= 1 and REASON_CHARS_MAX > 0


class AiUnavailable(Failure):
    """No upstream is configured (`MOSAIC_AI_BASE_URL` is empty)."""

    kind = ErrorKind.NOT_CONFIGURED
    code = "ai_unavailable"


class UpstreamBusy(Failure):
    """Every upstream slot stayed taken for the whole timeout."""

    kind = ErrorKind.UNAVAILABLE
    code = "ai_busy"


class UpstreamFailed(Failure):
    """The upstream failed, timed out or answered something unusable; the message says which."""

    kind = ErrorKind.UPSTREAM_FAILED
    code = "upstream_failed"


class UpstreamRefused(Failure):
    """The upstream refused the request itself (HTTP 400: typically an unsafe prompt)."""

    kind = ErrorKind.INVALID_INPUT
    code = "upstream_refused"


_OUTCOME_BY_FAILURE: Final[Mapping[type[BaseException], str]] = {
    UpstreamBusy: "busy", UpstreamRefused: "refused", UpstreamFailed: "failed",
    asyncio.CancelledError: "cancelled",
}


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    base_url: str
    api_key: str = field(repr=False)
    model: str
    timeout_s: float
    concurrency: int

    @classmethod
    def from_settings(cls, settings: Settings) -> UpstreamConfig:
        return cls(
            base_url=settings.ai_base_url.rstrip("/"),
            api_key=settings.ai_api_key,
            model=settings.ai_model,
            timeout_s=settings.ai_timeout_s,
            concurrency=settings.ai_concurrency,
        )


def scrubbed(text: str, secret: str) -> str:
    """`text` without `secret`, nor any word sharing `KEY_FRAGMENT_CHARS` characters with it."""
    if not secret:
        return text
    text = text.replace(secret, "[redacted]")
    if len(secret) < KEY_FRAGMENT_CHARS:
        return text
    fragments = {secret[i : i + KEY_FRAGMENT_CHARS] for i in range(len(secret) - KEY_FRAGMENT_CHARS + 1)}

    def word(match: re.Match[str]) -> str:
        w = match.group(0)
        if len(w) < KEY_FRAGMENT_CHARS:
            return w
        pieces = (w[i : i + KEY_FRAGMENT_CHARS] for i in range(len(w) - KEY_FRAGMENT_CHARS + 1))
        return "[redacted]" if any(p in fragments for p in pieces) else w

    return _WORD.sub(word, text)


class _Retry(Exception):
    """One attempt failed in a way worth another (connect error, 5xx); `reason` for the last one."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Upstream:
    """The client. Safe to share between requests of one event loop; holds no connection between calls."""

    def __init__(self, config: UpstreamConfig) -> None:
        assert config.timeout_s > 0 and config.concurrency > 0
        self.config = config
        self._slots = asyncio.Semaphore(config.concurrency)
        self._ssl: ssl.SSLContext | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Upstream:
        return cls(UpstreamConfig.from_settings(settings))

    @property
    def configured(self) -> bool:
        return bool(self.config.base_url)

    def check_available(self) -> None:
        if not self.configured:
            raise AiUnavailable(
                "AI generation is not available on this server: it has no upstream AI service "
                "(MOSAIC_AI_BASE_URL); nothing was charged"
            )

    async def generate(self, *, prompt: str, size: ImageSize, quality: ImageQuality) -> bytes:
        """The image bytes the upstream made from `prompt` (any format it chose; not yet checked)."""
        body = {"model": self.config.model, "prompt": prompt, "size": size, "quality": quality, "n": 1}
        return await self._call("images/generations", json_body=body)

    async def edit(self, *, image_png: bytes, prompt: str, size: ImageSize, quality: ImageQuality) -> bytes:
        """The upstream's redrawing of `image_png` as `prompt` asks (image bytes, not yet checked)."""
        fields = {"model": self.config.model, "prompt": prompt, "size": size, "quality": quality, "n": "1"}
        files = {"image": ("photo.png", image_png, "image/png")}
        return await self._call("images/edits", form=fields, files=files)

    async def _call(
        self,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        form: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> bytes:
        self.check_available()
        try:
            image = await self._call_in_a_slot(path, json_body=json_body, form=form, files=files)
        except BaseException as exc:
            metrics.AI_CALLS.labels(_OUTCOME_BY_FAILURE.get(type(exc), "failed")).inc()
            raise
        metrics.AI_CALLS.labels("ok").inc()
        return image

    async def _call_in_a_slot(
        self,
        path: str,
        *,
        json_body: Mapping[str, Any] | None,
        form: Mapping[str, str] | None,
        files: Mapping[str, tuple[str, bytes, str]] | None,
    ) -> bytes:
        timeout_s = self.config.timeout_s
        try:
            with anyio.fail_after(timeout_s):
                await self._slots.acquire()
        except TimeoutError:
            raise UpstreamBusy(
                f"all {self.config.concurrency} AI slots stayed busy for {timeout_s:g} s; retry shortly"
            ) from None
        try:
            with anyio.fail_after(timeout_s):
                async with self._client() as client:
                    answer = await self._attempts(client, path, json_body=json_body, form=form, files=files)
                    return await self._image_bytes(client, answer)
        except TimeoutError:
            raise UpstreamFailed(f"the AI service did not answer within {timeout_s:g} s") from None
        finally:
            self._slots.release()

    def _client(self) -> httpx.AsyncClient:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()  # built once: loading the CA bundle costs ~20 ms
        timeout = httpx.Timeout(self.config.timeout_s)
        return httpx.AsyncClient(timeout=timeout, verify=self._ssl, follow_redirects=False, trust_env=False)

    async def _attempts(
        self,
        client: httpx.AsyncClient,
        path: str,
        *,
        json_body: Mapping[str, Any] | None,
        form: Mapping[str, str] | None,
        files: Mapping[str, tuple[str, bytes, str]] | None,
    ) -> dict[str, Any]:
        url = f"{self.config.base_url}/{path}"
        headers = {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}
        reason = ""
        for attempt in range(ATTEMPTS_MAX):
            if attempt:
                await anyio.sleep(BACKOFF_FIRST_S * 2 ** (attempt - 1))
            try:
                request = client.build_request(
                    "POST", url, headers=headers, json=json_body, data=form, files=files
                )
                return await self._answer(client, request)
            except _Retry as retry:
                reason = retry.reason
                log.warning("AI service attempt %d of %d failed: %s", attempt + 1, ATTEMPTS_MAX, reason)
        raise UpstreamFailed(f"the AI service failed {ATTEMPTS_MAX} times; last: {reason}")

    async def _answer(self, client: httpx.AsyncClient, request: httpx.Request) -> dict[str, Any]:
        try:
            response = await client.send(request, stream=True)
        except httpx.ConnectError as exc:
            raise _Retry(f"could not connect to the AI service ({type(exc).__name__})") from None
        except httpx.TimeoutException:
            raise TimeoutError from None  # the deadline's message applies
        except httpx.HTTPError as exc:
            raise UpstreamFailed(f"the AI service connection failed ({type(exc).__name__})") from None
        try:
            raw = await _capped_body(response)
        finally:
            await response.aclose()
        if response.status_code >= 500:
            raise _Retry(f"HTTP {response.status_code}: {self._reason(raw)}")
        if response.status_code == 400:
            raise UpstreamRefused(f"the AI service refused this request: {self._reason(raw)}")
        if response.status_code != 200:
            raise UpstreamFailed(f"the AI service answered HTTP {response.status_code}: {self._reason(raw)}")
        return _json_object(raw)

    def _reason(self, raw: bytes) -> str:
        """The upstream's own words (OpenAI's `error.message`, else the body), short and key-free."""
        text = raw.decode("utf-8", "replace")
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        if isinstance(document, dict) and isinstance(document.get("error"), dict):
            text = str(document["error"].get("message") or text)
        text = " ".join(scrubbed(text, self.config.api_key).split())
        return text[:REASON_CHARS_MAX] or "no reason given"

    async def _image_bytes(self, client: httpx.AsyncClient, answer: dict[str, Any]) -> bytes:
        data = answer.get("data")
        first = data[0] if isinstance(data, list) and data else None
        if not isinstance(first, dict):
            raise _malformed("no data[0] object")
        if isinstance(first.get("b64_json"), str):
            try:
                return base64.b64decode(first["b64_json"], validate=True)
            except (binascii.Error, ValueError):
                raise _malformed("b64_json is not base64") from None
        url = first.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise _malformed("neither b64_json nor an http(s) url")
        return await self._fetched(client, url)

    async def _fetched(self, client: httpx.AsyncClient, url: str) -> bytes:
        try:
            response = await client.send(client.build_request("GET", url), stream=True)
        except httpx.TimeoutException:
            raise TimeoutError from None
        except httpx.HTTPError as exc:
            raise UpstreamFailed(f"could not fetch the AI service's image ({type(exc).__name__})") from None
        try:
            raw = await _capped_body(response)
        finally:
            await response.aclose()
        if response.status_code != 200:
            raise UpstreamFailed(f"fetching the AI service's image answered HTTP {response.status_code}")
        return raw


async def _capped_body(response: httpx.Response) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > ANSWER_BYTES_MAX:
        raise UpstreamFailed(f"the AI service's answer is over {ANSWER_BYTES_MAX} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > ANSWER_BYTES_MAX:
                raise UpstreamFailed(f"the AI service's answer is over {ANSWER_BYTES_MAX} bytes")
            chunks.append(chunk)
    except httpx.TimeoutException:
        raise TimeoutError from None
    except httpx.HTTPError as exc:
        raise UpstreamFailed(f"the AI service's answer broke off ({type(exc).__name__})") from None
    return b"".join(chunks)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except ValueError:
        raise _malformed("not JSON") from None
    if not isinstance(document, dict):
        raise _malformed("not a JSON object")
    return document


def _malformed(what: str) -> UpstreamFailed:
    return UpstreamFailed(f"the AI service sent a malformed answer: {what}")
