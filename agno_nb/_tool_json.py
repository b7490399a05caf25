"""Tool results made strict JSON, once, where they leave the tool.

The model API takes strict JSON, and a run is stored as JSON. So: pydantic models become
``model_dump(mode="json")``, dataclasses dicts, tuples and sets lists (sets sorted when
they can be), non-finite floats the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``,
UTF-8 bytes text, dates and times ISO 8601, enums their values, other keys and objects
their ``str()``. What cannot be made JSON (a circular reference, bytes that are not text,
nesting deeper than 256 levels) is a ``ToolResultError``, which the model gets as a tool
error. A result that is JSON already costs one C-speed ``json.dumps`` check and is kept as
it is (a dict with int keys keeps them; they become strings when stored).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import enum
import json
import math
from typing import Any

from agno_nb.tools import ToolResultError

__all__ = ["json_result"]

_MAX_DEPTH = 256

_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


class _Unencodable(Exception):
    pass


def json_result(result: Any, tool_name: str) -> Any:
    """``result`` as strict JSON data (see the module docstring); raises
    ``ToolResultError`` naming the tool for what cannot be."""
    kind = type(result)
    if kind is str or kind is int or kind is bool or result is None:
        return result
    try:
        if hasattr(result, "model_dump"):  # pydantic
            result = _model_dump(result)
            kind = type(result)
    except Exception as exc:
        raise _result_error(tool_name, f"{type(exc).__name__}: {exc}") from None
    if kind is dict or kind is list:
        try:
            json.dumps(result, allow_nan=False, check_circular=False)  # a cycle: RecursionError
        except (TypeError, ValueError, RecursionError):
            pass  # made JSON below, or a clear error
        else:
            return result
    try:
        return _encode(result, set(), 0)
    except _Unencodable as exc:
        why = str(exc)
    except RecursionError:
        why = "nested too deeply"
    except Exception as exc:  # a model_dump or __str__ that fails
        why = f"{type(exc).__name__}: {exc}"
    raise _result_error(tool_name, why)


def _result_error(tool_name: str, why: str) -> ToolResultError:
    return ToolResultError(
        f"Tool {tool_name!r} returned a value that cannot be encoded as JSON: {why}"
    )


def _encode(value: Any, active: set[int], depth: int) -> Any:
    """``value`` as JSON data; ``active`` holds the ids of the containers being encoded
    (a cycle), ``depth`` how deep we are."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return _float(value)
    if isinstance(value, enum.Enum):
        return _encode(value.value, active, depth)
    if isinstance(value, bool | int):
        return int(value)
    if isinstance(value, float):
        return _float(float(value))
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise _Unencodable(
                f"{len(value)} bytes that are not UTF-8 text (return str, or base64-encode them)"
            ) from None
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if depth >= _MAX_DEPTH:
        raise _Unencodable("nested too deeply")
    if isinstance(value, dict | list | tuple | set | frozenset):
        key = id(value)
        if key in active:
            raise _Unencodable("circular reference")
        active.add(key)
        try:
            return _container(value, active, depth + 1)
        finally:
            active.discard(key)
    if hasattr(value, "model_dump"):  # pydantic
        return _encode(_model_dump(value), active, depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return _encode(fields, active, depth + 1)
    return str(value)  # Decimal, UUID, paths, anything else: its text


def _container(value: Any, active: set[int], depth: int) -> Any:
    if isinstance(value, dict):
        return {_key(k): _encode(v, active, depth) for k, v in value.items()}
    items = [_encode(v, active, depth) for v in value]
    if isinstance(value, set | frozenset):
        with contextlib.suppress(TypeError):  # mixed kinds: iteration order
            items.sort()
    return items


def _key(key: Any) -> str:
    if isinstance(key, enum.Enum):
        key = key.value
    if isinstance(key, str):
        return str(key)
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)  # as json.dumps writes keys: null, true, 1, 1.5
    return str(key)


def _float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return _NON_FINITE.get(value, "NaN")


def _model_dump(model: Any) -> Any:
    try:
        return model.model_dump(mode="json")
    except Exception:  # e.g. a field pydantic cannot make JSON: encode it here
        return model.model_dump()
