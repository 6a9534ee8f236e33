"""Prometheus Alertmanager webhook (``version: "4"``; ``"3"`` accepted).

One normalized alert per ``alerts[]`` element. Decisions:

- Status comes from each alert's own ``status``; the group's ``status`` is ignored (a "firing"
  group can carry resolved alerts).
- Severity comes from ``labels.severity`` (critical/page, error/major/high, warning/warn/minor,
  info/none/low, else unknown; case-insensitive).
- Fingerprint: Alertmanager's own ``fingerprint``; v3 payloads without one get a hash of the
  label set, which is what Alertmanager's fingerprint is made of too.
- Times: Go's zero time ``0001-01-01T00:00:00Z`` means null. A firing alert never carries
  ``ends_at`` (older senders put the expected expiry there, which is not an end).
- Resource: Kubernetes workload from conventional labels (provider kubernetes), else
  instance/host/service/job. Metric: parsed best-effort from ``generatorURL``'s ``g0.expr``.
- Idempotency key: a hash of ``groupKey`` and each alert's (fingerprint, status, startsAt,
  endsAt as sent), sorted. HA replicas send the same group with different ``externalURL``s and
  receive-order; they all yield the same key. ``truncatedAlerts`` is tolerated and ignored.

`screen` is what the webhook route runs: every check of `parse` (each alert's ``AlertHead``
holds all of them) and the idempotency key, without building normalized alerts.

Essential, per alert: ``status``, ``fingerprint`` and ``labels`` (which hold ``alertname``);
any other malformed field of an alert (``startsAt``, ``annotations``, ``generatorURL``) is
emptied with a warning, alert by alert, in the screen and the parser alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

from bot.alerts.normalized import AlertStatus, NormalizedAlert
from bot.errors import MalformedPayload
from integrations.base import DeliveryKind, Envelope, ParsedDelivery, ParseOptions
from integrations.common.lenient import EssentialFields, FieldWarning, read_leniently
from integrations.common.payload import (
    JsonObject,
    expect_object,
    get_list,
    get_object,
    get_str,
    get_str_map,
    get_time,
    join,
    load_json_object,
    non_empty,
    stable_hash,
    str_map,
)
from integrations.common.severity import severity_from_word
from integrations.prometheus.labels import (
    metric_from_generator_url,
    resource_from_labels,
)

SOURCE = "alertmanager"
# Each alert's identity, status and name (also Grafana's); the group's version is checked as is.
ALERT_ESSENTIAL = EssentialFields("alerts[*].status", "alerts[*].fingerprint", "alerts[*].labels.alertname")
ESSENTIAL = EssentialFields("version", *ALERT_ESSENTIAL.patterns)
_SUPPORTED_VERSIONS = {"3", "4"}
_MAP_OR_NULL = (dict, type(None))
_STR_OR_NULL = (str, type(None))
_LINK_ANNOTATIONS = ("runbook_url", "runbook", "dashboard_url", "dashboard", "playbook")


def alert_status(element: JsonObject, path: str) -> AlertStatus:
    raw = get_str(element, "status", path)
    if raw is None:
        raise MalformedPayload(f"{join(path, 'status')}: required (firing or resolved)")
    try:
        return AlertStatus(raw.strip().lower())
    except ValueError:
        raise MalformedPayload(f"{join(path, 'status')}: expected firing or resolved, got {raw!r}") from None


class AlertHead(NamedTuple):
    """What identifies one Alertmanager-style alert, read with every check the full parse makes
    (an element whose head can be read always normalizes). Times are kept as sent: the head is
    what the idempotency key is made of, and HA replicas send the very same strings."""

    fingerprint: str
    status: str  # firing | resolved
    starts: str  # startsAt as sent ("" when absent)
    ends: str  # endsAt as sent for a resolved alert, else ""


_EXACT_STATUS = {"firing": AlertStatus.FIRING, "resolved": AlertStatus.RESOLVED}


def alert_head(element: JsonObject, path: str) -> AlertHead:
    # Written for speed (the webhook route runs this for every alert): the common shapes are
    # checked inline and anything else goes through the readers, which accept or explain it.
    raw_status = element.get("status")
    status = _EXACT_STATUS.get(raw_status) if type(raw_status) is str else None
    if status is None:
        status = alert_status(element, path)
    labels = element.get("labels")
    if labels is not None and type(labels) is not dict:
        get_object(element, "labels", path)  # raises, naming the path
    if type(element.get("annotations")) not in _MAP_OR_NULL:
        get_object(element, "annotations", path)
    if type(element.get("generatorURL")) not in _STR_OR_NULL:
        get_str(element, "generatorURL", path)
    fingerprint = element.get("fingerprint")
    if type(fingerprint) is not str or not fingerprint:
        fingerprint = get_str(element, "fingerprint", path) or stable_hash(
            sorted(str_map(labels, join(path, "labels")).items())
        )
    resolved = status is AlertStatus.RESOLVED
    return AlertHead(
        fingerprint,
        status.value,
        _checked_time(element, "startsAt", path),
        _checked_time(element, "endsAt", path) if resolved else "",
    )


def _checked_time(element: JsonObject, key: str, path: str) -> str:
    """The time at `key` as sent, once it is known to read as a time (see `get_time`)."""
    value = element.get(key)
    if type(value) is str:
        try:
            # the usual RFC 3339 forms, cheaply; near the ends of the calendar an offset can
            # carry the time out of range in UTC, so those take the full check
            if 1 < datetime.fromisoformat(value).year < 9999:
                return value
        except ValueError:
            pass
    get_time(element, key, path)  # raises unless it reads as a time (or as none)
    return "" if value is None else str(value)


def alert_from_element(
    element: JsonObject, path: str, *, source: str, head: AlertHead | None = None
) -> NormalizedAlert:
    """One Alertmanager-style alert object (also used by the Grafana parser)."""
    head = head or alert_head(element, path)
    status = AlertStatus(head.status)
    labels = get_str_map(element, "labels", path)
    annotations = get_str_map(element, "annotations", path)
    generator_url = get_str(element, "generatorURL", path)
    links = non_empty(
        [generator_url if generator_url and "://" in generator_url else None]
        + [annotations.get(key) for key in _LINK_ANNOTATIONS if "://" in annotations.get(key, "")]
    )
    return NormalizedAlert(
        source=source,
        fingerprint=head.fingerprint,
        name=labels.get("alertname") or "unnamed",
        status=status,
        severity=severity_from_word(labels.get("severity")),
        summary=annotations.get("summary") or annotations.get("message") or annotations.get("title", ""),
        description=annotations.get("description", ""),
        resource=resource_from_labels(labels),
        metric=metric_from_generator_url(generator_url, annotations),
        starts_at=get_time(element, "startsAt", path),
        ends_at=get_time(element, "endsAt", path) if status is AlertStatus.RESOLVED else None,
        labels=labels,
        annotations=annotations,
        links=links,
    )


def alert_elements(document: JsonObject) -> list[tuple[JsonObject, str]]:
    """Each ``alerts[]`` element with its path; ``alerts`` itself is required."""
    if "alerts" not in document:
        raise MalformedPayload("alerts: required")
    elements = []
    for index, item in enumerate(get_list(document, "alerts", "")):
        path = join("alerts", index)
        elements.append((expect_object(item, path), path))
    return elements


def group_idempotency_key(source: str, group_key: str, heads: Sequence[AlertHead]) -> str:
    """Same group content → same key, whichever HA replica sent it and in whatever order."""
    return f"{source}:{stable_hash(group_key, sorted(heads))}"


def group_key_of(document: Mapping[str, object]) -> str:
    raw = document.get("groupKey")
    return "" if raw is None else str(raw)


def _document(body: bytes) -> JsonObject:
    document = load_json_object(body)
    version = get_str(document, "version", "")
    if version is not None and version.strip() not in _SUPPORTED_VERSIONS:
        raise MalformedPayload(
            f"version: unsupported Alertmanager webhook version {version!r} (expected 4 or 3)"
        )
    return document


HeadFn = Callable[[JsonObject, str], AlertHead]
AlertFn = Callable[[JsonObject, str, AlertHead], NormalizedAlert]


def _checked(
    head: HeadFn, element: JsonObject, path: str, warnings: list[FieldWarning]
) -> tuple[JsonObject, AlertHead]:
    """The alert's head, with its malformed optional fields emptied (one alert at a time, so a
    group whose every alert has a bad field costs one re-read per alert, not per group)."""
    try:  # the usual case, as cheap as it was before leniency: a storm screens every alert
        return element, head(element, path)
    except MalformedPayload as exc:
        failed = exc

    def read(candidate: JsonObject) -> tuple[JsonObject, AlertHead]:
        return candidate, head(candidate, path)

    (element, checked), emptied = read_leniently(read, element, ALERT_ESSENTIAL, root=path, failed=failed)
    warnings.extend(emptied)
    return element, checked


def screen_group(source: str, document: JsonObject, head: HeadFn) -> Envelope:
    """An Alertmanager-style group checked alert by alert, for the webhook route (also Grafana's)."""
    warnings: list[FieldWarning] = []
    heads = [_checked(head, element, path, warnings)[1] for element, path in alert_elements(document)]
    return Envelope(
        kind=DeliveryKind.ALERTS,
        alert_count=len(heads),
        idempotency_key=group_idempotency_key(source, group_key_of(document), heads),
        warnings=tuple(warnings),
    )


def parse_group(source: str, document: JsonObject, head: HeadFn, alert: AlertFn) -> ParsedDelivery:
    """An Alertmanager-style group normalized alert by alert (also Grafana's)."""
    heads: list[AlertHead] = []
    alerts: list[NormalizedAlert] = []
    warnings: list[FieldWarning] = []
    for raw_element, path in alert_elements(document):
        element, checked = _checked(head, raw_element, path, warnings)
        heads.append(checked)
        alerts.append(alert(element, path, checked))
    return ParsedDelivery(
        kind=DeliveryKind.ALERTS,
        alerts=alerts,
        idempotency_key=group_idempotency_key(source, group_key_of(document), heads),
        warnings=tuple(warnings),
    )


def _alertmanager_alert(element: JsonObject, path: str, head: AlertHead) -> NormalizedAlert:
    return alert_from_element(element, path, source=SOURCE, head=head)


def screen(body: bytes, *, headers: Mapping[str, str], options: ParseOptions) -> Envelope:
    """Check an Alertmanager webhook delivery as `parse` would, for the webhook route."""
    return screen_group(SOURCE, _document(body), alert_head)


def parse(body: bytes, *, headers: Mapping[str, str], options: ParseOptions) -> ParsedDelivery:
    """Parse an Alertmanager webhook delivery."""
    return parse_group(SOURCE, _document(body), alert_head, _alertmanager_alert)
