"""The base of the Manager mixins (_ws, _mqtt, _net)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ._mongoose import Connection


class ManagerMixin:
    """What a mixin uses of :class:`pymongoose.Manager`, declared for the
    type checker only: Manager itself provides all of it."""

    if TYPE_CHECKING:
        _mid: int

        def _check(self) -> None: ...

        def _create(self, make: Callable[[], int], handler: Any, failure: str) -> Connection: ...
