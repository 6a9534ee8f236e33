"""Free-text severity words (labels, tags, priorities) mapped onto the normalized scale."""

from __future__ import annotations

from bot.alerts.normalized import Severity

_WORDS: dict[str, Severity] = {
    "critical": Severity.CRITICAL,
    "crit": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "fatal": Severity.CRITICAL,
    "emergency": Severity.CRITICAL,
    "error": Severity.ERROR,
    "err": Severity.ERROR,
    "major": Severity.ERROR,
    "high": Severity.ERROR,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "minor": Severity.WARNING,
    "medium": Severity.WARNING,
    "info": Severity.INFO,
    "informational": Severity.INFO,
    "none": Severity.INFO,
    "low": Severity.INFO,
    "ok": Severity.INFO,
}


def severity_from_word(word: str | None) -> Severity:
    """critical/page → critical, error/major/high → error, warning/warn/minor → warning,
    info/none/low → info, anything else (or nothing) → unknown. Case-insensitive."""
    if not word:
        return Severity.UNKNOWN
    return _WORDS.get(word.strip().lower(), Severity.UNKNOWN)


_PRIORITIES: dict[str, Severity] = {
    "p1": Severity.CRITICAL,
    "p2": Severity.ERROR,
    "p3": Severity.WARNING,
    "p4": Severity.INFO,
    "p5": Severity.INFO,
}


def severity_from_priority(priority: str | None) -> Severity:
    """P1 → critical, P2 → error, P3 → warning, P4/P5 → info (PagerDuty and Datadog priorities)."""
    if not priority:
        return Severity.UNKNOWN
    return _PRIORITIES.get(priority.strip().lower(), Severity.UNKNOWN)
