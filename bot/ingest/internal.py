"""Submit alerts the bot raises itself (sweeps) through the same durable path as webhooks."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from bot.alerts.normalized import NormalizedAlert
from bot.ingest.committer import CommitOutcome, RawDelivery, write_deliveries
from bot.logs import request_id_var
from bot.store.db import Store


def submit_internal_alerts(
    store: Store, *, source: str, alerts: Sequence[NormalizedAlert], delivery_id: str, now: datetime
) -> CommitOutcome:
    """Store `alerts` as one raw event of `source` (e.g. "sweep"); workers process it as usual.

    `delivery_id` makes the submission idempotent: the same id is stored once.
    """
    body = json.dumps(
        {"id": delivery_id, "alerts": [a.to_json_dict() for a in alerts]}, separators=(",", ":")
    ).encode()
    delivery = RawDelivery(
        source=source,
        idempotency_key=f"{source}:{delivery_id}"[:255],
        body=body,
        headers={"content-type": "application/json"},
        content_type="application/json",
        received_at=now,
        request_id=request_id_var.get(),
        alert_count=len(alerts),
    )
    return write_deliveries(store, [delivery])[0]
