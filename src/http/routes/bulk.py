"""`POST /api/bulk`: up to 50 photos → one ZIP, one credit per image that succeeds.

Every image is screened first; one that is refused is reported in the manifest and never charged.
Then one ledger command reserves a credit for each usable image, all or none (402 before any work);
the images go through the worker pool a few at a time (as many as there are workers, so a bulk
request never crowds single requests out of the queue), all within one deadline counted from the
reservation (an image not started by then is reported failed, never charged). Once the ZIP is built,
one ledger command captures each success and releases each failure; if the ZIP cannot be built,
everything is released.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Final

import anyio.to_thread
from starlette.responses import Response

from mosaic.commands.generation import COST_CREDITS_BY_MODE, GenerationTimedOut
from mosaic.commands.paid import Charge, Done, Held, PaidWorkFailed, failure_reason
from mosaic.domain.errors import DomainError
from mosaic.http.bulk_archive import Outcome, bulk_zip, unique_folders
from mosaic.http.errors import IMAGING_ERRORS, ApiError, api_error_for_imaging
from mosaic.http.idempotent import answer_once, idempotency_key
from mosaic.http.routes.generate import (
    GENERATION_ERRORS,
    charge_for,
    credit_headers,
    failure_response,
    form_schema,
    options_from,
    safe_stem,
    screened,
    summary_of,
)
from mosaic.http.routing import Call, Endpoint
from mosaic.http.uploads import Form, Upload, read_form
from mosaic.imaging.options import GenerateOptions

BULK_IMAGES_MAX: Final = 50  # the spec's "Max 50 images"
BULK_FIELD: Final = "images"


@dataclasses.dataclass(frozen=True, slots=True)
class _Usable:
    """An image that passed screening, with its charge."""

    outcome: Outcome
    upload: Upload
    charge: Charge


async def _screen_all(
    call: Call, form: Form, options: GenerateOptions, key: str | None
) -> tuple[list[Outcome], list[_Usable]]:
    """Outcomes of refused images (final) and the usable ones (to generate), in upload order."""
    stems = [safe_stem(u.filename, fallback=f"image-{i + 1}") for i, u in enumerate(form.uploads)]
    folders = unique_folders(stems)
    refused: list[Outcome] = []
    usable: list[_Usable] = []
    for index, (upload, folder) in enumerate(zip(form.uploads, folders, strict=True)):
        outcome = Outcome(index, upload.filename, folder)
        try:
            header = await screened(upload)
        except ApiError as exc:
            refused.append(dataclasses.replace(outcome, error_code=exc.code, error_message=exc.message))
            continue
        sub_key = None if key is None else f"{key} {index}"  # keys hold no spaces: ids never collide
        charge = charge_for(
            call, tool=options.mode, cost_credits=COST_CREDITS_BY_MODE[options.mode], key=sub_key,
            summary=f"bulk {summary_of(options, upload, header)}",
        )
        usable.append(_Usable(outcome, upload, charge))
    return refused, usable


async def _generate_one(
    call: Call, item: _Usable, options: GenerateOptions, turn: asyncio.Semaphore, held: Held
) -> tuple[Outcome, str]:
    """One image's outcome, and why its credit is to be released ("" if it succeeded).

    Waiting for its turn counts against the request's deadline: an image still waiting when it
    passes is never started."""
    generations = call.http.generations
    started = False
    rendered = None
    try:
        with anyio.CancelScope(deadline=held.deadline):
            async with turn:
                started = True
                data = await anyio.to_thread.run_sync(item.upload.read)
                rendered = await generations.in_pool(call.http.generate_job, data, options)
    except Exception as exc:
        failure = failure_response(call, exc)
        code, message = _error_of(exc, failure.status_code)
        return dataclasses.replace(item.outcome, error_code=code, error_message=message), failure_reason(exc)
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


def _error_of(exc: Exception, status: int) -> tuple[str, str]:
    if isinstance(exc, IMAGING_ERRORS):
        error = api_error_for_imaging(exc)
        return error.code, error.message
    if isinstance(exc, DomainError):
        return exc.code, exc.message
    return "generation_failed", f"the image could not be generated (status {status}); nothing was charged"


async def _generate_all(
    call: Call, held: Held, refused: list[Outcome], usable: list[_Usable], options: GenerateOptions, *,
    concurrent_jobs: int,
) -> Done[bytes]:
    """The ZIP of every outcome; the images that failed are named, so only the others are captured."""
    turn = asyncio.Semaphore(concurrent_jobs)
    done = await asyncio.gather(*(_generate_one(call, item, options, turn, held) for item in usable))
    outcomes = sorted([*refused, *(outcome for outcome, _ in done)], key=lambda o: o.index)
    archive = await anyio.to_thread.run_sync(
        lambda: bulk_zip(outcomes, output=options.output, options=_options_record(options))
    )
    return Done(archive, failed={index: reason for index, (_, reason) in enumerate(done) if reason})


async def _bulk_paid(
    call: Call, refused: list[Outcome], usable: list[_Usable], options: GenerateOptions
) -> Response:
    generations = call.http.generations
    concurrent_jobs = min(len(usable), generations.workers)
    with generations.admit(concurrent_jobs):
        try:
            paid = await call.http.payments.pay_for(
                [item.charge for item in usable],
                lambda held: _generate_all(
                    call, held, refused, usable, options, concurrent_jobs=concurrent_jobs
                ),
            )
        except PaidWorkFailed as failed:  # no ZIP: every credit was released
            return failure_response(call, failed.cause)
    headers = {
        "Content-Disposition": f'attachment; filename="bulk-{options.mode}.zip"',
        **credit_headers(paid.charged_credits, paid.remaining_credits),
    }
    return Response(paid.value, media_type="application/zip", headers=headers)


def _options_record(options: GenerateOptions) -> dict[str, object]:
    names = ("mode", "output", "colors", "page", "detail", "density", "preset")
    return {name: getattr(options, name) for name in names}


def _usable_or_refuse(refused: Sequence[Outcome], usable: Sequence[_Usable]) -> None:
    if not refused and not usable:
        raise ApiError(400, "missing_images", f"send 1 to {BULK_IMAGES_MAX} photos in the 'images' field")
    if not usable:
        reasons = "; ".join(f"{o.filename or o.folder}: {o.error_message}" for o in refused[:5])
        raise ApiError(400, "no_usable_image", f"none of the images can be used ({reasons})")


async def bulk_generate(call: Call) -> Response:
    form = await read_form(call.request, file_field=BULK_FIELD, files_max=BULK_IMAGES_MAX)
    try:
        key = idempotency_key(call)
        options = options_from(form)
        if options.mode == "ai":
            raise ApiError(400, "invalid_option", "mode: ai is not available for bulk generation")
        refused, usable = await _screen_all(call, form, options, key)
        _usable_or_refuse(refused, usable)
        return await answer_once(call, key, form.digest(), lambda: _bulk_paid(call, refused, usable, options))
    finally:
        form.close()


ENDPOINTS = [
    Endpoint(
        "POST", "/api/bulk", bulk_generate,
        f"Up to {BULK_IMAGES_MAX} photos → one ZIP (a folder per image, manifest.json); 1 credit per image",
        auth="api_key_or_jwt", form=form_schema(BULK_FIELD, many=True), produces=("application/zip",),
        errors=GENERATION_ERRORS, tags=("generate",),
    ),
]
