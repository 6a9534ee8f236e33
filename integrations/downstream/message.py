"""The structured incident message every downstream runbook sends (SQS, SNS, webhooks).

One shape for all three, so a consumer can read a queue, a topic or a webhook the same way::

    {"type": "conductor.incident", "version": 1, "message_id": "conductor-42-run-7",
     "id": "42", "title": "...", "severity": "critical", "status": "open",
     "service": "orders", "resource": "aws:ecs:service/prod/orders", "summary": "...",
     "link": "https://conductor.example.com/ui/incidents/42", "sent_at": "2026-12-03T07:00:00Z"}

`message_id` is the same for every attempt of one run, so consumers can drop repeats.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import orjson

from bot.runbook_kit.spec import IncidentContext

MESSAGE_TYPE = "conductor.incident"
MESSAGE_VERSION = 1
SUMMARY_LIMIT = 2000  # keeps an SNS/SQS message far below their 256 KiB limit


@dataclass(frozen=True, slots=True)
class IncidentMessage:
    message_id: str
    id: str
    title: str
    severity: str
    status: str
    service: str
    resource: str
    summary: str
    link: str
    sent_at: str
    type: str = MESSAGE_TYPE
    version: int = MESSAGE_VERSION

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    def body(self) -> bytes:
        """The exact bytes sent (and signed, for webhooks): compact JSON, keys sorted."""
        return orjson.dumps(self.to_json(), option=orjson.OPT_SORT_KEYS)


def incident_link(incident: IncidentContext, template: str) -> str:
    """The link a consumer follows: the configured template, else the first alert link."""
    if template:
        return template.format(id=incident.incident_id)
    return incident.links[0] if incident.links else ""


def incident_message(
    incident: IncidentContext,
    *,
    run_id: str,
    now: datetime,
    link_template: str = "",
    service: str | None = None,
) -> IncidentMessage:
    """The message for `incident`; `service` overrides the incident's `service` label."""
    summary = incident.summary or incident.title
    if len(summary) > SUMMARY_LIMIT:
        summary = summary[: SUMMARY_LIMIT - 1] + "…"
    return IncidentMessage(
        message_id=f"conductor-{incident.incident_id}-run-{run_id}",
        id=incident.incident_id,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        service=service or incident.labels.get("service", ""),
        resource=incident.labels.get("resource", ""),
        summary=summary,
        link=incident_link(incident, link_template),
        sent_at=now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    )
