"""A large Alertmanager group is applied in bounded transactions, resumes where a dead worker
left it, and applies each alert exactly once (the suite's small version of
benchmarks/big_group.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from bot.config.loader import parse_settings
from bot.incidents.apply import ApplyReport, IncidentBook, MutingContext
from bot.ingest.committer import RawDelivery, write_deliveries
from bot.ingest.parsing import make_parse
from bot.ingest.processor import RawEventProcessor
from bot.ingest.slices import SLICE_ALERTS, apply_in_slices
from bot.metrics import Metrics
from bot.store.db import Store
from bot.store.models import Alert, RawEvent

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
SIZE = 3 * SLICE_ALERTS + 17


def big_group(n: int = SIZE) -> bytes:
    """One Alertmanager delivery of `n` firing alerts (as benchmarks/big_group.py sends)."""
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": "DiskFull", "instance": f"node-{i}", "severity": "warning"},
            "annotations": {"summary": f"disk of node-{i} is full"},
            "startsAt": "2026-11-23T02:55:00Z",
            "fingerprint": f"{i:016x}",
        }
        for i in range(n)
    ]
    return json.dumps({"version": "4", "groupKey": '{}:{alertname="DiskFull"}', "alerts": alerts}).encode()


def store_group(store: Store, body: bytes) -> int:
    delivery = RawDelivery(
        source="alertmanager",
        idempotency_key="big",
        body=body,
        headers={"content-type": "application/json"},
        content_type="application/json",
        received_at=NOW,
        request_id="r",
        alert_count=SIZE,
    )
    [outcome] = write_deliveries(store, [delivery])
    assert outcome.raw_event_id is not None
    return outcome.raw_event_id


def processor(store: Store, tmp_path: Path) -> RawEventProcessor:
    settings = parse_settings({"data_dir": str(tmp_path)}, {})
    return RawEventProcessor(
        store=store,
        settings=settings,
        parse=make_parse(settings),
        muting=lambda _s, _n: MutingContext(),
        confirm_subscription=lambda url: None,
        metrics=Metrics(),
        clock=lambda: NOW,
    )


def alert_deliveries(store: Store) -> list[int]:
    with store.sessions() as session:
        return list(session.scalars(select(Alert.deliveries)))


def test_a_large_group_is_applied_in_bounded_transactions(store: Store, tmp_path: Path) -> None:
    raw_id = store_group(store, big_group())
    commits: list[int] = []

    def count(_connection: object) -> None:
        commits.append(1)

    event.listen(store.engine, "commit", count)
    try:
        processor(store, tmp_path).run_once("w1")
    finally:
        event.remove(store.engine, "commit", count)
    # claim + one commit per slice of at most SLICE_ALERTS alerts (4 slices for 3*256+17)
    assert len(commits) >= 1 + 4
    assert alert_deliveries(store) == [1] * SIZE
    with store.sessions() as session:
        raw = session.get(RawEvent, raw_id)
        assert raw is not None and raw.status == "done" and raw.alerts_done == SIZE


def test_a_worker_that_dies_part_way_is_resumed_exactly_once(store: Store, tmp_path: Path) -> None:
    raw_id = store_group(store, big_group())
    first = processor(store, tmp_path)
    assert first.claim("w1", 1) == [raw_id]
    settings = parse_settings({"data_dir": str(tmp_path)}, {})
    parsed = make_parse(settings)("alertmanager", big_group(), {})

    def apply(session: Session, alerts: object, now: datetime) -> object:
        book = IncidentBook(
            session, settings=settings.incidents, muting=MutingContext(), deliveries=[alerts], now=now
        )  # type: ignore[list-item]
        return book.apply(alerts, now=now, raw_event_id=raw_id)  # type: ignore[arg-type]

    slices = apply_in_slices(
        store,
        raw_id,
        "w1",
        parsed.alerts,
        start=0,
        lease=timedelta(minutes=2),
        clock=lambda: NOW,
        apply=apply,  # type: ignore[arg-type]
        timer=lambda: 0.0,  # a slice never runs out of time: SLICE_ALERTS each
    )
    next(slices)
    next(slices)  # two slices committed, then the worker is killed
    slices.close()
    with store.sessions() as session:
        raw = session.get(RawEvent, raw_id)
        assert raw is not None and raw.status == "pending" and raw.alerts_done == 2 * SLICE_ALERTS
        assert session.scalar(select(func.count()).select_from(Alert)) == 2 * SLICE_ALERTS
    with store.transaction() as session:  # its claim runs out
        session.execute(
            update(RawEvent).where(RawEvent.id == raw_id).values(claimed_until=NOW - timedelta(seconds=1))
        )
    processor(store, tmp_path).run_once("w2")
    assert alert_deliveries(store) == [1] * SIZE  # every alert once: none skipped, none twice
    with store.sessions() as session:
        raw = session.get(RawEvent, raw_id)
        assert raw is not None and raw.status == "done"


def test_a_slice_of_a_taken_over_event_is_not_applied(store: Store, tmp_path: Path) -> None:
    raw_id = store_group(store, big_group())
    assert processor(store, tmp_path).claim("w1", 1) == [raw_id]
    applied: list[int] = []
    slices = apply_in_slices(
        store,
        raw_id,
        "someone-else",
        list(range(SIZE)),  # type: ignore[arg-type]
        start=0,
        lease=timedelta(minutes=2),
        clock=lambda: NOW,
        apply=lambda _s, part, _n: applied.append(len(part)),  # type: ignore[arg-type,func-returns-value]
    )
    assert list(slices) == [] and applied == []


def test_slices_are_bounded_in_time_and_let_other_writers_in_between(store: Store, tmp_path: Path) -> None:
    from bot.ingest.slices import SLICE_SECONDS, STEP

    raw_id = store_group(store, big_group())
    assert processor(store, tmp_path).claim("w1", 1) == [raw_id]
    ticks = iter(range(10**6))
    between: list[int] = []
    sizes = [
        len(part)
        for part, _report in apply_in_slices(
            store,
            raw_id,
            "w1",
            list(range(SIZE)),  # type: ignore[arg-type]
            start=0,
            lease=timedelta(minutes=2),
            clock=lambda: NOW,
            apply=lambda _s, part, _n: ApplyReport(),  # type: ignore[arg-type]
            between=lambda: between.append(1),
            timer=lambda: next(ticks) * SLICE_SECONDS * 0.6,  # each step costs 60% of the budget
        )
    ]
    assert sum(sizes) == SIZE and max(sizes) <= 2 * STEP
    assert len(between) == len(sizes) - 1
