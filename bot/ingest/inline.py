"""Webhook intake inside the HTTP process: check on the event loop (or a thread), then the
group committer's thread writes. Used where a process of its own is not wanted (`[ingest]
intake = "inline"`: tests, tiny deployments); `bot.ingest.intake_process` is the default."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.concurrency import run_in_threadpool

from bot.ingest.committer import GroupCommitter
from bot.ingest.intake import Prepared, WebhookIntake
from bot.ingest.wire import Accepted


class InlineIntake:
    def __init__(self, intake: WebhookIntake, committer: GroupCommitter) -> None:
        self._intake = intake
        self._committer = committer

    def start(self) -> None:
        self._committer.start()

    def stop(self) -> None:
        self._committer.stop()

    def ready(self) -> str | None:
        return None

    async def submit(self, source: str, body: bytes, headers: Mapping[str, str]) -> Accepted:
        """Raise the errors of `wire.REFUSALS`; else the body is committed."""
        prepared = await self._check(source, body, headers)
        outcome = await self._committer.submit(prepared.delivery)
        return Accepted(outcome, prepared.delivery.alert_count, prepared.envelope.kind.value)

    async def _check(self, source: str, body: bytes, headers: Mapping[str, str]) -> Prepared:
        intake = self._intake
        if not intake.runs_inline(source, len(body)):
            return await run_in_threadpool(intake.prepare, source, body, headers)
        lowered = {k.lower(): v for k, v in headers.items()}
        reasons: list[str] = []
        try:
            return intake.check(source, body, lowered, keep=reasons.append)
        except Exception:
            if reasons:  # an authenticated body we cannot read: keep it for replay
                await run_in_threadpool(intake.dead_letter, source, body, lowered, reasons[0])
            raise
