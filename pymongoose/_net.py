"""Manager methods for SNTP and name resolution (sntp_connect)."""

from __future__ import annotations

from typing import Any, Callable, Optional

from ._gopy import pybind as _go
from ._mixin import ManagerMixin


class NetManagerMixin(ManagerMixin):
    """Mixed into Manager."""

    def sntp_connect(self, url: str, handler: Optional[Callable[..., Any]] = None):
        """Open an SNTP client connection to ``url`` (normally
        ``udp://host:123``). A request is sent as soon as the connection is
        established; a valid reply is delivered as MG_EV_SNTP_TIME with the
        time in milliseconds since the Unix epoch (an int). The connection
        closes after the first reply, or 3 s after creation."""
        if not isinstance(url, str):
            raise TypeError(f"Argument 'url' has incorrect type (expected str, got {type(url).__name__})")
        self._check()
        return self._create(lambda: _go.SNTPConnect(self._mid, url), handler,
                            f"Failed to connect to SNTP server '{url}'")
