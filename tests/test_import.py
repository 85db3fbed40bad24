"""Import surface: package, _mongoose submodule, constants, __all__ (API 1, 3, 20)."""

import ast
import importlib
import importlib.metadata
import importlib.resources

import pytest

import pymongoose
import pymongoose._mongoose as _m

EVENTS = {
    "MG_EV_ERROR": 0,
    "MG_EV_OPEN": 1,
    "MG_EV_POLL": 2,
    "MG_EV_RESOLVE": 3,
    "MG_EV_CONNECT": 4,
    "MG_EV_ACCEPT": 5,
    "MG_EV_TLS_HS": 6,
    "MG_EV_READ": 7,
    "MG_EV_WRITE": 8,
    "MG_EV_CLOSE": 9,
    "MG_EV_HTTP_HDRS": 10,
    "MG_EV_HTTP_MSG": 11,
    "MG_EV_WS_OPEN": 12,
    "MG_EV_WS_MSG": 13,
    "MG_EV_WS_CTL": 14,
    "MG_EV_MQTT_CMD": 15,
    "MG_EV_MQTT_MSG": 16,
    "MG_EV_MQTT_OPEN": 17,
    "MG_EV_SNTP_TIME": 18,
    "MG_EV_WAKEUP": 19,
    "MG_EV_USER": 20,
}

WS_OPS = {
    "WEBSOCKET_OP_TEXT": 1,
    "WEBSOCKET_OP_BINARY": 2,
    "WEBSOCKET_OP_PING": 9,
    "WEBSOCKET_OP_PONG": 10,
}

CLASSES = ["Manager", "Connection", "HttpMessage", "WsMessage", "MqttMessage", "TlsOpts", "Timer"]
FUNCTIONS = [
    "json_get",
    "json_get_num",
    "json_get_bool",
    "json_get_long",
    "json_get_str",
    "url_encode",
    "http_parse_multipart",
]
REQUIRED_ALL = set(CLASSES) | set(EVENTS) | set(WS_OPS) | set(FUNCTIONS)
# What the foundation delivers itself (TlsOpts and the module functions
# belong to later deliveries but are part of the 0.1.4 __all__, API 1).
FOUNDATION_ALL = (set(CLASSES) - {"TlsOpts"}) | set(EVENTS) | set(WS_OPS)

# Names that may join __all__ later (API 19, "when they are delivered").
LATER_ALL = {
    "Rpc", "RpcReq", "event_name", "log_set", "log_get", "url_port", "url_host",
    "url_user", "url_pass", "url_uri", "url_is_ssl", "match", "http_var", "md5",
    "sha1", "sha256", "hmac_sha256", "base64_encode", "base64_decode", "millis",
    "random_bytes", "random_str", "crc32", "MG_LL_NONE", "MG_LL_ERROR",
    "MG_LL_INFO", "MG_LL_DEBUG", "MG_LL_VERBOSE", "MQTT_PROP_TYPE_BYTE",
    "MQTT_PROP_TYPE_STRING", "MQTT_PROP_TYPE_STRING_PAIR",
    "MQTT_PROP_TYPE_BINARY_DATA", "MQTT_PROP_TYPE_VARIABLE_INT",
    "MQTT_PROP_TYPE_INT", "MQTT_PROP_TYPE_SHORT",
}


@pytest.mark.parametrize("name,value", sorted(EVENTS.items(), key=lambda kv: kv[1]))
def test_event_constants(name, value):
    for mod in (pymongoose, _m):
        v = getattr(mod, name)
        assert type(v) is int
        assert v == value


@pytest.mark.parametrize("name,value", sorted(WS_OPS.items()))
def test_websocket_opcodes(name, value):
    for mod in (pymongoose, _m):
        v = getattr(mod, name)
        assert type(v) is int
        assert v == value


def test_submodule_dotted_name():
    mod = importlib.import_module("pymongoose._mongoose")
    assert mod.__name__ == "pymongoose._mongoose"
    from pymongoose._mongoose import HttpMessage, Manager  # noqa: F401


