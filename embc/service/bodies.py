"""Request bodies that come as JSON or as multipart/form-data (uploads): reading them into their typed models,
and describing both in the OpenAPI schema."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from embc.service import schemas

MAX_FILES = 10_000  # files in one upload
LISTS = ("files",)  # the form fields that take several files
BODIES = (schemas.IngestRequest, schemas.Upload, schemas.SimilarRequest, schemas.ImageQuery)
REF = "#/components/schemas/{model}"


def bodies(as_json: type[BaseModel], as_form: type[BaseModel]) -> dict:
    """The OpenAPI request body of a route that takes JSON or multipart/form-data."""
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": REF.format(model=as_json.__name__)}},
        "multipart/form-data": {"schema": {"$ref": REF.format(model=as_form.__name__)}}}}}


async def read_body(request: Request, as_json: type[BaseModel], as_form: type[BaseModel]) -> BaseModel:
    """The body as `as_json` (JSON) or `as_form` (multipart/form-data, its files as UploadFile objects);
    422 when it does not fit, 415 for any other content type."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if kind == "multipart/form-data":
            form = await request.form(max_files=MAX_FILES)
            fields = {key: form.getlist(key) if key in LISTS else form[key] for key in form}
            body = as_form.model_validate(fields)
            files = [f for key in LISTS for f in fields.get(key, [])] + [getattr(body, "image", None)]
            if any(f is not None and not isinstance(f, UploadFile) for f in files):
                raise RequestValidationError([{"loc": ("body",), "msg": "a file field holds text, not a file"}])
            return body
        if kind in ("application/json", ""):
            return as_json.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]) \
            from None
    raise HTTPException(415, f"send the body as application/json or multipart/form-data, not '{kind}'")


def describe_bodies(app: FastAPI) -> None:
    """Add the models of the JSON-or-form bodies to the app's OpenAPI components, where `bodies` refers."""
    components = models_json_schema([(m, "validation") for m in BODIES], ref_template=REF)[1]["$defs"]
    default = app.openapi

    def openapi() -> dict:
        schema = default()
        schema["components"]["schemas"].update(components)
        return schema

    app.openapi = openapi
