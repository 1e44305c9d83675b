"""Schemathesis against the service's own OpenAPI document (SQLite for the bulk, PostgreSQL too).

The schema is read from the running app (/openapi.json through schemathesis's ASGI loader), so what is checked
is what clients are told. Every operation is fuzzed with schema-valid and schema-invalid requests, most with a key
of the role the operation is for (so that they reach the handler) and some without one, with a made-up one or with
another role's. A stateful run follows the links schemathesis infers from the document (a trace's trace_id into
GET /v1/traces/{trace_id} and the review endpoints), so held requests get read, decided and collected. And
schemathesis's coverage cases go once each: values at and just past their bounds, parts left out, other types,
media types and methods.

Every response must: not be a 5xx; be documented (status code, content type, headers, body schema); and, if an
error, be an RFC 9457 problem (application/problem+json with type, title, status and detail). Schema-invalid
requests must be rejected.

Generation is derandomised, so CI runs the same cases every time; a failure is shrunk to a minimal case and shown
with a curl command to reproduce it.
"""

from __future__ import annotations

import collections

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from api.access.clients import Role
from api.http import examples
from api.http.problems import PROBLEM_MEDIA_TYPE
from tests.support import edges
from tests.support.api import trace_body

# Operation -> the role that may call it (None: public). An operation of the app missing here fails
# test_every_operation_of_the_app_is_fuzzed, so a new endpoint cannot escape this suite.
ROLES: dict[str, Role | None] = {
    "POST /v1/traces": Role.REQUESTER,
    "GET /v1/traces/{trace_id}": Role.REQUESTER,
    "GET /v1/reviews": Role.REVIEWER,
    "GET /v1/reviews/{trace_id}": Role.REVIEWER,
    "POST /v1/reviews/{trace_id}": Role.GUARDIAN,  # the held requests here are welfare ones: a guardian's
    "GET /v1/register/summary": Role.AUDITOR,
    "GET /v1/register/entries": Role.AUDITOR,
    "GET /v1/health": None,
}

# Cases per operation and generation mode (schema-valid, then schema-invalid), and stateful scenarios of up to
# STATEFUL_STEPS calls. SQLite takes the bulk; PostgreSQL runs the same suite, smaller, for its own behaviour
# (types, transactions, the register's chain under its isolation). Derandomised: the same cases in every run.
CASES = {"sqlite": 80, "postgresql": 25}
SCENARIOS = {"sqlite": 50, "postgresql": 15}
STATEFUL_STEPS = 8

# A client's rate high enough that fuzzing never meets the rate limit (test_api_auth covers the 429).
FUZZ_RATE_PER_MINUTE = 600_000

# Per case, whose key is sent: mostly the operation's own role, so that the case reaches the handler.
CREDENTIALS = st.sampled_from(["role", "role", "role", "role", "role", "role", "none", "made-up", "other-role"])

PROBLEM_MEMBERS = {"type": str, "title": str, "status": int, "detail": str}


def every_error_is_a_problem(ctx, response, case) -> bool | None:
    """Every error, 4xx or 5xx, is an RFC 9457 problem: application/problem+json, a JSON object with type, title,
    status (the response's) and detail, each of its type."""
    if response.status_code < 400:
        return None
    content_types = response.headers.get("content-type", [])
    media_type = content_types[0].split(";")[0].strip().lower() if content_types else None
    assert media_type == PROBLEM_MEDIA_TYPE, f"a {response.status_code} sent as {media_type}, not {PROBLEM_MEDIA_TYPE}"
    try:
        body = response.json()
    except ValueError:  # not JSON, or not UTF-8
        raise AssertionError(f"a {response.status_code} problem whose body is not JSON") from None
    assert isinstance(body, dict), f"a {response.status_code} problem that is not a JSON object"
    for member, kind in PROBLEM_MEMBERS.items():
        assert isinstance(body.get(member), kind), f"a {response.status_code} problem without {member} ({kind})"
    assert body["status"] == response.status_code, f"a {response.status_code} problem saying status {body['status']}"
    # api.http.problems falls back to a catch-all type for a status it has no slug for: a client could not tell it
    # apart.
    assert body["type"] != "/problems/error", f"a {response.status_code} problem of the catch-all type"
    return None


# Left out: positive_data_acceptance, since a schema-valid request may rightly be refused for what JSON Schema
# cannot say (a date of birth between 1890 and today, no offence in a welfare request, a trace_id that exists), and
# each such case is still checked to be a documented problem; ensure_resource_availability, since only a held request
# can be read back (GET /v1/traces/{trace_id} is 404 for a trace answered at once, by design: nothing is held);
# ignored_auth, which takes the key set here for the one schemathesis generated (keys are covered by the
# credentials fuzzed below and by test_api_access_matrix); use_after_free, for the API deletes nothing.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    every_error_is_a_problem,
]


def database_name(api) -> str:
    return "sqlite" if api.settings.database_url.startswith("sqlite") else "postgresql"


