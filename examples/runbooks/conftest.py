"""Gives these tests the runbook-testing fixtures (`moto_aws`, `runbook_harness`).

In your own repository, put `pytest_plugins = ["bot.runbook_testing.plugin"]` in the top-level
conftest.py instead; `conductor runbooks test` loads the plugin itself.
"""

from bot.runbook_testing.plugin import _conductor_moto_session, moto_aws, runbook_harness

__all__ = ["_conductor_moto_session", "moto_aws", "runbook_harness"]
