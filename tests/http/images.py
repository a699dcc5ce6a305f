"""Uploads for the generation tests: small real photos and hostile files, made in memory."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image

FIXTURE_IMAGES = Path(__file__).parents[1] / "fixtures" / "images"


def photo_png(size: tuple[int, int] = (96, 64), name: str = "chelsea.png") -> bytes:
    """A fixture photo scaled to `size`, as PNG."""
    with Image.open(FIXTURE_IMAGES / name) as im:
        small = im.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, "PNG")
    return buffer.getvalue()


def photo_jpeg(size: tuple[int, int] = (96, 64), name: str = "chelsea.png") -> bytes:
    with Image.open(FIXTURE_IMAGES / name) as im:
        small = im.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def truncated_png() -> bytes:
    data = photo_png((200, 150))
    return data[: len(data) * 2 // 3]


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb_png(side_px: int = 20_000) -> bytes:
    """A valid 1-bit PNG of side_px × side_px white pixels: ~50 kB on the wire, 400 MP decoded."""
    row = b"\x00" + b"\xff" * ((side_px + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(side_px)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", side_px, side_px, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def text_named_jpg() -> bytes:
    return b"This is a shopping list, not a photo.\nmilk\neggs\n"


def oversized_file(megabytes: int = 11) -> bytes:
    """A JPEG-looking file of `megabytes` MB (its size, not its content, is what is tested)."""
    return b"\xff\xd8\xff\xe0" + b"\x00" * (megabytes * 1024 * 1024)
