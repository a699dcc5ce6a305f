"""`POST /api/generate`: one photo → the page asked for, paid for with one credit (`mode=ai`: the
upstream AI service, what a low-quality AI image costs). The use case is `Generate.one`."""

from __future__ import annotations

from starlette.responses import Response

from mosaic.http.generation import GENERATION_ERRORS, IMAGE_FIELD, form_schema, page_request
from mosaic.http.idempotent import answer_once, file_response
from mosaic.http.routing import Call, Endpoint
from mosaic.http.uploads import uploaded_form
from mosaic.imaging.pipeline import MEDIA_TYPES


async def generate_page(call: Call) -> Response:
    async with uploaded_form(call.request, file_field=IMAGE_FIELD, files_max=1) as form:
        request = await page_request(call, form)

        async def produce() -> Response:
            return file_response(await call.use_cases.generate.one(request))

        return await answer_once(call, request.payer.key, form.digest(), produce)


ENDPOINTS = [
    Endpoint(
        "POST", "/api/generate", generate_page,
        "A coloring page, color by number or mystery mosaic from one photo (1 credit; a tiles= poster:"
        " 1 credit per sheet)",
        auth="api_key_or_jwt", form=form_schema(IMAGE_FIELD, many=False),
        produces=tuple(MEDIA_TYPES.values()),
        errors=GENERATION_ERRORS, tags=("generate",),
    ),
]
