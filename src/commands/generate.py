"""Paid generation, the use cases: one page, a bulk ZIP, an AI image from a prompt.

Each takes a validated request (options, the photo, who pays and under which Idempotency-Key) and
returns a `PaidFile`, or raises: a `Failure` raised as it is means nothing was charged (a full pool,
402, no upstream); `PaidWorkFailed` means credits were reserved and then released, and carries the
cause. The flow of one page: admit into the worker pool (a full pool is refused before any charge)
→ read the photo → reserve → generate in a worker process, or through the upstream for `mode=ai` →
capture, or release with the reason on any failure (`mosaic.commands.paid`).

A bulk request reserves a credit for each usable image, all or none; its images go through the pool
a few at a time (as many as there are workers, so a bulk request never crowds single requests out of
the queue), all within one deadline counted from the reservation (an image not started by then is
reported, never charged). Once the ZIP is built one ledger command captures each success and
releases each failure; if the ZIP cannot be built, everything is released.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Final, Protocol, get_args

import anyio
import anyio.to_thread

from mosaic.commands import ai
from mosaic.commands.bulk_archive import Outcome, bulk_book, bulk_zip, unique_folders
from mosaic.commands.idempotency import Payer
from mosaic.commands.paid import Charge, Done, Held, Payments, failure_reason
from mosaic.commands.pool import GenerationTimedOut, ImagePool
from mosaic.commands.upstream import Upstream
from mosaic.domain.errors import ErrorKind, Failure
from mosaic.imaging.decode import ImageRejected
from mosaic.imaging.options import MODES, GenerateOptions, InvalidOption, LocalMode
from mosaic.imaging.pipeline import ModeNotLocal, Rendered, generate, preset_card
from mosaic.imaging.presets import preset_names
from mosaic.imaging.screen import ImageHeader

log = logging.getLogger(__name__)

# The spec's credit table: every local mode costs one credit per image; mode=ai what an AI image of
# the quality it asks the upstream for costs.
LOCAL_PAGE_COST_CREDITS: Final = 1
COST_CREDITS_BY_MODE: Final[Mapping[str, int]] = {
    **{mode: LOCAL_PAGE_COST_CREDITS for mode in get_args(LocalMode)},
    "ai": ai.COST_CREDITS_BY_QUALITY[ai.AI_COLORING_QUALITY],
}
assert set(COST_CREDITS_BY_MODE) == set(MODES), "every mode has its price"


def cost_credits(options: GenerateOptions) -> int:
    """What one photo's result costs: its mode's price for each sheet it is printed on (a poster of
    3x3 sheets costs nine pages)."""
    return COST_CREDITS_BY_MODE[options.mode] * options.sheets


BULK_IMAGES_MAX: Final = 50  # the spec's "Max 50 images"
FILE_STEM_CHARS_MAX: Final = 64
_UNSAFE_CHARS: Final = re.compile(r"[^A-Za-z0-9._-]+")
SAMPLE_PHOTO: Final = resources.files("mosaic.data").joinpath("sample.png")  # a cat; CC0 (scikit-image)

GenerateJob = Callable[[bytes, GenerateOptions], Rendered]  # top-level, so a worker process can run it
ImagingError = InvalidOption | ImageRejected | ModeNotLocal
IMAGING_ERRORS: Final = (InvalidOption, ImageRejected, ModeNotLocal)


class RejectedInput(Failure):
    """An option or an upload the imaging code refused; `code` is imaging's own."""

    kind = ErrorKind.INVALID_INPUT

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ImageTooLarge(RejectedInput):
    kind = ErrorKind.TOO_LARGE


class GenerationFailed(Failure):
    """The work failed for a reason of ours (a fault, logged); its credits were released."""

    kind = ErrorKind.INTERNAL
    code = "generation_failed"


_REJECTION_BY_IMAGE_CODE: Final[Mapping[str, type[RejectedInput]]] = {"image_too_large": ImageTooLarge}


def rejected(exc: ImagingError) -> RejectedInput:
    """Imaging's refusal as a failure of ours (imaging knows nothing of kinds)."""
    if isinstance(exc, ImageRejected):
        return _REJECTION_BY_IMAGE_CODE.get(exc.code, RejectedInput)(exc.code, exc.message)
    return RejectedInput(exc.code, str(exc))


def as_failure(exc: BaseException) -> Failure:
    """What a client is told about work that failed after its reservation (and was released)."""
    if isinstance(exc, Failure):
        return exc
    if isinstance(exc, IMAGING_ERRORS):  # the decoder found what screening could not
        return rejected(exc)
    log.error("generation failed after its reservation (released): %r", exc)
    return GenerationFailed(
        "the image could not be generated; the reserved credits were released, nothing was charged"
    )


class Photo(Protocol):
    """An upload that passed the edge's checks: its name as sent, and its bytes (read on demand)."""

    @property
    def filename(self) -> str: ...

    def read(self) -> bytes: ...


