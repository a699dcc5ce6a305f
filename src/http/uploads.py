"""Multipart uploads, streamed: each file goes to a spooled temporary file with its cap enforced while
the body arrives, so an oversized upload costs at most its cap (and a huge `Content-Length` nothing).

python-multipart's streaming parser is driven directly: Starlette's `request.form()` caps text parts
(`max_part_size`) but not file parts, which it spools to the end whatever their size.
The form's `digest` (fields, file names and SHA-256 of contents, in order) names the request for
`Idempotency-Key`: two sends of one form with different multipart boundaries have the same digest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import IO, Final

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from mosaic.http.errors import BadRequest, EdgeError, PayloadTooLarge

UPLOAD_BYTES_MAX: Final = 10 * 1024 * 1024  # the spec's "Max 10 MB", per image
SPOOL_BYTES_MAX: Final = 1024 * 1024  # beyond this an upload moves from memory to disk
FIELD_BYTES_MAX: Final = 4 * 1024
FIELDS_MAX: Final = 32
FILENAME_CHARS_MAX: Final = 255
FORM_OVERHEAD_BYTES_MAX: Final = FIELDS_MAX * (FIELD_BYTES_MAX + 512) + 64 * 1024
PART_HEADERS_MAX: Final = 8

assert UPLOAD_BYTES_MAX > SPOOL_BYTES_MAX


def body_bytes_max(files_max: int) -> int:
    """The largest body a form with `files_max` files may have."""
    return files_max * (UPLOAD_BYTES_MAX + 1024) + FORM_OVERHEAD_BYTES_MAX


@dataclass(slots=True)
class Upload:
    """One uploaded file: its form field, its file name as sent, and its bytes (spooled)."""

    field: str
    filename: str
    file: IO[bytes]
    size_bytes: int = 0
    sha256: hashlib._Hash = dataclasses.field(default_factory=hashlib.sha256)

    def read(self) -> bytes:
        self.file.seek(0)
        return self.file.read()


@dataclass(slots=True)
class Form:
    fields: dict[str, str]
    uploads: list[Upload]

    def digest(self) -> str:
        h = hashlib.sha256()
        for name in sorted(self.fields):
            h.update(f"f\0{name}\0{self.fields[name]}\0".encode())
        for upload in self.uploads:
            h.update(f"u\0{upload.field}\0{upload.filename}\0{upload.sha256.hexdigest()}\0".encode())
        return h.hexdigest()

    def close(self) -> None:
        for upload in self.uploads:
            upload.file.close()


def refused(status: int, code: str, message: str) -> EdgeError:
    assert status in (400, 413), status
    return (PayloadTooLarge if status == 413 else BadRequest)(code, message)


def _too_large_file(filename: str) -> EdgeError:
    return refused(
        413, "file_too_large", f"{filename or 'an upload'} is over {UPLOAD_BYTES_MAX // (1024 * 1024)} MB; "
        "send a smaller image"
    )


class _Parts:
    """python-multipart callbacks: text fields into a dict, files into spooled files, caps checked."""

    def __init__(self, *, file_field: str, files_max: int) -> None:
        self.file_field = file_field
        self.files_max = files_max
        self.form = Form({}, [])
        self.ended = False
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._name = ""
        self._text = bytearray()
        self._upload: Upload | None = None

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._grow("_header_name", data[start:end]),
            "on_header_value": lambda data, start, end: self._grow("_header_value", data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _grow(self, name: str, data: bytes) -> None:
        setattr(self, name, getattr(self, name) + data)

    def _part_begin(self) -> None:
        self._disposition, self._name, self._upload = b"", "", None
        self._text = bytearray()

    def _header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name")
        if name is None:
            raise refused(400, "invalid_form", "every form part needs a name (Content-Disposition)")
        self._name = name.decode("utf-8", "replace")
        if b"filename" not in options:
            if len(self.form.fields) >= FIELDS_MAX:
                raise refused(400, "invalid_form", f"a form may hold at most {FIELDS_MAX} fields")
            return
        if self._name != self.file_field:
            message = f"{self._name}: send files in the {self.file_field!r} field"
            raise refused(400, "unexpected_file", message)
        if len(self.form.uploads) >= self.files_max:
            raise refused(
                400, "too_many_images", f"send at most {self.files_max} file(s) in {self.file_field!r}"
            )
        filename = options[b"filename"].decode("utf-8", "replace")[:FILENAME_CHARS_MAX]
        spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES_MAX)  # noqa: SIM115 (Form.close)
        self._upload = Upload(self._name, filename, spooled)
        self.form.uploads.append(self._upload)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        upload = self._upload
        if upload is None:
            if len(self._text) + end - start > FIELD_BYTES_MAX:
                raise refused(400, "invalid_form", f"{self._name}: a field may hold {FIELD_BYTES_MAX} bytes")
            self._text += data[start:end]
            return
        upload.size_bytes += end - start
        if upload.size_bytes > UPLOAD_BYTES_MAX:
            raise _too_large_file(upload.filename)
        chunk = data[start:end]
        upload.sha256.update(chunk)
        upload.file.write(chunk)  # a page-cache write of one chunk: cheap enough for the event loop

    def _part_end(self) -> None:
        if self._upload is not None:
            return
        if self._name == self.file_field:
            message = f"{self._name}: send a file (curl -F '{self._name}=@photo.jpg')"
            raise refused(400, "invalid_form", message)
        if self._name in self.form.fields:
            raise refused(400, "invalid_form", f"{self._name}: send each field once")
        self.form.fields[self._name] = self._text.decode("utf-8", "replace")

    def _end(self) -> None:
        self.ended = True


def _too_large_body(files_max: int) -> EdgeError:
    return refused(
        413, "body_too_large",
        f"the request body may hold at most {body_bytes_max(files_max)} bytes: {files_max} image(s) "
        f"of at most {UPLOAD_BYTES_MAX // (1024 * 1024)} MB each, and the form fields",
    )


def _boundary(request: Request) -> bytes:
    media_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise refused(
            400, "invalid_form", "send a multipart/form-data body (e.g. curl -F image=@photo.jpg)"
        )
    return boundary


def check_declared_length(request: Request, *, files_max: int) -> None:
    """Refuse at once (413) a body that announces more bytes than the form may hold."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > body_bytes_max(files_max):
        raise _too_large_body(files_max)


