"""Job functions for the worker pool that fail on purpose (top-level, so a worker process imports them)."""

from __future__ import annotations

import os
import time

from mosaic.imaging.options import GenerateOptions
from mosaic.imaging.pipeline import Rendered


class InjectedFault(RuntimeError):
    """Raised inside the worker process by `explode`."""


def explode(image_bytes: bytes, options: GenerateOptions) -> Rendered:
    raise InjectedFault(f"injected fault in the worker ({len(image_bytes)} bytes, mode={options.mode})")


def explode_on_small_images(image_bytes: bytes, options: GenerateOptions) -> Rendered:
    """Fails for PNGs under 32 px wide, generates the others: a bulk with mixed outcomes."""
    from mosaic.imaging.pipeline import generate

    if image_bytes.startswith(b"\x89PNG") and int.from_bytes(image_bytes[16:20], "big") < 32:
        raise InjectedFault("injected fault for a small image")
    return generate(image_bytes, options)


SLOW_JOB_S = 4.0  # far longer than the whole budget of a bulk under a 2 s reservation timeout


def slow(image_bytes: bytes, options: GenerateOptions) -> Rendered:
    """Takes `SLOW_JOB_S` (a heavy image), then generates."""
    from mosaic.imaging.pipeline import generate

    time.sleep(SLOW_JOB_S)
    return generate(image_bytes, options)


def die(image_bytes: bytes, options: GenerateOptions) -> Rendered:
    """The worker process ends under the job, as when the kernel kills it for memory."""
    os._exit(1)
