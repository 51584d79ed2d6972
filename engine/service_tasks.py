"""The registry of service-task handlers, named in diagrams by `spiffworkflow:serviceTaskOperator`.

A handler is `handler(data, params) -> dict | None`: `data` is a copy of the task data,
`params` the operator's evaluated parameters by name; a returned dict is merged into the task
data. Handlers are registered, never patched in:

    @register_service("notify_owner")
    def notify_owner(data: dict, params: dict) -> dict | None: ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

ServiceHandler = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None]

_handlers: dict[str, ServiceHandler] = {}


class UnknownServiceOperator(LookupError):
    """A diagram names an operator no handler was registered for."""

    def __init__(self, operator_id: str):
        super().__init__(f"No service handler is registered for operator '{operator_id}'")
        self.operator_id = operator_id


def register_service(
    operator_id: str, *, replace: bool = False
) -> Callable[[ServiceHandler], ServiceHandler]:
    """Decorator registering `handler` for `operator_id`.

    Registering a different handler under a taken id is refused unless `replace=True`
    (two procedures silently sharing an operator id would be a bug)."""

    def decorator(handler: ServiceHandler) -> ServiceHandler:
        existing = _handlers.get(operator_id)
        if existing is not None and existing is not handler and not replace:
            raise ValueError(f"Service operator '{operator_id}' is already registered")
        _handlers[operator_id] = handler
        return handler

    return decorator


def unregister_service(operator_id: str) -> None:
    """Remove a handler (tests that register throw-away operators)."""
    _handlers.pop(operator_id, None)


def service_handler(operator_id: str) -> ServiceHandler:
    """The handler registered for `operator_id`; raises `UnknownServiceOperator`."""
    try:
        return _handlers[operator_id]
    except KeyError:
        raise UnknownServiceOperator(operator_id) from None


def registered_operators() -> frozenset[str]:
    """Every registered operator id (the deploy check refuses diagrams naming others)."""
    return frozenset(_handlers)


# A handler that writes (a pass number counter, a register row) must use the Session of the
# state change running it, so its rows commit or roll back with the instance (one transaction).
@dataclass(frozen=True)
class ServiceContext:
    """The state change a service handler runs in: its Session, instance and acting user."""

    session: Any
    instance_id: int | None
    actor: str


_context: ContextVar[ServiceContext | None] = ContextVar("jiedai_service_context", default=None)


@contextmanager
def service_session(
    session: Any, instance_id: int | None = None, actor: str = ""
) -> Iterator[None]:
    """Make the state change visible to `current_context()` while engine steps run."""
    token = _context.set(ServiceContext(session, instance_id, actor))
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> ServiceContext:
    """The running state change; raises outside engine steps."""
    context = _context.get()
    if context is None:
        raise RuntimeError("current_context() is only available while engine steps run")
    return context


def current_session() -> Any:
    """The Session of the running state change (`current_context().session`)."""
    return current_context().session
