"""Who asks, at what rate, in which role: the first three checks of every request but the health check.

The key comes first (401, not recorded: no client is known); then the client's rate (429 with Retry-After), before
the role (403), so that a key of the wrong role cannot flood the register with refusals; both are recorded.
"""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from api.access.clients import Client, ClientStore, Role
from api.access.ratelimit import RateLimiter
from api.audit.outcomes import RegisterOutcome
from api.usecases.denials import Denied, database_unavailable, unauthenticated
from api.usecases.recording import Recorder


class Gate:
    def __init__(self, clients: ClientStore, limiter: RateLimiter, recorder: Recorder) -> None:
        self.clients = clients
        self.limiter = limiter
        self.recorder = recorder

    def identify(self, keys: list[str | None]) -> list[Client | None]:
        """Per key presented, its active client or None, in one query; a 503 if the database does not answer."""
        try:
            return self.clients.authenticate_many(keys)
        except SQLAlchemyError:
            raise database_unavailable() from None

    def check(self, client: Client, role: Role, *others: Role) -> tuple[RegisterOutcome, Denied] | None:
        """Why ``client`` may not go on (the outcome to record and the denial), or None: its rate, then its role
        (``role`` or one of ``others``)."""
        wait = self.limiter.acquire(client.id, client.rate_per_minute)
        if wait is not None:
            detail = "this client's request rate is exceeded; retry after the time given"
            return RegisterOutcome.RATE_LIMITED, Denied(429, detail, retry_after=wait)
        if client.role not in (role, *others):
            article = "an" if role.value[0] in "aeiou" else "a"
            named = " or ".join(r.value for r in (role, *others))
            return RegisterOutcome.FORBIDDEN, Denied(403, f"only {article} {named} client may use this")
        return None

    def admit(self, key: str | None, role: Role, *others: Role) -> Client:
        """For the endpoints other than traces: the client holding ``key``, if its rate and role (``role`` or one
        of ``others``) allow it now; refusals recorded."""
        [client] = self.identify([key])
        if client is None:
            raise unauthenticated()
        if refusal := self.check(client, role, *others):
            raise self.recorder.refused(client, *refusal)
        return client
