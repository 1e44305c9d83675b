"""Who may call what: every endpoint of the app times every kind of credential (SQLite and PostgreSQL).

The endpoints are discovered from the app's routes, so a new one is in the matrix as soon as it exists, and fails
here until ROLES says which roles it is for. Without a valid key: 401, nothing recorded. A valid key of another
role: 403, recorded as forbidden. The roles the endpoint is for: let through. Only /v1/health is public.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from api.access.clients import Role
from tests.support.api import UNKNOWN_KEY, assert_problem, trace_body

FASTAPI_PAGES = {"/openapi.json", "/docs", "/docs/oauth2-redirect"}  # the documentation, not the service
PUBLIC = None

DECIDERS = frozenset({Role.REVIEWER, Role.GUARDIAN})
# (method, route template) -> the roles that may call it. An endpoint missing here fails the coverage test.
ROLES: dict[tuple[str, str], frozenset[Role] | None] = {
    ("POST", "/v1/traces"): frozenset({Role.REQUESTER}),
    ("GET", "/v1/traces/{trace_id}"): frozenset({Role.REQUESTER}),
    ("GET", "/v1/reviews"): DECIDERS,
    ("GET", "/v1/reviews/{trace_id}"): DECIDERS,
    ("POST", "/v1/reviews/{trace_id}"): DECIDERS,  # a welfare request: a guardian only (tests/api/test_four_eyes.py)
    ("GET", "/v1/register/summary"): frozenset({Role.AUDITOR}),
    ("GET", "/v1/register/entries"): frozenset({Role.AUDITOR}),
    ("GET", "/v1/health"): PUBLIC,
}

NOT_A_KEY = {  # credential -> Authorization header sent (None: no header)
    "no-header": None,
    "basic": "Basic abc",
    "bearer-without-key": "Bearer",
    "bearer-not-a-key": "Bearer not-a-key",
    "unknown-key": f"Bearer {UNKNOWN_KEY}",
}
NO_VALID_KEY = [*NOT_A_KEY, *(f"revoked-{role}" for role in Role)]  # the revoked keys are made per test
CREDENTIALS = [*NO_VALID_KEY, *(role.value for role in Role)]


def endpoints(app) -> list[tuple[str, str]]:
    """Every (method, route template) the app answers, but FastAPI's documentation pages. A route without methods
    (a mount, a websocket) is listed under its type's name, so that it is unmapped and noticed."""
    found = set()
    for route in app.routes:
        if route.path in FASTAPI_PAGES:
            continue
        methods = set(getattr(route, "methods", None) or {type(route).__name__})
        if "GET" in methods:
            methods.discard("HEAD")  # Starlette adds HEAD to a GET route: the same handler
        found |= {(method, route.path) for method in methods}
    return sorted(found)


@dataclass
class World:
    """A held trace of the requester's, a reviewer and a guardian of other organisations, an auditor, and a revoked
    key per role; for each deciding role a held trace of its own to decide (a reviewer's is not a welfare one)."""

    trace_id: str
    decide: dict[str, str]  # role -> the trace it decides
    keys: dict[str, str]  # role -> valid key
    names: dict[str, str]  # role -> client name
    revoked: dict[str, str]  # role -> revoked key
    bodies: dict[tuple[str, str], dict]

    def headers(self, credential: str) -> dict[str, str]:
        if credential in self.keys:
            return {"Authorization": f"Bearer {self.keys[credential]}"}
        if credential.startswith("revoked-"):
            return {"Authorization": f"Bearer {self.revoked[credential.removeprefix('revoked-')]}"}
        header = NOT_A_KEY[credential]
        return {} if header is None else {"Authorization": header}


@pytest.fixture
def world(api, people) -> World:
    store = api.components.clients
    organisations = {
        Role.REQUESTER: "Home Office",
        Role.REVIEWER: "NHS England",
        Role.GUARDIAN: "NHS Wales",
        Role.AUDITOR: "Data Release Audit",
    }
    keys = {role.value: api.add_client(role, name=f"matrix-{role}", organisation=organisations[role]) for role in Role}
    welfare = {"category": 2, "welfare_description": "vulnerable adult missing from care"}
    held = api.trace(trace_body(people["restricted"], basis=welfare), keys["requester"])
    assert held.status_code == 200 and held.json()["status"] == "pending_review"
    probes = api.components.probes
    limit, probes.limit = probes.limit, 0  # a category 1 request held as a probe, for the plain reviewer
    try:
        probe = api.trace(trace_body(people["ordinary"]), keys["requester"])
    finally:
        probes.limit = limit
    assert probe.status_code == 200 and probe.json()["status"] == "pending_review"
    revoked = {}
    for role in Role:
        revoked[role.value] = api.add_client(role, name=f"revoked-{role}")
        assert store.authenticate_many([revoked[role.value]])[0] is not None  # a working key until revoked
        store.revoke(f"revoked-{role}")
    bodies = {
        ("POST", "/v1/traces"): trace_body(people["ordinary"]),
        ("POST", "/v1/reviews/{trace_id}"): {"decision": "refuse", "reason": "matrix test"},
    }
    names = {role.value: f"matrix-{role}" for role in Role}
    decide = {Role.REVIEWER.value: probe.json()["trace_id"], Role.GUARDIAN.value: held.json()["trace_id"]}
    return World(held.json()["trace_id"], decide, keys, names, revoked, bodies)


