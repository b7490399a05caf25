"""The inline approval widgets (ipywidgets).

``ApprovalWidget``: one pending tool call: the tool, the arguments (pretty JSON, editable,
checked as JSON), the role it needs and who asked; **Approve**, and **Reject** with a
reason. When the current principal may not decide, the buttons are disabled and the
widget says why. ``PausedRunWidget``: the widgets of a paused run and the ``Output``
where its continuation streams. ``ApprovalInbox``: every pending approval of some stores
(``%agent_approvals``).

In a notebook (and in tests) reach the widgets with ``agno_nb.jupyter.
last_approval_widgets()``: ``w.approve_button.click()`` is what a click does, and
``await w.wait()`` waits for the continuation and returns the final ``RunOutput``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import ipywidgets as w  # type: ignore[import-untyped,unused-ignore]

from agno_nb.jupyter import _render as r
from agno_nb.jupyter.paused import PausedRun

if TYPE_CHECKING:
    from agno_nb.approvals import ApprovalRequest
    from agno_nb.run import RunOutput

__all__ = ["ApprovalInbox", "ApprovalWidget", "PausedRunWidget", "last_approval_widgets"]

_last: list[ApprovalWidget] = []
_STATUS = {"approved": ("✓", "#2e7d32"), "rejected": ("⊘", "#c62828"), "expired": ("⊘", "#777")}


def last_approval_widgets() -> list[ApprovalWidget]:
    """The approval widgets of the most recent paused run shown in this kernel."""
    return list(_last)


class ApprovalWidget(w.VBox):  # type: ignore[misc]
    """One approval: details, editable arguments, Approve / Reject with a reason."""

    def __init__(self, paused: PausedRun, approval: ApprovalRequest) -> None:
        self.paused, self.approval_id = paused, approval.approval_id
        self.header = w.HTML()
        self.args_editor = w.Textarea(
            value=r.pretty_json(approval.args),
            description="arguments",
            layout=w.Layout(width="95%", height=f"{min(12, 2 + len(approval.args) * 2)}em"),
        )
        self.message = w.HTML()
        self.approve_button = w.Button(description="Approve", button_style="success", icon="check")
        self.reason = w.Text(placeholder="reason for rejecting", layout=w.Layout(width="40%"))
        self.reject_button = w.Button(description="Reject", button_style="danger", icon="times")
        self.approve_button.on_click(self._guarded(self._on_approve))
        self.reject_button.on_click(self._guarded(self._on_reject))
        self.args_editor.observe(self._guarded(self._on_edit), names="value")
        buttons = w.HBox([self.approve_button, self.reason, self.reject_button])
        super().__init__(
            [self.header, self.args_editor, buttons, self.message],
            layout=w.Layout(border="1px solid #bbb", padding="4px 8px", margin="4px 0"),
        )
        paused.listeners.append(lambda _p: self.refresh())
        self.refresh()

    # -- state ----------------------------------------------------------------------

    @property
    def approval(self) -> ApprovalRequest:
        return self.paused.approval(self.approval_id)

    def problem(self) -> str | None:
        """Why the current principal may not decide this approval, or None."""
        from agno_nb.approvals import permission_problem

        return permission_problem(self.approval, self.paused.principal())

    def refresh(self) -> None:
        """Redraw from the approval row (called when anything decides)."""
        a = self.approval
        self.header.value = (
            f"<b>‖ {r.esc(a.tool_name)}</b> needs approval: role "
            f"<code>{r.esc(a.required_role)}</code>, requested by <b>{r.esc(a.requested_by)}</b>"
        )
        if a.policy_error:
            self.header.value += (
                f"<br><small>the approval policy failed ({r.esc(a.policy_error)}), so the "
                f"call needs <code>{r.esc(a.required_role)}</code></small>"
            )
        decided = a.status != "pending"
        problem = None if decided else self.problem()
        for control in (self.approve_button, self.reject_button, self.reason, self.args_editor):
            control.disabled = decided or problem is not None
        if decided:
            icon, color = _STATUS.get(a.status, ("•", "#777"))
            edited = " with edited arguments" if a.edited_args not in (None, a.args) else ""
            why = f": {r.esc(a.reason)}" if a.reason and a.status != "approved" else ""
            self.message.value = (
                f'<span style="color: {color}">{icon} {r.esc(a.status)}{edited} by '
                f"<b>{r.esc(a.decided_by or 'nobody')}</b>{why}</span>"
            )
        elif problem is not None:
            self.message.value = (
                f'<span style="color: #c62828">You cannot decide: {r.esc(problem)}</span>'
            )

    def edited_args(self) -> dict[str, Any]:
        """The arguments in the editor; raises ``ValueError`` with a clear message."""
        try:
            value = json.loads(self.args_editor.value)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"the arguments are not valid JSON (line {exc.lineno}, column {exc.colno}: "
                f"{exc.msg})"
            ) from None
        if not isinstance(value, dict):
            raise ValueError("the arguments must be a JSON object ({...})")
        return value

    # -- handlers -------------------------------------------------------------------

    def _guarded(self, handler: Callable[[], None]) -> Callable[..., None]:
        """Errors in a callback are shown, never lost in the kernel log."""

        def run(*_: Any) -> None:
            try:
                handler()
            except ValueError as exc:
                self.message.value = f'<span style="color: #c62828">{r.esc(exc)}</span>'
            except Exception as exc:  # ApprovalError and any bug: in the widget and output
                self.message.value = (
                    f'<span style="color: #c62828">{r.esc(type(exc).__name__)}: {r.esc(exc)}</span>'
                )
                from agno_nb.exceptions import ApprovalError

                if not isinstance(exc, ApprovalError):
                    self.paused.report(exc)

        return run

    def _on_edit(self) -> None:
        try:
            self.edited_args()
        except ValueError as exc:
            self.message.value = f'<span style="color: #c62828">{r.esc(exc)}</span>'
            self.approve_button.disabled = True
        else:
            self.refresh()
            if self.approval.status == "pending" and self.problem() is None:
                self.message.value = ""

    def _on_approve(self) -> None:
        args = self.edited_args()
        self.paused.decide(
            self.approval_id, True, args=None if args == self.approval.args else args
        )

    def _on_reject(self) -> None:
        self.paused.decide(self.approval_id, False, reason=self.reason.value.strip() or None)

    async def wait(self) -> RunOutput | None:
        """Wait for the run's continuation; its final output."""
        return await self.paused.wait()


