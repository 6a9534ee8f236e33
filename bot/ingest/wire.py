"""What the webhook route and the intake process say to each other.

The messages travel over a `multiprocessing` Pipe (`multiprocessing.connection.Connection`),
which frames and pickles them: the HTTP process sends one `IntakeRequest` per message, the intake
process sends `Ready` once and then lists of `IntakeReply`. Pickle is safe here: both ends are this
program, joined by a socket pair that nothing else can reach (the payloads themselves travel as
bytes and are never unpickled from the network).

A refusal names the error the route maps to an HTTP status, so the mapping stays in one place
(`bot.http.webhooks`) whichever way the intake runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from bot.errors import ConductorError, IntegrationError, MalformedPayload, Unauthenticated, UnknownSource
from bot.ingest.committer import CommitOutcome, StoreUnavailable
from bot.ingest.intake import UnsupportedMediaType


class IntakeUnavailable(ConductorError):
    """The intake process is down or restarting; the sender gets 503 and should retry."""


@dataclass(frozen=True, slots=True)
class IntakeRequest:
    seq: int
    source: str
    body: bytes
    headers: dict[str, str]  # lower-cased names
    request_id: str


@dataclass(frozen=True, slots=True)
class Accepted:
    outcome: CommitOutcome
    alert_count: int
    kind: str


@dataclass(frozen=True, slots=True)
class Refused:
    error: str  # a key of REFUSALS
    message: str


@dataclass(frozen=True, slots=True)
class IntakeReply:
    seq: int
    answer: Accepted | Refused


@dataclass(frozen=True, slots=True)
class Ready:
    """The intake process's first message: it has opened the store and can take requests."""

    pid: int


class WebhookIntakeService(Protocol):
    """What the webhook route calls: `InlineIntake` or `ProcessIntake`."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def ready(self) -> str | None:
        """None when webhooks can be taken, else why not."""
        ...

    async def submit(self, source: str, body: bytes, headers: Mapping[str, str]) -> Accepted:
        """Raise one of the REFUSALS errors; else the body is committed."""
        ...


# Most specific first: UnsupportedMediaType is a MalformedPayload.
REFUSALS: dict[str, type[Exception]] = {
    "unknown_source": UnknownSource,
    "unauthenticated": Unauthenticated,
    "unsupported_media_type": UnsupportedMediaType,
    "malformed": MalformedPayload,
    "unavailable": IntegrationError,
    "store_unavailable": StoreUnavailable,
    "intake_unavailable": IntakeUnavailable,
}


def refusal_of(exc: Exception) -> Refused | None:
    """The refusal for one of the REFUSALS errors; None for anything else."""
    for name, kind in REFUSALS.items():
        if isinstance(exc, kind):
            message = exc.reason if isinstance(exc, MalformedPayload) else str(exc)
            return Refused(name, message)
    return None


def raise_refusal(refused: Refused) -> None:
    raise REFUSALS[refused.error](refused.message)
