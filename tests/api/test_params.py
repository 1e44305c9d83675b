"""Query parameters and path ids at their edges: every one malformed or out of range is a recorded 422 naming it.

The first 500s found here (``to=9999-12-31`` overflowed adding a day; ``limit=²`` passed ``str.isdigit`` and
failed ``int``) were in no register, and schemathesis missed them: the fixed cases below, then properties drawing
other scripts' digits, signs, spaces, extreme dates and repeats over each parameter of each endpoint.
"""

from __future__ import annotations

import datetime as dt

import pytest

from api.access.clients import Role
from tests.support.api import assert_problem, bearer

REGISTER_PATHS = ("/v1/register/summary", "/v1/register/entries")
HELD_PATHS = {  # the endpoints that take a trace_id in the path, and the role each is for
    ("GET", "/v1/reviews/{}"): Role.REVIEWER,
    ("POST", "/v1/reviews/{}"): Role.REVIEWER,
    ("GET", "/v1/traces/{}"): Role.REQUESTER,
}


def invalid_entries(api) -> list:
    return [e for e in api.entries() if e.draft.outcome == "invalid"]


def assert_recorded_422(api, response, field: str, before: int) -> dict:
    """A 422 naming ``field`` alone, whose entry (invalid, 422) is the register's newest."""
    problem = assert_problem(response, 422)
    assert [e["field"] for e in problem["errors"]] == [field], problem
    recorded = invalid_entries(api)
    assert len(recorded) == before + 1 and recorded[-1].draft.http_status == 422
    assert problem["trace_id"] == recorded[-1].draft.trace_id
    return problem


@pytest.mark.parametrize("path", REGISTER_PATHS)
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("to", "9999-12-31"),  # a 500 before: the day after it is past datetime.date.max
        ("from", "9999-12-31"),
        ("from", "0001-01-01"),
        ("to", "1899-12-31"),
        ("to", "20261101"),  # fromisoformat's other forms
        ("from", "2026-W44-7"),
        ("to", "２０２６-１１-０１"),  # fullwidth digits
        ("from", "٢٠٢٦-١١-٠١"),  # Arabic-Indic digits
        ("to", "2026-11-01\n"),
        ("to", " 2026-11-01"),
    ],
)
def test_a_date_out_of_range_or_not_in_ascii_digits_is_a_recorded_422(api, path, name, value):
    auditor = api.add_client("auditor")
    before = len(invalid_entries(api))
    response = api.http.get(path, params={name: value}, headers=bearer(auditor))
    problem = assert_recorded_422(api, response, f"query.{name}", before)
    assert value.strip() not in response.text or not value.strip(), problem


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("limit", "²"),  # a 500 before: str.isdigit takes it, int does not
        ("after", "³"),
        ("limit", "٣"),  # int takes it: still not ASCII
        ("after", "１"),
        ("limit", "+5"),
        ("limit", "-5"),
        ("limit", " 5"),
        ("limit", "5 "),
        ("limit", "1e2"),
        ("after", "9" * 5000),  # past int's 4300 digits: a ValueError, so a 500, before
        ("after", str(2**62 + 1)),
        ("after", "0" * 20 + "1"),  # more digits than the bound has
        ("limit", "1001"),
        ("limit", ""),
    ],
)
def test_a_whole_number_not_in_ascii_digits_or_out_of_range_is_a_recorded_422(api, name, value):
    auditor = api.add_client("auditor")
    before = len(invalid_entries(api))
    response = api.http.get("/v1/register/entries", params={name: value}, headers=bearer(auditor))
    assert_recorded_422(api, response, f"query.{name}", before)


def test_the_edges_of_the_ranges_are_answered(api):
    auditor = api.add_client("auditor")
    for params in (
        {"from": "1900-01-01", "to": "9998-12-31"},
        {"after": str(2**62), "limit": "1000"},
        {"after": "0", "limit": "1"},
        {"limit": "0001"},  # leading zeros: still digits, and within the bound's length
    ):
        response = api.http.get("/v1/register/entries", params=params, headers=bearer(auditor))
        assert response.status_code == 200, (params, response.text)
    assert api.http.get("/v1/register/summary", params={"to": "9998-12-31"}, headers=bearer(auditor)).status_code == 200


def test_the_register_reads_to_the_last_day_of_the_calendar(api):
    """The CLI's export takes any date: ``to`` the last one the calendar has reads everything, not an overflow."""
    register = api.components.service.register
    assert [e.sequence for e in register.page(0, 10, end=dt.date.max)] == [e.sequence for e in register.page(0, 10)]


