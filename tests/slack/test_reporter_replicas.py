"""Two replicas (two runtimes on one store) report the same incident at the same moment: one
parent message, one "fired again" reply. Slack is held mid-call on cue, so the race is certain.

And a replica killed after Slack accepted its post but before the notification log recorded it:
the replica taking over its claim finds the post by its metadata and does not post again."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.errors import NotificationInFlight
from bot.reporting.base import CLAIM_SECONDS, NotificationLog
from bot.runtime import Runtime
from bot.slack.reporter import SlackReporter
from bot.store.models import Alert, Incident
from integrations.slack.client import METADATA_EVENT
from tests.fakes.slack import FakeSlack
from tests.slack.rig import PAYMENTS, SettableClock, SlackRig, make_slack_runtime, slack_env


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def replicas(
    request: pytest.FixtureRequest, data_dir: Path, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[SlackRig, SlackRig]]:
    slack_env(monkeypatch, fake_slack)
    clock = SettableClock()
    overrides = {}
    if request.param == "postgresql":
        from bot.store.db import Store
        from tests.stores import truncate_all

        url = request.getfixturevalue("postgres_url")
        store = Store.connect(url)
        truncate_all(store)
        store.dispose()
        overrides = {"database": {"url": url}}
    made: list[Runtime] = []
    for _ in range(2):
        runtime, system = make_slack_runtime(data_dir, clock=clock, **overrides)
        made.append(runtime)
    yield SlackRig(made[0], fake_slack, system), SlackRig(made[1], fake_slack, system)
    for runtime in made:
        runtime.store.dispose()


def reporter(rig: SlackRig) -> SlackReporter:
    [found] = [r for r in rig.runtime.fanout.reporters if isinstance(r, SlackReporter)]
    return found


def race(fake: FakeSlack, method: str, first: SlackReporter, second: SlackReporter, call: str) -> None:
    """`first` is inside the Slack call when `second` tries the same: `second` is deferred, and
    after `first` is done, `second`'s retry posts nothing new."""
    incident_id, event = call.split(":")
    hold = fake.hold(method)
    errors: list[BaseException] = []

    def run_first() -> None:
        try:
            first.incident_changed(int(incident_id), event)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=run_first)
    thread.start()
    assert hold.arrived.wait(30)
    with pytest.raises(NotificationInFlight):
        second.incident_changed(int(incident_id), event)
    hold.release()
    thread.join(30)
    assert not errors
    second.incident_changed(int(incident_id), event)  # the deferred job, run again


def fired_again(rig: SlackRig) -> tuple[int, str]:
    """An incident whose parent message is posted and whose alert has since fired twice more (a
    "fired again" reply is due); its id and the parent's ts."""
    incident_id = rig.add_incident(service="payments-api")
    now = rig.runtime.clock()
    with rig.runtime.store.transaction() as session:
        session.add(
            Alert(
                source="cloudwatch",
                fingerprint="cpu",
                name="High CPU",
                status="firing",
                severity="critical",
                first_seen=now,
                last_seen=now,
                deliveries=3,
                labels={"service": "payments-api"},
                incident_id=incident_id,
            )
        )
    reporter(rig).incident_changed(incident_id, "opened")  # the parent exists, nothing repeated yet
    [parent] = rig.fake.messages(PAYMENTS)
    with rig.runtime.store.transaction() as session:
        stored = session.get(Incident, incident_id)
        assert stored is not None
        stored.alert_events = 3  # the alert fired twice more
    return incident_id, parent.ts


def test_one_parent_message_per_incident_across_replicas(replicas: tuple[SlackRig, SlackRig]) -> None:
    a, b = replicas
    incident_id = a.add_incident(service="payments-api")
    race(a.fake, "chat.postMessage", reporter(a), reporter(b), f"{incident_id}:opened")
    [parent] = a.fake.messages(PAYMENTS)
    assert (a.incident(incident_id).slack_ts, b.incident(incident_id).slack_ts) == (parent.ts, parent.ts)


