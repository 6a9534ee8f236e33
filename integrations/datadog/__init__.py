"""Datadog: monitor notifications via the Webhooks integration (template in `datadog`)."""
