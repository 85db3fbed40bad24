"""Manager methods for WebSocket client (ws_connect)."""


class WsManagerMixin:
    """Mixed into Manager; uses its _check(), _create(), _mid and _core."""
