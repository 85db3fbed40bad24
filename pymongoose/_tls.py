"""TlsOpts: TLS material for Connection.tls_init() (docs/api.md section 11.1)."""

from __future__ import annotations

from typing import Any, Union

_Material = Union[str, bytes, None]

__all__ = ["TlsOpts"]


def _material(value: Any) -> bytes:
    """Constructor rule: str is encoded UTF-8, bytes kept, any falsy value
    becomes b""; anything else is checked like an attribute assignment."""
    if isinstance(value, str):
        return value.encode("utf-8")
    return _checked(value or b"")


def _checked(value: Any) -> bytes:
    """Attribute rule: exactly bytes (None is taken as b"")."""
    if value is None:
        return b""
    if type(value) is not bytes:
        raise TypeError(f"Expected bytes, got {type(value).__name__}")
    return value


class _BytesField:
    """A public attribute that always holds bytes."""

    __slots__ = ("_slot",)

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = getattr(owner, "_" + name)

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        return self._slot.__get__(obj, owner)

    def __set__(self, obj: Any, value: Any) -> None:
        self._slot.__set__(obj, _checked(value))

    def __delete__(self, obj: Any) -> None:
        self._slot.__set__(obj, b"")


class TlsOpts:
    """TLS options for ``Connection.tls_init()``.

    ``ca``, ``cert`` and ``key`` are PEM (or DER) data, not file names;
    ``name`` is the expected server host name (SNI and certificate name
    check); ``skip_verification`` turns certificate checks off.

    The constructor accepts ``str`` (encoded UTF-8), ``bytes`` or any falsy
    value (stored as ``b""``) for the four data fields; other types raise
    ``TypeError("Expected bytes, got <type>")``. Read back, the fields are
    ``bytes``; assigning one requires ``bytes``. ``skip_verification`` is
    stored as a ``bool``. Empty fields are treated as absent by
    ``tls_init()``.

    Example::

        opts = TlsOpts(cert=open("cert.pem").read(), key=open("key.pem").read())
        conn.tls_init(opts)
    """

    __slots__ = ("_ca", "_cert", "_key", "_name", "_skip_verification", "__weakref__")

    ca = _BytesField()
    cert = _BytesField()
    key = _BytesField()
    name = _BytesField()

    def __init__(
        self,
        ca: _Material = None,
        cert: _Material = None,
        key: _Material = None,
        name: _Material = None,
        skip_verification: bool = False,
    ) -> None:
        self._ca = b""
        self._cert = b""
        self._key = b""
        self._name = b""
        self._skip_verification = False
        self._ca = _material(ca)
        self._cert = _material(cert)
        self._key = _material(key)
        self._name = _material(name)
        self.skip_verification = skip_verification

    @property
    def skip_verification(self) -> bool:
        """Do not verify the peer's certificate (nor its host name)."""
        return self._skip_verification

    @skip_verification.setter
    def skip_verification(self, value: Any) -> None:
        self._skip_verification = bool(value)
