"""`SlackReporter`: one parent message per incident, updated in place; everything else in its thread.

- The parent goes to the channel the `[slack]` routing picks (service label, severity,
  provider), is re-rendered from the store on every change and sent with chat.update.
- Its thread gets a chart of the metric (once), one "fired again (xN)" message that is updated
  as repeats grow, run results, verification, rollbacks, escalations and the resolution summary.
- Runs without an incident (requested by hand) get their own parent in `default_channel`.

Every message is sent through the notification log, which claims it in the database before it
is posted: a retried job never posts twice, and neither do two replicas (docs/ha.md). Posts carry
their log key as message metadata, so one taking over a dead poster's claim finds its post
(`bot.slack.keyed`). Work on
one incident is also serialized within the process so its updates land in order.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.logs import get_logger
from bot.reporting.base import NotificationLog
from bot.reporting.circuits import circuit_news
from bot.slack.blocks import render_incident, section
from bot.slack.charts import render_metric_chart
from bot.slack.core import RUN_PARENT_KEY, message_ref
from bot.slack.keyed import keyed_finder
from bot.slack.reporter_messages import ThreadMessage, escalation_key, incident_note, run_message
from bot.slack.run_parent import RunParentView, render_run_parent
from bot.slack.signing import ActionSigner
from bot.slack.thread import render_escalation, render_repeat, render_resolution
from bot.slack.viewmodels import (
    ViewContext,
    chart_series,
    incident_alerts,
    incident_service,
    incident_view,
    repeat_view,
    resolution_view,
    run_approval,
    run_view,
)
from bot.slack.views import EscalationView
from bot.store.db import Store
from bot.store.models import Incident, Notification, RunbookRun
from integrations.slack.client import SlackPort
from integrations.slack.settings import SlackSettings
from integrations.slack.wire import SlackMessage

log = get_logger(__name__)
CHANNEL = "slack"  # the notification log's channel column


@dataclass(frozen=True, slots=True)
class Where:
    """A parent message: its channel and ts (the thread everything else goes into)."""

    channel: str
    ts: str

    @classmethod
    def parse(cls, ref: str) -> Where | None:
        channel, _, ts = ref.partition(" ")
        return cls(channel, ts) if channel and ts else None


class _StripedLocks:
    """A bounded set of locks; one key always maps to the same lock."""

    def __init__(self, stripes: int = 64) -> None:
        self._locks = [threading.Lock() for _ in range(stripes)]

    def __call__(self, key: str) -> threading.Lock:
        return self._locks[zlib.crc32(key.encode()) % len(self._locks)]


class SlackReporter:
    name = "slack"

    def __init__(
        self,
        *,
        store: Store,
        port: SlackPort,
        slack: SlackSettings,
        views: Callable[[], ViewContext],
        signer: ActionSigner,
        clock: Callable[[], datetime],
        escalate_to: str = "",
        notifications: NotificationLog | None = None,
    ) -> None:
        self.store = store
        self.port = port
        self.slack = slack
        self.views = views
        self.signer = signer
        self.clock = clock
        self.escalate_to = escalate_to or "on-call"
        self.log = notifications or NotificationLog(store, clock)
        self._locks = _StripedLocks()

    # --- Reporter ---------------------------------------------------------------------------
    def incident_changed(self, incident_id: int, event: str) -> None:
        with self._locks(f"incident:{incident_id}"):
            found = self._incident_parent(incident_id)
            if found is None:
                return
            where, fresh = found
            if not fresh:
                self._update_incident(incident_id, where)
            self._chart(incident_id, where)
            with self.store.sessions() as session:
                incident = session.get(Incident, incident_id)
                if incident is None:
                    return
                noted = incident_note(incident, event)
                reopened = incident.reopened_count
            if event in ("opened", "reopened", "updated"):
                self._repeats(incident_id, where)
            if noted is not None:
                self._post_once(where, noted, incident_id)
            if event == "resolved":
                self._resolution(incident_id, where, reopened)

    def run_changed(self, run_id: int, event: str) -> None:
        with self.store.sessions() as session:
            run = session.get(RunbookRun, run_id)
            incident_id = run.incident_id if run is not None else None
        if run is None:
            return
        lock_key = f"incident:{incident_id}" if incident_id is not None else f"run:{run_id}"
        with self._locks(lock_key):
            where = self._parent_of_run(run_id, incident_id)
            if where is None:
                return
            with self.store.sessions() as session:
                row = session.get(RunbookRun, run_id)
                message = run_message(session, row, event, now=self.clock()) if row is not None else None
            if message is not None:
                self._post_once(where, message, incident_id)

    def escalated(self, *, run_id: int | None, incident_id: int | None, reason: str) -> None:
        if incident_id is None and run_id is not None:
            with self.store.sessions() as session:
                run = session.get(RunbookRun, run_id)
                incident_id = run.incident_id if run is not None else None
        lock_key = f"incident:{incident_id}" if incident_id is not None else f"run:{run_id}"
        with self._locks(lock_key):
            if incident_id is not None:
                found = self._incident_parent(incident_id)
                where = found[0] if found is not None else None
            elif run_id is not None:
                found = self._run_parent(run_id)
                where = found[0] if found is not None else None
            else:
                where = None
            if where is None:
                return
            view = EscalationView(
                incident_id=str(incident_id or ""), to=self.escalate_to, reason=reason, at=self.clock()
            )
            key = escalation_key(run_id=run_id, incident_id=incident_id, reason=reason)
            self._post_once(where, ThreadMessage(key, render_escalation(view)), incident_id)

    def circuit_changed(self, circuit_id: int, event: str) -> None:
        """A circuit breaker opened or closed: one message in `default_channel` (if set)."""
        channel = self.slack.default_channel
        with self.store.sessions() as session:
            news = circuit_news(session, circuit_id, event)
        if channel is None or news is None:
            return

        def send() -> str:
            posted = self.port.post_parent(channel, [section(news.text)], news.text, key=key)
            return message_ref(posted.channel, posted.ts)

        key = f"slack:circuit:{circuit_id}:{event}"
        self.log.once(key, send, channel=CHANNEL, find=keyed_finder(self.port, channel, key))

    # --- for the Slack listeners -------------------------------------------------------------
    def refresh_message(self, channel: str, ts: str) -> bool:
        """Re-render the parent message at (channel, ts) from the store, e.g. after a click."""
        with self.store.sessions() as session:
            incident_id = session.scalar(
                select(Incident.id).where(Incident.slack_channel == channel, Incident.slack_ts == ts)
            )
        where = Where(channel, ts)
        if incident_id is not None:
            with self._locks(f"incident:{incident_id}"):
                self._update_incident(incident_id, where)
            return True
        run_id = self._run_id_of_parent(where)
        if run_id is None:
            return False
        with self._locks(f"run:{run_id}"):
            self._update_run_parent(run_id, where)
        return True

    # --- incident parent ----------------------------------------------------------------------
    def _route(self, incident: Incident, service: str | None) -> str | None:
        return self.slack.channel_for(service=service, severity=incident.severity, provider=incident.provider)

    def _incident_message(self, incident_id: int) -> SlackMessage | None:
        with self.store.sessions() as session:
            incident = session.get(Incident, incident_id)
            if incident is None:
                return None
            return render_incident(incident_view(session, incident, self.views()), signer=self.signer)

    def _incident_parent(self, incident_id: int) -> tuple[Where, bool] | None:
        """The incident's parent message, posting it first if needed (True: just posted)."""
        key = f"slack:incident:{incident_id}:parent"
        with self.store.sessions() as session:
            incident = session.get(Incident, incident_id)
            if incident is None:
                return None
            if incident.slack_channel and incident.slack_ts:
                return Where(incident.slack_channel, incident.slack_ts), False
            channel = self._route(incident, incident_service(incident_alerts(session, incident_id)))
        logged = self.log.sent(key)
        where = Where.parse(logged) if logged else None
        fresh = False
        if where is None:
            if channel is None:
                log.info("slack: no channel routed for incident", incident_id=incident_id)
                return None
            message = self._incident_message(incident_id)
            if message is None:
                return None
            routed, parent = channel, message

            def post() -> str:
                posted = self.port.post_parent(routed, parent.blocks, parent.text, key=key)
                return message_ref(posted.channel, posted.ts)

            # Claimed in the database first: of several replicas, one posts; the rest use its ts
            # (and one taking over a dead poster's claim first looks for its post in Slack).
            found = keyed_finder(self.port, routed, key)
            sent = self.log.send_once(key, post, channel=CHANNEL, incident_id=incident_id, find=found)
            where, fresh = Where.parse(sent.ref), sent.now
            if where is None:
                return None
        with self.store.transaction() as session:
            incident = session.get(Incident, incident_id)
            if incident is not None:
                incident.slack_channel, incident.slack_ts = where.channel, where.ts
        return where, fresh

    def _update_incident(self, incident_id: int, where: Where) -> None:
        message = self._incident_message(incident_id)
        if message is not None:
            self.port.update(where.channel, where.ts, message.blocks, message.text)

    def _chart(self, incident_id: int, where: Where) -> None:
        key = f"slack:incident:{incident_id}:chart"
        if self.log.sent(key) is not None:
            return
        with self.store.sessions() as session:
            incident = session.get(Incident, incident_id)
            if incident is None:
                return
            series = chart_series(incident, incident_alerts(session, incident_id))
        if series is None:
            return
        png = render_metric_chart(
            series.timestamps,
            series.values,
            title=series.title,
            scores=series.scores,
            threshold=series.threshold,
            value_threshold=series.value_threshold,
            unit=series.unit,
        )

        def upload() -> str:
            return self.port.upload_png(
                where.channel,
                where.ts,
                png,
                f"incident-{incident_id}.png",
                f"{series.title} around the anomaly",
            )

        self.log.once(key, upload, channel=CHANNEL, incident_id=incident_id)

    def _repeats(self, incident_id: int, where: Where) -> None:
        """One "fired again (xN)" message per incident (and reopening), updated as N grows."""
        with self.store.sessions() as session:
            incident = session.get(Incident, incident_id)
            if incident is None:
                return
            view = repeat_view(incident, incident_alerts(session, incident_id), first_at=None)
            key = f"slack:incident:{incident_id}:repeats:{incident.reopened_count}"
        if view is None:
            return
        message = render_repeat(view)

        def post() -> str:
            posted = self.port.post_in_thread(where.channel, where.ts, message.blocks, message.text, key=key)
            return message_ref(posted.channel, posted.ts)

        found = keyed_finder(self.port, where.channel, key, thread_ts=where.ts)
        sent = self.log.send_once(key, post, channel=CHANNEL, incident_id=incident_id, find=found)
        existing = Where.parse(sent.ref)
        if not sent.now and existing is not None:  # posted before (maybe by another replica): update it
            self.port.update(existing.channel, existing.ts, message.blocks, message.text)

    def _resolution(self, incident_id: int, where: Where, reopened: int) -> None:
        with self.store.sessions() as session:
            incident = session.get(Incident, incident_id)
            if incident is None or incident.status != "resolved":
                return
            message = render_resolution(resolution_view(session, incident))
        key = f"slack:incident:{incident_id}:resolved:{reopened}"
        self._post_once(where, ThreadMessage(key, message), incident_id)

    def _post_once(self, where: Where, thread: ThreadMessage, incident_id: int | None) -> None:
        def send() -> str:
            posted = self.port.post_in_thread(
                where.channel, where.ts, thread.message.blocks, thread.message.text, key=thread.key
            )
            return message_ref(posted.channel, posted.ts)

        found = keyed_finder(self.port, where.channel, thread.key, thread_ts=where.ts)
        self.log.once(thread.key, send, channel=CHANNEL, incident_id=incident_id, find=found)

    # --- runs --------------------------------------------------------------------------------
    def _parent_of_run(self, run_id: int, incident_id: int | None) -> Where | None:
        """The parent the run's news goes under, brought up to date."""
        found = self._incident_parent(incident_id) if incident_id is not None else self._run_parent(run_id)
        if found is None:
            return None
        where, fresh = found
        if not fresh:
            if incident_id is not None:
                self._update_incident(incident_id, where)
            else:
                self._update_run_parent(run_id, where)
        return where

    def _run_parent_message(self, run_id: int) -> SlackMessage | None:
        with self.store.sessions() as session:
            run = session.get(RunbookRun, run_id)
            if run is None:
                return None
            view = RunParentView(
                run=run_view(session, run),
                status=run.status,
                reason=run.reason,
                approval=run_approval(session, run, self.views()),
                params=dict(run.params or {}),
            )
        return render_run_parent(view, signer=self.signer)

    def _run_parent(self, run_id: int) -> tuple[Where, bool] | None:
        """A run without an incident gets its own parent in `default_channel` (if set)."""
        key = RUN_PARENT_KEY.format(run_id=run_id)
        logged = self.log.sent(key)
        if logged is not None:
            where = Where.parse(logged)
            return (where, False) if where is not None else None
        channel = self.slack.default_channel
        message = self._run_parent_message(run_id) if channel is not None else None
        if channel is None or message is None:
            return None
        routed, parent = channel, message

        def post() -> str:
            posted = self.port.post_parent(routed, parent.blocks, parent.text, key=key)
            return message_ref(posted.channel, posted.ts)

        sent = self.log.send_once(key, post, channel=CHANNEL, find=keyed_finder(self.port, routed, key))
        where = Where.parse(sent.ref)
        return (where, sent.now) if where is not None else None

    def _update_run_parent(self, run_id: int, where: Where) -> None:
        message = self._run_parent_message(run_id)
        if message is not None:
            self.port.update(where.channel, where.ts, message.blocks, message.text)

    def _run_id_of_parent(self, where: Where) -> int | None:
        with self.store.sessions() as session:
            keys = session.scalars(
                select(Notification.key).where(
                    Notification.channel == CHANNEL, Notification.ref == message_ref(where.channel, where.ts)
                )
            ).all()
        for key in keys:
            prefix, _, rest = key.partition("slack:run:")
            number, _, suffix = rest.partition(":")
            if not prefix and suffix == "parent" and number.isdigit():
                return int(number)
        return None
