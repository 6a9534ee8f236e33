"""'did you mean' hints for names a person typed: config keys, runbook ids, parameter names."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """` (did you mean "x"?)` for the closest choice, or "" when none is close."""
    close = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold: `M`, `M | None`, `list[M]`, `dict[str, M]`..."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin is not None or isinstance(annotation, types.UnionType):
        for arg in typing.get_args(annotation):
            found += _models_in(arg)
    return found


def keys_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys the model accepts at the section `loc` leads to (the parent of a bad key)."""
    current: list[type[BaseModel]] = [model]
    for part in loc:
        if isinstance(part, int) or not current:
            continue
        nxt: list[type[BaseModel]] = []
        for m in current:
            field = m.model_fields.get(part)
            if field is not None:
                nxt += _models_in(field.annotation)
        # A dict's key (e.g. approvers."risk:high") is not a field: stay on the dict's value model.
        current = nxt or current
    return [name for m in current for name in m.model_fields]
