"""``%agent`` / ``%%agent`` and ``%%agent_def``: run and define agents from cells.

The magics are thin over the public API: ``Agent.arun(stream=True)`` for a run,
``Agent.acontinue_run`` for a continuation, :mod:`agno_nb._yaml_build` for definitions. Their
defaults are traitlets, set with ``%config AgentMagics.<name> = value``.
"""

from __future__ import annotations

import copy
import difflib
import uuid
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, magics_class, no_var_expand
from traitlets import Bool, Enum, Float, List, Unicode

from agno_nb.jupyter._ipython import (
    argument,
    cell_magic,
    interpolate,
    line_cell_magic,
    magic_arguments,
    parse_argstring,
    parser_of,
    split_options,
)

if TYPE_CHECKING:
    from agno_nb.agent import Agent
    from agno_nb.approvals import Principal
    from agno_nb.jupyter.display import Block, RunView
    from agno_nb.run import RunOutput

__all__ = ["AgentMagics", "AgentRunCancelled", "AgentRunFailed"]


class AgentRunFailed(Exception):
    """The run of a magic failed; shown as one line, the details are in the output."""

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[31mAgentRunFailed\x1b[0m: {self}"]


class AgentRunCancelled(KeyboardInterrupt):
    """The run of a magic was interrupted (Ctrl-C, the stop button): one line, no
    traceback through agno-nb; the output ends ``cancelled``."""

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[31mKeyboardInterrupt\x1b[0m: {self}"]


@magics_class
class AgentMagics(Magics):
    """Run agents in cells. Options are traitlets: ``%config AgentMagics.stream = False``."""

    user = Unicode(
        None, allow_none=True, help="User id for runs and decisions (default: local_principal())"
    ).tag(config=True)
    roles = List(
        Unicode(), default_value=None, allow_none=True,
        help="Roles of the person deciding approvals (default: local_principal()'s roles)",
    ).tag(config=True)  # fmt: skip
    stream = Bool(True, help="Stream the answer as it arrives (--no-stream turns it off)").tag(
        config=True
    )
    show_tools = Bool(True, help="Show a row per tool call").tag(config=True)
    show_footer = Bool(True, help="Show tokens, cost and latency under a run").tag(config=True)
    update_interval = Float(0.05, help="Seconds between display updates while a run streams").tag(
        config=True
    )
    poll_interval = Float(
        1.0, help="Seconds between reads of a paused run's approvals (decisions made elsewhere)"
    ).tag(config=True)
    display_mode = Enum(
        ["auto", "rich", "text"], "auto",
        help="rich: displays and widgets; text: plain stdout; auto: rich in a kernel",
    ).tag(config=True)  # fmt: skip

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell, **kwargs)
        #: the current session of each (agent id, user): successive runs continue it
        self.sessions: dict[tuple[str, str | None], str] = {}

    # -- helpers ----------------------------------------------------------------------

    @property
    def user_ns(self) -> dict[str, Any]:
        assert self.shell is not None
        ns: dict[str, Any] = self.shell.user_ns
        return ns

    def principal(self) -> Principal:
        """Who decides approvals from this kernel: ``user`` / ``roles`` if configured,
        else ``local_principal()``."""
        from agno_nb.approvals import Principal, local_principal

        base = local_principal()
        if self.user is None and self.roles is None:
            return base
        roles = base.roles if self.roles is None else self.roles
        return Principal(self.user or base.user_id, roles)

    @property
    def rich(self) -> bool:
        if self.display_mode == "auto":
            return getattr(self.shell, "kernel", None) is not None
        return bool(self.display_mode == "rich")

    def find_agent(self, name: str) -> Agent:
        from agno_nb.agent import Agent
        from agno_nb.jupyter._ipython import agent_names

        ns = self.user_ns
        value = ns.get(name)
        if value is None and "." in name:
            try:
                value = eval(name, {}, dict(ns))
            except Exception:
                value = None
        if isinstance(value, Agent):
            return value
        names = agent_names(ns)
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        listed = ", ".join(names) or "none yet (agent = Agent(...) or %%agent_def NAME)"
        what = "is not an Agent" if value is not None else "is not defined"
        raise UsageError(f"{name!r} {what}.{hint} Agents in the namespace: {listed}")

    def list_agents(self) -> None:
        """Show the agents of the namespace as a table (what ``%agent`` alone does)."""
        from agno_nb.jupyter._ipython import agent_names, display
        from agno_nb.jupyter._render import table_html, table_text

        names = agent_names(self.user_ns)
        if not names:
            print("No agents in this notebook yet: agent = Agent(...), or %%agent_def NAME")
            return
        rows = [_agent_row(n, self.user_ns[n]) for n in names]
        if self.rich:
            html = table_html(rows, f"{len(rows)} agent{'s' * (len(rows) > 1)}")
            display({"text/html": html, "text/plain": table_text(rows)}, raw=True)
        else:
            print(table_text(rows))

    def session_for(self, agent: Agent, user: str | None, args: Any) -> str:
        key = (agent.id, user)
        if args.session:
            self.sessions[key] = args.session
        elif args.new_session or key not in self.sessions:
            self.sessions[key] = agent.session_id if (
                agent.session_id and not args.new_session
            ) else f"ses_{uuid.uuid4().hex}"  # fmt: skip
        return self.sessions[key]

    def make_view(self, agent: Agent, *, stream: bool, var: str | None) -> RunView:
        from agno_nb.jupyter.display import DisplaySink, RunView, TextSink

        return RunView(
            DisplaySink() if self.rich else TextSink(),
            stream=stream,
            show_tools=self.show_tools,
            show_footer=self.show_footer,
            interval=self.update_interval,
            on_pause=lambda run, paused_view: self.pause_block(agent, run, var, paused_view),
        )

    def pause_block(
        self, agent: Agent, run: RunOutput, var: str | None, parent: RunView | None = None
    ) -> Block:
        """What a pause shows: the approval widgets and the Output the continuation
        streams into (text instructions in a terminal). The continuation's footer takes
        the place of ``parent``'s (the view that paused)."""
        from agno_nb.jupyter.display import Block, OutputSink, RunView, TextSink
        from agno_nb.jupyter.paused import PausedRun

        store = agent.store
        assert store is not None  # a run only pauses with a store
        widgets = self.rich and _has_ipywidgets()
        output: Any = None
        if widgets:
            import ipywidgets  # type: ignore[import-untyped,unused-ignore]

            output = ipywidgets.Output()

        def view() -> RunView:
            sink = OutputSink(output) if output is not None else TextSink()
            return RunView(
                sink,
                show_tools=self.show_tools,
                show_footer=self.show_footer,
                interval=self.update_interval,
                on_pause=lambda again, child: self.pause_block(agent, again, var, child),
                footer_into=parent,
            )

        def done(result: RunOutput) -> None:
            if var:
                self.user_ns[var] = result

        paused = PausedRun(
            run.run_id, store, run.approvals, agent=agent, principal=self.principal,
            make_view=view, poll_interval=self.poll_interval, on_done=done, run=run,
        )  # fmt: skip
        paused.start_polling()
        if widgets:
            from agno_nb.jupyter.widgets import PausedRunWidget

            return Block("widget", widget=PausedRunWidget(paused, output))
        from agno_nb.jupyter._card import needs_words

        lines = [
            f"‖ {a.tool_name} {needs_words(a.required_role)}, approval {a.approval_id}"
            for a in run.approvals
        ]
        lines.append(
            "  decide with: p = agno_nb.jupyter.last_paused(); p.approve(0) or "
            "p.reject('reason', 0); the run continues once all are decided"
        )
        return Block("note", {"text/plain": "\n".join(lines)}, "\n".join(lines))

    # -- %agent -----------------------------------------------------------------------

    @magic_arguments()
    @argument("name", metavar="NAME", help="the Agent: a name in the namespace (Tab completes)")
    @argument("prompt", nargs="*", metavar="PROMPT", help="the prompt; with %%%%agent, the body")
    @argument("-s", "--session", metavar="ID", help="use (and make current) this session")
    @argument("-u", "--user", metavar="USER", help="run as this user id")
    @argument("-n", "--new-session", action="store_true", help="start a new current session")
    @argument("--no-stream", action="store_true", help="show the output when the run ends")
    @argument(
        "-m", "--model", metavar="MODEL", help="this run only: e.g. anthropic:claude-haiku-4-5"
    )
    @argument("-o", "--output", metavar="VAR", help="store the RunOutput in VAR")
    @no_var_expand
    @line_cell_magic
    def agent(self, line: str, cell: str | None = None) -> None:
        """Run an agent on a prompt.

          %agent NAME PROMPT        run NAME on the rest of the line
          %%agent NAME [options]    run NAME on the cell body

        %agent alone lists the agents of this notebook.

        The answer streams into the cell; tool calls show as rows you can open; a call
        that needs approval shows a widget and ends the cell, and a click continues the
        run in the same output. Successive runs of an agent continue one session per
        agent and user in this kernel (--new-session starts another, --session ID picks
        one). {expr} in the prompt is replaced by its value in the namespace ({x!r} and
        {x:.2f} work); {{ and }} are literal braces.

        Examples:
          %agent support Where is order {order_id}?
          %agent support --new-session -o out Hello!

          %%agent support --session s1 --user ana
          Refund order 42, it arrived broken.

        Defaults: %config AgentMagics (user, roles, stream, show_tools, show_footer,
        update_interval, poll_interval, display_mode). Errors show one line and a hint;
        %xmode verbose or AGNO_NB_DEBUG=1 shows the whole traceback.
        """
        if cell is None and not line.strip():
            self.list_agents()
            return
        from agno_nb.jupyter._pump import drive_sync

        parser = parser_of(self.agent)
        try:
            line = interpolate(line, self.user_ns)
            body = interpolate(cell, self.user_ns) if cell is not None else None
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        argv, rest = split_options(parser, line)
        args = parser.parse_args(argv)
        if body is not None and rest:
            raise UsageError(f"%%agent takes the prompt from the cell body, not {rest!r}")
        prompt = (body if body is not None else rest).strip()
        if not prompt:
            raise UsageError("no prompt: %agent NAME PROMPT, or %%agent NAME with a cell body")
        agent = self.find_agent(args.name)
        if args.model:
            agent = _with_model(agent, args.model)
        user = args.user or self.user
        session = self.session_for(agent, user, args)
        stream = self.stream and not args.no_stream
        view = self.make_view(agent, stream=stream, var=args.output)
        try:
            run = drive_sync(
                lambda: agent.arun(prompt, stream=True, user_id=user, session_id=session), view
            )
        except KeyboardInterrupt:
            said = (
                f"run {view.run_id} was cancelled (stored as cancelled)" if view.run_id
                else "the run was cancelled before it started"
            )  # fmt: skip
            raise AgentRunCancelled(said) from None
        if args.output and run is not None:
            self.user_ns[args.output] = run
        if run is not None and run.error:
            raise AgentRunFailed(f"{run.error_type}: {run.error} (run {run.run_id})")

    # -- %%agent_def --------------------------------------------------------------------

    @magic_arguments()
    @argument(
        "name", metavar="NAME", help="the variable to bind the new Agent to (and its default name)"
    )
    @cell_magic
    def agent_def(self, line: str, cell: str) -> Agent:
        """Define an agent from the YAML of the cell body and bind it to NAME.

        Example:
          %%agent_def support
          model: anthropic:claude-sonnet-4-6
          instructions: You help customers with their orders.
          tools: [lookup_order, refund]      # tools defined in the namespace
          approvals: {refund: required}
          mcp: [{command: uvx, args: [mcp-server-time]}]
          db: agents.duckdb
          add_history_to_context: true
          markdown: true

        Keys: name, id, description, model (a string or {id, base_url, max_tokens,
        temperature, timeout, max_retries}), instructions, tools, mcp ({command, args,
        env, prefix} or {url, headers, prefix}), approvals (a tool name or glob: auto,
        required, a role, or {role, expires_in}), markdown, add_history_to_context,
        num_history_runs, self_approval, policy_error_role, max_turns, tool_timeout,
        output_retries, output_schema (a pydantic model in the namespace), user_id,
        session_id, db (a path, null for in memory, false for none).

        Errors give the line and key, with a did-you-mean for a misspelt key, tool name
        or approval keyword (refund: requird). A role whose name looks like a keyword is
        written {role: requird}. agent.to_yaml() writes such a body back.
        """
        from agno_nb._yaml_build import agent_from_yaml
        from agno_nb.agent import Agent
        from agno_nb.exceptions import AgentDefinitionError

        args = parse_argstring(self.agent_def, line)
        try:
            agent = agent_from_yaml(cell, self.user_ns, name=args.name, line_offset=1, cls=Agent)
        except AgentDefinitionError as exc:
            raise UsageError(str(exc)) from None
        self.user_ns[args.name] = agent
        return agent


def _agent_row(name: str, agent: Agent) -> dict[str, Any]:
    """One row of ``%agent`` alone: the variable, the model, the tools and the store."""
    import os

    from agno_nb.agent import _DEFAULT
    from agno_nb.jupyter._render import _policy

    tools = [t.name + ("" if _policy(agent, t) == "auto" else f" ({_policy(agent, t)})")
             for t in agent.tools]  # fmt: skip
    tools += [f"{getattr(t, 'name', type(t).__name__)} (toolset)" for t in agent.toolsets]
    db = agent.db
    where = (
        "default" if db is _DEFAULT else "in memory" if db is None else "none" if db is False
        else os.fspath(db) if isinstance(db, str | os.PathLike) else type(db).__name__
    )  # fmt: skip
    return {"agent": name, "model": agent.model.id, "tools": ", ".join(tools) or "none",
            "db": where}  # fmt: skip


def _has_ipywidgets() -> bool:
    import importlib.util

    return importlib.util.find_spec("ipywidgets") is not None


def _with_model(agent: Agent, spec: str) -> Agent:
    """A copy of ``agent`` with another model for one run. An Anthropic model id keeps
    the agent's Claude settings (base_url, key, max_tokens)."""
    from agno_nb.models import parse_model_string
    from agno_nb.models.anthropic import Claude

    parse_model_string(spec)  # a typo fails before anything runs; no price: a warning
    agent.store  # noqa: B018 - open the store first, so that the copy shares it
    clone = copy.copy(agent)
    provider, sep, model_id = spec.partition(":")
    current = agent.model
    anthropic = provider == "anthropic" if sep else spec.startswith("claude")
    if isinstance(current, Claude) and anthropic:
        model = copy.copy(current)
        model.id = model_id if sep else spec
        clone.model = model
    else:
        clone.model = spec
    return clone
