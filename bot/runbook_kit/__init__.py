"""The runbook model: how a runbook declares itself, plans, acts, verifies and rolls back."""
