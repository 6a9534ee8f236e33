"""The authorization decision as a table: principal and request in, allowed or a named refusal out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.access.policy import (
    NO_APPROVERS,
    AccessRequest,
    Action,
    AddSilence,
    Allowed,
    ApproverRule,
    Decide,
    Do,
    Limits,
    Refusal,
    Refused,
    authorize,
    matches_everything,
)
from bot.matching import Matcher, parse_matcher
from bot.roles import Principal, Role

LIMITS = Limits(max_silence=timedelta(hours=24))
HOUR = timedelta(hours=1)
CPU = (parse_matcher("alertname=HighCPU"),)
EVERYTHING = (parse_matcher('alertname=~".*"'),)
RULE = ApproverRule(frozenset({"U0BOB", "api:portal"}), frozenset({"S0SRE", "leads"}), 1)
BY_ROLE = ApproverRule(frozenset(), frozenset(), 1, role=Role.ADMIN)


def who(role: Role | None, actor: str = "slack:U0ALICE", groups: tuple[str, ...] = ()) -> Principal:
    return Principal(actor, role, frozenset(groups))


def decide(rule: ApproverRule = RULE, requested_by: str = "rule:cpu") -> Decide:
    return Decide(rule, requested_by)


CASES = [
    pytest.param(who(Role.VIEWER), Do(Action.READ), None, id="viewer-reads"),
    pytest.param(who(None), Do(Action.READ), Refusal.NO_ROLE, id="no-role-may-not-read"),
    pytest.param(who(Role.VIEWER), Do(Action.ACKNOWLEDGE), Refusal.ROLE_TOO_LOW, id="viewer-may-not-ack"),
    pytest.param(who(Role.VIEWER), Do(Action.RUN), Refusal.ROLE_TOO_LOW, id="viewer-may-not-run"),
    pytest.param(who(Role.VIEWER), Do(Action.PREVIEW), Refusal.ROLE_TOO_LOW, id="viewer-may-not-dry-run"),
    pytest.param(who(Role.RESPONDER), Do(Action.ACKNOWLEDGE), None, id="responder-acks"),
    pytest.param(who(Role.RESPONDER), Do(Action.RESOLVE), None, id="responder-resolves"),
    pytest.param(who(Role.RESPONDER), Do(Action.RUN), None, id="responder-runs"),
    pytest.param(who(Role.RESPONDER), Do(Action.UNSILENCE), None, id="responder-unsilences"),
    pytest.param(who(Role.APPROVER), Do(Action.RUN), None, id="approver-includes-responder"),
    pytest.param(who(Role.APPROVER), Do(Action.ADMINISTER), Refusal.ROLE_TOO_LOW, id="approver-not-admin"),
    pytest.param(who(Role.ADMIN), Do(Action.ADMINISTER), None, id="admin-administers"),
    pytest.param(who(Role.RESPONDER), Do(Action.FREEZE), Refusal.ROLE_TOO_LOW, id="responder-no-freeze"),
    pytest.param(who(Role.APPROVER), Do(Action.FREEZE), None, id="approver-freezes"),
    pytest.param(who(Role.RESPONDER), Do(Action.RESUME), Refusal.ROLE_TOO_LOW, id="responder-no-resume"),
    pytest.param(who(Role.APPROVER), Do(Action.RESUME), None, id="approver-resumes"),
    # silences
    pytest.param(who(Role.VIEWER), AddSilence(CPU, HOUR), Refusal.ROLE_TOO_LOW, id="viewer-may-not-silence"),
    pytest.param(who(Role.RESPONDER), AddSilence(CPU, HOUR), None, id="responder-silences-one-alert"),
    pytest.param(
        who(Role.RESPONDER),
        AddSilence(EVERYTHING, HOUR),
        Refusal.SILENCE_MATCHES_EVERYTHING,
        id="match-all-needs-admin",
    ),
    pytest.param(
        who(Role.APPROVER),
        AddSilence(EVERYTHING, HOUR),
        Refusal.SILENCE_MATCHES_EVERYTHING,
        id="match-all-needs-admin-not-approver",
    ),
    pytest.param(
        who(Role.RESPONDER),
        AddSilence(CPU, timedelta(days=90)),
        Refusal.SILENCE_TOO_LONG,
        id="90d-needs-admin",
    ),
    pytest.param(who(Role.RESPONDER), AddSilence(CPU, timedelta(hours=24)), None, id="exactly-the-maximum"),
    pytest.param(who(Role.ADMIN), AddSilence(EVERYTHING, timedelta(days=90)), None, id="admin-may-mute-all"),
    # approvals
    pytest.param(who(Role.APPROVER, "slack:U0BOB"), decide(), None, id="named-approver"),
    pytest.param(who(Role.APPROVER, "U0BOB"), decide(), None, id="named-however-spelled"),
    pytest.param(who(Role.APPROVER, "slack:U0DAVE", ("S0SRE",)), decide(), None, id="through-a-group"),
    pytest.param(who(Role.APPROVER, "api:portal"), decide(), None, id="a-named-token"),
    pytest.param(
        who(Role.APPROVER, "slack:U0ERIN"), decide(), Refusal.NOT_AN_APPROVER, id="approver-not-on-this-rule"
    ),
    pytest.param(
        who(Role.RESPONDER, "slack:U0BOB"),
        decide(),
        Refusal.ROLE_TOO_LOW,
        id="named-but-capped-below-approver",
    ),
    pytest.param(
        who(Role.APPROVER, "slack:U0BOB"),
        decide(requested_by="U0BOB"),
        Refusal.SELF_APPROVAL,
        id="no-self-approval",
    ),
    pytest.param(
        who(Role.ADMIN, "slack:U0BOB"),
        decide(NO_APPROVERS),
        Refusal.NO_APPROVERS_CONFIGURED,
        id="nobody-configured-fails-closed-even-for-admin",
    ),
    pytest.param(who(Role.ADMIN, "cli:root"), decide(BY_ROLE), None, id="rule-grants-a-role"),
    pytest.param(
        who(Role.APPROVER, "cli:ops"), decide(BY_ROLE), Refusal.NOT_AN_APPROVER, id="role-below-rule"
    ),
]


@pytest.mark.parametrize(("principal", "request_", "refusal"), CASES)
def test_authorize(principal: Principal, request_: AccessRequest, refusal: Refusal | None) -> None:
    decision = authorize(principal, request_, limits=LIMITS)
    if refusal is None:
        assert decision == Allowed()
    else:
        assert isinstance(decision, Refused) and decision.reason is refusal
        assert decision.detail  # a sentence a person can act on


@pytest.mark.parametrize(
    ("matchers", "everything"),
    [
        pytest.param(['alertname=~".*"'], True, id="any-name"),
        pytest.param(['alertname=~".+"'], True, id="any-non-empty-name"),
        pytest.param(["team!=payments"], True, id="not-equal-matches-missing-labels"),
        pytest.param(['env=~"prod|"', 'service!~"x"'], True, id="all-match-empty"),
        pytest.param(["alertname=HighCPU"], False, id="one-name"),
        pytest.param(['alertname=~".*"', "severity=critical"], False, id="one-selective-matcher-is-enough"),
        pytest.param(['service=~"api.*"'], False, id="prefix"),
    ],
)
def test_silences_that_match_every_alert(matchers: list[str], everything: bool) -> None:
    parsed: list[Matcher] = [parse_matcher(m) for m in matchers]
    assert matches_everything(parsed) is everything