def fuzz_settings(**changes) -> settings:
    """Reproducible (derandomised, no example database), with no deadline: a call writes the audit register.
    too_slow is suppressed because drawing a trace request takes tens of milliseconds on a busy 2-core runner,
    which is the cost of the body's schema, not a fault; how long a run takes is bounded by the case counts."""
    return settings(
        deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow], **changes
    )


@pytest.fixture
def schema(api):
    """The app's own OpenAPI document, loaded through the app, with schemathesis's defaults (a schemathesis.toml
    found on the way up from the working directory is not read: CI runs what is written here). The loader starts
    the app's lifespan for the rest of the process; it is stopped here, before the harness closes the app."""
    loaded = schemathesis.openapi.from_asgi("/openapi.json", api.app, config=schemathesis.Config())
    yield loaded
    asgi.shutdown_lifespans()


@pytest.fixture
def keys(api) -> dict[Role, str]:
    """A key per role, all at a rate fuzzing never reaches."""
    return {role: api.add_client(role.value, rate_per_minute=FUZZ_RATE_PER_MINUTE) for role in Role}


def test_every_operation_of_the_app_is_fuzzed(schema):
    assert {result.ok().label for result in schema.get_all_operations()} == set(ROLES)


def with_query(case, query: list[tuple[str, str]]):
    """The case with this query (a parameter given twice sent twice)."""
    grouped: dict[str, list[str]] = {}
    for name, value in query:
        grouped.setdefault(name, []).append(value)
    case.query = {name: sent[0] if len(sent) == 1 else sent for name, sent in grouped.items()}
    return case


def with_trace_id(case, trace_id: str):
    case.path_parameters = {**(case.path_parameters or {}), "trace_id": trace_id}
    return case


def held_requests(api, people, requester_key: str) -> list[str]:
    """Two requests held for review (welfare concerns, one about a restricted person), by the requester with this
    key."""
    bodies = [
        trace_body(people["ordinary"], basis=examples.WELFARE_REQUEST["basis"]),
        trace_body(people["restricted"], basis=examples.WELFARE_REQUEST["basis"]),
    ]
    answers = [api.trace(body, requester_key).json() for body in bodies]
    assert [answer["status"] for answer in answers] == ["pending_review", "pending_review"]
    return [answer["trace_id"] for answer in answers]


@pytest.mark.parametrize("label", list(ROLES))
def test_no_operation_answers_5xx_or_an_undocumented_or_non_problem_error(
    api, schema, keys, people, label, record_property
):
    operation = schema.find_operation_by_label(label)
    role = ROLES[label]
    database = database_name(api)
    other_role = next(r for r in Role if r is not role)
    # Held requests, so that the review queue is not empty and two in three trace_ids sent are ones that exist.
    held = held_requests(api, people, keys[Role.REQUESTER])

    def cases(mode: GenerationMode):
        generated = operation.as_strategy(generation_mode=mode)
        if mode is GenerationMode.POSITIVE:
            # Values at and past the edges (other scripts' digits, the calendar's last day, repeats) that a
            # schema's generator rarely draws: in schema-valid cases only, which the service may still refuse
            # (positive_data_acceptance is not checked), where a schema-invalid case must be refused.
            if operation.path in edges.QUERIES:
                generated = st.one_of(generated, st.builds(with_query, generated, edges.queries(operation.path)))
            if "{trace_id}" in label:
                generated = st.one_of(generated, st.builds(with_trace_id, generated, edges.trace_ids))
        if "{trace_id}" not in label:
            return generated
        return st.one_of(
            generated,
            *(operation.as_strategy(generation_mode=mode, path_parameters={"trace_id": t}) for t in held),
        )

    def authorise(case, credential: str) -> None:
        if credential == "made-up":
            return  # the Authorization header schemathesis generated for the bearer scheme: no such key
        case.headers = case.headers or {}
        case.headers.pop("Authorization", None)
        if credential == "none":
            return
        key = keys[other_role] if credential == "other-role" else keys[role or Role.REQUESTER]
        case.headers["Authorization"] = f"Bearer {key}"

    def fuzz(mode: GenerationMode) -> int:
        sent = 0

        @fuzz_settings(max_examples=CASES[database])
        @given(case=cases(mode), credential=CREDENTIALS)
        def one_case(case, credential):
            nonlocal sent
            authorise(case, credential)
            response = case.call()
            sent += 1
            case.validate_response(response, checks=CHECKS)

        one_case()
        return sent

    if role is None:  # GET /v1/health: it takes nothing, so there is nothing to make invalid, and few requests
        sent = {"positive": fuzz(GenerationMode.POSITIVE)}
    else:
        sent = {mode.value: fuzz(mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)}
        # Hypothesis stops short of max_examples only when it runs out of distinct inputs, which these operations
        # do not: fewer cases means generation broke (everything filtered out, say), not that the API is fine.
        assert min(sent.values()) >= CASES[database] * 9 // 10, sent
    record_property("cases", sent)
    print(f"schemathesis {database} {label}: {sent}")


