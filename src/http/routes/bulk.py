"""`POST /api/bulk`: up to 50 photos → one ZIP (a folder per image, `manifest.json`), or with
`output=book` one print-ready PDF; one credit per image that succeeds. The use case is `Generate.bulk`."""

from __future__ import annotations

from starlette.responses import Response

from mosaic.commands.generate import BULK_IMAGES_MAX
from mosaic.http.generation import BULK_FIELD, GENERATION_ERRORS, bulk_request, form_schema
from mosaic.http.idempotent import answer_once, file_response
from mosaic.http.routing import Call, Endpoint
from mosaic.http.uploads import uploaded_form


async def bulk_generate(call: Call) -> Response:
    async with uploaded_form(call.request, file_field=BULK_FIELD, files_max=BULK_IMAGES_MAX) as form:
        request = await bulk_request(call, form)

        async def produce() -> Response:
            return file_response(await call.use_cases.generate.bulk(request))

        return await answer_once(call, request.payer.key, form.digest(), produce)


ENDPOINTS = [
    Endpoint(
        "POST", "/api/bulk", bulk_generate,
        f"Up to {BULK_IMAGES_MAX} photos → one ZIP (a folder per image, manifest.json), or with output=book"
        " one print-ready PDF; 1 credit per image",
        auth="api_key_or_jwt", form=form_schema(BULK_FIELD, many=True),
        produces=("application/zip", "application/pdf"),
        errors=GENERATION_ERRORS, tags=("generate",),
    ),
]
