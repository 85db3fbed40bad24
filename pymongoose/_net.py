"""Manager methods for SNTP and name resolution (sntp_connect)."""


class NetManagerMixin:
    """Mixed into Manager; uses its _check(), _create(), _mid and _core."""
