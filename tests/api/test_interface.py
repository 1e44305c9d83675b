"""The service's interface: problem details that never echo personal data, the register entry of every rejected
request, the health check and the OpenAPI document (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import logging
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.http.models import Problem, TraceAnswer, TraceRequestBody
from tests.support.api import assert_problem, trace_body

markers = st.text(string.ascii_letters, min_size=6, max_size=10).map(lambda letters: "Zq" + letters)
NAME_FIELDS = ("given_name", "other_given_names", "family_name")


def post(api, content: bytes, key: str | None, content_type: str = "application/json", **headers):
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return api.http.post("/v1/traces", content=content, headers={"Content-Type": content_type, **headers})


# --- Invalid requests carrying a marker in the subject's details: each breakage makes the body invalid. ---


def _set(section: str, field: str, value):
    def change(body: dict, marker: str) -> None:
        body.setdefault(section, {})[field] = value(marker) if callable(value) else value

    return change


def _without(section: str):
    return lambda body, marker: body.pop(section, None)


_breakages = st.sampled_from(
    [
        _set("subject", "date_of_birth", lambda m: f"{m}-01-01"),
        _set("subject", "date_of_birth", lambda m: f"1988-04-17{m}"),
        _set("investigation", "last_contact", lambda m: f"2026-{m}-03"),
        _set("subject", "sex", lambda m: m),
        _set("subject", "family_name", lambda m: (m + " ") * 15),
        _set("subject", "given_name", lambda m: "x" * 95 + m),
        _set("subject", "other_given_names", lambda m: m.ljust(101, "y")),
        _set("subject", "notes", lambda m: m),
        _set("subject", "family_name ", lambda m: m),
        _set("basis", "subject_name", lambda m: m),
        _set("officers", "requesting", lambda m: {"id": "HO-1", "grade": "EO", "name": m}),
        _set("subject", "family_name", lambda m: {m: m}),
        _set("subject", "given_name", lambda m: [m]),
        _set("subject", "date_of_birth", lambda m: [m, 1988]),
        _set("subject", "postcode", lambda m: {"outward": m}),
        _set("investigation", "channels_tried", lambda m: {"tried": m}),
        _set("basis", "offence", lambda m: m),
        _set("officers", "authorising", lambda m: m),
        lambda body, marker: body["subject"].update({marker: marker}),
        lambda body, marker: body.update({marker: {"family_name": marker}}),
        _without("basis"),
        _without("investigation"),
        _without("officers"),
        lambda body, marker: body.update({"basis": {"category": 2, "offence": "s24(1)(a)"}}),
    ]
)


@st.composite
def invalid_requests(draw) -> tuple[str, bytes, str, str]:
    """(marker, body, content type, authorisation): the subject's details carry the marker; the request is
    invalid by its body (broken in one to three ways), its JSON, its media type or its credentials."""
    marker = draw(markers)
    body = trace_body(None)
    for field in draw(st.sets(st.sampled_from(NAME_FIELDS), min_size=1)):
        body["subject"][field] = marker
    breakages = draw(st.lists(_breakages, min_size=1, max_size=3))
    for breakage in breakages:
        breakage(body, marker)
    text = json.dumps(body)
    content_type = "application/json"
    form = draw(st.sampled_from(["json", "json", "json", "broken", "broken", "media_type"]))
    if form == "broken":  # cut short, or spoiled, after the marker's first appearance
        end = text.index(marker) + len(marker)
        text = text[: draw(st.integers(end, len(text) - 1))] + draw(st.sampled_from(["", "}", '"', "\\u", "'", ",,"]))
    elif form == "media_type":
        content_type = draw(st.sampled_from(["text/plain", "application/x-www-form-urlencoded", f"text/{marker}"]))
    authorisation = draw(st.sampled_from(["key", "key", "key", "none", "marker"]))
    return marker, text.encode(), content_type, authorisation


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=invalid_requests())
def test_an_invalid_request_is_answered_with_a_problem_that_never_repeats_the_subjects_details(
    api, requester_key, case
):
    marker, content, content_type, authorisation = case
    key = {"key": requester_key, "none": None, "marker": marker}[authorisation]
    response = post(api, content, key, content_type)
    assert 400 <= response.status_code < 500
    expected = 401 if authorisation != "key" else 415 if content_type != "application/json" else 422
    assert response.status_code == expected
    problem = assert_problem(response)
    assert marker.lower() not in response.text.lower()
    assert marker.lower() not in str(response.headers).lower()
    if response.status_code == 422:
        assert problem["errors"] and all(e["field"] and e["message"] for e in problem["errors"])


def test_a_field_name_the_client_invented_is_never_repeated(api, requester_key):
    body = trace_body(None)
    body["subject"].update({"Hartley": "x", "Amelia Rose": "y", "hartley": "z"})
    problem = assert_problem(api.trace(body, requester_key), 422)
    assert sorted(e["field"] for e in problem["errors"]) == ["subject.(unknown field)"] * 3
    assert "hartley" not in (problem["detail"] + json.dumps(problem["errors"])).lower()
    assert "Amelia" not in problem["detail"] + json.dumps(problem["errors"])


# --- Every rejected request from a known client is in the register, under the id the problem gives. ---


def _chunks(size: int):
    yield from (b"x" * 1_000 for _ in range(size // 1_000))


REJECTIONS = {
    "invalid field": (lambda key, api: api.trace(trace_body(None, subject__date_of_birth="1988-13-40"), key), 422),
    "broken JSON": (lambda key, api: post(api, b'{"subject": {"family_name": "Hart', key), 422),
    "not an object": (lambda key, api: post(api, b"[1, 2]", key), 422),
    "declared too large": (lambda key, api: post(api, b" " * 16_385, key), 413),
    "streamed too large": (lambda key, api: post(api, _chunks(20_000), key), 413),
    "not JSON": (lambda key, api: post(api, json.dumps(trace_body(None)).encode(), key, "text/plain"), 415),
}


@pytest.mark.parametrize("rejection", REJECTIONS)
def test_a_rejected_request_is_recorded_as_invalid_under_the_trace_id_in_the_problem(api, requester_key, rejection):
    send, status = REJECTIONS[rejection]
    response = send(requester_key, api)
    problem = assert_problem(response, status)
    [entry] = api.entries()
    assert entry.draft.outcome == "invalid" and entry.draft.http_status == status
    assert problem["trace_id"] == entry.trace_id
    if rejection == "streamed too large":  # no Content-Length: the limit is enforced while reading
        assert "content-length" not in response.request.headers


def test_an_unknown_path_and_a_wrong_method_are_problems(api):
    assert_problem(api.http.get("/v1/nothing-here"), 404)
    response = api.http.get("/v1/traces")
    assert_problem(response, 405)
    assert response.headers["allow"] == "POST"


def test_an_unknown_path_or_id_holding_personal_data_is_not_repeated(api, requester_key):
    response = api.http.get("/v1/people/Amelia%20Hartley%201988-04-17")
    assert_problem(response, 404)
    assert "Hartley" not in response.text
    unknown_id = api.http.get("/v1/traces/Amelia%20Hartley", headers={"Authorization": f"Bearer {requester_key}"})
    assert assert_problem(unknown_id, 422)["instance"] == "/v1/traces/{trace_id}"
    assert "Hartley" not in unknown_id.text
    # Not a trace_id, so not written into the register as the request it concerns (it was, before).
    assert api.entries()[-1].draft.outcome == "invalid" and api.entries()[-1].draft.concerns is None


def test_a_problem_names_the_route_not_the_path_as_sent(api):
    response = api.http.post("/v1/traces?who=Hartley", json={})
    assert assert_problem(response, 401)["instance"] == "/v1/traces"
    assert "Hartley" not in response.text


def test_an_unexpected_error_is_a_500_problem_recorded_and_logged_without_the_subject(
    api, requester_key, people, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG)
    name = people["ordinary"]["family_name"]

    def fail(requests, explain=False):
        raise ValueError(f"cannot trace {requests[0].family_name} born {requests[0].date_of_birth}")

    monkeypatch.setattr(api.components.service.tracer, "trace_many", fail)
    response = api.trace(trace_body(people["ordinary"]), requester_key)
    problem = assert_problem(response, 500)
    assert name.lower() not in response.text.lower()
    entry = api.entries()[-1]
    assert entry.draft.outcome == "error" and entry.draft.http_status == 500 and entry.trace_id == problem["trace_id"]
    assert "unhandled ValueError" in caplog.text
    assert name.lower() not in caplog.text.lower()
    assert all(name.lower() not in repr(r.args).lower() for r in caplog.records)


def test_health_answers_without_authentication(api):
    response = api.http.get("/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "policy_version": "mou-2018-05"}


# --- The OpenAPI document. ---


@pytest.fixture
def openapi(api) -> dict:
    response = api.http.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def resolve(document: dict, reference: str):
    assert reference.startswith("#/"), reference
    node = document
    for part in reference[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def references(node) -> list[str]:
    """Every "$ref" anywhere under ``node``."""
    if isinstance(node, list):
        return [r for v in node for r in references(v)]
    if not isinstance(node, dict):
        return []
    own = [node["$ref"]] if "$ref" in node else []
    return own + [r for v in node.values() for r in references(v)]


def test_every_reference_in_the_openapi_document_resolves(openapi):
    found = references(openapi)
    assert len(found) > 10
    for reference in found:
        assert isinstance(resolve(openapi, reference), dict), reference


def test_the_trace_request_body_is_described_with_examples_that_are_valid_requests(openapi):
    operation = openapi["paths"]["/v1/traces"]["post"]
    content = operation["requestBody"]["content"]["application/json"]
    assert resolve(openapi, content["schema"]["$ref"]) is openapi["components"]["schemas"]["TraceRequestBody"]
    assert set(openapi["components"]["schemas"]["TraceRequestBody"]["required"]) == {
        "subject",
        "basis",
        "investigation",
        "officers",
    }
    examples = content["examples"]
    assert {"immigration_offence", "welfare"} <= set(examples)
    for name in ("immigration_offence", "welfare"):
        TraceRequestBody.model_validate(examples[name]["value"])


def test_the_trace_responses_are_documented_with_valid_examples(openapi):
    operation = openapi["paths"]["/v1/traces"]["post"]
    responses = operation["responses"]
    assert {"200", "401", "403", "422", "429", "503"} <= set(responses)
    answers = responses["200"]["content"]["application/json"]
    assert resolve(openapi, answers["schema"]["$ref"]) is openapi["components"]["schemas"]["TraceAnswer"]
    statuses = {TraceAnswer.model_validate(e["value"]).status for e in answers["examples"].values()}
    assert {"traced", "refused", "pending_review", "not_found"} <= statuses
    for code in ("401", "403", "413", "415", "422", "429", "503"):
        problem = responses[code]["content"]["application/problem+json"]
        assert resolve(openapi, problem["schema"]["$ref"]) is openapi["components"]["schemas"]["Problem"]
        assert Problem.model_validate(problem["example"]).status == int(code)
    assert "Retry-After" in responses["429"]["headers"]


def test_the_bearer_scheme_is_declared_and_required_by_the_trace_operation(openapi):
    schemes = openapi["components"]["securitySchemes"]
    [name] = [n for n, s in schemes.items() if s["type"] == "http" and s["scheme"] == "bearer"]
    assert {name: []} in openapi["paths"]["/v1/traces"]["post"]["security"]
    assert "security" not in openapi["paths"]["/v1/health"]["get"]


def test_the_access_log_names_the_route_never_the_path_or_query_as_sent(api, requester_key, caplog):
    caplog.set_level(logging.INFO, logger="api.access")
    api.http.post("/v1/traces?who=Hartley", json={}, headers={"Authorization": f"Bearer {requester_key}"})
    api.http.get("/v1/people/Amelia%20Hartley%201988-04-17")
    api.http.get("/v1/traces/Amelia%20Hartley")
    lines = [r.getMessage() for r in caplog.records if r.name == "api.access"]
    assert len(lines) == 3
    assert lines[0].startswith("POST /v1/traces 422 ") and lines[1].startswith("GET (no route) 404 ")
    assert lines[2].startswith("GET /v1/traces/{trace_id} 401 ")
    assert "hartley" not in caplog.text.lower() and "amelia" not in caplog.text.lower()
