"""A typed service registry handed to runbooks through `RunContext.services`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from bot.errors import ConductorError

T = TypeVar("T")


class ServiceNotConfigured(ConductorError):
    """A runbook asked for an integration that is not configured."""


class ServiceRegistry:
    """Clients by type, built lazily from factories (so unconfigured integrations cost nothing)."""

    def __init__(self) -> None:
        self._factories: dict[type[Any], Callable[[], Any]] = {}
        self._instances: dict[type[Any], Any] = {}

    def provide(self, kind: type[T], factory: Callable[[], T]) -> None:
        self._factories[kind] = factory
        self._instances.pop(kind, None)

    def put(self, kind: type[T], instance: T) -> None:
        self._instances[kind] = instance

    def get(self, kind: type[T]) -> T:
        if kind in self._instances:
            return cast(T, self._instances[kind])
        factory = self._factories.get(kind)
        if factory is None:
            raise ServiceNotConfigured(f"{kind.__name__} is not configured")
        instance = factory()
        self._instances[kind] = instance
        return cast(T, instance)