async def read_form(request: Request, *, file_field: str, files_max: int) -> Form:
    """Stream the multipart body into a `Form`; files only in `file_field`, at most `files_max`."""
    assert files_max > 0
    check_declared_length(request, files_max=files_max)
    boundary = _boundary(request)
    parts = _Parts(file_field=file_field, files_max=files_max)
    parser = MultipartParser(boundary, parts.callbacks(), max_header_count=PART_HEADERS_MAX)  # type: ignore[arg-type]
    limit, size = body_bytes_max(files_max), 0
    try:
        async for chunk in request.stream():
            parser.write(chunk)  # first, so a file over its cap is named as such
            size += len(chunk)
            if size > limit:
                raise _too_large_body(files_max)
        parser.finalize()
    except BaseException as exc:
        parts.form.close()
        if isinstance(exc, FormParserError):
            raise refused(400, "invalid_form", f"the multipart body cannot be read: {exc}") from None
        if isinstance(exc, ClientDisconnect):
            raise refused(400, "incomplete_body", "the client stopped sending the body") from None
        raise
    if not parts.ended:
        parts.form.close()
        raise refused(400, "invalid_form", "the multipart body ended before its closing boundary")
    return parts.form


@contextlib.asynccontextmanager
async def uploaded_form(request: Request, *, file_field: str, files_max: int) -> AsyncIterator[Form]:
    """`read_form`, closing (and so deleting) the spooled uploads when the block ends."""
    form = await read_form(request, file_field=file_field, files_max=files_max)
    try:
        yield form
    finally:
        form.close()
