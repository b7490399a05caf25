"""``PausedRun``: a paused run in this kernel, from the decisions to its continuation.

Decisions come from the widgets of the cell (``decide``), or from anywhere else (another
kernel or script through ``agent.desk``, the service's routes): a light poll task on the
kernel's loop reads the run's approval rows every ``poll_interval`` seconds while any is
pending, and tells the views (``listeners``). Once every approval is decided the run
continues *here*, as a task on the kernel's loop (``drive_async``), rendering into the
view ``make_view`` gives (the ``Output`` widget of the cell). Only one process can
continue a run: if another took it first (``RunLeaseError`` / ``RunStateError``), this
says so and shows that run's answer when it is ready, instead of failing. The view's
footer takes the place of the paused one in the cell, and when the run has gone on (or
moved to a new cell with ``%agent_resume``: ``retire``) the cell's widgets are sent again,
so that their text form (what a saved notebook keeps) says where the run went.

Without a running loop (plain IPython, tests) there is no polling: ``refresh()`` reads the
rows, and a continuation runs synchronously in the caller.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    from agno_nb.agent import Agent
    from agno_nb.approvals import ApprovalRequest, Principal
    from agno_nb.desk import ApprovalDesk
    from agno_nb.jupyter._card import CardContext
    from agno_nb.jupyter.display import RunView
    from agno_nb.run import RunOutput
    from agno_nb.storage import Store

__all__ = ["PausedRun", "last_paused"]

State = Literal["waiting", "continuing", "done", "elsewhere", "failed", "no-agent", "moved"]


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class PausedRun:
    """Decisions and continuation of one paused run (see the module docstring)."""

    registry: ClassVar[dict[str, PausedRun]] = {}
    last: ClassVar[PausedRun | None] = None

    def __init__(
        self,
        run_id: str,
        store: Store,
        approvals: list[ApprovalRequest],
        *,
        agent: Agent | None,
        principal: Callable[[], Principal],
        make_view: Callable[[], RunView],
        poll_interval: float = 1.0,
        on_done: Callable[[RunOutput], None] | None = None,
        run: RunOutput | None = None,
    ) -> None:
        self.run_id, self.store, self.agent = run_id, store, agent
        #: the run as it paused (its prompt and the model's text give the cards context)
        self.paused_run = run
        self._context: CardContext | None = None
        self.approvals = list(approvals)
        self.principal, self.make_view, self.on_done = principal, make_view, on_done
        self.poll_interval = poll_interval
        self.state: State = "waiting"
        self.result: RunOutput | None = None
        self.error: BaseException | None = None
        self.listeners: list[Callable[[PausedRun], None]] = []
        self.task: asyncio.Future[Any] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._view: RunView | None = None
        PausedRun.registry[run_id] = PausedRun.last = self

    # -- decisions ------------------------------------------------------------------

    @property
    def desk(self) -> ApprovalDesk:
        """The desk that decides: the agent's (its rules judge edited arguments), or the
        store's alone when this kernel does not define the agent."""
        from agno_nb.desk import ApprovalDesk

        return ApprovalDesk(self.store, None if self.agent is None else self.agent.rules)

    @property
    def context(self) -> CardContext:
        """The agent, the prompt and the model's text before the calls (read once)."""
        if self._context is None:
            from agno_nb.jupyter._card import CardContext

            run = self.paused_run
            if run is None:
                try:
                    run = self.store.get_run(self.run_id)
                except Exception:  # the context is a nicety: a card shows without it
                    run = None
            agent_id = self.approvals[0].agent_id if self.approvals else "?"
            self._context = CardContext.of_run(run, agent_id)
        return self._context

    def state_words(self) -> str:
        """Where the run is, in words (for text views of a decided run)."""
        if self.state == "done" and self.result is not None:
            return f"continued here, {self.result.status}"
        return {
            "waiting": "paused", "continuing": "continuing here", "done": "continued here",
            "elsewhere": "continued by another process", "failed": "its continuation failed",
            "no-agent": "decided; continue it where its agent is defined",
            "moved": "moved to another cell (%agent_resume)",
        }[self.state]  # fmt: skip

    def retire(self) -> None:
        """Stop deciding and continuing here: ``%agent_resume`` shows the run in a new
        cell. This cell's cards say so and its paused footer is replaced."""
        if self.state != "waiting":
            return
        self.state = "moved"
        self.view.end_footer("paused · moved to a new cell (%agent_resume): decide it there")
        self._notify()

    @property
    def pending(self) -> list[ApprovalRequest]:
        return [a for a in self.approvals if a.status == "pending"]

    def approval(self, approval_id: str) -> ApprovalRequest:
        return next(a for a in self.approvals if a.approval_id == approval_id)

    def decide(
        self,
        approval_id: str,
        approve: bool,
        *,
        args: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> ApprovalRequest:
        """Approve or reject as the current principal; raises ``ApprovalError``s."""
        approval = self.approval(approval_id)
        by = self.principal()
        if approve:
            self.desk.approve(approval, by, args=args)
        else:
            self.desk.reject(approval, by, reason=reason or "no reason given")
        self.refresh()
        return approval

    def approve(self, index: int = 0, *, args: dict[str, Any] | None = None) -> ApprovalRequest:
        """Approve the ``index``-th approval of the run (handy outside widgets)."""
        return self.decide(self.approvals[index].approval_id, True, args=args)

    def reject(self, reason: str, index: int = 0) -> ApprovalRequest:
        return self.decide(self.approvals[index].approval_id, False, reason=reason)

    # -- reading the rows -----------------------------------------------------------

    def _read(self) -> list[ApprovalRequest]:
        return self.desk.list(run_id=self.run_id)

    def _apply_rows(self, rows: list[ApprovalRequest]) -> None:
        by_id = {a.approval_id: a for a in rows}
        for approval in self.approvals:
            fresh = by_id.get(approval.approval_id)
            # a decision is final: a row read before it (a poll racing a click) is stale
            if fresh is not None and approval.status == "pending":
                approval.take_decision(fresh)
        self._notify()
        if self.state == "waiting" and not self.pending:
            self._continue()

    def refresh(self) -> None:
        """Read the approval rows now; continue if all are decided."""
        self._apply_rows(self._read())

    def _notify(self) -> None:
        for listener in list(self.listeners):
            try:
                listener(self)
            except Exception as exc:  # a broken view must not stop the run: show it
                self.report(exc)
        if self.state not in ("waiting", "continuing") and self._view is not None:
            self._view.republish()  # the cell's text form says where the run went

    def report(self, exc: BaseException) -> None:
        """Show an exception of a callback in the run's output (never swallow it)."""
        self.error = exc
        text = "".join(traceback.format_exception(exc))
        from agno_nb.jupyter import _render as r

        self.view.note(r.error_html(text, "Error in a callback"), text)

    @property
    def view(self) -> RunView:
        if self._view is None:
            self._view = self.make_view()
        return self._view

    def start_polling(self) -> None:
        """Poll the rows on the running loop while any approval is pending."""
        loop = _running_loop()
        if loop is not None and self._poller is None and self.state == "waiting":
            self._poller = loop.create_task(self._poll())

    async def _poll(self) -> None:
        failed = False
        while self.state == "waiting":
            await asyncio.sleep(self.poll_interval)
            try:
                rows = await asyncio.to_thread(self._read)
            except Exception as exc:
                if not failed:  # say it once, then keep trying quietly
                    self.report(exc)
                failed = True
                continue
            failed = False
            self._apply_rows(rows)

    # -- continuing -----------------------------------------------------------------

    def _continue(self) -> None:
        if self.agent is None:
            self.state = "no-agent"
            how = f'agent.continue_run("{self.run_id}")'
            self.view.note(
                f"<i>All approvals of run <code>{self.run_id}</code> are decided. Its agent "
                f"is not defined in this kernel: continue it where it is (<code>{how}</code>"
                f"), or define the agent here and run <code>%agent_resume {self.run_id}"
                "</code>.</i>",
                f"All approvals of run {self.run_id} are decided; continue it where its agent "
                f"is defined ({how}), or define it here and run %agent_resume {self.run_id}.",
            )
            self._notify()
            return
        self.state = "continuing"
        self._notify()
        loop = _running_loop()
        if loop is not None:
            self.task = loop.create_task(self._acontinue())
        else:
            from agno_nb.jupyter._pump import drive_sync

            self._finish(lambda: drive_sync(self._events, self.view))

    def _events(self) -> Any:
        assert self.agent is not None
        return self.agent.acontinue_run(self.run_id, stream=True)

    async def _acontinue(self) -> RunOutput | None:
        from agno_nb.jupyter._pump import drive_async

        try:
            run = await drive_async(self._events, self.view)
        except BaseException as exc:
            if not self._handled(exc):
                raise
        else:
            self._settle(run)
        if self.state == "elsewhere":
            await self._follow_elsewhere()
        return self.result

    def _finish(self, go: Callable[[], RunOutput | None]) -> None:
        try:
            run = go()
        except Exception as exc:
            if not self._handled(exc):
                raise
        else:
            self._settle(run)

    def _settle(self, run: RunOutput | None) -> None:
        """The continuation ended (completed, failed, or paused again: a new pause gets
        its own ``PausedRun`` from the view)."""
        self.result, self.state = run, "done"
        self._notify()
        if run is not None and self.on_done is not None:
            self.on_done(run)

    def _handled(self, exc: BaseException) -> bool:
        from agno_nb.exceptions import RunLeaseError, RunStateError

        if isinstance(exc, RunLeaseError | RunStateError):
            self.state = "elsewhere"
            self.view.note(
                f"<i>This run is being (or was) continued by another process: {exc}</i>",
                f"This run is being (or was) continued by another process: {exc}",
            )
            self.view.end_footer("continued by another process")
        elif isinstance(exc, Exception):
            self.state = "failed"
            self.report(exc)
        else:
            return False
        self._notify()
        return True

    async def _follow_elsewhere(self, limit: float = 600.0) -> None:
        """Show the answer of a run another process continues, once it has one."""
        waited = 0.0
        while waited < limit:
            run = await asyncio.to_thread(self.store.get_run, self.run_id)
            if run is not None and str(run.status) != "running":
                self.result = run
                answer = run.content if isinstance(run.content, str) else repr(run.content)
                self.view.markdown(f"{answer}\n\n_(the run is {run.status}; continued elsewhere)_")
                self.view.end_footer(f"{run.status} (continued elsewhere)", run)
                self._notify()
                return
            await asyncio.sleep(self.poll_interval)
            waited += self.poll_interval

    async def wait(self) -> RunOutput | None:
        """Wait until the run has continued here (or elsewhere); its final output.
        Decisions must come from elsewhere meanwhile: a click cannot reach the kernel
        while a cell awaits this."""
        self.start_polling()
        while self.state == "waiting":
            await asyncio.sleep(0.05)
        if self.task is not None:
            await asyncio.shield(self.task)
        if self.error is not None and self.state == "failed":
            raise self.error
        return self.result


def last_paused() -> PausedRun | None:
    """The most recent paused run shown in this kernel."""
    return PausedRun.last
