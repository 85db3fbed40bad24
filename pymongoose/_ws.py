"""Manager methods for WebSocket client (ws_connect)."""

from __future__ import annotations

from typing import Any

from ._gopy import pybind as _go
from ._mixin import ManagerMixin


class WsManagerMixin(ManagerMixin):
    """Mixed into Manager."""

    def ws_connect(self, url: str, handler: Any = None) -> Any:
        """Open a WebSocket client connection to ``url`` (``ws://host:port/path``).

        The upgrade request is queued at once; MG_EV_WS_OPEN arrives with the
        server's 101 response (as an HttpMessage), MG_EV_ERROR "not http" or
        "ws handshake error" otherwise. Frames sent with ``ws_send`` are masked.
        ``wss://`` needs ``tls_init`` in MG_EV_CONNECT.
        """
        if not isinstance(url, str):
            raise TypeError("Argument 'url' has incorrect type "
                            f"(expected str, got {type(url).__name__})")
        self._check()
        return self._create(
            lambda: _go.WSConnect(self._mid, url),
            handler, f"Failed to create WebSocket connection to '{url}'")
