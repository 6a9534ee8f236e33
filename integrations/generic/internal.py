"""Alerts the bot raises itself (scheduled sweeps), stored and parsed like any webhook.

The body is the generic format; only the source name differs, so sweep findings go through
the same durable pipeline (dedupe, silences, grouping, rules) as alarms from outside.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from integrations.base import ParsedDelivery, ParseOptions
from integrations.generic import generic

SWEEP = "sweep"


def parse_sweep(body: bytes, *, headers: Mapping[str, str], options: ParseOptions) -> ParsedDelivery:
    delivery = generic.parse(body, headers=headers, options=options)
    alerts = [a.model_copy(update={"source": SWEEP}) for a in delivery.alerts]
    key = f"{SWEEP}:{(delivery.idempotency_key or '').removeprefix(generic.SOURCE + ':')}"
    return replace(delivery, alerts=alerts, idempotency_key=key)