def call(api, world: World, endpoint: tuple[str, str], credential: str):
    method, template = endpoint
    trace_id = world.decide.get(credential, world.trace_id) if method == "POST" else world.trace_id
    path = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: {"trace_id": trace_id}[m.group(1)], template)
    return api.http.request(method, path, json=world.bodies.get(endpoint), headers=world.headers(credential))


def test_the_role_table_covers_every_endpoint_and_only_health_is_public(api):
    discovered = endpoints(api.app)
    assert set(discovered) == set(ROLES), (
        f"unmapped endpoints: {sorted(set(discovered) - set(ROLES))}; gone: {sorted(set(ROLES) - set(discovered))}"
    )
    assert [e for e in discovered if ROLES[e] is PUBLIC] == [("GET", "/v1/health")]


def test_health_answers_without_a_key_and_records_nothing(api):
    response = api.http.get("/v1/health")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert api.entries() == []


@pytest.mark.parametrize("credential", NO_VALID_KEY)
def test_without_a_valid_key_every_endpoint_is_401_and_unrecorded(api, world, credential):
    for endpoint in endpoints(api.app):
        before = len(api.entries())
        response = call(api, world, endpoint, credential)
        if ROLES[endpoint] is PUBLIC:
            assert response.status_code == 200, endpoint
            continue
        problem = assert_problem(response, 401)
        assert problem["type"] == "/problems/unauthenticated" and "trace_id" not in problem, endpoint
        assert response.headers["www-authenticate"] == "Bearer", endpoint
        assert len(api.entries()) == before, f"{endpoint}: a 401 was recorded"


@pytest.mark.parametrize("role", [role.value for role in Role])
def test_a_valid_key_is_403_and_recorded_elsewhere_and_let_through_on_its_own_endpoints(api, world, role):
    for endpoint in endpoints(api.app):
        before = len(api.entries())
        response = call(api, world, endpoint, role)
        if ROLES[endpoint] is PUBLIC:
            assert response.status_code == 200, endpoint
        elif role in ROLES[endpoint]:
            assert response.status_code not in (401, 403), (endpoint, response.text)
            assert 200 <= response.status_code < 300, (endpoint, response.text)  # the valid call succeeds too
        else:
            problem = assert_problem(response, 403)
            assert problem["type"] == "/problems/forbidden", endpoint
            [entry] = api.entries()[before:]
            assert (entry.draft.outcome, entry.draft.http_status) == ("forbidden", 403), endpoint
            assert entry.draft.client_name == world.names[role] and entry.trace_id == problem["trace_id"], endpoint


def test_nothing_succeeds_without_the_right_role(api, world):
    """The whole matrix at once: the 2xx cells are exactly the public endpoint's and each endpoint's own role's."""
    succeeded = {
        (endpoint, credential)
        for endpoint in endpoints(api.app)
        for credential in CREDENTIALS
        if 200 <= call(api, world, endpoint, credential).status_code < 300
    }
    expected = {
        (endpoint, credential)
        for endpoint in endpoints(api.app)
        for credential in CREDENTIALS
        if ROLES[endpoint] is PUBLIC or credential in ROLES[endpoint]
    }
    assert succeeded == expected


# --- An invalid body never comes before the key and the role: a decision endpoint that let FastAPI validate its
# body first would answer 422 to anyone, unrecorded. ---


def test_an_invalid_review_decision_without_a_key_is_still_401(api, world):
    before = len(api.entries())
    response = api.http.post(f"/v1/reviews/{world.trace_id}", json={"decision": "maybe"})
    problem = assert_problem(response, 401)  # today: 422 listing the fields a decision needs
    assert problem["type"] == "/problems/unauthenticated" and response.headers["www-authenticate"] == "Bearer"
    assert len(api.entries()) == before


def test_an_invalid_review_decision_from_a_requester_is_still_403_and_recorded(api, world):
    before = len(api.entries())
    response = api.http.post(f"/v1/reviews/{world.trace_id}", json={}, headers=world.headers("requester"))
    assert assert_problem(response, 403)["type"] == "/problems/forbidden"  # today: 422, and no entry
    [entry] = api.entries()[before:]
    assert entry.draft.outcome == "forbidden"
