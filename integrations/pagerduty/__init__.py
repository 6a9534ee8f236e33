"""PagerDuty integrations (webhook v3 parser and signature check, events client)."""
