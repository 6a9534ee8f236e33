"""One Jira ticket per incident, over the `jira` package (pycontribs).

A ticket is tied to its incident by a label (`conductor-incident-<id>`), so finding it again
is a JQL search and `ensure_ticket` is idempotent: the first call creates the ticket, later
calls comment on it. Reporting uses `ensure_ticket`, `comment` and `resolve` directly; the
`jira.open_ticket` runbook is a thin wrapper.

Errors come out as `IntegrationError(retryable=...)`: 408/429/5xx and dropped connections are
retryable, other 4xx are not. Messages never include request headers (they hold credentials).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from jira.exceptions import JIRAError

from bot.errors import IntegrationError
from integrations.jira.settings import JiraSettings

if TYPE_CHECKING:
    from jira import JIRA

    from bot.runbook_kit.spec import IncidentContext

log = logging.getLogger(__name__)

SYSTEM = "jira"
RETRYABLE_STATUS = frozenset({408, 429})
SUMMARY_LIMIT = 255  # Jira rejects longer summaries
_LABEL_UNSAFE = re.compile(r"[^A-Za-z0-9_.:\-]")


@dataclass(frozen=True, slots=True)
class Ticket:
    key: str
    url: str
    created: bool  # True: this call created it; False: it existed already


def _error(exc: Exception, operation: str) -> IntegrationError:
    if isinstance(exc, JIRAError):
        status = exc.status_code
        retryable = status is not None and (status in RETRYABLE_STATUS or status >= 500)
        text = (exc.text or "").strip().splitlines()[0] if (exc.text or "").strip() else ""
        where = f"HTTP {status}" if status is not None else "error"
        return IntegrationError(f"jira {operation}: {where}: {text}", retryable=retryable, system=SYSTEM)
    # requests' ConnectionError / Timeout: the server may be back in a moment.
    retryable = isinstance(exc, requests.ConnectionError | requests.Timeout)
    return IntegrationError(f"jira {operation}: {type(exc).__name__}", retryable=retryable, system=SYSTEM)


@contextmanager
def _calling(operation: str) -> Iterator[None]:
    try:
        yield
    except (JIRAError, requests.RequestException) as exc:
        raise _error(exc, operation) from exc


def _field_errors(exc: JIRAError) -> dict[str, Any]:
    """The `errors` object of a Jira 400 answer (field name -> message), or {}."""
    try:
        body = exc.response.json() if exc.response is not None else {}
    except ValueError:
        return {}
    errors = body.get("errors") if isinstance(body, dict) else None
    return errors if isinstance(errors, dict) else {}


class JiraTickets:
    """Find, create, comment on and resolve the ticket of an incident."""

    def __init__(
        self,
        settings: JiraSettings,
        *,
        env: Mapping[str, str] | None = None,
        client: JIRA | None = None,
    ) -> None:
        self.settings = settings
        self._env = env if env is not None else os.environ
        self._client = client
        self._lock = threading.Lock()
        # Tickets this process created, by incident label: Jira's search index may lag a fresh
        # issue by a few seconds, and a repeat in that window must not open a second ticket.
        self._created: dict[str, str] = {}

    # --- connection --------------------------------------------------------------------

    def _secret(self, env_name: str, key: str) -> str:
        value = self._env.get(env_name, "")
        if not value:
            raise IntegrationError(
                f"environment variable {env_name} (jira.{key}) is not set", retryable=False, system=SYSTEM
            )
        return value

    def _jira(self) -> JIRA:
        with self._lock:
            if self._client is None:
                from jira import JIRA

                settings = self.settings
                auth: dict[str, Any] = {}
                if settings.user_env is not None:
                    auth["basic_auth"] = (
                        self._secret(settings.user_env, "user_env"),
                        self._secret(settings.token_env, "token_env"),
                    )
                else:
                    auth["token_auth"] = self._secret(settings.token_env, "token_env")
                verify: bool | str = str(settings.ca_bundle) if settings.ca_bundle else True
                with _calling("connect"):
                    client = JIRA(
                        server=settings.url,
                        options={"verify": verify},
                        timeout=settings.timeout_seconds,
                        max_retries=settings.max_retries,
                        **auth,
                    )
                # The jira package's ResilientSession is these calls' one retry layer (docs/retries.md);
                # JIRA() sets its max_retries the same way but does not take the delay cap.
                client._session.max_retry_delay = settings.max_retry_delay_seconds
                reported = "cloud" if client.deploymentType == "Cloud" else "server"
                if reported != settings.deployment:
                    log.warning(
                        "jira.deployment is %r but %s reports %r", settings.deployment, settings.url, reported
                    )
                self._client = client
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()  # type: ignore[no-untyped-call]
                self._client = None

    # --- naming ------------------------------------------------------------------------

    def incident_label(self, incident_id: str) -> str:
        """The label that ties a ticket to `incident_id` (Jira labels cannot hold spaces)."""
        return self.settings.incident_label_prefix + _LABEL_UNSAFE.sub("-", incident_id.strip())

    def browse_url(self, key: str) -> str:
        return f"{self.settings.url}/browse/{key}"

    def search_jql(self, incident_id: str) -> str:
        return f'labels = "{self.incident_label(incident_id)}" ORDER BY created ASC'

    # --- reads -------------------------------------------------------------------------

    def find_ticket(self, incident_id: str) -> str | None:
        """The key of the incident's ticket (the oldest, if several), or None."""
        label = self.incident_label(incident_id)
        with _calling("search"):
            found = self._jira().search_issues(self.search_jql(incident_id), maxResults=5, fields="labels")
        keys = [issue.key for issue in found if hasattr(issue, "key")]
        if keys:
            return keys[0]
        return self._created.get(label)

    # --- writes ------------------------------------------------------------------------

    def new_issue_fields(self, incident: IncidentContext, *, project: str | None = None) -> dict[str, Any]:
        """The `fields` of the issue `ensure_ticket` would create (also shown in plans)."""
        settings = self.settings
        summary = f"[{incident.severity.upper()}] {incident.title}".strip()
        if len(summary) > SUMMARY_LIMIT:
            summary = summary[: SUMMARY_LIMIT - 1] + "…"
        labels = [*settings.labels, self.incident_label(incident.incident_id)]
        fields: dict[str, Any] = {
            "project": {"key": project or settings.project},
            "issuetype": {"name": settings.issue_type},
            "summary": summary,
            "description": describe_incident(incident, label=labels[-1]),
            "labels": list(dict.fromkeys(labels)),
        }
        priority = settings.priority_map.get(incident.severity.lower())
        if priority:
            fields["priority"] = {"name": priority}
        return fields

    def ensure_ticket(
        self, incident: IncidentContext, *, project: str | None = None, comment_on_existing: bool = True
    ) -> Ticket:
        """Return the incident's ticket, creating it if there is none; comment on an existing one."""
        key = self.find_ticket(incident.incident_id)
        if key is not None:
            if comment_on_existing:
                self.comment(key, repeat_comment(incident))
            return Ticket(key=key, url=self.browse_url(key), created=False)
        key = self._create(self.new_issue_fields(incident, project=project))
        self._created[self.incident_label(incident.incident_id)] = key
        log.info("jira: created %s for incident %s", key, incident.incident_id)
        return Ticket(key=key, url=self.browse_url(key), created=True)

    def _create(self, fields: dict[str, Any]) -> str:
        jira = self._jira()
        try:
            issue = jira.create_issue(fields=fields, prefetch=False)
        except JIRAError as exc:
            # Many projects leave priority off the create screen; file the ticket without it.
            if exc.status_code == 400 and "priority" in _field_errors(exc) and "priority" in fields:
                log.warning("jira: project does not accept a priority; creating the ticket without it")
                fields = {k: v for k, v in fields.items() if k != "priority"}
                with _calling("create issue"):
                    issue = jira.create_issue(fields=fields, prefetch=False)
            else:
                raise _error(exc, "create issue") from exc
        except requests.RequestException as exc:
            raise _error(exc, "create issue") from exc
        return str(issue.key)

    def comment(self, key: str, text: str) -> None:
        """Add a comment to the ticket."""
        with _calling(f"comment on {key}"):
            self._jira().add_comment(key, text)

    def resolve(self, key: str, comment: str) -> bool:
        """Comment, then apply the configured resolve transition.

        Returns False when the transition is not offered because the ticket is already in a
        done status; raises when it is not offered for any other reason.
        """
        self.comment(key, comment)
        wanted = self.settings.resolve_transition.lower()
        jira = self._jira()
        with _calling(f"transitions of {key}"):
            transitions = jira.transitions(key)
        match = next((t for t in transitions if str(t.get("name", "")).lower() == wanted), None)
        if match is None:
            with _calling(f"get {key}"):
                issue = jira.issue(key, fields="status")
            category = getattr(getattr(issue.fields.status, "statusCategory", None), "key", None)
            if category == "done":
                return False
            names = ", ".join(sorted(str(t.get("name")) for t in transitions)) or "none"
            raise IntegrationError(
                f"jira {key}: no transition named {self.settings.resolve_transition!r} (offered: {names})",
                retryable=False,
                system=SYSTEM,
            )
        with _calling(f"transition {key}"):
            jira.transition_issue(key, str(match["id"]))
        return True


