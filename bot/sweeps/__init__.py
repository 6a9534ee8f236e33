"""Scheduled sweeps: anomaly scans, the waste report and the budget check (see docs/sweeps.md)."""
