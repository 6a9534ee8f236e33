"""A recording fake of the Jira REST API v2 over plain HTTP, with in-memory issues.

Covers what the `jira` package sends for: serverInfo, field, project, issuetype, search (Server:
`/search`, Cloud: `/search/jql`), issue create/get, comment, transitions GET/POST. JQL support
is just enough for `labels = "x" [AND project = KEY] [ORDER BY ...]`::

    with FakeJira(deployment="Server") as jira:
        settings = JiraSettings(url=jira.url, project="OPS", max_retries=0, ...)
        ...
        assert len(jira.issues) == 1 and jira.calls("POST", "/comment")

Basic auth must match `users` (default `bot@example.com` / `jira-token`) or a bearer PAT in
`tokens`; otherwise 401, as Jira answers.
"""

from __future__ import annotations

import base64
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.http_server import FakeService, RecordedRequest, Reply

API = "/rest/api/2"

DEFAULT_TRANSITIONS = [
    {"id": "11", "name": "Start Progress", "to": "In Progress"},
    {"id": "31", "name": "Done", "to": "Done"},
]
_STATUS_CATEGORY = {"To Do": "new", "In Progress": "indeterminate", "Done": "done"}


@dataclass
class FakeIssue:
    id: str
    key: str
    fields: dict[str, Any]
    comments: list[dict[str, Any]] = field(default_factory=list)
    status: str = "To Do"
    transitions_done: list[str] = field(default_factory=list)


@dataclass
class _Failure:
    status: int
    method: str | None
    path_contains: str
    body: Any
    headers: dict[str, str]
    times: int


