"""Lazy exports (PEP 562): a package names what it exports and where each name lives, and
imports that module only when the name is first used, so importing the package stays cheap.

::

    __getattr__, __dir__ = lazy_exports(globals(), {"Agent": "agno_nb.agent", ...})

The package keeps its ``__all__`` and, for type checkers, the same imports under
``TYPE_CHECKING``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    namespace: dict[str, Any], locations: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of the package whose ``globals()`` is
    ``namespace``: a name of ``locations`` is imported from its module on first use and
    kept in ``namespace`` (later uses are plain lookups); ``dir()`` is the ``__all__``."""
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module = locations.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(namespace["__all__"])

    return __getattr__, __dir__
