from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest

from bot.matching import Matcher
from bot.runbook_kit.targets import Target
from bot.slack.commands import (
    HELP_TEXT,
    USAGE,
    Ack,
    Approve,
    Command,
    CommandUsageError,
    Deny,
    Help,
    IncidentScope,
    ListIncidents,
    ListRunbooks,
    ListSilences,
    Resolve,
    Run,
    ShowIncident,
    Silence,
    Status,
    Unsilence,
    help_for,
    parse_command,
)

ECS = Target("aws:ecs:service", ("prod", "api"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", Help(), id="empty-is-help"),
        pytest.param("   ", Help(), id="blank-is-help"),
        pytest.param("help", Help(), id="help"),
        pytest.param("HELP run", Help("run"), id="help-topic-any-case"),
        pytest.param("?", Help(), id="question-mark"),
        pytest.param("status", Status(), id="status"),
        pytest.param("incidents", ListIncidents(IncidentScope.OPEN), id="incidents-default-open"),
        pytest.param("incidents all", ListIncidents(IncidentScope.ALL), id="incidents-all"),
        pytest.param("incidents OPEN", ListIncidents(IncidentScope.OPEN), id="incidents-open"),
        pytest.param("show INC-42", ShowIncident("INC-42"), id="show"),
        pytest.param("ack inc_1", Ack("inc_1"), id="ack"),
        pytest.param("resolve 17", Resolve("17"), id="resolve"),
        pytest.param("runbooks", ListRunbooks(), id="runbooks"),
        pytest.param(
            "run aws.ecs.scale_service aws:ecs:service/prod/api",
            Run("aws.ecs.scale_service", ECS),
            id="run",
        ),
        pytest.param(
            "run aws.ecs.scale_service aws:ecs:service/prod/api desired=4 reason='load test' --dry-run",
            Run("aws.ecs.scale_service", ECS, {"desired": "4", "reason": "load test"}, dry_run=True),
            id="run-params-dry-run",
        ),
        pytest.param(
            "run --dry-run aws.glue.restart_job aws:glue:job/nightly-etl",
            Run("aws.glue.restart_job", Target("aws:glue:job", ("nightly-etl",)), dry_run=True),
            id="run-dry-run-first",
        ),
        pytest.param("approve run-7", Approve("run-7"), id="approve"),
        pytest.param("deny run-7", Deny("run-7"), id="deny"),
        pytest.param(
            "deny run-7 not during the release", Deny("run-7", "not during the release"), id="deny-reason"
        ),
        pytest.param(
            'silence alertname=HighCPU service=~"api.*" severity!=info 2h deploy in progress',
            Silence(
                (
                    Matcher("name", "=", "HighCPU"),
                    Matcher("label:service", "=~", "api.*"),
                    Matcher("severity", "!=", "info"),
                ),
                timedelta(hours=2),
                "deploy in progress",
            ),
            id="silence",
        ),
        pytest.param(
            "silence “instance=db 1”  job!~batch.* 1h30m",
            Silence(
                (Matcher("label:instance", "=", "db 1"), Matcher("label:job", "!~", "batch.*")),
                timedelta(minutes=90),
            ),
            id="silence-smart-quotes-compound-duration",
        ),
        pytest.param(
            "silence team=a&amp;b 1d",
            Silence((Matcher("label:team", "=", "a&b"),), timedelta(days=1)),
            id="silence-slack-escaped-amp",
        ),
        pytest.param(
            "silence alertname=X 30m",
            Silence((Matcher("name", "=", "X"),), timedelta(minutes=30)),
            id="silence-30m",
        ),
        pytest.param(
            "silence label:env=staging resource_id!=db-1 1.5h",
            Silence(
                (Matcher("label:env", "=", "staging"), Matcher("resource_id", "!=", "db-1")),
                timedelta(minutes=90),
            ),
            id="silence-shares-bot-matching-grammar",
        ),
        pytest.param("silences", ListSilences(), id="silences"),
        pytest.param("unsilence sil-3", Unsilence("sil-3"), id="unsilence"),
    ],
)
def test_parses(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "reason", "usage_of"),
    [
        pytest.param("frobnicate", "unknown command `frobnicate`", None, id="unknown"),
        pytest.param("statsu", "Did you mean `status`?", None, id="typo-suggests"),
        pytest.param("help nope", "no command `nope`", None, id="help-unknown-topic"),
        pytest.param("status now", "takes no arguments", "status", id="status-extra"),
        pytest.param("incidents closed", "`open` or `all`", "incidents", id="incidents-bad-scope"),
        pytest.param("show", "exactly one incident id", "show", id="show-missing-id"),
        pytest.param("ack 1 2", "exactly one incident id", "ack", id="ack-two-ids"),
        pytest.param("resolve ../etc", "not a valid incident id", "resolve", id="resolve-bad-id"),
        pytest.param("run", "needs a RUNBOOK and a TARGET", "run", id="run-nothing"),
        pytest.param("run aws.ecs.scale_service", "needs a RUNBOOK and a TARGET", "run", id="run-no-target"),
        pytest.param(
            "run rb aws:ecs:service/prod",
            "expected aws:ecs:service/CLUSTER/SERVICE",
            "run",
            id="run-bad-target",
        ),
        pytest.param("run rb nope:kind/x", "unknown kind", "run", id="run-unknown-kind"),
        pytest.param(
            "run rb aws:glue:job/x --force", "unknown option `--force`", "run", id="run-unknown-option"
        ),
        pytest.param("run rb aws:glue:job/x a=1 a=2", "given twice", "run", id="run-duplicate-param"),
        pytest.param("run rb aws:glue:job/x 1a=2", "not a parameter name", "run", id="run-bad-param-name"),
        pytest.param(
            "run rb aws:glue:job/x extra", "needs a RUNBOOK and a TARGET", "run", id="run-extra-positional"
        ),
        pytest.param("approve", "exactly one run id", "approve", id="approve-missing"),
        pytest.param("deny", "needs a run id", "deny", id="deny-missing"),
        pytest.param("silence 2h", "at least one matcher", "silence", id="silence-no-matcher"),
        pytest.param("silence alertname=X", "give a duration", "silence", id="silence-no-duration"),
        pytest.param(
            "silence alertname=X soon", "not a positive duration", "silence", id="silence-bad-duration"
        ),
        pytest.param("silence alertname=X 0m", "not a positive duration", "silence", id="silence-zero"),
        pytest.param("silence alertname=X 9999999999999d", "at most 90 days", "silence", id="silence-huge"),
        pytest.param('silence job=~"(" 1h', "bad regular expression", "silence", id="silence-bad-regex"),
        pytest.param("silences all", "takes no arguments", "silences", id="silences-extra"),
        pytest.param("unsilence", "exactly one silence id", "unsilence", id="unsilence-missing"),
        pytest.param('deny run-1 "unbalanced', "could not read the command", None, id="unbalanced-quote"),
    ],
)
def test_malformed_input_gets_usage(text: str, reason: str, usage_of: str | None) -> None:
    with pytest.raises(CommandUsageError) as info:
        parse_command(text)
    error = info.value
    assert reason in error.reason
    assert error.help == (USAGE[usage_of] if usage_of else HELP_TEXT)
    assert error.text.startswith(error.reason)
    assert "Traceback" not in error.text


