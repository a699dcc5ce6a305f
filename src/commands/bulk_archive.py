"""The ZIP of `POST /api/bulk`: one folder per input image and a `manifest.json` saying what became of each;
or, with `output=book`, the book of every image that succeeded, in upload order.

Folder names come from the uploads' file names, reduced to safe characters and made unique
(`cat`, `cat-2`, …). A generated ZIP is unpacked into its image's folder; a single file is put in it
as `<output>.<extension>`; an image that failed gets `error.txt` with the reason.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from mosaic.domain.errors import ErrorKind, Failure
from mosaic.imaging.book import book_pdf
from mosaic.imaging.options import GenerateOptions
from mosaic.imaging.pipeline import Rendered
from mosaic.imaging.printart import decode

MANIFEST_NAME: Final = "manifest.json"
ZIP_DATE_TIME: Final = (1980, 1, 1, 0, 0, 0)  # fixed, so the same results give the same bytes


class NoPuzzleMade(Failure):
    """Not one image of a book could be made; nothing was charged."""

    kind = ErrorKind.INVALID_INPUT
    code = "no_usable_image"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one input image: a file, or an error code and message (then nothing charged)."""

    index: int
    filename: str
    folder: str
    rendered: Rendered | None = None
    error_code: str = ""
    error_message: str = ""

    @property
    def ok(self) -> bool:
        return self.rendered is not None


def unique_folders(stems: Sequence[str]) -> list[str]:
    """`stems` made unique (case-insensitively, so they unpack on any file system)."""
    taken = {MANIFEST_NAME}
    folders = []
    for stem in stems:
        folder, n = stem, 1
        while folder.lower() in taken:
            n += 1
            folder = f"{stem}-{n}"
        taken.add(folder.lower())
        folders.append(folder)
    return folders


def _add(archive: zipfile.ZipFile, name: str, data: bytes, *, compress: bool) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    archive.writestr(info, data)


def _add_result(archive: zipfile.ZipFile, outcome: Outcome, output: str) -> None:
    rendered = outcome.rendered
    assert rendered is not None
    if rendered.extension != "zip":
        _add(archive, f"{outcome.folder}/{output}.{rendered.extension}", rendered.data, compress=False)
        return
    with zipfile.ZipFile(io.BytesIO(rendered.data)) as inner:
        for info in inner.infolist():
            compress = info.compress_type != zipfile.ZIP_STORED
            _add(archive, f"{outcome.folder}/{info.filename}", inner.read(info), compress=compress)


def manifest(outcomes: Sequence[Outcome], options: dict[str, Any]) -> dict[str, Any]:
    images = [
        {
            "index": o.index,
            "file": o.filename,
            "folder": o.folder,
            "status": "ok" if o.ok else "failed",
            "charged_credits": 1 if o.ok else 0,
            **({} if o.ok else {"error": {"code": o.error_code, "message": o.error_message}}),
        }
        for o in outcomes
    ]
    succeeded = sum(1 for o in outcomes if o.ok)
    return {
        "options": options,
        "succeeded": succeeded,
        "failed": len(outcomes) - succeeded,
        "charged_credits": succeeded,
        "images": images,
    }


def bulk_zip(outcomes: Sequence[Outcome], *, output: str, options: dict[str, Any]) -> bytes:
    """The archive of every outcome, in upload order, and the manifest last."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for outcome in outcomes:
            if outcome.ok:
                _add_result(archive, outcome, output)
            else:
                text = f"{outcome.error_code}: {outcome.error_message}\n".encode()
                _add(archive, f"{outcome.folder}/error.txt", text, compress=True)
        body = json.dumps(manifest(outcomes, options), indent=2, ensure_ascii=False).encode()
        _add(archive, MANIFEST_NAME, body, compress=True)
    return buffer.getvalue()


def bulk_book(outcomes: Sequence[Outcome], options: GenerateOptions) -> bytes:
    """The book of every outcome that succeeded (each a `PrintArt`), in upload order."""
    arts = [decode(o.rendered.data) for o in outcomes if o.rendered is not None]
    if not arts:
        reasons = "; ".join(f"{o.filename or o.folder}: {o.error_message}" for o in outcomes[:5])
        raise NoPuzzleMade(f"none of the images could be made into a puzzle ({reasons})")
    return book_pdf(arts, title=options.title, page=options.page, bleed=options.bleed)
