"""The OpenAPI document: FastAPI's, plus the schemas of the bodies the endpoints read themselves.

POST /v1/traces and POST /v1/reviews/{trace_id} read their bodies after the key, rate and role are checked, so that
authentication comes before parsing and a malformed body is still recorded in the register; FastAPI therefore does
not see their schemas, and they are added here (with the problem document's), once per application. So are the
query and path parameters' (``api.http.params.PARAMETER_SCHEMAS``): the routes take them as plain text, to check
them and record a malformed one themselves, so FastAPI would describe each as any string.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.http.models import Problem, ReviewDecision, TraceRequestBody
from api.http.params import PARAMETER_SCHEMAS

_REFERENCE = "#/components/schemas/{model}"


def use_document(app: FastAPI) -> None:
    """Serve ``document(app)`` as the application's OpenAPI document."""
    app.openapi = lambda: document(app)


def document(app: FastAPI) -> dict:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    body = TraceRequestBody.model_json_schema(ref_template=_REFERENCE)
    components.update(body.pop("$defs", {}))
    components["TraceRequestBody"] = body
    components["Problem"] = Problem.model_json_schema(ref_template=_REFERENCE)
    components["ReviewDecision"] = ReviewDecision.model_json_schema(ref_template=_REFERENCE)
    for operations in schema["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if (where := (parameter["in"], parameter["name"])) in PARAMETER_SCHEMAS:
                    parameter["schema"] = dict(PARAMETER_SCHEMAS[where])
    app.openapi_schema = schema
    return schema
