"""Manager methods for MQTT (mqtt_connect, mqtt_listen)."""

from __future__ import annotations

from typing import Any, Callable, Optional, Tuple, Union

from ._gopy import pybind as _go
from ._mixin import ManagerMixin


def _check_url(url: Any) -> None:
    if not isinstance(url, str):
        raise TypeError(f"Argument 'url' has incorrect type (expected str, got {type(url).__name__})")


def _text_hex(value: Any) -> str:
    """client_id/username/password: a falsy value means empty; otherwise
    ``value.encode()`` (so ``bytes`` raise AttributeError, as in the
    reference). Hex-encoded for the cold API, whose strings stop at NUL."""
    if not value:
        return ""
    return value.encode().hex()


def _will_args(topic: Any, message: Any, qos: Any, retain: Any) -> Tuple[bool, str, str, int, bool]:
    """The will arguments of mqtt_connect as MQTTConnect takes them: (has
    will, topic hex, message hex, QoS, retain). MQTT's own rules are checked
    by the engine (MQTTCheckConnect); this checks the Python types."""
    if topic is None:
        if message or qos or retain:
            raise ValueError("will_message, will_qos and will_retain need a will_topic")
        return False, "", "", 0, False
    if not isinstance(topic, str):
        raise TypeError(f"Argument 'will_topic' has incorrect type (expected str, got {type(topic).__name__})")
    if isinstance(message, str):
        message = message.encode()
    elif isinstance(message, (bytes, bytearray, memoryview)):
        message = bytes(message)
    else:
        raise TypeError(f"Argument 'will_message' has incorrect type (expected bytes or str, "
                        f"got {type(message).__name__})")
    if not isinstance(qos, int):
        raise TypeError(f"an integer is required (got type {type(qos).__name__})")
    qos = max(-(1 << 63), min(qos, (1 << 63) - 1))  # a Go int; the engine reports the range
    return True, topic.encode().hex(), message.hex(), qos, bool(retain)


class MqttManagerMixin(ManagerMixin):
    """Mixed into Manager."""

    def mqtt_connect(self, url: str, handler: Optional[Callable[..., Any]] = None, client_id: str = "",
                     username: str = "", password: str = "", clean_session: bool = True,
                     keepalive: int = 60, will_topic: Optional[str] = None,
                     will_message: Union[bytes, bytearray, memoryview, str] = b"", will_qos: int = 0,
                     will_retain: bool = False):
        """Open an MQTT 3.1.1 client connection to ``url``. The CONNECT packet
        is queued before this returns (an empty ``client_id`` becomes 19
        random letters and digits). The broker's CONNACK arrives as
        MG_EV_MQTT_OPEN with its return code; a non-zero code closes the
        connection. With ``keepalive`` > 0 a PINGREQ is sent automatically
        after ``keepalive`` seconds without any packet sent, and the
        connection fails (MG_EV_ERROR, then close) when no PINGRESP arrives
        within ``keepalive`` seconds of a PINGREQ.

        ``will_topic`` (a topic name, no wildcards) asks the broker to
        publish ``will_message`` (bytes, or str sent as UTF-8) there with
        ``will_qos`` and ``will_retain`` if the connection ends without
        DISCONNECT. Arguments that break MQTT's rules raise ValueError: a
        password without a username, a will topic that is empty or has a
        wildcard, a will QoS outside 0-2, strings over 65535 bytes."""
        _check_url(url)
        cid, user, pw = _text_hex(client_id), _text_hex(username), _text_hex(password)
        if not isinstance(keepalive, int):
            raise TypeError(f"an integer is required (got type {type(keepalive).__name__})")
        if keepalive < 0 or keepalive > 0xFFFF:
            raise OverflowError("value out of range for uint16_t")
        will = _will_args(will_topic, will_message, will_qos, will_retain)
        problem = _go.MQTTCheckConnect(cid, user, pw, *will[:4])
        if problem:
            raise ValueError(problem)
        self._check()
        return self._create(
            lambda: _go.MQTTConnect(self._mid, url, cid, user, pw, bool(clean_session), keepalive, *will),
            handler, f"Failed to connect to MQTT broker '{url}'")

    def mqtt_listen(self, url: str, handler: Optional[Callable[..., Any]] = None):
        """Listen for MQTT clients on ``url``. Accepted connections parse MQTT
        packets (MG_EV_MQTT_CMD for each, MG_EV_MQTT_MSG for PUBLISH) and
        start with this listener's handler. The engine is not a broker: the
        application answers CONNECT (e.g. ``conn.send(b"\\x20\\x02\\x00\\x00")``),
        PINGREQ (``mqtt_pong()``) and SUBSCRIBE itself."""
        _check_url(url)
        self._check()
        return self._create(lambda: _go.MQTTListen(self._mid, url), handler,
                            f"Failed to listen for MQTT on '{url}'")