class PausedRunWidget(w.VBox):  # type: ignore[misc]
    """A paused run in a cell: one ``ApprovalWidget`` per approval, then the ``Output``
    its continuation streams into."""

    def __init__(self, paused: PausedRun, output: w.Output) -> None:
        global _last
        self.paused, self.output = paused, output
        self.approval_widgets = [ApprovalWidget(paused, a) for a in paused.approvals]
        _last = self.approval_widgets
        super().__init__([*self.approval_widgets, output])


class ApprovalInbox(w.VBox):  # type: ignore[misc]
    """Every pending approval in some stores, decided in place (``%agent_approvals``);
    continuations of runs started elsewhere stream into ``output``."""

    def __init__(self, load: Callable[[], Iterable[PausedRun]], output: w.Output) -> None:
        self._load, self.output = load, output
        self.title = w.HTML()
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.refresh_button.on_click(lambda _b: self.reload())
        self.body = w.VBox()
        self.approval_widgets: list[ApprovalWidget] = []
        super().__init__([w.HBox([self.title, self.refresh_button]), self.body, output])
        self.reload()

    def reload(self) -> None:
        """Read the pending approvals again."""
        runs = list(self._load())
        widgets = [ApprovalWidget(p, a) for p in runs for a in p.approvals if a.status == "pending"]
        self.approval_widgets = widgets
        count = len(widgets)
        self.title.value = f"<b>{count} pending approval{'s' if count != 1 else ''}</b>"
        self.body.children = widgets
