"""Reading resources and metrics out of Prometheus-style label sets.

Alertmanager (and Grafana, which speaks the same dialect) carries no structured resource or
metric: only labels by convention and the PromQL expression URL-encoded in ``generatorURL``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import parse_qs, urlsplit

from bot.alerts.normalized import Metric, Provider, Resource
from integrations.common.payload import to_float

# (label, resource type) in order of preference: the workload a runbook would act on first.
_K8S_OBJECTS: tuple[tuple[str, str], ...] = (
    ("deployment", "k8s:deployment"),
    ("statefulset", "k8s:statefulset"),
    ("daemonset", "k8s:daemonset"),
    ("cronjob", "k8s:cronjob"),
    ("job_name", "k8s:job"),
    ("pod", "k8s:pod"),
    ("pod_name", "k8s:pod"),
    ("kubernetes_pod_name", "k8s:pod"),
    ("persistentvolumeclaim", "k8s:persistentvolumeclaim"),
)
_K8S_NAMESPACE_LABELS = ("namespace", "kubernetes_namespace", "exported_namespace")
_K8S_NODE_LABELS = ("node", "kubernetes_node")
_K8S_HINTS = (
    {label for label, _ in _K8S_OBJECTS}
    | set(_K8S_NAMESPACE_LABELS)
    | {
        *_K8S_NODE_LABELS,
        "container",
        "container_name",
    }
)
_CLUSTER_LABELS = ("cluster", "k8s_cluster", "cluster_name", "kubernetes_cluster")
# (label, resource type) for anything that is not Kubernetes.
_HOST_OBJECTS: tuple[tuple[str, str], ...] = (
    ("instance", "instance"),
    ("host", "host"),
    ("hostname", "host"),
    ("service", "service"),
    ("job", "prometheus:job"),
)


def _first(labels: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = labels.get(name)
        if value:
            return value
    return None


def resource_from_labels(labels: Mapping[str, str]) -> Resource:
    """Kubernetes workload (namespace/name) when k8s labels are present, else instance/host/service."""
    account = _first(labels, _CLUSTER_LABELS)
    region = labels.get("region") or None
    if _K8S_HINTS & labels.keys():
        namespace = _first(labels, _K8S_NAMESPACE_LABELS)
        for label, kind in _K8S_OBJECTS:
            name = labels.get(label)
            if name:
                object_id = f"{namespace}/{name}" if namespace else name
                return Resource(
                    provider=Provider.KUBERNETES,
                    account=account,
                    region=region,
                    type=kind,
                    id=object_id,
                    name=name,
                )
        node = _first(labels, _K8S_NODE_LABELS)
        if node:
            return Resource(
                provider=Provider.KUBERNETES,
                account=account,
                region=region,
                type="k8s:node",
                id=node,
                name=node,
            )
        if namespace:
            return Resource(
                provider=Provider.KUBERNETES,
                account=account,
                region=region,
                type="k8s:namespace",
                id=namespace,
                name=namespace,
            )
        return Resource(provider=Provider.KUBERNETES, account=account, region=region)
    for label, kind in _HOST_OBJECTS:
        value = labels.get(label)
        if value:
            return Resource(account=account, region=region, type=kind, id=value, name=value)
    return Resource(account=account, region=region)


_PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "atan2",
    "inf",
    "nan",
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
}
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_MATCHERS = re.compile(r"\{([^}]*)\}")
_MATCHER = re.compile(r"""\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*""")
_COMPARISON = re.compile(r"(>=|<=|==|!=|>|<)\s*(?:bool\s+)?(-?[0-9][0-9.eE+-]*)\s*$")


def expression_from_generator_url(url: str | None) -> str | None:
    """The PromQL expression in a Prometheus ``/graph?g0.expr=...`` link, if there is one."""
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("g0.expr")
    return values[0] if values else None


def metric_from_generator_url(url: str | None, annotations: Mapping[str, str]) -> Metric | None:
    """Best effort, from the PromQL expression in ``generatorURL``: its first metric name, its
    equality matchers as dimensions, and the threshold of a trailing comparison (``... > 0.9``)."""
    if not url:
        return None
    read = _metric_of_url(url)
    if read is None:
        return None
    name, dimensions, threshold = read
    return _metric(name, dict(dimensions), threshold, annotations)


# Every alert of a rule carries the same generatorURL, so a storm reads each one once.
@lru_cache(maxsize=2048)
def _metric_of_url(url: str) -> tuple[str | None, tuple[tuple[str, str], ...], float | None] | None:
    expr = expression_from_generator_url(url)
    return _read_expression(expr) if expr else None


def _metric(
    name: str | None, dimensions: dict[str, str], threshold: float | None, annotations: Mapping[str, str]
) -> Metric:
    return Metric(
        namespace="prometheus",
        name=name,
        dimensions=dimensions,
        threshold=threshold,
        value=to_float(annotations.get("value")),
    )


def _read_expression(expr: str) -> tuple[str | None, tuple[tuple[str, str], ...], float | None]:
    matchers = _MATCHERS.search(expr)
    dimensions: dict[str, str] = {}
    if matchers:
        for part in matchers.group(1).split(","):
            found = _MATCHER.fullmatch(part)
            if found:
                dimensions[found.group(1)] = found.group(2)
    stripped = _MATCHERS.sub("{}", re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr))
    stripped = _GROUPING.sub(" ", re.sub(r"\[[^\]]*\]", "", stripped))
    name = None
    for token in _IDENTIFIER.finditer(stripped):
        rest = stripped[token.end() :].lstrip()
        if rest.startswith("(") or token.group(0).lower() in _PROMQL_WORDS:
            continue
        previous = stripped[token.start() - 1] if token.start() > 0 else " "
        if previous.isdigit() or previous == ".":
            continue  # the exponent or unit of a number literal, not a metric
        name = token.group(0)
        break
    comparison = _COMPARISON.search(expr)
    threshold = to_float(comparison.group(2)) if comparison else None
    return name, tuple(dimensions.items()), threshold
