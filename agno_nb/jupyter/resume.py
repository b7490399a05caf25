"""``%agent_resume [RUN_ID]``: a paused run shown again, with live widgets, in a new cell.

What to run when a paused run's widget no longer works: the kernel restarted (the widget
is disconnected), or the notebook was saved and reopened ("model not found"). Run the
cells that define the agent, then ``%agent_resume RUN_ID`` (the id is in the paused
footer and in the widget's text form; ``%agent_resume`` alone takes the last paused run of
the agents defined here). The run is read from the store (``Agent.get_run``), its pending
calls get cards again, and a decision continues it in this new cell. A cell of this kernel
that still shows the run as paused says it moved here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, magics_class

from agno_nb.jupyter._ipython import argument, line_magic, magic_arguments, parse_argstring

if TYPE_CHECKING:
    from agno_nb.agent import Agent
    from agno_nb.jupyter.magics import AgentMagics
    from agno_nb.run import RunOutput

__all__ = ["ResumeMagics"]


@magics_class
class ResumeMagics(Magics):
    """``%agent_resume``: see the module docstring."""

    def __init__(self, shell: Any = None, *, main: AgentMagics) -> None:
        super().__init__(shell)
        self.main = main

    def _agents(self) -> list[Agent]:
        """The agents of the namespace that store their runs, each once."""
        from agno_nb.jupyter._ipython import agent_names

        found: list[Agent] = []
        for name in agent_names(self.main.user_ns):
            agent = self.main.user_ns[name]
            if agent.db is not False and all(agent is not a for a in found):
                found.append(agent)
        return found

    def _none_here(self, what: str) -> UsageError:
        names = ", ".join(a.name for a in self._agents()) or "none"
        return UsageError(
            f"{what} (agents defined here: {names}). Run the cells that define the run's "
            "agent first; %agent_runs --status paused lists paused runs"
        )

    def find(self, run_id: str) -> tuple[Agent, RunOutput]:
        """The agent defined here that owns ``run_id``, and the stored run."""
        from agno_nb.exceptions import RunNotFoundError

        for agent in self._agents():
            try:
                return agent, agent.get_run(run_id)
            except RunNotFoundError:
                continue
        raise self._none_here(f"no run {run_id!r} among the runs of the agents defined here")

    def last_paused(self) -> tuple[Agent, RunOutput]:
        """The most recently paused run of the agents defined here."""
        best: tuple[Agent, RunOutput] | None = None
        for agent in self._agents():
            store = agent.store
            runs = [] if store is None else store.list_runs(agent_id=agent.id, status="paused")
            for run in runs:
                if best is None or _when(run) > _when(best[1]):
                    best = (agent, run)
        if best is None:
            raise self._none_here("no paused run of the agents defined here")
        agent, run = best
        return agent, agent.get_run(run.run_id)

    @magic_arguments()
    @argument("run_id", nargs="?", metavar="RUN_ID", help="the paused run (default: the last)")
    @argument("-o", "--output", metavar="VAR", help="store the RunOutput in VAR (the final one)")
    @line_magic
    def agent_resume(self, line: str) -> None:
        """Show a paused run again, with live approval widgets, in this cell.

          %agent_resume RUN_ID      the run with this id (from the paused footer)
          %agent_resume             the last paused run of the agents defined here

        For a paused run whose widget no longer works: the kernel restarted, or the
        notebook was reopened. Run the cells that define its agent first. A decision
        continues the run in this cell; -o VAR stores its RunOutput in VAR (the final
        one once it has continued).
        """
        args = parse_argstring(self.agent_resume, line)
        agent, run = self.find(args.run_id) if args.run_id else self.last_paused()
        if args.output:
            self.main.user_ns[args.output] = run
        if str(run.status) != "paused":
            self._ended(run)
            return
        self._show(agent, run, args.output)

    def _ended(self, run: RunOutput) -> None:
        from agno_nb.jupyter._ipython import display

        text = f"Run {run.run_id} of agent {run.agent_name} is {run.status}: nothing to decide."
        if self.main.rich:
            display({"text/markdown": f"_{text}_", "text/plain": text}, raw=True)
            display(run)
        else:
            from agno_nb.jupyter._render import run_text

            print(f"{text}\n{run_text(run)}")

    def _show(self, agent: Agent, run: RunOutput, var: str | None) -> None:
        from agno_nb import events as ev
        from agno_nb.jupyter._card import age, one_line
        from agno_nb.jupyter._render import esc
        from agno_nb.jupyter.paused import PausedRun

        old = PausedRun.registry.get(run.run_id)
        if old is not None:
            old.retire()  # a cell of this kernel showing it paused: it moved here
        view = self.main.make_view(agent, stream=True, var=var)
        view.elapsed, view.run_id = False, run.run_id
        since = age(run.updated_at or run.created_at)
        text = f"Resuming run {run.run_id} of agent {agent.name} (paused {since}): " + one_line(
            run.input
        )
        view.note(
            f"<div>Resuming run <code>{esc(run.run_id)}</code> of agent <b>{esc(agent.name)}"
            f"</b> (paused {esc(since)}): <i>{esc(one_line(run.input))}</i></div>",
            text,
        )
        view.handle(
            ev.RunPaused(
                run_id=run.run_id, agent_id=run.agent_id, session_id=run.session_id, run=run
            )
        )
        view.flush(final=True)
        paused = PausedRun.registry.get(run.run_id)
        if paused is not None and paused is not old and not paused.pending:
            paused.refresh()  # decided already (elsewhere, or before the kernel went): go on


def _when(run: RunOutput) -> Any:
    return run.updated_at or run.created_at
