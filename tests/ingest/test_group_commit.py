"""The group commit's batch write, on SQLite and PostgreSQL: ids, duplicates within a batch and
against what is stored, and the duplicate counter."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.ingest.committer import RawDelivery, write_deliveries
from bot.store.db import Store
from bot.store.models import RawEvent

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def delivery(key: str, body: bytes, source: str = "alertmanager") -> RawDelivery:
    return RawDelivery(
        source=source,
        idempotency_key=key,
        body=body,
        headers={"content-type": "application/json"},
        content_type="application/json",
        received_at=NOW,
        request_id=f"req-{key}",
        alert_count=2,
    )


def stored(store: Store) -> dict[int, tuple[str, str, bytes, int]]:
    with store.sessions() as session:
        rows = session.execute(
            select(RawEvent.id, RawEvent.source, RawEvent.idempotency_key, RawEvent.body, RawEvent.duplicates)
        ).all()
    return {r.id: (r.source, r.idempotency_key, r.body, r.duplicates) for r in rows}


def test_a_batch_gets_each_body_its_own_id(store: Store) -> None:
    outcomes = write_deliveries(store, [delivery(f"k{i}", f"body {i}".encode()) for i in range(5)])
    assert [o.duplicate for o in outcomes] == [False] * 5
    rows = stored(store)
    for i, outcome in enumerate(outcomes):
        assert outcome.raw_event_id is not None
        assert rows[outcome.raw_event_id][1:3] == (f"k{i}", f"body {i}".encode())


def test_duplicates_within_a_batch_and_against_the_store_are_counted_not_stored(store: Store) -> None:
    first = write_deliveries(store, [delivery("a", b"A")])[0]
    outcomes = write_deliveries(
        store,
        [
            delivery("a", b"A again"),  # known before this batch
            delivery("b", b"B"),  # new
            delivery("b", b"B from the other replica"),  # new earlier in this batch
            delivery("b", b"B third time"),
            delivery("a", b"A", source="grafana"),  # same key, other source: new
        ],
    )
    assert [o.duplicate for o in outcomes] == [True, False, True, True, False]
    assert outcomes[0].raw_event_id is None and outcomes[2].raw_event_id is None
    rows = stored(store)
    assert len(rows) == 3
    assert rows[first.raw_event_id or 0] == ("alertmanager", "a", b"A", 1)
    assert rows[outcomes[1].raw_event_id or 0] == ("alertmanager", "b", b"B", 2)
    assert rows[outcomes[4].raw_event_id or 0] == ("grafana", "a", b"A", 0)


def test_an_empty_batch_writes_nothing(store: Store) -> None:
    assert write_deliveries(store, []) == []
    assert stored(store) == {}
