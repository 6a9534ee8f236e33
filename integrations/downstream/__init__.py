"""Downstream consumers told about incidents: the structured incident message, signed webhooks."""
