"""OpenAPI text and examples for the service (synthetic people only)."""

from __future__ import annotations

from api.http.problems import PROBLEM_MEDIA_TYPE

DESCRIPTION = """
Approved-trace requests against a (synthetic) national patient demographics index.

A request names one person, the legal basis (a suspected immigration offence under s.24/24A Immigration Act 1971,
or a welfare concern), the investigation so far and the two officers responsible. The policy in force on the day
the request arrives judges it; a refused request is never matched. A traced answer discloses only the last known
address, the GP registration date and the GP practice. Restricted records and welfare concerns are held for
review (`pending_review`), indistinguishably. Every authenticated request is written to a hash-chained audit
register before it is answered; if that fails, the answer is 503 and nothing is disclosed.

Errors are RFC 9457 problem details (`application/problem+json`) and never repeat the personal data sent.
"""

IMMIGRATION_REQUEST = {
    "subject": {
        "given_name": "Amelia",
        "other_given_names": "Rose",
        "family_name": "Hartley",
        "date_of_birth": "1988-04-17",
        "sex": "female",
        "postcode": "LS6 2QT",
        "address": "14 Moorland Road",
        "town": "Leeds",
    },
    "basis": {
        "category": 1,
        "offence": "s24(1)(b)(i)",
        "serious_crime": "conviction_deportation_considered",
    },
    "investigation": {
        "reference": "HO-2026-004217",
        "last_contact": "2026-02-03",
        "channels_tried": ["last known address visited", "reporting centre records"],
        "no_known_explanation": True,
    },
    "officers": {
        "requesting": {"id": "HO-EO-1182", "grade": "EO"},
        "authorising": {"id": "HO-HEO-0407", "grade": "HEO"},
    },
}

WELFARE_REQUEST = {
    **IMMIGRATION_REQUEST,
    "basis": {"category": 2, "welfare_description": "vulnerable adult missing from supported accommodation"},
}

TRACE_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/TraceRequestBody"},
                "examples": {
                    "immigration_offence": {
                        "summary": "Category 1 under mou-2018-05 (serious-crime ground given)",
                        "value": IMMIGRATION_REQUEST,
                    },
                    "welfare": {"summary": "Category 2: held for clinician review", "value": WELFARE_REQUEST},
                },
            }
        },
    }
}

# A UUID in its canonical text form (8-4-4-4-12 hexadecimal digits, either case), as PDS takes it; no braces, no
# urn:uuid:, so that one id has one spelling (lower-cased before it is keyed). Checked by ``api.http.params``.
REQUEST_ID_PATTERN = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"

REQUEST_ID_PARAMETER = {
    "parameters": [
        {
            "name": "X-Request-ID",
            "in": "header",
            "required": False,
            "description": (
                "A UUID naming this request (as NHS PDS asks). Sent again with the same body within a day (the "
                "service's retry window), the request is answered as it was the first time (the same trace_id, "
                "register_sequence, status and disclosure) and is not traced, counted or recorded again; with "
                "another body it is a 409. Without it, every request is a new one. A deployment may require it "
                "(TRACING_REQUIRE_REQUEST_ID). Malformed, it is a 422 that does not repeat it."
            ),
            "schema": {
                "type": "string",
                "pattern": REQUEST_ID_PATTERN,
            },
            "example": "3f2b8c1e-7d4a-4e6b-9c2d-1a5e8f0b4c7d",
        }
    ]
}

_ANSWER_BASE = {
    "trace_id": "6f1c2d4e-9a8b-4c1d-8e2f-3a4b5c6d7e8f",
    "policy_version": "mou-2018-05",
    "register_sequence": 1042,
    "refusals": [],
    "disclosure": None,
}


def _problem(status: int, slug: str, title: str, detail: str, **extra) -> dict:
    return {
        "content": {
            PROBLEM_MEDIA_TYPE: {
                "schema": {"$ref": "#/components/schemas/Problem"},
                "example": {
                    "type": f"/problems/{slug}",
                    "title": title,
                    "status": status,
                    "detail": detail,
                    "instance": "/v1/traces",
                    **extra,
                },
            }
        }
    }