def describe_incident(incident: IncidentContext, *, label: str) -> str:
    """The ticket description, in Jira wiki markup (REST API v2 works on Cloud and Server)."""
    lines = [
        f"*Incident:* {incident.incident_id}",
        f"*Severity:* {incident.severity}    *Status:* {incident.status}",
    ]
    if incident.anomaly_score is not None:
        lines.append(f"*Anomaly score:* {incident.anomaly_score:.2f}")
    if incident.summary:
        lines += ["", incident.summary]
    if incident.explanation:
        lines += ["", "h4. Why it was flagged", incident.explanation]
    if incident.links:
        lines += ["", "h4. Links", *(f"* [{link}]" for link in incident.links)]
    if incident.labels:
        pairs = ", ".join(f"{k}={v}" for k, v in sorted(incident.labels.items()))
        lines += ["", f"*Labels:* {pairs}"]
    lines += ["", f"_Opened by Cloud Conductor; the label {label} ties this ticket to the incident._"]
    return "\n".join(lines)


def repeat_comment(incident: IncidentContext) -> str:
    """The comment added when an incident that already has a ticket fires again."""
    text = f"Incident {incident.incident_id} fired again ({incident.severity}, {incident.status})"
    if incident.anomaly_score is not None:
        text += f", anomaly score {incident.anomaly_score:.2f}"
    text += "."
    if incident.summary:
        text += f"\n{incident.summary}"
    return text
