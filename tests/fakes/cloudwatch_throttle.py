"""A recording HTTP proxy in front of moto for CloudWatch, adding what moto does not do.

- Injected errors in CloudWatch's real wire format (botocore speaks the awsQuery-compatible JSON 1.0
  protocol to CloudWatch: status 400, `__type`, and the query-era code in `x-amzn-query-error`),
  e.g. `Throttling` the first N times, then the request goes through to moto.
- GetMetricData pagination: moto never returns NextToken; with `page_size` set the proxy cuts moto's
  answer into pages of at most that many datapoints per result, as CloudWatch does past MaxDatapoints.
- SEARCH expressions: moto answers them with one empty result; the proxy answers registered
  expressions with canned matches, rendering the query's dynamic label (`${PROP('Dim.X')}`, ...)
  the way CloudWatch documents it.

boto3 reaches the proxy through AWS_ENDPOINT_URL, like it reaches moto.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from tests.fakes.http_server import FakeService, RecordedRequest, Reply

JSON_1_0 = "application/x-amz-json-1.0"
_HOP_BY_HOP = {"connection", "content-length", "date", "server", "transfer-encoding"}


@dataclass(frozen=True)
class InjectedError:
    status: int
    code: str  # the query-protocol code botocore reports as Error.Code, e.g. "Throttling"
    type_name: str  # the JSON protocol's __type
    message: str


THROTTLING = InjectedError(
    400, "Throttling", "com.amazon.coral.availability#ThrottlingException", "Rate exceeded"
)
ACCESS_DENIED = InjectedError(
    400,
    "AccessDenied",
    "com.amazon.coral.service#AccessDeniedException",
    "User: arn:aws:iam::123456789012:user/bot is not authorized to perform: cloudwatch:GetMetricData",
)


@dataclass(frozen=True)
class SearchMatch:
    """One metric a canned SEARCH finds, with its datapoints."""

    metric_name: str
    dimensions: dict[str, str]
    timestamps: list[datetime]
    values: list[float]


class CloudWatchProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.page_size: int | None = None
        self.search_matches: dict[str, list[SearchMatch]] = {}  # expression exactly as sent -> matches
        self._errors: dict[str, list[InjectedError]] = {}
        self._let_through: dict[str, int] = {}  # calls to answer before the injected errors start
        self._pages: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.service = FakeService()
        self.service.route("POST", r"/.*")(self._handle)

    # ------------------------------------------------------------------ control

    def start(self) -> CloudWatchProxy:
        self.service.start()
        return self

    def stop(self) -> None:
        self.service.stop()

    @property
    def url(self) -> str:
        return self.service.url

    def fail(
        self, operation: str, error: InjectedError = THROTTLING, *, times: int = 1, after: int = 0
    ) -> None:
        """Answer the next `times` calls of `operation` with `error`, once `after` calls went through."""
        with self._lock:
            self._errors.setdefault(operation, []).extend([error] * times)
            self._let_through[operation] = after

    def calls(self, operation: str) -> list[dict[str, Any]]:
        """JSON bodies of the requests for `operation`, in order (failed attempts included)."""
        return [r.json() for r in self.service.calls("POST") if _operation(r) == operation]

    # ------------------------------------------------------------------ serving

    def _handle(self, req: RecordedRequest, _: re.Match[str]) -> Reply:
        if not req.headers.get("content-type", "").startswith(JSON_1_0):
            return Reply(500, f"proxy speaks only {JSON_1_0}; botocore changed protocol?")
        operation = _operation(req)
        with self._lock:
            queue = self._errors.get(operation) or []
            injected = None
            if self._let_through.get(operation, 0) > 0:
                self._let_through[operation] -= 1
            elif queue:
                injected = queue.pop(0)
        if injected is not None:
            return _error_reply(injected)
        if operation != "GetMetricData":
            return self._forward(req)
        body = req.json()
        token = body.get("NextToken")
        if token:
            with self._lock:
                remaining = self._pages.pop(token, None)
            if remaining is None:
                return _error_reply(InjectedError(400, "InvalidNextToken", "InvalidNextToken", "bad token"))
            return self._page(remaining)
        searches = [q for q in body["MetricDataQueries"] if q.get("Expression", "").startswith("SEARCH(")]
        if searches:
            return self._answer_search(body["MetricDataQueries"])
        reply = self._forward(req)
        if reply.status != 200 or not self.page_size:
            return reply
        return self._page(json.loads(reply.body)["MetricDataResults"])

    def _forward(self, req: RecordedRequest) -> Reply:
        headers = {k: v for k, v in req.headers.items() if k not in _HOP_BY_HOP | {"host"}}
        answer = httpx.post(self.upstream + req.path, content=req.body, headers=headers, timeout=30)
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
        return Reply(answer.status_code, answer.content, kept)

    def _page(self, results: list[dict[str, Any]]) -> Reply:
        assert self.page_size
        page, rest = [], []
        for result in results:
            cut = self.page_size
            head = {**result, "Timestamps": result["Timestamps"][:cut], "Values": result["Values"][:cut]}
            if len(result["Values"]) > cut:
                head["StatusCode"] = "PartialData"
                rest.append(
                    {**result, "Timestamps": result["Timestamps"][cut:], "Values": result["Values"][cut:]}
                )
            page.append(head)
        answer: dict[str, Any] = {"MetricDataResults": page, "Messages": []}
        if rest:
            token = uuid.uuid4().hex
            with self._lock:
                self._pages[token] = rest
            answer["NextToken"] = token
        return _json_reply(answer)

    def _answer_search(self, queries: list[dict[str, Any]]) -> Reply:
        results = []
        for query in queries:
            if not query.get("Expression", "").startswith("SEARCH("):
                return Reply(500, "proxy cannot mix SEARCH with other queries in one call")
            for match in self.search_matches.get(query["Expression"], []):
                results.append(
                    {
                        "Id": query["Id"],
                        "Label": _render_label(query.get("Label", ""), match),
                        "Timestamps": [int(t.timestamp()) for t in match.timestamps],
                        "Values": match.values,
                        "StatusCode": "Complete",
                    }
                )
        return _json_reply({"MetricDataResults": results, "Messages": []})


def _operation(req: RecordedRequest) -> str:
    return req.headers.get("x-amz-target", "").rsplit(".", 1)[-1]


def _render_label(template: str, match: SearchMatch) -> str:
    def prop(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "MetricName":
            return match.metric_name
        if name.startswith("Dim."):
            return match.dimensions.get(name[4:], "")
        return ""

    return re.sub(r"\$\{PROP\('([^']+)'\)\}", prop, template)


def _json_reply(body: dict[str, Any]) -> Reply:
    return Reply(
        200, json.dumps(body).encode(), {"Content-Type": JSON_1_0, "x-amzn-RequestId": str(uuid.uuid4())}
    )


def _error_reply(error: InjectedError) -> Reply:
    body = json.dumps({"__type": error.type_name, "message": error.message}).encode()
    headers = {
        "Content-Type": JSON_1_0,
        "x-amzn-RequestId": str(uuid.uuid4()),
        "x-amzn-query-error": f"{error.code};Sender",
    }
    return Reply(error.status, body, headers)
