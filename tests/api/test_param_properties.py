"""Properties over every query parameter and path id: whatever is sent, no 5xx; what is not a value the service
takes is a 422 naming the parameter and recorded in the register; what is, is answered.

The values are ``tests.support.edges``': other scripts' digits, superscripts, signs, spaces, thousands of digits,
the calendar's first and last days and either side of the service's bounds, repeated parameters. Run against the
code before these checks (``d867b01``), they find ``to=9999-12-31`` (an OverflowError) and ``limit=²`` (a
ValueError from ``int``), both 500s schemathesis had not found, and ``from=20261101`` answered as 1 November.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from api.access.clients import Role
from api.storage.tables import register_entries
from tests.support.api import bearer
from tests.support.edges import QUERIES, queries, trace_ids, valid_query, valid_trace_id

EXAMPLES = {"sqlite": 150, "postgresql": 40}
HELD = {("GET", "/v1/reviews/{}"): Role.REVIEWER, ("POST", "/v1/reviews/{}"): Role.REVIEWER}
HELD[("GET", "/v1/traces/{}")] = Role.REQUESTER
DECISION = {"decision": "approve", "reason": "the grounds are sound"}


def property_settings(api, share: int = 1) -> settings:
    """Reproducible, ``EXAMPLES`` (divided by ``share``) for the harness's database. One harness for all examples:
    the register only grows, and each check reads its newest entry."""
    return settings(
        max_examples=EXAMPLES["sqlite" if api.settings.database_url.startswith("sqlite") else "postgresql"] // share,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def newest_entry(api):
    query = select(register_entries).order_by(register_entries.c.sequence.desc()).limit(1)
    with api.components.engine.connect() as connection:
        return connection.execute(query).first()


def check_answer(api, response, before, fields: set[str], sent: object) -> None:
    """No 5xx; a 422 names ``fields`` (some of them) and its entry, outcome invalid, is the register's newest."""
    assert response.status_code < 500, (sent, response.text)
    if response.status_code != 422:
        return
    problem = response.json()
    assert problem["errors"] and {e["field"] for e in problem["errors"]} <= fields, problem
    entry = newest_entry(api)
    assert entry.sequence == before.sequence + 1, "the 422 is not in the register"
    assert (entry.outcome, entry.http_status, entry.trace_id) == ("invalid", 422, problem["trace_id"])


@pytest.mark.parametrize("path", list(QUERIES))
def test_no_query_is_a_5xx_and_every_422_is_recorded(api, path):
    auditor = api.add_client(Role.AUDITOR.value, rate_per_minute=600_000)

    @property_settings(api)
    @given(query=queries(path))
    def one(query):
        before = newest_entry(api)
        response = api.http.get(path, params=query, headers=bearer(auditor))
        check_answer(api, response, before, {f"query.{name}" for name, _ in query}, query)

    one()


@pytest.mark.parametrize("path", list(QUERIES))
def test_a_query_is_answered_exactly_when_it_is_valid(api, path):
    """Valid as ``tests.support.edges.valid_query`` says, apart from the service's code: 200, else 422."""
    auditor = api.add_client(Role.AUDITOR.value, rate_per_minute=600_000)

    @property_settings(api)
    @given(query=queries(path))
    def one(query):
        response = api.http.get(path, params=query, headers=bearer(auditor))
        assert response.status_code == (200 if valid_query(query) else 422), (query, response.text)

    one()


@pytest.mark.parametrize(("method", "path"), list(HELD))
def test_any_trace_id_in_the_path_is_a_404_or_a_recorded_422_never_a_5xx(api, method, path):
    key = api.add_client(HELD[(method, path)].value, rate_per_minute=600_000)

    @property_settings(api)
    @given(trace_id=trace_ids)
    def one(trace_id):
        before = newest_entry(api)
        body = DECISION if method == "POST" else None
        response = api.http.request(method, path.format(quote(trace_id, safe="")), json=body, headers=bearer(key))
        check_answer(api, response, before, {"path.trace_id"}, trace_id)
        assert response.status_code == (404 if valid_trace_id(trace_id) else 422), (trace_id, response.text)
        assert newest_entry(api).concerns in (None, trace_id.lower())

    one()


@pytest.mark.parametrize("path", ["/v1/reviews", "/v1/traces/{}".format("0b7e3f0c-3f55-4d1e-9d0c-2c8a3f9e1d44")])
def test_a_query_an_endpoint_does_not_take_changes_nothing(api, path):
    """Endpoints without query parameters ignore any sent, odd digits and repeats included: the answer is the
    one without them."""
    role = Role.REVIEWER if path == "/v1/reviews" else Role.REQUESTER
    key = api.add_client(role.value, rate_per_minute=600_000)
    plain = api.http.get(path, headers=bearer(key)).status_code

    @property_settings(api, share=3)
    @given(query=st.sampled_from(list(QUERIES)).flatmap(queries))
    def one(query):
        response = api.http.get(path, params=query, headers=bearer(key))
        assert response.status_code == plain, (query, response.text)

    one()
