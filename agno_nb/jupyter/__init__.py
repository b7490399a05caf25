"""agno-nb in Jupyter: ``%load_ext agno_nb`` (or ``agno_nb.jupyter``).

Loading registers the magics (``%agent``, ``%%agent``, ``%%agent_def``,
``%agent_sessions``, ``%agent_runs``, ``%agent_traces``, ``%agent_approvals``,
``%agent_resume``, ``%%agent_sql``, ``%agent_export``), Tab completion of agent names,
and rich displays of ``RunOutput``, ``Agent`` and ``ApprovalRequest``. It imports no
agent machinery, ipywidgets or pandas itself: in a kernel, a background thread then
imports what a run needs (:mod:`agno_nb.jupyter._warm`); elsewhere they load on first use.

Reaching the approval widgets of the last paused run (from a cell, or a test)::

    w = agno_nb.jupyter.last_approval_widgets()[0]
    w.approve_button.click()        # what a click does
    run = await w.wait()            # the continued run's RunOutput
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agno_nb.jupyter.paused import PausedRun
    from agno_nb.jupyter.widgets import ApprovalWidget

__all__ = [
    "last_approval_widgets",
    "last_paused",
    "load_ipython_extension",
    "unload_ipython_extension",
]

#: (module, class) -> {MIME type: name of a function of agno_nb.jupyter._render}; types are
#: matched by name so that loading the extension imports none of them
DISPLAYS: dict[tuple[str, str], dict[str, str]] = {
    ("agno_nb.run", "RunOutput"): {"text/markdown": "run_markdown", "text/plain": "run_text"},
    ("agno_nb.agent", "Agent"): {"text/html": "agent_html", "text/plain": "agent_text"},
    ("agno_nb.approvals", "ApprovalRequest"): {
        "text/html": "approval_html",
        "text/plain": "approval_text",
    },
}

_STATE: dict[int, list[Any]] = {}


def _formatter(name: str, plain: bool) -> Any:
    def render(obj: Any, *rest: Any) -> Any:
        from agno_nb.jupyter import _render

        if name.startswith("run_"):
            from agno_nb.jupyter.display import cost_of

            text = getattr(_render, name)(obj, cost_of(obj.model, obj.usage))
        else:
            text = getattr(_render, name)(obj)
        if plain:  # IPython's pretty printer calls fn(obj, printer, cycle)
            rest[0].text(text)
            return None
        return text

    return render


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics, the completer, the input transformer and the displays."""
    if id(ipython) in _STATE:  # loaded already (e.g. by the kernelspec, then %load_ext)
        return
    from IPython.core.completer import context_matcher

    from agno_nb.jupyter._ipython import (
        complete_agent_name,
        guard_magics,
        parser_of,
        protect_help_syntax,
    )
    from agno_nb.jupyter.magics import AgentMagics
    from agno_nb.jupyter.resume import ResumeMagics
    from agno_nb.jupyter.store_magics import StoreMagics

    magics = AgentMagics(ipython)
    store_magics = StoreMagics(ipython, main=magics)
    resume_magics = ResumeMagics(ipython, main=magics)
    # errors in one line and a hint, help as text
    for each in (magics, store_magics, resume_magics):
        guard_magics(each)
        ipython.register_magics(each)
    from agno_nb.export.magic import register as register_export

    register_export(ipython)  # %agent_export
    ipython.configurables.append(magics)

    @context_matcher()  # type: ignore[untyped-decorator,unused-ignore]
    def agent_names(context: Any) -> dict[str, Any]:
        from IPython.core.completer import SimpleCompletion

        parser = parser_of(magics.agent)
        names = complete_agent_name(context.text_until_cursor, ipython.user_ns, parser)
        if names is None:
            return {"completions": [], "suppress": False}
        return {"completions": [SimpleCompletion(n, type="agent") for n in names], "suppress": True}

    ipython.Completer.custom_matchers.append(agent_names)
    ipython.input_transformers_cleanup.append(protect_help_syntax)
    registered = []
    for (module, cls), by_mime in DISPLAYS.items():
        for mime, name in by_mime.items():
            formatter = ipython.display_formatter.formatters[mime]
            formatter.for_type_by_name(module, cls, _formatter(name, mime == "text/plain"))
            registered.append((formatter, module, cls))
    _STATE[id(ipython)] = [magics, agent_names, registered]
    from agno_nb.jupyter import _warm

    _warm.start(ipython)  # imports and connects in the background: never blocks, never fails


def unload_ipython_extension(ipython: Any) -> None:
    """Undo ``load_ipython_extension`` (magics stay registered, as IPython does)."""
    from agno_nb.jupyter._ipython import protect_help_syntax

    state = _STATE.pop(id(ipython), None)
    if state is None:
        return
    magics, matcher, registered = state
    from agno_nb.jupyter import _warm

    _warm.stop(ipython)
    if matcher in ipython.Completer.custom_matchers:
        ipython.Completer.custom_matchers.remove(matcher)
    if protect_help_syntax in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.remove(protect_help_syntax)
    if magics in ipython.configurables:
        ipython.configurables.remove(magics)
    for formatter, module, cls in registered:
        formatter.deferred_printers.pop((module, cls), None)
        for typ in list(formatter.type_printers):
            if (typ.__module__, typ.__name__) == (module, cls):
                formatter.type_printers.pop(typ)


def last_approval_widgets() -> list[ApprovalWidget]:
    """The approval widgets of the most recent paused run shown in this kernel."""
    from agno_nb.jupyter.widgets import last_approval_widgets as last

    return last()


def last_paused() -> PausedRun | None:
    """The most recent paused run (decide with ``.approve(i)`` / ``.reject(reason, i)``,
    wait with ``await .wait()``)."""
    from agno_nb.jupyter.paused import last_paused as last

    return last()
