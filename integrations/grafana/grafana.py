"""Grafana alerting webhooks (source ``grafana``): unified alerting (``version: "1"``), and the
legacy (pre-8) alerting notification, which `integrations.grafana.legacy` reads.

The payload is Alertmanager's plus ``orgId``, ``state`` (alerting|ok), ``title``, ``message``
and, per alert, ``silenceURL``, ``dashboardURL``, ``panelURL``, ``imageURL``, ``values`` (refId →
number) and ``valueString``. Alerts are read exactly as Alertmanager's (per-alert status,
``labels.severity``, Grafana's own fingerprint, zero time = null, label-based resource), then:

- the group ``state``/``title`` are ignored (status is per alert);
- metric value: the only entry of ``values``; with several refIds (query, reduce, threshold)
  there is no telling which one is "the" value, so all are kept in the ``values`` annotation
  and the metric value stays empty; the metric name and dimensions come from the series
  labels in ``valueString`` (which also gives the resource when the alert labels name none);
- links: generator (rule), dashboard, panel, silence and image URLs.

Idempotency key: as Alertmanager (``groupKey`` + each alert's fingerprint/status/times), so
deliveries from several Grafana HA instances collapse into one. `screen` makes every check of
`parse` for the webhook route without building normalized alerts (a legacy notification, one
rule, is screened by parsing it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from bot.alerts.normalized import Metric, NormalizedAlert
from bot.errors import MalformedPayload
from integrations.base import Envelope, ParsedDelivery, ParseOptions, envelope_of
from integrations.common.lenient import read_leniently
from integrations.common.payload import (
    JsonObject,
    get_object,
    get_str,
    load_json_object,
    non_empty,
    to_float,
)
from integrations.grafana import legacy
from integrations.prometheus.alertmanager import (
    AlertHead,
    alert_from_element,
    alert_head,
    parse_group,
    screen_group,
)
from integrations.prometheus.labels import resource_from_labels

SOURCE = "grafana"
_VALUE_VAR = re.compile(
    r"\[\s*var='([^']*)'\s+(?:metric='[^']*'\s+)?labels=\{([^}]*)\}\s+value=([^\s\]]+)\s*\]"
)
_URL_KEYS = ("dashboardURL", "panelURL", "silenceURL", "imageURL")


def _values(element: JsonObject, path: str) -> dict[str, float]:
    values = get_object(element, "values", path)
    found: dict[str, float] = {}
    for ref_id, raw in values.items():
        number = to_float(raw)
        if number is not None:
            found[str(ref_id)] = number
    return found


def _value_string_vars(value_string: str) -> list[tuple[str, dict[str, str], float | None]]:
    """``[ var='B0' metric='Value' labels={__name__=q, instance=h} value=24 ]`` → (refId, labels, value)."""
    found = []
    for match in _VALUE_VAR.finditer(value_string):
        labels = {}
        for pair in match.group(2).split(","):
            key, separator, value = pair.strip().partition("=")
            if separator and key:
                labels[key] = value
        found.append((match.group(1), labels, to_float(match.group(3))))
    return found


def _grafana_head(element: JsonObject, path: str) -> AlertHead:
    """The Alertmanager head plus the checks of Grafana's own fields."""
    head = alert_head(element, path)
    get_object(element, "values", path)
    for key in ("valueString", *_URL_KEYS):
        get_str(element, key, path)
    return head


def _grafana_alert(element: JsonObject, path: str, head: AlertHead) -> NormalizedAlert:
    alert = alert_from_element(element, path, source=SOURCE, head=head)
    values = _values(element, path)
    value_string = get_str(element, "valueString", path) or ""
    variables = _value_string_vars(value_string)
    if not values and len(variables) == 1 and variables[0][2] is not None:
        values = {variables[0][0]: variables[0][2]}
    series_labels = dict(variables[0][1]) if variables else {}
    metric_name = series_labels.pop("__name__", None)
    annotations = dict(alert.annotations)
    if value_string:
        annotations.setdefault("value_string", value_string)
    if len(values) > 1:
        listed = ", ".join(f"{key}={value:g}" for key, value in sorted(values.items()))
        annotations.setdefault("values", listed)
    metric = alert.metric
    if values or metric_name:
        metric = Metric(
            namespace="grafana",
            name=metric_name,
            dimensions=series_labels,
            value=next(iter(values.values())) if len(values) == 1 else None,
        )
    resource = alert.resource
    if resource.type is None and series_labels:
        resource = resource_from_labels(series_labels)
    links = non_empty([*alert.links, *(get_str(element, key, path) for key in _URL_KEYS)])
    return alert.model_copy(
        update={"metric": metric, "annotations": annotations, "links": links, "resource": resource}
    )


def _document(body: bytes) -> JsonObject:
    document = load_json_object(body)
    if "alerts" not in document and not legacy.is_legacy(document):
        raise MalformedPayload("alerts: required (unified alerting), or ruleName and state (legacy alerting)")
    return document


def _legacy(document: JsonObject, options: ParseOptions) -> ParsedDelivery:
    delivery, warnings = read_leniently(lambda doc: legacy.read(doc, options), document, legacy.ESSENTIAL)
    return replace(delivery, warnings=warnings)


def screen(body: bytes, *, headers: Mapping[str, str], options: ParseOptions) -> Envelope:
    """Check a Grafana alerting webhook delivery as `parse` would, for the webhook route."""
    document = _document(body)
    if legacy.is_legacy(document):
        return envelope_of(_legacy(document, options))
    return screen_group(SOURCE, document, _grafana_head)


def parse(body: bytes, *, headers: Mapping[str, str], options: ParseOptions) -> ParsedDelivery:
    """Parse a Grafana alerting webhook delivery (signature checked separately)."""
    document = _document(body)
    if legacy.is_legacy(document):
        return _legacy(document, options)
    return parse_group(SOURCE, document, _grafana_head, _grafana_alert)