TRACE_RESPONSES = {
    200: {
        "description": (
            "The answer: traced (with the disclosure), not_found, ambiguous, refused, pending_review, or deceased (a "
            "certain match to someone who has died: nothing disclosed)"
        ),
        "content": {
            "application/json": {
                "examples": {
                    "traced": {
                        "value": {
                            **_ANSWER_BASE,
                            "status": "traced",
                            "disclosure": {
                                "last_known_address": {
                                    "lines": ["14 MOORLAND ROAD", "HYDE PARK"],
                                    "town": "LEEDS",
                                    "postcode": "LS6 2QT",
                                },
                                "registration_date": "2019-09-02",
                                "gp_practice": {
                                    "code": "B86012",
                                    "name": "MOORLAND MEDICAL PRACTICE",
                                    "address": "3 CLIFF ROAD, LEEDS",
                                    "postcode": "LS6 2EZ",
                                },
                            },
                        }
                    },
                    "refused": {
                        "value": {
                            **_ANSWER_BASE,
                            "status": "refused",
                            "refusals": [
                                {
                                    "code": "AUTHORISER_TOO_JUNIOR",
                                    "message": "the authorising officer must be HEO or more senior under mou-2018-05",
                                },
                                {
                                    "code": "INVESTIGATION_TOO_RECENT",
                                    "message": "contact must have been lost for at least 90 days",
                                },
                            ],
                        }
                    },
                    "pending_review": {"value": {**_ANSWER_BASE, "status": "pending_review"}},
                    "deceased": {"value": {**_ANSWER_BASE, "status": "deceased"}},
                    "not_found": {"value": {**_ANSWER_BASE, "status": "not_found"}},
                }
            }
        },
    },
    401: {
        "description": "No API key, or an unknown or revoked one",
        **_problem(401, "unauthenticated", "Authentication required", "a valid API key is required"),
    },
    403: {
        "description": "The client's role may not make trace requests",
        **_problem(403, "forbidden", "Not allowed for this client's role", "only a requester client may use this"),
    },
    413: {
        "description": "Body over 16 KiB",
        **_problem(413, "too-large", "Request body too large", "at most 16384 bytes"),
    },
    415: {
        "description": "Body not JSON",
        **_problem(
            415, "unsupported-media-type", "Unsupported media type", "send the request body as application/json"
        ),
    },
    409: {
        "description": "The X-Request-ID was used by this client for another request within the retry window, or "
        "a request with it is being answered now (see Retry-After, then send it again for its answer)",
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}},
        **_problem(
            409,
            "conflict",
            "Conflict with the request's current state",
            "this X-Request-ID was used for another request; send a new id for a new request",
            trace_id="0b7e3f0c-3f55-4d1e-9d0c-2c8a3f9e1d44",
        ),
    },
    422: {
        "description": "Malformed request or X-Request-ID: the fields at fault, never their values",
        **_problem(
            422,
            "invalid-request",
            "The request is not valid",
            "fields at fault: subject.date_of_birth",
            errors=[{"field": "subject.date_of_birth", "message": "Input should be a valid date"}],
            trace_id="0b7e3f0c-3f55-4d1e-9d0c-2c8a3f9e1d44",
        ),
    },
    429: {
        "description": "The client's rate limit is exceeded (see Retry-After)",
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}},
        **_problem(429, "rate-limited", "Too many requests", "this client's request rate is exceeded"),
    },
    500: {
        "description": "The trace failed; the request is in the register as an error, nothing is disclosed",
        **_problem(500, "internal-error", "Internal error", "the trace could not be completed"),
    },
    503: {
        "description": "The audit register or the database cannot be reached, or the service is stopping: "
        "nothing is disclosed",
        **_problem(503, "unavailable", "Service unavailable", "the audit register cannot be written"),
    },
}


# Shared by the endpoints other than POST /v1/traces, so it lists what any of them may answer: the 404 and 409 are
# the /{trace_id} ones', the 413 and 415 the decision's.
READ_RESPONSES = {
    401: TRACE_RESPONSES[401],
    403: {
        "description": "The client's role may not use this endpoint (the register is for auditors, reviews for "
        "reviewers); or a reviewer would decide a request of their own organisation",
        **_problem(403, "forbidden", "Not allowed for this client's role", "only an auditor client may use this"),
    },
    404: {
        "description": "No held request has this trace_id (or, for GET /v1/traces/{trace_id}, none of this client's)",
        **_problem(
            404, "not-found", "No such resource", "no held request has this id", instance="/v1/reviews/{trace_id}"
        ),
    },
    409: {
        "description": "The held request was decided already, or its disclosure collected meanwhile",
        **_problem(
            409,
            "conflict",
            "Conflict with the request's current state",
            "this request has already been decided",
            instance="/v1/reviews/{trace_id}",
        ),
    },
    413: {
        "description": "A decision's body over 16 KiB (POST /v1/reviews/{trace_id})",
        **_problem(
            413, "too-large", "Request body too large", "at most 16384 bytes", instance="/v1/reviews/{trace_id}"
        ),
    },
    415: {
        "description": "A decision's body not JSON (POST /v1/reviews/{trace_id})",
        **_problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "send the request body as application/json",
            instance="/v1/reviews/{trace_id}",
        ),
    },
    422: {
        "description": "A malformed query, trace_id or decision: the fields at fault, never their values",
        **_problem(
            422,
            "invalid-request",
            "The request is not valid",
            "fields at fault: query.from",
            errors=[{"field": "query.from", "message": "must be a date, YYYY-MM-DD"}],
        ),
    },
    429: TRACE_RESPONSES[429],
    503: TRACE_RESPONSES[503],
}


def _only(*statuses: int) -> dict:
    return {status: READ_RESPONSES[status] for status in statuses}


# Per endpoint, the statuses it can answer with (READ_RESPONSES holds them all).
REGISTER_RESPONSES = _only(401, 403, 422, 429, 503)
REVIEW_QUEUE_RESPONSES = _only(401, 403, 429, 503)
REVIEW_CASE_RESPONSES = _only(401, 403, 404, 409, 422, 429, 503)
REVIEW_DECISION_RESPONSES = _only(401, 403, 404, 409, 413, 415, 422, 429, 503)
HELD_TRACE_RESPONSES = _only(401, 403, 404, 409, 422, 429, 503)
HEALTH_RESPONSES = {
    503: {
        "description": "The database does not answer",
        **_problem(503, "unavailable", "Service unavailable", "the database does not answer", instance="/v1/health"),
    },
}