@pytest.mark.parametrize(
    "text",
    [
        "<!channel>",
        "show <!here>",
        "run <!channel> aws:glue:job/x",
        "silence a=b &lt;!channel&gt;",
        "incidents `rm`",
    ],
)
def test_echoed_input_cannot_ping_or_break_formatting(text: str) -> None:
    with pytest.raises(CommandUsageError) as info:
        parse_command(text)
    assert "<!" not in info.value.reason


@pytest.mark.parametrize(
    "text",
    [
        "\x00",
        "run \\",
        "silence =x 1h",
        "silence a= 1h",
        "deny ''",
        "show ''",
        "run a b=c",
        "'" * 3,
        "--",
        "a" * 5000,
    ],
)
def test_nothing_escapes_as_another_exception(text: str) -> None:
    with contextlib.suppress(CommandUsageError):
        parse_command(text)


def test_state_changing_commands_are_marked() -> None:
    changing: list[type[Command]] = [Ack, Resolve, Run, Approve, Deny, Silence, Unsilence]
    reading: list[type[Command]] = [Help, Status, ListIncidents, ShowIncident, ListRunbooks, ListSilences]
    assert all(c.changes_state for c in changing)
    assert not any(c.changes_state for c in reading)


def test_help_lists_every_command() -> None:
    for name in USAGE:
        assert f"/conductor {name}" in HELP_TEXT
    assert help_for("run") == USAGE["run"]
    assert help_for(None) == HELP_TEXT
