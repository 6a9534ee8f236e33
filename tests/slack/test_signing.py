from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import ApprovalExpired, Unauthenticated
from bot.slack.signing import (
    ACTION_IDS,
    MAX_VALUE_LENGTH,
    ActionExpired,
    ActionReplayed,
    ActionSigner,
    ApprovalAction,
    ForgedAction,
    action_for_action_id,
    sign_action,
    verify_action,
)

SECRET = b"s" * 32
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(minutes=30)


def _value(**overrides: object) -> str:
    kwargs: dict[str, object] = {
        "approval_id": "apr-1",
        "run_id": "run-1",
        "action": ApprovalAction.APPROVE,
        "expires_at": EXPIRES,
        "nonce": "n1",
    }
    kwargs.update(overrides)
    return sign_action(SECRET, **kwargs)  # type: ignore[arg-type]


def test_valid_value_round_trips() -> None:
    claim = verify_action(
        SECRET, _value(), now=NOW, run_id="run-1", approval_id="apr-1", expected_action=ApprovalAction.APPROVE
    )
    assert (claim.approval_id, claim.run_id, claim.action) == ("apr-1", "run-1", ApprovalAction.APPROVE)
    assert claim.expires_at == EXPIRES
    assert claim.nonce == "n1"


def test_each_value_gets_its_own_nonce() -> None:
    signer = ActionSigner(SECRET)
    a = signer.sign(approval_id="a", run_id="r", action=ApprovalAction.DENY, expires_at=EXPIRES)
    b = signer.sign(approval_id="a", run_id="r", action=ApprovalAction.DENY, expires_at=EXPIRES)
    assert a != b
    assert signer.verify(a, now=NOW).nonce != signer.verify(b, now=NOW).nonce
    assert "ssss" not in repr(signer)


def _tamper_payload(value: str) -> str:
    version, payload, mac = value.split(".")
    claim = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claim[1] = "run-2"
    forged = base64.urlsafe_b64encode(json.dumps(claim).encode()).rstrip(b"=").decode()
    return f"{version}.{forged}.{mac}"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(
            sign_action(
                b"other-secret",
                approval_id="apr-1",
                run_id="run-1",
                action=ApprovalAction.APPROVE,
                expires_at=EXPIRES,
            ),
            id="other-secret",
        ),
        pytest.param(_tamper_payload(_value()), id="payload-edited"),
        pytest.param(_value()[:-2] + "AA", id="mac-edited"),
        pytest.param("approve:run-1", id="plain-text"),
        pytest.param("", id="empty"),
        pytest.param("cc1..", id="empty-parts"),
        pytest.param("cc2" + _value()[3:], id="other-version"),
        pytest.param(_value() + ".x", id="extra-part"),
        pytest.param("cc1.!!!.@@@", id="not-base64"),
        pytest.param("x" * (MAX_VALUE_LENGTH + 1), id="too-long"),
    ],
)
def test_forged_values_are_refused(value: str) -> None:
    with pytest.raises(ForgedAction):
        verify_action(SECRET, value, now=NOW)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"run_id": "run-2"}, "run run-1, not run-2", id="other-run"),
        pytest.param({"approval_id": "apr-2"}, "approval apr-1", id="other-approval"),
        pytest.param(
            {"expected_action": ApprovalAction.DENY}, "for approve, not deny", id="approve-value-on-deny"
        ),
    ],
)
def test_replayed_values_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ActionReplayed, match=message):
        verify_action(SECRET, _value(), now=NOW, **kwargs)  # type: ignore[arg-type]


def test_expired_value_is_refused() -> None:
    with pytest.raises(ActionExpired):
        verify_action(SECRET, _value(), now=EXPIRES)
    verify_action(SECRET, _value(), now=EXPIRES - timedelta(seconds=1))


def test_error_family() -> None:
    assert issubclass(ForgedAction, Unauthenticated)
    assert issubclass(ActionReplayed, ForgedAction)
    assert issubclass(ActionExpired, ForgedAction)
    assert issubclass(ActionExpired, ApprovalExpired)


def test_long_ids_still_fit_slacks_limit() -> None:
    value = _value(approval_id="a" * 300, run_id="r" * 300)
    assert len(value) <= MAX_VALUE_LENGTH
    with pytest.raises(ValueError, match="Slack allows"):
        _value(run_id="r" * 2000)


def test_naive_expiry_and_empty_secret_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="timezone"):
        _value(expires_at=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="empty"):
        sign_action(b"", approval_id="a", run_id="r", action=ApprovalAction.APPROVE, expires_at=EXPIRES)


def test_action_ids() -> None:
    assert action_for_action_id(ACTION_IDS[ApprovalAction.APPROVE]) is ApprovalAction.APPROVE
    assert action_for_action_id(ACTION_IDS[ApprovalAction.DENY]) is ApprovalAction.DENY
    assert action_for_action_id("something_else") is None
