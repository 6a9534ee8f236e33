"""Test your runbooks before you trust them: plan, execute, verify and roll back against moto.

- `RunbookHarness` runs one runbook's functions the way the engine does (parameters validated by
  the runbook's model, the target parsed, real integration clients, a clock you move by hand).
- `bot.runbook_testing.plugin` is a pytest plugin with the fixtures `moto_aws` (moto in server
  mode, boto3 pointed at it) and `runbook_harness` (a factory of harnesses).
- `conductor runbooks test PATH` loads a runbook module and runs its tests with that plugin.

See docs/runbooks.md, "Testing a runbook".
"""

from __future__ import annotations

from bot.runbook_testing.harness import CheckReport, RunbookHarness, load_runbook_module

__all__ = ["CheckReport", "RunbookHarness", "load_runbook_module"]