def safe_stem(filename: str, fallback: str = "image") -> str:
    """The upload's name without folders or extension, in characters safe in any file system."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base
    safe = _UNSAFE_CHARS.sub("_", stem).strip("._-")[:FILE_STEM_CHARS_MAX]
    return safe or fallback


def summary_of(options: GenerateOptions, photo: Photo, header: ImageHeader) -> str:
    """What support staff see next to the charge."""
    preset = f" preset={options.preset}" if options.preset else ""
    palette = f" palette={options.palette.id}" if options.palette else ""
    tiles = f" tiles={options.tiles}x{options.tiles}" if options.tiles > 1 else ""
    return (
        f"mode={options.mode} output={options.output} colors={options.colors} page={options.page} "
        f"detail={options.detail} density={options.density}{preset}{palette}{tiles} "
        f"image={safe_stem(photo.filename)} {header.format} {header.width_px}x{header.height_px}"
    )


@dataclass(frozen=True, slots=True)
class PageRequest:
    payer: Payer
    options: GenerateOptions
    photo: Photo
    header: ImageHeader


@dataclass(frozen=True, slots=True)
class BulkItem:
    """One image of a bulk request: screened (with its header), or refused at the edge."""

    photo: Photo
    header: ImageHeader | None = None
    refusal: Failure | None = None


@dataclass(frozen=True, slots=True)
class BulkRequest:
    payer: Payer
    options: GenerateOptions
    items: Sequence[BulkItem]

    def __post_init__(self) -> None:
        assert 0 < len(self.items) <= BULK_IMAGES_MAX
        assert self.options.mode != "ai", "the edge refuses mode=ai for bulk"
        assert all((item.header is None) != (item.refusal is None) for item in self.items)


@dataclass(frozen=True, slots=True)
class PaidFile:
    """A paid result: the file, its name, and what it cost and left (for X-Credits-* headers)."""

    data: bytes
    media_type: str
    filename: str
    charged_credits: int
    remaining_credits: int


class NoUsableImage(Failure):
    kind = ErrorKind.INVALID_INPUT
    code = "no_usable_image"


@dataclass(slots=True)
class _Usable:
    outcome: Outcome
    photo: Photo
    charge: Charge


class Generate:
    """The paid generation use cases of one process. `job` is what the pool runs per image."""

    def __init__(
        self, *, pool: ImagePool, payments: Payments, upstream: Upstream, job: GenerateJob = generate
    ) -> None:
        self.pool = pool
        self.payments = payments
        self.upstream = upstream
        self.job = job
        self._cards: dict[str, bytes] = {}
        self._cards_lock = asyncio.Lock()

    async def one(self, request: PageRequest) -> PaidFile:
        """One page from one photo; `mode=ai` through the upstream's edits endpoint."""
        options = request.options
        if options.mode == "ai":
            self.upstream.check_available()
        charge = Charge(
            request.payer.account_id, request.payer.request_id(), options.mode,
            cost_credits(options), summary_of(options, request.photo, request.header),
        )
        with self.pool.admit(1):
            # read before reserving: nothing may fail between the reservation and the work
            data = await anyio.to_thread.run_sync(request.photo.read)
            paid = await self.payments.pay_for_one(charge, lambda held: self._render(data, options))
        if options.tiles > 1:
            suffix = f"-poster-{options.tiles}x{options.tiles}"
        else:
            suffix = "" if options.output == "zip" else f"-{options.output}"
        filename = f"{safe_stem(request.photo.filename)}-{options.mode}{suffix}.{paid.value.extension}"
        return PaidFile(
            paid.value.data, paid.value.media_type, filename, paid.charged_credits, paid.remaining_credits
        )

    async def _render(self, data: bytes, options: GenerateOptions) -> Rendered:
        if options.mode == "ai":
            return await ai.ai_coloring(self.upstream, self.pool.in_pool, data, options)
        return await self.pool.in_pool(self.job, data, options)

    async def preset_card(self, preset: str) -> bytes:
        """A picture of what `preset` makes of the packaged sample photo: made once per process (in
        the pool, like any page) and kept; it costs no one anything."""
        found = self._cards.get(preset)
        if found is not None:
            return found
        if preset not in preset_names():
            raise RejectedInput("unknown_preset", f"{preset[:64]!r} is not a preset (see /api/presets)")
        async with self._cards_lock:
            if preset not in self._cards:
                sample = SAMPLE_PHOTO.read_bytes()
                with self.pool.admit(1):
                    self._cards[preset] = await self.pool.in_pool(preset_card, sample, preset)
        return self._cards[preset]

    async def ai_image(self, payer: Payer, request: ai.AiImageRequest) -> PaidFile:
        """A PNG from a text prompt, made by the upstream."""
        self.upstream.check_available()
        charge = Charge(
            payer.account_id, payer.request_id(), ai.AI_IMAGE_TOOL, request.cost_credits, request.summary
        )
        paid = await self.payments.pay_for_one(charge, lambda held: ai.ai_image(self.upstream, request))
        return PaidFile(paid.value, "image/png", "ai-image.png", paid.charged_credits, paid.remaining_credits)

    async def bulk(self, request: BulkRequest) -> PaidFile:
        """Every photo of `request` → one ZIP, one credit per image that succeeds."""
        refused, usable = self._refused_and_usable(request)
        concurrent_jobs = min(len(usable), self.pool.workers)
        with self.pool.admit(concurrent_jobs):
            paid = await self.payments.pay_for(
                [item.charge for item in usable],
                lambda held: self._bulk_file(
                    held, refused, usable, request.options, concurrent_jobs=concurrent_jobs
                ),
            )
        if request.options.output == "book":
            filename, media_type = f"book-{request.options.mode}.pdf", "application/pdf"
        else:
            filename, media_type = f"bulk-{request.options.mode}.zip", "application/zip"
        return PaidFile(paid.value, media_type, filename, paid.charged_credits, paid.remaining_credits)

    def _refused_and_usable(self, request: BulkRequest) -> tuple[list[Outcome], list[_Usable]]:
        """The outcomes of refused images (final) and the usable ones (to generate), in upload order."""
        stems = [safe_stem(i.photo.filename, fallback=f"image-{n + 1}") for n, i in enumerate(request.items)]
        refused: list[Outcome] = []
        usable: list[_Usable] = []
        options = request.options
        for index, (item, folder) in enumerate(zip(request.items, unique_folders(stems), strict=True)):
            outcome = Outcome(index, item.photo.filename, folder)
            if item.refusal is not None:
                error = item.refusal
                refused.append(
                    dataclasses.replace(outcome, error_code=error.code, error_message=error.message)
                )
                continue
            assert item.header is not None
            charge = Charge(
                request.payer.account_id, request.payer.item(index).request_id(), options.mode,
                cost_credits(options), f"bulk {summary_of(options, item.photo, item.header)}",
            )
            usable.append(_Usable(outcome, item.photo, charge))
        if not usable:
            reasons = "; ".join(f"{o.filename or o.folder}: {o.error_message}" for o in refused[:5])
            raise NoUsableImage(f"none of the images can be used ({reasons})")
        return refused, usable

    async def _bulk_file(
        self, held: Held, refused: list[Outcome], usable: list[_Usable], options: GenerateOptions, *,
        concurrent_jobs: int,
    ) -> Done[bytes]:
        """The ZIP (or the book) of every outcome; the images that failed are named, so only the
        others are captured."""
        turn = asyncio.Semaphore(concurrent_jobs)
        done = await asyncio.gather(*(self._bulk_one(item, options, turn, held) for item in usable))
        outcomes = sorted([*refused, *(outcome for outcome, _ in done)], key=lambda o: o.index)
        if options.output == "book":
            made = await anyio.to_thread.run_sync(lambda: bulk_book(outcomes, options))
        else:
            made = await anyio.to_thread.run_sync(
                lambda: bulk_zip(outcomes, output=options.output, options=_options_record(options))
            )
        return Done(made, failed={index: reason for index, (_, reason) in enumerate(done) if reason})

    async def _bulk_one(
        self, item: _Usable, options: GenerateOptions, turn: asyncio.Semaphore, held: Held
    ) -> tuple[Outcome, str]:
        """One image's outcome, and why its credit is to be released ("" if it succeeded).

        Waiting for its turn counts against the request's deadline: an image still waiting when it
        passes is never started."""
        started = False
        rendered = None
        try:
            with anyio.CancelScope(deadline=held.deadline):
                async with turn:
                    started = True
                    data = await anyio.to_thread.run_sync(item.photo.read)
                    rendered = await self.pool.in_pool(self.job, data, options)
        except Exception as exc:
            failure = as_failure(exc)
            failed = dataclasses.replace(item.outcome, error_code=failure.code, error_message=failure.message)
            return failed, failure_reason(exc)
        if rendered is None:  # the deadline passed
            return _past_deadline(item.outcome, held, started=started)
        return dataclasses.replace(item.outcome, rendered=rendered), ""


def _past_deadline(outcome: Outcome, held: Held, *, started: bool) -> tuple[Outcome, str]:
    within = f"within {held.work_budget_s:g} s of reserving its credit; nothing was charged"
    if started:
        failed = dataclasses.replace(
            outcome, error_code=GenerationTimedOut.code, error_message=f"the image was not finished {within}"
        )
        return failed, f"generation failed: {GenerationTimedOut.code}"
    failed = dataclasses.replace(
        outcome, error_code="not_started", error_message=f"the image could not be started {within}"
    )
    return failed, "not started: past the request's deadline"


def _options_record(options: GenerateOptions) -> dict[str, object]:
    names = ("mode", "output", "colors", "page", "detail", "density", "preset")
    return {name: getattr(options, name) for name in names}

