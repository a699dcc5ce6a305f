"""A fake OpenAI images API on loopback: a real HTTP server in a thread, told how to answer.

    with serving() as fake:
        fake.behaviour = "hang"
        ... MOSAIC_AI_BASE_URL=fake.base_url ...

It speaks `POST /v1/images/generations` (JSON) and `POST /v1/images/edits` (multipart), answers with
`b64_json` or a `url` it serves itself, and counts calls, calls in flight (and their maximum), and
the `Authorization` headers it saw. It never logs: a test greps the logs for the key.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from PIL import Image, ImageDraw

Behaviour = Literal["ok", "slow", "error500", "malformed", "not_image", "refuse", "unauthorized", "hang"]
BEHAVIOURS: tuple[Behaviour, ...] = (
    "ok", "slow", "error500", "malformed", "not_image", "refuse", "unauthorized", "hang",
)
HANG_S_MAX = 30.0  # a hanging answer ends by itself after this, or when the fake stops
PICTURE_SCALE = 8  # pictures are the requested size / this: the same API, less CPU in tests
REFUSAL = "Your request was rejected as a result of our safety system."


@dataclass
class FakeImages:
    """The server's state; tests set the first four fields and read the counters."""

    behaviour: Behaviour = "ok"
    answer: Literal["b64_json", "url"] = "b64_json"
    delay_s: float = 0.0  # "slow" waits this long before answering well
    picture: Literal["PNG", "JPEG", "WEBP", "shaded"] = "PNG"
    base_url: str = ""
    calls: int = 0
    calls_by_path: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    in_flight_max: int = 0
    authorizations: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    file_fetches: int = 0
    file_authorizations: list[str] = field(default_factory=list)
    call_started: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for_call(self, timeout_s: float = 10.0) -> None:
        """Block until a call has reached the fake (one per call, in order)."""
        assert self.call_started.acquire(timeout=timeout_s), "no call reached the fake AI service"


def picture_bytes(fmt: str, width: int, height: int, *, drawing: bool) -> bytes:
    """A small picture: a black-outlined shape on white (a drawing) or a colored gradient."""
    if fmt == "shaded":
        image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
        fmt = "PNG"
    else:
        image = Image.new("RGB", (width, height), "white" if drawing else (90, 160, 220))
        pen = ImageDraw.Draw(image)
        inset = min(width, height) // 6
        line_px = max(2, min(width, height) // 40)
        pen.ellipse((inset, inset, width - inset, height - inset), outline="black", width=line_px)
        pen.line((width // 2, inset, width // 2, height - inset), fill="black", width=line_px)
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # silent: no request line, no header ever reaches a log

    def do_GET(self) -> None:
        fake = self.server.fake
        name = self.path.rsplit("/", 1)[-1]
        with fake.lock:
            fake.file_fetches += 1
            fake.file_authorizations.append(self.headers.get("authorization", ""))
            data = fake.files.get(name)
        if data is None:
            self._send(404, b"no such file", "text/plain")
        else:
            self._send(200, data, "image/png")

    def do_POST(self) -> None:
        fake = self.server.fake
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        path = self.path.removeprefix("/v1/")
        with fake.lock:
            fake.calls += 1
            fake.calls_by_path[path] = fake.calls_by_path.get(path, 0) + 1
            fake.in_flight += 1
            fake.in_flight_max = max(fake.in_flight_max, fake.in_flight)
            fake.authorizations.append(self.headers.get("authorization", ""))
            fake.requests.append(_request_record(path, self.headers.get("content-type", ""), body))
        fake.call_started.release()
        try:
            self._answer(fake, path)
        finally:
            with fake.lock:
                fake.in_flight -= 1

    def _answer(self, fake: FakeImages, path: str) -> None:
        behaviour = fake.behaviour
        if path not in ("images/generations", "images/edits"):
            return self._error(404, f"no route {path}")
        if behaviour == "hang":
            fake.stopping.wait(HANG_S_MAX)
            return self._error(500, "the fake stopped while hanging")
        if behaviour == "slow":
            fake.stopping.wait(fake.delay_s)
        if behaviour == "error500":
            return self._error(500, "The server had an error while processing your request.")
        if behaviour == "refuse":
            return self._error(400, REFUSAL, code="moderation_blocked")
        if behaviour == "unauthorized":
            key = self.headers.get("authorization", "").removeprefix("Bearer ")
            return self._error(401, f"Incorrect API key provided: {key}. Find your key in the dashboard.")
        if behaviour == "malformed":
            return self._send(200, b'{"data": [{"revised_prompt": "no picture"', "application/json")
        return self._picture(fake, path, behaviour)

    def _picture(self, fake: FakeImages, path: str, behaviour: Behaviour) -> None:
        size = str(fake.requests[-1].get("size") or "1024x1024")
        width, height = (int(side) // PICTURE_SCALE for side in size.split("x"))
        if behaviour == "not_image":
            data = b"this is not a picture at all"
        else:
            data = picture_bytes(fake.picture, width, height, drawing=path == "images/edits")
        if fake.answer == "url":
            with fake.lock:
                name = f"{len(fake.files)}.img"
                fake.files[name] = data
            item = {"url": f"{fake.base_url}/files/{name}"}
        else:
            item = {"b64_json": base64.b64encode(data).decode()}
        self._send(200, json.dumps({"created": 0, "data": [item]}).encode(), "application/json")

    def _error(self, status: int, message: str, code: str | None = None) -> None:
        error = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
        self._send(status, json.dumps({"error": error}).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): nothing to answer


def _request_record(path: str, content_type: str, body: bytes) -> dict[str, Any]:
    """What a call asked for: the JSON body, or the multipart form's text fields (and image size)."""
    if content_type.startswith("application/json"):
        record: dict[str, Any] = json.loads(body)
    else:
        record = {"image_bytes": 0}
        boundary = content_type.split("boundary=", 1)[-1].encode()
        for part in body.split(b"--" + boundary):
            head, _, value = part.partition(b"\r\n\r\n")
            if b'name="' not in head:
                continue
            name = head.split(b'name="', 1)[1].split(b'"', 1)[0].decode()
            value = value.removesuffix(b"\r\n")
            if b"filename=" in head:
                record[f"{name}_bytes"] = len(value)
            else:
                record[name] = value.decode()
    record["path"] = path
    return record


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeImages


@contextmanager
def serving() -> Iterator[FakeImages]:
    """Serve a `FakeImages` on 127.0.0.1 (a free port) for the block; its `base_url` ends in /v1."""
    server = _Server(("127.0.0.1", 0), _Handler)
    fake = FakeImages()
    server.fake = fake
    host, port = server.server_address[:2]
    fake.base_url = f"http://{host!s}:{port}/v1"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-openai", daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
