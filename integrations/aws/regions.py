"""AWS region display names (as CloudWatch writes them in SNS alarm messages) to region codes.

CloudWatch's ``Region`` field holds a display name, and the spelling changed over the years:
``EU (Ireland)``, the older ``EU - Ireland``, ``Europe (Frankfurt)``, ``US East (N. Virginia)``.
Names are compared after folding case, accents and punctuation, with "Europe" read as "EU".
"""

from __future__ import annotations

import re
import unicodedata

_DISPLAY_NAMES: dict[str, tuple[str, ...]] = {
    "us-east-1": ("US East (N. Virginia)", "US East (Northern Virginia)", "US Standard"),
    "us-east-2": ("US East (Ohio)",),
    "us-west-1": ("US West (N. California)", "US West (Northern California)"),
    "us-west-2": ("US West (Oregon)",),
    "af-south-1": ("Africa (Cape Town)",),
    "ap-east-1": ("Asia Pacific (Hong Kong)",),
    "ap-east-2": ("Asia Pacific (Taipei)",),
    "ap-south-1": ("Asia Pacific (Mumbai)",),
    "ap-south-2": ("Asia Pacific (Hyderabad)",),
    "ap-southeast-1": ("Asia Pacific (Singapore)",),
    "ap-southeast-2": ("Asia Pacific (Sydney)",),
    "ap-southeast-3": ("Asia Pacific (Jakarta)",),
    "ap-southeast-4": ("Asia Pacific (Melbourne)",),
    "ap-southeast-5": ("Asia Pacific (Malaysia)",),
    "ap-southeast-7": ("Asia Pacific (Thailand)",),
    "ap-northeast-1": ("Asia Pacific (Tokyo)",),
    "ap-northeast-2": ("Asia Pacific (Seoul)",),
    "ap-northeast-3": ("Asia Pacific (Osaka)", "Asia Pacific (Osaka-Local)"),
    "ca-central-1": ("Canada (Central)",),
    "ca-west-1": ("Canada West (Calgary)",),
    "eu-central-1": ("EU (Frankfurt)",),
    "eu-central-2": ("EU (Zurich)",),
    "eu-west-1": ("EU (Ireland)",),
    "eu-west-2": ("EU (London)",),
    "eu-west-3": ("EU (Paris)",),
    "eu-north-1": ("EU (Stockholm)",),
    "eu-south-1": ("EU (Milan)",),
    "eu-south-2": ("EU (Spain)",),
    "il-central-1": ("Israel (Tel Aviv)",),
    "me-south-1": ("Middle East (Bahrain)",),
    "me-central-1": ("Middle East (UAE)",),
    "mx-central-1": ("Mexico (Central)",),
    "sa-east-1": ("South America (Sao Paulo)",),
    "us-gov-west-1": ("AWS GovCloud (US-West)", "AWS GovCloud (US)"),
    "us-gov-east-1": ("AWS GovCloud (US-East)",),
    "cn-north-1": ("China (Beijing)",),
    "cn-northwest-1": ("China (Ningxia)",),
}
_CODE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")


def _fold(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", " ", ascii_name.lower()).split()
    return " ".join("eu" if word == "europe" else word for word in words)


_BY_FOLDED: dict[str, str] = {
    _fold(display): code for code, names in _DISPLAY_NAMES.items() for display in names
}


def region_code(name: str | None) -> str | None:
    """``"EU (Ireland)"``, ``"EU - Ireland"`` or ``"eu-west-1"`` → ``"eu-west-1"``; unknown → None."""
    if not name:
        return None
    stripped = name.strip()
    if _CODE.match(stripped.lower()):
        return stripped.lower()
    return _BY_FOLDED.get(_fold(stripped))


def region_from_arn(arn: str | None) -> str | None:
    """The region field of an ARN (``arn:aws:cloudwatch:eu-west-1:...``), if it has one."""
    if not arn or not arn.startswith("arn:"):
        return None
    parts = arn.split(":")
    return (parts[3] or None) if len(parts) > 3 else None


def account_from_arn(arn: str | None) -> str | None:
    if not arn or not arn.startswith("arn:"):
        return None
    parts = arn.split(":")
    return (parts[4] or None) if len(parts) > 4 else None