def test_one_fired_again_reply_across_replicas(replicas: tuple[SlackRig, SlackRig]) -> None:
    a, b = replicas
    incident_id, parent_ts = fired_again(a)
    race(a.fake, "chat.postMessage", reporter(a), reporter(b), f"{incident_id}:updated")
    replies = [m for m in a.fake.thread(PAYMENTS, parent_ts) if "again" in m.text.lower()]
    assert len(replies) == 1


class Killed(BaseException):
    """The process died (SIGKILL): nothing after this point of the sender runs."""


class DiesBeforeRecording(NotificationLog):
    """The log of a replica that is killed after Slack accepted `key`'s post, before the log
    write that follows it: the claim stays behind as a SIGKILLed sender leaves it."""

    def __init__(self, rig: SlackRig, key: str) -> None:
        super().__init__(rig.runtime.store, rig.runtime.clock)
        self.key = key

    def _mark_sent(self, key: str, holder: str, ref: str) -> None:
        if key == self.key:
            raise Killed(key)
        super()._mark_sent(key, holder, ref)


def kill_while_posting(rig: SlackRig, key: str, call: str) -> None:
    """`rig` posts the message keyed `key` for `call` and dies; its claim then expires."""
    dying = reporter(rig)
    dying.log = DiesBeforeRecording(rig, key)
    incident_id, event = call.split(":")
    with pytest.raises(Killed):
        dying.incident_changed(int(incident_id), event)
    clock = rig.runtime.clock
    assert isinstance(clock, SettableClock)
    clock.now += timedelta(seconds=CLAIM_SECONDS + 1)


def test_a_parent_posted_by_a_killed_replica_is_found_not_posted_again(
    replicas: tuple[SlackRig, SlackRig],
) -> None:
    a, b = replicas
    incident_id = a.add_incident(service="payments-api")
    key = f"slack:incident:{incident_id}:parent"
    kill_while_posting(a, key, f"{incident_id}:opened")
    [posted] = a.fake.messages(PAYMENTS)
    assert posted.metadata == {"event_type": METADATA_EVENT, "event_payload": {"key": key}}
    assert NotificationLog(b.runtime.store, b.runtime.clock).sent(key) is None  # a never recorded it

    reporter(b).incident_changed(incident_id, "opened")  # takes over a's claim

    assert [m.ts for m in b.fake.messages(PAYMENTS)] == [posted.ts]  # no second parent
    assert b.incident(incident_id).slack_ts == posted.ts
    assert NotificationLog(b.runtime.store, b.runtime.clock).sent(key) == f"{PAYMENTS} {posted.ts}"
    [looked] = b.fake.api_calls("conversations.history")
    assert looked.args["channel"] == PAYMENTS
    assert len(b.fake.api_calls("chat.postMessage")) == 1
    assert b.fake.history(PAYMENTS, posted.ts)[-1]["text"]  # and b brought it up to date (chat.update)
    assert len(b.fake.api_calls("chat.update")) == 1


def test_a_fired_again_reply_posted_by_a_killed_replica_is_found_not_posted_again(
    replicas: tuple[SlackRig, SlackRig],
) -> None:
    a, b = replicas
    incident_id, parent_ts = fired_again(a)
    key = f"slack:incident:{incident_id}:repeats:0"
    kill_while_posting(a, key, f"{incident_id}:updated")
    [posted] = [m for m in a.fake.thread(PAYMENTS, parent_ts) if "again" in m.text.lower()]
    assert posted.metadata == {"event_type": METADATA_EVENT, "event_payload": {"key": key}}

    reporter(b).incident_changed(incident_id, "updated")

    replies = [m for m in b.fake.thread(PAYMENTS, parent_ts) if "again" in m.text.lower()]
    assert [m.ts for m in replies] == [posted.ts]
    assert NotificationLog(b.runtime.store, b.runtime.clock).sent(key) == f"{PAYMENTS} {posted.ts}"
    [looked] = b.fake.api_calls("conversations.replies")
    assert (looked.args["channel"], looked.args["ts"]) == (PAYMENTS, parent_ts)
