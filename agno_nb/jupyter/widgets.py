"""The inline approval widgets (ipywidgets).

``ApprovalWidget``: one pending tool call as a card: the tool and what it needs, the
agent, the user's prompt, what the model said just before the call, the run, when it was
requested and when it expires; the arguments (JSON, editable, checked as JSON and against
the tool's schema when the agent is defined here, with a diff against the proposed ones);
**Approve**, and **Reject** with a reason. When the current principal may not decide, the
buttons are disabled and the widget says why. ``PausedRunWidget``: the cards of a paused
run and the ``Output`` where its continuation streams; its text form (what a saved
notebook shows without the widget) names the run and ``%agent_resume RUN_ID``.
``ApprovalInbox``: every pending approval of some stores (``%agent_approvals``).

In a notebook (and in tests) reach the widgets with ``agno_nb.jupyter.
last_approval_widgets()``: ``w.approve_button.click()`` is what a click does,
``w.message_text`` what the card says, and ``await w.wait()`` waits for the continuation
and returns the final ``RunOutput``. The cards' HTML is made in ``_card.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import ipywidgets as w  # type: ignore[import-untyped,unused-ignore]

from agno_nb.jupyter import _card
from agno_nb.jupyter import _render as r
from agno_nb.jupyter.paused import PausedRun

if TYPE_CHECKING:
    from agno_nb.approvals import ApprovalRequest
    from agno_nb.run import RunOutput

__all__ = ["ApprovalInbox", "ApprovalWidget", "PausedRunWidget", "last_approval_widgets"]

_last: list[ApprovalWidget] = []
_GREY = "var(--jp-ui-font-color2, #757575)"
_BORDER = "1px solid var(--jp-border-color1, #bdbdbd)"
_STATUS = {"approved": ("✓", r.OK), "rejected": ("⊘", r.BAD), "expired": ("⊘", _GREY)}


def last_approval_widgets() -> list[ApprovalWidget]:
    """The approval widgets of the most recent paused run shown in this kernel."""
    return list(_last)


class ApprovalWidget(w.VBox):  # type: ignore[misc]
    """One approval as a card (see the module docstring)."""

    def __init__(self, paused: PausedRun, approval: ApprovalRequest) -> None:
        self.paused, self.approval_id = paused, approval.approval_id
        self.header = w.HTML()
        text = _card.editable_json(approval.args)
        self.args_editor = w.Textarea(
            value=text,
            description="arguments",
            rows=_card.editor_rows(text),
            layout=w.Layout(width="95%"),
        )
        self.diff = w.HTML()
        self.message = w.HTML()
        #: what ``message`` says, as plain text
        self.message_text = ""
        #: why the arguments in the editor cannot be approved (bad JSON, off-schema)
        self.edit_problem: str | None = None
        self.approve_button = w.Button(description="Approve", button_style="success", icon="check")
        self.reason = w.Text(placeholder="reason for rejecting", layout=w.Layout(width="40%"))
        self.reject_button = w.Button(description="Reject", button_style="danger", icon="times")
        self.approve_button.on_click(self._guarded(self._on_approve))
        self.reject_button.on_click(self._guarded(self._on_reject))
        self.args_editor.observe(self._guarded(self._on_edit), names="value")
        buttons = w.HBox([self.approve_button, self.reason, self.reject_button])
        gone = w.HTML(_card.gone_html(approval))
        super().__init__(
            [self.header, self.args_editor, self.diff, buttons, self.message, gone],
            layout=w.Layout(border=_BORDER, padding="4px 8px", margin="4px 0"),
        )
        self.add_class("agno-approval")
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
        """Redraw from the approval row (called when anything decides, and by the poll):
        an editor whose arguments cannot be approved keeps Approve disabled."""
        a = self.approval
        self.header.value = _card.header_html(a, self.paused.context)
        decided, moved = a.status != "pending", self.paused.state == "moved"
        problem = None if decided or moved else self.problem()
        locked = decided or moved or problem is not None
        for control in (self.reject_button, self.reason, self.args_editor):
            control.disabled = locked
        self.approve_button.disabled = locked or self.edit_problem is not None
        if decided:
            icon, color = _STATUS.get(a.status, ("•", _GREY))
            edited = " with edited arguments" if a.edited_args not in (None, a.args) else ""
            why = f": {a.reason}" if a.reason and a.status != "approved" else ""
            who = a.decided_by or "nobody"
            self._say(
                f"{icon} {a.status}{edited} by {who}{why}",
                color,
                f"{icon} {r.esc(a.status)}{edited} by <b>{r.esc(who)}</b>{r.esc(why)}",
            )
        elif moved:
            self._say("moved: this run is decided in another cell now (%agent_resume)", _GREY)
        elif problem is not None:
            self._say(f"You cannot decide: {problem}", r.BAD)
        elif self.edit_problem is not None:
            self._say(self.edit_problem, r.BAD)
        self._show_diff()

    def _show_diff(self) -> None:
        a = self.approval
        edited = a.edited_args
        if edited is None and a.status == "pending":
            try:
                edited = _card.parse_edited(self.args_editor.value)
            except ValueError:
                edited = None
        self.diff.value = "" if edited is None else _card.diff_html(a.args, edited)

    def _say(self, text: str, color: str | None = None, html: str | None = None) -> None:
        """Show ``text`` (as ``html`` if given) in the message line, in ``color``."""
        self.message_text = text
        body = r.esc(text) if html is None else html
        self.message.value = f'<span style="color: {color}">{body}</span>' if color else body

    def edited_args(self) -> dict[str, Any]:
        """The arguments in the editor; raises ``ValueError`` with a clear message."""
        return _card.parse_edited(self.args_editor.value)

    def check_args(self, args: dict[str, Any]) -> None:
        """Raise ``ValueError`` if ``args`` cannot be approved from here: off the tool's
        schema (``ToolArgumentsError``), or edited for an agent this kernel lacks."""
        a, agent = self.approval, self.paused.agent
        if agent is None:
            if args != a.args:
                raise ValueError(
                    f"agent {a.agent_id!r} is not defined in this kernel, so edited arguments "
                    "cannot be checked here: approve the call as proposed, or decide where "
                    "the agent is defined"
                )
            return
        tool = agent.tools_by_name.get(a.tool_name)
        if tool is not None:
            tool.validate(args)

    def text(self) -> str:
        """The card as one line of text: the call and its state."""
        a = self.approval
        state = self.message_text or _card.needs_words(a.required_role)
        return f"‖ {a.tool_name}({r.short_args(a.args)}) · run {a.run_id}: {state}"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data: dict[str, Any] = super()._repr_mimebundle_(**kwargs)
        data["text/plain"] = self.text()
        return data

    # -- handlers -------------------------------------------------------------------

    def _guarded(self, handler: Callable[[], None]) -> Callable[..., None]:
        """Errors in a callback are shown, never lost in the kernel log."""

        def run(*_: Any) -> None:
            try:
                handler()
            except ValueError as exc:
                self._say(str(exc), r.BAD)
            except Exception as exc:  # ApprovalError and any bug: in the widget and output
                self._say(f"{type(exc).__name__}: {exc}", r.BAD)
                from agno_nb.exceptions import ApprovalError

                if not isinstance(exc, ApprovalError):
                    self.paused.report(exc)

        return run

    def _on_edit(self) -> None:
        self.args_editor.rows = _card.editor_rows(self.args_editor.value)
        was = self.edit_problem
        try:
            self.check_args(self.edited_args())
        except ValueError as exc:
            self.edit_problem = str(exc)
        else:
            self.edit_problem = None
        self.refresh()
        cleared = was is not None and self.edit_problem is None
        pending = self.paused.state == "waiting" and self.approval.status == "pending"
        if cleared and pending and self.problem() is None:
            self._say("")

    def _on_approve(self) -> None:
        args = self.edited_args()
        self.check_args(args)
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
    its continuation streams into. Its text form (``text/plain`` and ``text/markdown``
    beside the widget view) names the run and what to run when the widget is gone."""

    def __init__(self, paused: PausedRun, output: w.Output) -> None:
        global _last
        self.paused, self.output = paused, output
        self.approval_widgets = [ApprovalWidget(paused, a) for a in paused.approvals]
        _last = self.approval_widgets
        super().__init__([*self.approval_widgets, output])
        self.add_class("agno-approvals")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data: dict[str, Any] = super()._repr_mimebundle_(**kwargs)
        p = self.paused
        if p.state == "waiting":
            agent = p.context.agent
            data["text/plain"] = _card.resume_text(p.run_id, agent, p.approvals)
            data["text/markdown"] = _card.resume_text(p.run_id, agent, p.approvals, markdown=True)
        else:
            lines = [f"Run {p.run_id} of agent {p.context.agent}: {p.state_words()}"]
            lines += [f"  {a.text()}" for a in self.approval_widgets]
            data["text/plain"] = "\n".join(lines)
        return data


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
        self.add_class("agno-approvals")
        self.reload()

    def reload(self) -> None:
        """Read the pending approvals again: per run, a line with its agent, its age and
        the command that resumes it in a new cell, then its cards."""
        children: list[Any] = []
        widgets: list[ApprovalWidget] = []
        for p in self._load():
            cards = [ApprovalWidget(p, a) for a in p.approvals if a.status == "pending"]
            if cards:
                children += [w.HTML(_card.inbox_run_html(p)), *cards]
                widgets += cards
        self.approval_widgets = widgets
        count = len(widgets)
        self.title.value = f"<b>{count} pending approval{'s' if count != 1 else ''}</b>"
        self.body.children = children
