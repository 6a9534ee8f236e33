"""Signed values for the Approve / Deny buttons.

A button's `value` travels through Slack and comes back in a `block_actions` payload that anyone
holding a Slack session can replay or edit. So the value carries a claim — which approval, which
run, which action, until when — plus an HMAC-SHA256 over it. `verify_action` refuses a value
whose MAC does not match (`ForgedAction`), one copied onto another run, approval or button
(`ActionReplayed`), and one past its expiry (`ActionExpired`).

Layout: `cc1.<base64url(JSON claim)>.<base64url(MAC)>`, well under Slack's 2000-character limit.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from bot.errors import ApprovalExpired, Unauthenticated

VERSION = "cc1"
MAX_VALUE_LENGTH = 2000  # Slack's limit for a button value


class ApprovalAction(StrEnum):
    APPROVE = "approve"
    DENY = "deny"


# The block action_id of each button; listeners register on these.
ACTION_IDS: dict[ApprovalAction, str] = {
    ApprovalAction.APPROVE: "conductor_approve",
    ApprovalAction.DENY: "conductor_deny",
}


def action_for_action_id(action_id: str) -> ApprovalAction | None:
    for action, known in ACTION_IDS.items():
        if known == action_id:
            return action
    return None


class ForgedAction(Unauthenticated):
    """A button value that was not signed by us (or was altered)."""


class ActionReplayed(ForgedAction):
    """A genuine button value used for another run, approval or action than it was made for."""


class ActionExpired(ForgedAction, ApprovalExpired):
    """A genuine button value past its expiry (the approval window has closed)."""


@dataclass(frozen=True, slots=True)
class ActionClaim:
    approval_id: str
    run_id: str
    action: ApprovalAction
    expires_at: datetime
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: str) -> bytes:
    return hmac.new(secret, f"{VERSION}.{payload}".encode("ascii"), hashlib.sha256).digest()


def sign_action(
    secret: bytes,
    *,
    approval_id: str,
    run_id: str,
    action: ApprovalAction,
    expires_at: datetime,
    nonce: str | None = None,
) -> str:
    """The button value for `action` on `run_id`'s approval, valid until `expires_at`."""
    if not secret:
        raise ValueError("button signing secret is empty")
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    nonce = nonce or secrets.token_urlsafe(9)
    claim = [approval_id, run_id, action.value, int(expires_at.timestamp()), nonce]
    payload = _b64(json.dumps(claim, separators=(",", ":")).encode())
    value = f"{VERSION}.{payload}.{_b64(_mac(secret, payload))}"
    if len(value) > MAX_VALUE_LENGTH:
        raise ValueError(f"signed button value is {len(value)} characters; Slack allows {MAX_VALUE_LENGTH}")
    return value


def _decode(secret: bytes, value: str) -> ActionClaim:
    parts = value.split(".") if isinstance(value, str) and len(value) <= MAX_VALUE_LENGTH else []
    if len(parts) != 3 or parts[0] != VERSION:
        raise ForgedAction("button value is not a Cloud Conductor signed value")
    _, payload, mac_text = parts
    try:
        mac = _unb64(mac_text)
    except (binascii.Error, ValueError):
        raise ForgedAction("button value signature is malformed") from None
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        raise ForgedAction("button value signature does not match")
    # The MAC matched, so the payload is ours; a decoding failure here means a bug, not an attack.
    try:
        approval_id, run_id, action, expires, nonce = json.loads(_unb64(payload))
        return ActionClaim(
            approval_id=str(approval_id),
            run_id=str(run_id),
            action=ApprovalAction(action),
            expires_at=datetime.fromtimestamp(int(expires), UTC),
            nonce=str(nonce),
        )
    except (ValueError, TypeError, binascii.Error):
        raise ForgedAction("button value payload is malformed") from None


def verify_action(
    secret: bytes,
    value: str,
    *,
    now: datetime,
    run_id: str | None = None,
    approval_id: str | None = None,
    expected_action: ApprovalAction | None = None,
) -> ActionClaim:
    """Check a button value and return its claim.

    Pass what the click is about — the run and approval of the message clicked, and the action
    of the button (from its `action_id`) — so a genuine value cannot be replayed elsewhere.
    """
    claim = _decode(secret, value)
    if run_id is not None and claim.run_id != run_id:
        raise ActionReplayed(f"button value was made for run {claim.run_id}, not {run_id}")
    if approval_id is not None and claim.approval_id != approval_id:
        raise ActionReplayed(f"button value was made for approval {claim.approval_id}, not {approval_id}")
    if expected_action is not None and claim.action is not expected_action:
        raise ActionReplayed(f"button value is for {claim.action.value}, not {expected_action.value}")
    if now >= claim.expires_at:
        raise ActionExpired(f"button expired at {claim.expires_at.isoformat()}")
    return claim


@dataclass(frozen=True, slots=True)
class ActionSigner:
    """Signs button values with one secret; handed to the renderers."""

    secret: bytes

    def sign(self, *, approval_id: str, run_id: str, action: ApprovalAction, expires_at: datetime) -> str:
        return sign_action(
            self.secret, approval_id=approval_id, run_id=run_id, action=action, expires_at=expires_at
        )

    def verify(
        self,
        value: str,
        *,
        now: datetime,
        run_id: str | None = None,
        approval_id: str | None = None,
        expected_action: ApprovalAction | None = None,
    ) -> ActionClaim:
        return verify_action(
            self.secret,
            value,
            now=now,
            run_id=run_id,
            approval_id=approval_id,
            expected_action=expected_action,
        )

    def __repr__(self) -> str:
        return "ActionSigner(secret=<redacted>)"