class FakeJira(FakeService):
    """Jira Server or Cloud (`deployment`), projects OPS and SEC, issue types Task/Bug/Incident."""

    def __init__(
        self,
        *,
        deployment: str = "Server",
        users: dict[str, str] | None = None,
        tokens: set[str] | None = None,
    ) -> None:
        super().__init__(tls=None)
        self.deployment = deployment
        self.users = users if users is not None else {"bot@example.com": "jira-token"}
        self.tokens = tokens if tokens is not None else set()
        self.projects = {"OPS": "10000", "SEC": "10001"}
        self.issue_types = {"Task": "10001", "Bug": "10002", "Incident": "10003"}
        self.priorities = {"Highest", "High", "Medium", "Low", "Lowest"}
        self.accepts_priority = True
        self.transitions: list[dict[str, str]] = [dict(t) for t in DEFAULT_TRANSITIONS]
        self.issues: dict[str, FakeIssue] = {}
        self._next_id = 10100
        self._failures: list[_Failure] = []
        self._state_lock = threading.Lock()
        routes = [
            ("GET", "/serverInfo", self._server_info),
            ("GET", "/field", self._fields),
            ("GET", "/project/(?P<key>[^/]+)", self._project),
            ("GET", "/issuetype", self._issuetypes),
            ("GET", "/search", self._search),
            ("POST", "/search", self._search),
            ("GET", "/search/jql", self._search_jql),
            ("POST", "/search/jql", self._search_jql),
            ("POST", "/issue", self._create),
            ("GET", "/issue/(?P<key>[^/]+)", self._get_issue),
            ("POST", "/issue/(?P<key>[^/]+)/comment", self._comment),
            ("GET", "/issue/(?P<key>[^/]+)/transitions", self._list_transitions),
            ("POST", "/issue/(?P<key>[^/]+)/transitions", self._transition),
        ]
        for method, path, handler in routes:
            self.route(method, API + path)(handler)

    # --- test controls -----------------------------------------------------------------

    def reset(self) -> None:
        super().reset()
        with self._state_lock:
            self.issues.clear()
            self._failures.clear()
            self.transitions = [dict(t) for t in DEFAULT_TRANSITIONS]
            self.accepts_priority = True

    def fail_next(
        self,
        status: int,
        *,
        method: str | None = None,
        path_contains: str = "",
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        default = {"errorMessages": [f"injected failure {status}"], "errors": {}}
        with self._state_lock:
            self._failures.append(
                _Failure(status, method, path_contains, body or default, headers or {}, times)
            )

    def issues_with_label(self, label: str) -> list[FakeIssue]:
        return [i for i in self.issues.values() if label in i.fields.get("labels", [])]

    # --- dispatch ----------------------------------------------------------------------

    def _authorized(self, req: RecordedRequest) -> bool:
        scheme, _, value = req.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return False
            return self.users.get(user) == password
        return scheme.lower() == "bearer" and value in self.tokens

    def _dispatch(self, req: RecordedRequest) -> Reply:
        if not self._authorized(req):
            return Reply(401, {"errorMessages": ["You are not authenticated."], "errors": {}})
        with self._state_lock:
            for failure in self._failures:
                if (
                    failure.method is None or failure.method == req.method
                ) and failure.path_contains in req.path:
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    return Reply(failure.status, failure.body, dict(failure.headers))
        return super()._dispatch(req)

    def _base(self) -> str:
        return self.url

    def _server_info(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        version = [1001, 0, 0] if self.deployment == "Cloud" else [9, 12, 2]
        return Reply(
            200,
            {
                "baseUrl": self._base(),
                "version": ".".join(map(str, version)),
                "versionNumbers": version,
                "deploymentType": self.deployment,
                "buildNumber": 100000,
                "serverTitle": "Fake Jira",
            },
        )

    def _fields(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        names = ["summary", "description", "labels", "status", "priority", "issuetype", "project", "created"]
        return Reply(
            200,
            [
                {
                    "id": n,
                    "key": n,
                    "name": n.title(),
                    "custom": False,
                    "navigable": True,
                    "searchable": True,
                    "clauseNames": [n],
                }
                for n in names
            ],
        )

    def _issuetype_json(self, name: str) -> dict[str, Any]:
        ident = self.issue_types[name]
        return {"self": f"{self._base()}{API}/issuetype/{ident}", "id": ident, "name": name, "subtask": False}

    def _project_json(self, key: str) -> dict[str, Any]:
        ident = self.projects[key]
        return {
            "self": f"{self._base()}{API}/project/{ident}",
            "id": ident,
            "key": key,
            "name": f"Project {key}",
            "issueTypes": [self._issuetype_json(n) for n in self.issue_types],
        }

    def _project(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        wanted = match["key"]
        for key, ident in self.projects.items():
            if wanted in (key, ident):
                return Reply(200, self._project_json(key))
        return Reply(
            404, {"errorMessages": [f"No project could be found with key '{wanted}'."], "errors": {}}
        )

    def _issuetypes(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        return Reply(200, [self._issuetype_json(n) for n in self.issue_types])

    # --- search ------------------------------------------------------------------------

    def _jql(self, req: RecordedRequest) -> str:
        if req.method == "POST":
            return str((req.json() or {}).get("jql", ""))
        return req.query.get("jql", [""])[0]

    def _matching(self, jql: str) -> list[FakeIssue] | None:
        where = re.split(r"(?i)\s+ORDER\s+BY\s+", jql.strip())[0]
        clauses = [c.strip() for c in re.split(r"(?i)\s+AND\s+", where) if c.strip()]
        issues = sorted(self.issues.values(), key=lambda i: int(i.id))
        for clause in clauses:
            m = re.fullmatch(r'(?i)(labels|project)\s*=\s*"?([^"]+)"?', clause)
            if m is None:
                return None
            name, value = m.group(1).lower(), m.group(2)
            if name == "labels":
                issues = [i for i in issues if value in i.fields.get("labels", [])]
            else:
                issues = [i for i in issues if i.fields["project"]["key"] == value]
        return issues

    def _search(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        if self.deployment == "Cloud":
            return Reply(410, {"errorMessages": ["The requested API has been removed."], "errors": {}})
        found = self._matching(self._jql(req))
        if found is None:
            return Reply(400, {"errorMessages": ["The fake cannot parse this JQL."], "errors": {}})
        return Reply(
            200,
            {
                "startAt": 0,
                "maxResults": 50,
                "total": len(found),
                "issues": [self._issue_json(i) for i in found],
            },
        )

    def _search_jql(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        found = self._matching(self._jql(req))
        if found is None:
            return Reply(400, {"errorMessages": ["The fake cannot parse this JQL."], "errors": {}})
        return Reply(200, {"issues": [self._issue_json(i) for i in found], "isLast": True})

    # --- issues ------------------------------------------------------------------------

    def _issue_json(self, issue: FakeIssue) -> dict[str, Any]:
        fields = dict(issue.fields)
        fields["status"] = {
            "name": issue.status,
            "statusCategory": {"key": _STATUS_CATEGORY.get(issue.status, "indeterminate")},
        }
        fields["comment"] = {"comments": list(issue.comments), "total": len(issue.comments)}
        return {
            "id": issue.id,
            "key": issue.key,
            "self": f"{self._base()}{API}/issue/{issue.id}",
            "fields": fields,
        }

    def _find(self, key: str) -> FakeIssue | None:
        issue = self.issues.get(key)
        if issue is None:
            issue = next((i for i in self.issues.values() if i.id == key), None)
        return issue

    def _create(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        fields = dict((req.json() or {}).get("fields") or {})
        errors: dict[str, str] = {}
        project = fields.get("project") or {}
        key = project.get("key") or next(
            (k for k, v in self.projects.items() if v == project.get("id")), None
        )
        if key not in self.projects:
            errors["project"] = "valid project is required"
        itype = fields.get("issuetype") or {}
        name = itype.get("name") or next(
            (n for n, v in self.issue_types.items() if v == itype.get("id")), None
        )
        if name not in self.issue_types:
            errors["issuetype"] = "valid issue type is required"
        if not fields.get("summary"):
            errors["summary"] = "You must specify a summary of the issue."
        if "priority" in fields:
            if not self.accepts_priority:
                errors["priority"] = (
                    "Field 'priority' cannot be set. It is not on the appropriate screen, or unknown."
                )
            elif (fields["priority"] or {}).get("name") not in self.priorities:
                errors["priority"] = "Priority name is not valid."
        labels = fields.get("labels", [])
        if any(" " in label for label in labels):
            errors["labels"] = "The label must not contain spaces."
        if errors:
            return Reply(400, {"errorMessages": [], "errors": errors})
        with self._state_lock:
            self._next_id += 1
            ident = str(self._next_id)
            issue_key = f"{key}-{len([i for i in self.issues.values() if i.key.startswith(f'{key}-')]) + 1}"
            fields["project"] = {"id": self.projects[str(key)], "key": key}
            fields["issuetype"] = self._issuetype_json(str(name))
            self.issues[issue_key] = FakeIssue(id=ident, key=issue_key, fields=fields)
        return Reply(201, {"id": ident, "key": issue_key, "self": f"{self._base()}{API}/issue/{ident}"})

    def _get_issue(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        issue = self._find(match["key"])
        if issue is None:
            return Reply(
                404,
                {
                    "errorMessages": ["Issue does not exist or you do not have permission to see it."],
                    "errors": {},
                },
            )
        return Reply(200, self._issue_json(issue))

    def _comment(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        issue = self._find(match["key"])
        if issue is None:
            return Reply(404, {"errorMessages": ["Issue does not exist."], "errors": {}})
        body = (req.json() or {}).get("body")
        if not body:
            return Reply(400, {"errorMessages": [], "errors": {"comment": "Comment body can not be empty!"}})
        with self._state_lock:
            ident = str(20000 + sum(len(i.comments) for i in self.issues.values()))
            comment = {
                "id": ident,
                "self": f"{self._base()}{API}/issue/{issue.id}/comment/{ident}",
                "body": body,
            }
            issue.comments.append(comment)
        return Reply(201, comment)

    def _available(self, issue: FakeIssue) -> list[dict[str, str]]:
        return [t for t in self.transitions if t["to"] != issue.status]

    def _list_transitions(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        issue = self._find(match["key"])
        if issue is None:
            return Reply(404, {"errorMessages": ["Issue does not exist."], "errors": {}})
        return Reply(
            200,
            {
                "expand": "transitions",
                "transitions": [
                    {
                        "id": t["id"],
                        "name": t["name"],
                        "to": {
                            "name": t["to"],
                            "statusCategory": {"key": _STATUS_CATEGORY.get(t["to"], "indeterminate")},
                        },
                    }
                    for t in self._available(issue)
                ],
            },
        )

    def _transition(self, req: RecordedRequest, match: re.Match[str]) -> Reply:
        issue = self._find(match["key"])
        if issue is None:
            return Reply(404, {"errorMessages": ["Issue does not exist."], "errors": {}})
        wanted = str(((req.json() or {}).get("transition") or {}).get("id", ""))
        chosen = next((t for t in self._available(issue) if t["id"] == wanted), None)
        if chosen is None:
            return Reply(
                400,
                {"errorMessages": [f"Transition id '{wanted}' is not valid for this issue."], "errors": {}},
            )
        with self._state_lock:
            issue.status = chosen["to"]
            issue.transitions_done.append(chosen["name"])
        return Reply(204, None)