@pytest.mark.parametrize(("method", "path"), list(HELD_PATHS))
@pytest.mark.parametrize(
    "trace_id",
    [
        "x" * 37,  # longer than the register's concerns column: PostgreSQL refused the entry (a 503) before
        "0" * 5000,
        "ü" * 36,
        "%00" * 12,  # a NUL byte, which PostgreSQL's text refuses
        "0b7e3f0c-3f55-4d1e-9d0c-2c8a3f9e1d4",
        "{0b7e3f0c-3f55-4d1e-9d0c-2c8a3f9e1d44}",
        "0b7e3f0c3f554d1e9d0c2c8a3f9e1d44",
        "０b7e3f0c-3f55-4d1e-9d0c-2c8a3f9e1d44",
    ],
)
def test_a_malformed_trace_id_is_a_recorded_422_that_names_no_request(api, method, path, trace_id):
    key = api.add_client(HELD_PATHS[(method, path)].value)
    before = len(invalid_entries(api))
    body = {"decision": "approve", "reason": "the grounds are sound"} if method == "POST" else None
    response = api.http.request(method, path.format(trace_id), json=body, headers=bearer(key))
    assert_recorded_422(api, response, "path.trace_id", before)
    assert invalid_entries(api)[-1].draft.concerns is None


def test_a_trace_id_in_capitals_is_the_same_id(api, requester_key, people):
    from api.http import examples
    from tests.support.api import trace_body

    held = api.trace(trace_body(people["ordinary"], basis=examples.WELFARE_REQUEST["basis"]), requester_key).json()
    response = api.http.get(f"/v1/traces/{held['trace_id'].upper()}", headers=bearer(requester_key))
    assert response.status_code == 200 and response.json()["status"] == "pending_review"
    reviewer = api.add_client("reviewer")
    case = api.http.get(f"/v1/reviews/{held['trace_id'].upper()}", headers=bearer(reviewer))
    assert case.status_code == 200 and case.json()["trace_id"] == held["trace_id"]


def test_the_document_describes_every_query_and_path_parameter_as_the_service_checks_it():
    """Each parameter's schema is the one ``api.http.params`` checks against (type, format, pattern, bounds,
    lengths), not FastAPI's "any string or null", so that a fuzzer generates around its edges."""
    import re

    from api.http.app import create_app
    from api.http.params import FIRST_DAY, LAST_DAY, PARAMETER_SCHEMAS

    document = create_app(None).openapi()
    seen = set()
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] in ("query", "path"):
                    where = (parameter["in"], parameter["name"])
                    assert parameter["schema"] == PARAMETER_SCHEMAS[where], where
                    seen.add(where)
    assert seen == set(PARAMETER_SCHEMAS)
    day = re.compile(PARAMETER_SCHEMAS[("query", "from")]["pattern"])
    assert day.match(FIRST_DAY.isoformat()) and day.match(LAST_DAY.isoformat())
    for outside in ("1899-12-31", "9999-01-01", "2026-13-01", "2026-11-32", "2026-11-1"):
        assert not day.match(outside), outside


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/register/summary", {"from": "yesterday"}),
        ("/v1/register/entries", {"limit": "many"}),
        ("/v1/register/entries", {"after": "-1"}),
        ("/v1/register/summary", {"to": ""}),  # empty is not "not given": the schema says a date
    ],
)
def test_a_value_the_document_rules_out_is_the_services_recorded_422_not_fastapis(api, path, params):
    auditor = api.add_client("auditor")
    before = len(invalid_entries(api))
    response = api.http.get(path, params=params, headers=bearer(auditor))
    assert_recorded_422(api, response, f"query.{next(iter(params))}", before)


@pytest.mark.parametrize("declared", ["²".encode("latin-1"), "³¹".encode("latin-1"), b"9" * 5000])
def test_a_content_length_in_odd_digits_is_not_a_500(api, requester_key, declared):
    """``str.isdigit`` took '²' (a header is read as Latin-1), then ``int`` failed, as it does past 4300 digits
    (uvicorn's parser refuses such a header; the app does not lean on it): the declared length is not believed,
    and the body is read, bounded, as sent."""
    import json

    from tests.support.api import trace_body

    headers = {**bearer(requester_key), "Content-Type": "application/json", "Content-Length": declared}
    response = api.http.post("/v1/traces", content=json.dumps(trace_body()).encode(), headers=headers)
    assert response.status_code < 500, response.text