def test_stateful_scenarios_follow_trace_ids_with_no_5xx_and_only_documented_problems(
    api, schema, keys, people, record_property
):
    database = database_name(api)
    sent = collections.Counter()

    # Half the trace requests are ones the policy allows: held (welfare) ones, so that scenarios read,
    # decide and collect them, and ones traced at once. The rest are as generated, nearly all refused or malformed.
    lawful = [
        trace_body(people["restricted"]),
        trace_body(people["ordinary"], basis=examples.WELFARE_REQUEST["basis"]),
        trace_body(people["ordinary"]),
        trace_body(),
    ]

    @schema.hook("before_generate_body")
    def lawful_requests_too(context, strategy):
        if context.operation.label != "POST /v1/traces":
            return strategy
        return st.one_of(strategy, st.sampled_from(lawful))

    # Schema-valid requests only: the lawful bodies above must not be taken for invalid ones, and the stateless
    # test sends the invalid ones.
    schema.config.generation.update(modes=[GenerationMode.POSITIVE])

    # Schemathesis infers from its name that X-Request-ID is the id of a "Request" resource some operation must
    # produce; none does (the client makes it up), so it would never start a scenario with POST /v1/traces. The
    # header is the client's own, not a link: the inference is dropped for it.
    traces = schema.analysis.dependency_graph.operations["POST /v1/traces"]
    traces.inputs = [slot for slot in traces.inputs if slot.parameter_name != "X-Request-ID"]

    class Scenario(schema.as_state_machine()):
        def setup(self) -> None:
            # A requester per scenario, so that a scenario's requests (and the enumeration detector's count of
            # near-identical ones) are its own.
            self.requester = api.add_client(Role.REQUESTER.value, rate_per_minute=FUZZ_RATE_PER_MINUTE)

        def before_call(self, case) -> None:
            role = ROLES[case.operation.label]
            case.headers = case.headers or {}
            if role is not None:
                key = self.requester if role is Role.REQUESTER else keys[role]
                case.headers["Authorization"] = f"Bearer {key}"

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
            assert case.meta.generation.mode is GenerationMode.POSITIVE
            sent[f"{case.operation.label} {response.status_code}"] += 1
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None, recorder=self.recorder)

    Scenario.run(
        settings=fuzz_settings(
            max_examples=SCENARIOS[database],
            stateful_step_count=STATEFUL_STEPS,
            phases=[Phase.generate, Phase.shrink],
        )
    )
    record_property("cases", dict(sent))
    print(f"schemathesis {database} stateful: {sum(sent.values())} {dict(sorted(sent.items()))}")
    # The scenarios went the whole way at least once: a held request decided, and its outcome read by its requester.
    # Asserted where the bulk runs: PostgreSQL's few derandomised scenarios (for its own types and transactions) did
    # not always reach a decision once four eyes needed a guardian and a complete decision body.
    if database == "sqlite":
        assert sent["POST /v1/reviews/{trace_id} 200"] and sent["GET /v1/traces/{trace_id} 200"], sent
    assert sent["GET /v1/traces/{trace_id} 200"] or sent["GET /v1/reviews/{trace_id} 200"], sent


# The checks that only coverage cases trigger: a required header left out, a method the path does not have.
BOUNDARY_CHECKS = [*CHECKS, missing_required_header, unsupported_method, allow_header_conformance]


@pytest.mark.parametrize("label", list(ROLES))
def test_boundary_requests_answer_no_5xx_and_only_documented_problems(api, schema, keys, label, record_property):
    """Schemathesis's coverage cases, each sent once: every value at its bounds and just past them, each part left
    out in turn, other types, a media type the operation does not take, the methods the path does not have. (These
    are what schemathesis's own pytest integration would add, but its from_fixture/parametrize fails under pytest 9:
    'Function' object has no attribute '_nodeid'; so they are drawn from the schema here.)"""
    operation = schema.find_operation_by_label(label)
    role = ROLES[label]
    generation = schema.config.generation_for(operation=operation, phase="coverage")
    sent = 0
    for case in schema.iter_coverage_cases(
        operation, generation_modes=list(GenerationMode), generation_config=generation
    ):
        case.headers = case.headers or {}
        if role is not None and "Authorization" in case.headers:  # kept out: the case probing a missing key
            case.headers["Authorization"] = f"Bearer {keys[role]}"
        response = case.call()
        sent += 1
        case.validate_response(response, checks=BOUNDARY_CHECKS)
    record_property("cases", sent)
    print(f"schemathesis {database_name(api)} {label} boundaries: {sent}")


def test_a_405_lists_every_method_of_the_path(api, schema, keys):
    """allow_header_conformance on the one path with two operations, the case schemathesis's coverage finds."""
    operation = schema.find_operation_by_label("GET /v1/reviews/{trace_id}")
    case = operation.Case(method="OPTIONS", path_parameters={"trace_id": "0"})
    case.headers = {"Authorization": f"Bearer {keys[Role.REVIEWER]}"}
    response = case.call()
    assert response.status_code == 405
    case.validate_response(response, checks=[every_error_is_a_problem])
    case.validate_response(response, checks=[allow_header_conformance])