def test_all_has_the_foundation_names():
    names = list(_m.__all__)
    assert len(names) == len(set(names)), "duplicates in __all__"
    missing = FOUNDATION_ALL - set(names)
    assert not missing, f"missing from __all__: {sorted(missing)}"
    for n in names:
        assert hasattr(_m, n), n


def test_all_lists_every_0_1_4_name():
    names = list(_m.__all__)
    missing = REQUIRED_ALL - set(names)
    assert not missing, f"missing from __all__: {sorted(missing)}"
    unexpected = set(names) - REQUIRED_ALL - LATER_ALL
    assert not unexpected, f"unexpected names in __all__: {sorted(unexpected)}"
    for n in names:
        assert hasattr(_m, n), n


def test_package_reexports_everything_in_all():
    for n in _m.__all__:
        assert getattr(pymongoose, n) is getattr(_m, n), n


@pytest.mark.parametrize("name", CLASSES)
def test_classes_are_types(name):
    assert isinstance(getattr(pymongoose, name), type)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_module_functions_exist(name):
    assert callable(getattr(pymongoose, name))


def test_version_matches_distribution():
    assert isinstance(pymongoose.__version__, str)
    assert pymongoose.__version__ == importlib.metadata.version("pymongoose")


def test_py_typed_marker_shipped():
    assert (importlib.resources.files("pymongoose") / "py.typed").is_file()


def test_type_stubs_shipped():
    pkg = importlib.resources.files("pymongoose")
    stubs = [p.name for p in pkg.iterdir() if p.name.endswith(".pyi")]
    assert stubs, "no .pyi stubs in the package"


def test_direct_construction_gives_empty_objects():
    c = pymongoose.Connection()
    assert c.id == 0
    assert c.is_closing is True
    assert repr(c) == "<Connection closed>"
    assert c.local_addr is None and c.remote_addr is None
    assert c.recv_data() == b"" and c.send_data() == b""
    with pytest.raises(RuntimeError, match="Connection has been closed"):
        c.send(b"x")

    for hm in (pymongoose.HttpMessage(), pymongoose.HttpMessage.__new__(pymongoose.HttpMessage)):
        assert not hm
        assert hm.method == "" and hm.uri == "" and hm.query == "" and hm.proto == ""
        assert hm.body_bytes == b"" and hm.body_text == ""
        assert hm.headers() == []
        assert hm.header("Host") is None
        assert hm.status() is None

    ws = pymongoose.WsMessage()
    assert (ws.data, ws.text, ws.flags) == (b"", "", 0)
    mq = pymongoose.MqttMessage()
    assert (mq.topic, mq.data, mq.text, mq.id, mq.cmd, mq.qos, mq.ack) == ("", b"", "", 0, 0, 0, 0)
    pymongoose.Timer()


def _stub_api_names():
    """Classes, functions and constants of the _mongoose.pyi stub (type aliases
    and type variables are for type checkers only)."""
    stub = importlib.resources.files("pymongoose").joinpath("_mongoose.pyi").read_text()
    names = set()
    for node in ast.parse(stub).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_")}


def test_package_all_is_the_public_api():
    names = pymongoose.__all__
    assert len(names) == len(set(names)), "duplicates in __all__"
    assert set(names) == _stub_api_names() | {"AsyncManager"}
    assert REQUIRED_ALL <= set(names)
    # every public attribute that is not a submodule is listed
    public = {n for n in dir(pymongoose) if not n.startswith("_")}
    submodules = {n for n in public if type(getattr(pymongoose, n)) is type(pymongoose)}
    assert public - submodules == set(names)


def test_star_import_sees_the_api():
    namespace = {}
    exec("from pymongoose import *", namespace)
    namespace.pop("__builtins__")
    assert set(namespace) == set(pymongoose.__all__)
    assert namespace["log_set"] is pymongoose.log_set and namespace["MG_LL_DEBUG"] == pymongoose.MG_LL_DEBUG
    assert namespace["AsyncManager"] is pymongoose.AsyncManager and namespace["Manager"] is pymongoose.Manager
