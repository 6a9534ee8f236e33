"""One error root for the whole application, with errors named for what failed.

Entry points catch `ConductorError` once and render it; nothing matches on message text.
"""

from __future__ import annotations

from datetime import datetime


class ConductorError(Exception):
    """Root of every error the application raises on purpose."""


class ConfigError(ConductorError):
    """The configuration is invalid. `problems` holds one `key.path: reason` line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class MalformedPayload(ConductorError):
    """An authenticated payload that cannot be understood. The reason is shown to the sender.

    `path` is the JSON path of the value at fault (``incident.ended_at``) when the reader knows
    it; the parsers use it to tell a bad optional field (emptied, with a warning) from a bad
    essential one (refused)."""

    def __init__(self, reason: str, *, path: str | None = None) -> None:
        self.reason = reason
        self.path = path
        super().__init__(reason)


class Unauthenticated(ConductorError):
    """The request did not prove where it came from (bad or missing signature, token or password)."""


class UnknownSource(ConductorError):
    """No webhook source of that name."""


class RunbookNotFound(ConductorError):
    """No runbook with that id."""


class InvalidTarget(ConductorError):
    """A target string that does not name a resource of the runbook's kind."""


class PermissionDenied(ConductorError):
    """The actor may not do this (`bot.access.policy.authorize` said so). `reason` names why
    (role_too_low, silence_matches_everything, not_an_approver, ...); the refusal is audited."""

    def __init__(self, message: str, *, reason: str) -> None:
        self.reason = reason
        super().__init__(message)


class Unauthorized(ConductorError):
    """No credentials, or credentials nobody configured (HTTP 401). Not audited: nothing is stored
    for a caller who did not prove who they are."""


class ApprovalError(ConductorError):
    """Root of the approval failures."""


class ApprovalExpired(ApprovalError):
    """The approval window closed before a decision."""


class AlreadyDecided(ApprovalError):
    """The approval was already approved, denied or expired."""


class ApproverNotAllowed(ApprovalError, PermissionDenied):
    """The user may not decide this approval (not an approver for it, the requester, or nobody is
    configured to approve it)."""

    def __init__(self, message: str, *, reason: str = "not_an_approver") -> None:
        super().__init__(message, reason=reason)


class NotFound(ConductorError):
    """A stored object with that id does not exist."""


class InvalidTransition(ConductorError):
    """A state change that the lifecycle does not allow (e.g. resolving a resolved incident)."""


class IntegrationError(ConductorError):
    """An outside system failed. `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = False, system: str = "") -> None:
        self.retryable = retryable
        self.system = system
        super().__init__(message)


class WorkDeferred(ConductorError):
    """Work that cannot go on yet because another worker (perhaps on another replica) is doing a
    part of it now. Not a failure: the job is put back to run at `until`, and the attempt is not
    counted against `workers.max_attempts`."""

    def __init__(self, message: str, *, until: datetime) -> None:
        self.until = until
        super().__init__(message)


class NotificationInFlight(WorkDeferred):
    """Another worker claimed this message in the notification log and is sending it now."""
