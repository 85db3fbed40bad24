"""MQTT client behaviour a broker relies on: the will message (checked by
a paho-mqtt subscriber on a real mosquitto broker), arguments that break
MQTT 3.1.1's rules raising ValueError before anything is queued, and the
connection failing when a broker stops answering PINGREQ."""

import queue
import socket
import threading

import pytest

from conftest import WAIT, mosquitto_broker, poll_until
from pymongoose import MG_EV_CLOSE, MG_EV_ERROR, MG_EV_MQTT_CMD, MG_EV_MQTT_OPEN

mqtt = pytest.importorskip("paho.mqtt.client")


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """An anonymous mosquitto on a free loopback port."""
    with mosquitto_broker(tmp_path_factory.mktemp("mosquitto-will"), "allow_anonymous true") as port:
        yield port


class Subscriber:
    """A paho-mqtt client subscribed to one filter; messages go to a queue."""

    def __init__(self, port, flt):
        try:
            self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        except AttributeError:  # paho-mqtt 1.x
            self.c = mqtt.Client(protocol=mqtt.MQTTv311)
        self.msgs = queue.Queue()
        subscribed = threading.Event()
        self.c.on_connect = lambda client, *a: client.subscribe(flt, 2)
        self.c.on_subscribe = lambda *a: subscribed.set()
        self.c.on_message = lambda client, userdata, m: self.msgs.put((m.topic, m.payload, m.qos, bool(m.retain)))
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert subscribed.wait(WAIT), "no SUBACK"

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def events(log, conn, ev):
    return [d for c, e, d in log if c is conn and e == ev]


def recorder(log):
    """A handler appending (conn, ev, data) to log; MQTT packets as
    {"cmd", "id"} (the message view is only valid during the call)."""
    def handler(conn, ev, data):
        if ev == MG_EV_MQTT_CMD:
            data = {"cmd": data.cmd, "id": data.id}
        log.append((conn, ev, data))
    return handler


def open_client(mgr, port, log, **kw):
    c = mgr.mqtt_connect(f"mqtt://127.0.0.1:{port}", recorder(log), **kw)
    poll_until(mgr, lambda: events(log, c, MG_EV_MQTT_OPEN) or events(log, c, MG_EV_CLOSE), what="CONNACK")
    assert events(log, c, MG_EV_MQTT_OPEN) == [0]
    return c


def test_will_published_when_dropped(broker, make_manager):
    mgr = make_manager()
    sub = Subscriber(broker, "pmg/will/#")
    log = []
    try:
        c = open_client(mgr, broker, log, client_id="pmg-will", will_topic="pmg/will/a",
                        will_message=b"gone\x00\xff", will_qos=1)
        c.close()  # the TCP connection ends without DISCONNECT
        assert sub.msgs.get(timeout=WAIT) == ("pmg/will/a", b"gone\x00\xff", 1, False)
    finally:
        sub.close()


def test_will_retained_and_str_message(broker, make_manager):
    mgr = make_manager()
    log = []
    c = open_client(mgr, broker, log, will_topic="pmg/will/retained", will_message="ça va", will_qos=2,
                    will_retain=True)
    c.close()
    poll_until(mgr, lambda: events(log, c, MG_EV_CLOSE), what="close")
    # Subscribing after the drop: the will was kept as a retained message.
    late = Subscriber(broker, "pmg/will/retained")
    try:
        assert late.msgs.get(timeout=WAIT) == ("pmg/will/retained", "ça va".encode(), 2, True)
    finally:
        late.c.publish("pmg/will/retained", b"", retain=True).wait_for_publish(WAIT)
        late.close()


def test_no_will_after_disconnect(broker, make_manager):
    mgr = make_manager()
    sub = Subscriber(broker, "pmg/nowill/#")
    log = []
    try:
        c = open_client(mgr, broker, log, will_topic="pmg/nowill/a", will_message=b"lost")
        c.mqtt_disconnect()
        poll_until(mgr, lambda: events(log, c, MG_EV_CLOSE), what="close after DISCONNECT")
        # A marker published afterwards arrives first: no will came before it.
        sub.c.publish("pmg/nowill/marker", b"m", qos=1).wait_for_publish(WAIT)
        assert sub.msgs.get(timeout=WAIT) == ("pmg/nowill/marker", b"m", 1, False)
        assert sub.msgs.empty()
    finally:
        sub.close()


BAD_CONNECT = [
    (dict(password="pw"), "password given without a username"),
    (dict(will_topic=""), "will topic is empty"),
    (dict(will_topic="a/#"), "will topic \"a/#\" contains a wildcard"),
    (dict(will_topic="a/+/b"), "wildcard"),
    (dict(will_topic="w", will_qos=3), "will QoS must be 0, 1 or 2"),
    (dict(will_topic="w", will_qos=-1), "will QoS must be 0, 1 or 2"),
    (dict(will_topic="w", will_message=b"x" * 65536), "will message is 65536 bytes long"),
    (dict(client_id="c" * 65536), "client id is 65536 bytes long"),
    (dict(username="u" * 70000), "username is 70000 bytes long"),
    (dict(will_message=b"orphan"), "need a will_topic"),
    (dict(will_retain=True), "need a will_topic"),
]


@pytest.mark.parametrize("kw,msg", BAD_CONNECT, ids=[m for _, m in BAD_CONNECT])
def test_connect_arguments_rejected(make_manager, kw, msg):
    mgr = make_manager()
    with pytest.raises(ValueError, match=msg.replace("+", r"\+")):
        mgr.mqtt_connect("mqtt://127.0.0.1:1", **kw)
    assert mgr.connections == ()  # nothing was opened


def test_connect_argument_types(make_manager):
    mgr = make_manager()
    with pytest.raises(TypeError):
        mgr.mqtt_connect("mqtt://127.0.0.1:1", will_topic=b"w")
    with pytest.raises(TypeError):
        mgr.mqtt_connect("mqtt://127.0.0.1:1", will_topic="w", will_message=5)
    with pytest.raises(TypeError):
        mgr.mqtt_connect("mqtt://127.0.0.1:1", will_topic="w", will_qos="1")


BAD_PUB = [
    (("",), "topic is empty"),
    (("t" * 65536,), "topic is 65536 bytes long"),
    (("a/+/b",), "wildcard"),
    (("a/#",), "wildcard"),
    (("#",), "wildcard"),
    (("a\x00b",), "NUL"),
    (("t", 3), "QoS must be 0, 1 or 2 \\(got 3\\)"),
    (("t", 255), "got 255"),
]
BAD_FILTER = [
    ("", "topic filter is empty"),
    ("a/#/b", "'#' must be the whole last level"),
    ("a/b#", "'#' must be the whole last level"),
    ("#/", "'#' must be the whole last level"),
    ("a+/b", "'\\+' must be a whole level"),
    ("a/+b", "'\\+' must be a whole level"),
    ("f" * 65536, "65536 bytes long"),
]


def test_publish_subscribe_arguments_rejected(broker, make_manager):
    """Against a live connection: each bad call raises ValueError, queues
    nothing, and the connection keeps working afterwards."""
    mgr = make_manager()
    log = []
    c = open_client(mgr, broker, log, client_id="pmg-rules")
    poll_until(mgr, lambda: c.send_len == 0, what="flush")
    for args, msg in BAD_PUB:
        with pytest.raises(ValueError, match=msg):
            c.mqtt_pub(args[0], b"payload", *args[1:])
    for flt, msg in BAD_FILTER:
        with pytest.raises(ValueError, match=msg):
            c.mqtt_sub(flt, 1)
        with pytest.raises(ValueError, match=msg):
            c.mqtt_unsub(flt)
    with pytest.raises(ValueError, match="QoS must be 0, 1 or 2"):
        c.mqtt_sub("ok/filter", 3)
    assert c.send_data() == b""
    # The largest valid topic and the valid filter shapes go through.
    c.mqtt_sub("pmg/rules/+/x/#", 1)
    c.mqtt_sub("+", 0)
    c.mqtt_sub("#", 0)
    pid = c.mqtt_pub("pmg/rules/a/x/" + "z" * (65535 - 14), b"big", qos=1)
    poll_until(mgr, lambda: any(d.get("cmd") == 4 for d in events(log, c, MG_EV_MQTT_CMD)), what="PUBACK")
    assert [d["id"] for d in events(log, c, MG_EV_MQTT_CMD) if d["cmd"] == 4] == [pid]
    assert not events(log, c, MG_EV_CLOSE)
    c.close()


def test_closed_connection_reports_bad_argument_first(make_manager):
    mgr = make_manager()
    lst = mgr.listen("tcp://127.0.0.1:0")
    lst.close()
    with pytest.raises(ValueError):
        lst.mqtt_pub("a/#", b"")
    with pytest.raises(RuntimeError, match="Connection has been closed"):
        lst.mqtt_pub("a", b"")


def test_no_pingresp_closes(make_manager):
    """A raw-socket broker that accepts CONNECT, answers CONNACK and then
    ignores PINGREQ: with keepalive=1 the client reports an error and
    closes."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.setblocking(False)
    peer = []
    got = bytearray()

    def serve():
        if not peer:
            try:
                s, _ = srv.accept()
            except BlockingIOError:
                return
            s.setblocking(False)
            peer.append(s)
        try:
            chunk = peer[0].recv(4096)
        except BlockingIOError:
            return
        if chunk and got[:1] == b"" and chunk[0] == 0x10:
            peer[0].sendall(b"\x20\x02\x00\x00")  # CONNACK, accepted
        got.extend(chunk)

    mgr = make_manager()
    log = []
    try:
        c = mgr.mqtt_connect(f"mqtt://127.0.0.1:{srv.getsockname()[1]}", recorder(log), keepalive=1)
        poll_until(mgr, lambda: events(log, c, MG_EV_CLOSE), before_poll=serve, what="close after no PINGRESP")
        assert events(log, c, MG_EV_MQTT_OPEN) == [0]
        errors = events(log, c, MG_EV_ERROR)
        assert len(errors) == 1 and "no PINGRESP" in errors[0], errors
        seq = [e for cc, e, _ in log if cc is c and e in (MG_EV_ERROR, MG_EV_CLOSE)]
        assert seq == [MG_EV_ERROR, MG_EV_CLOSE]
        assert b"\xc0\x00" in bytes(got[2 + got[1]:])  # the PINGREQ went out after the CONNECT
        peer[0].setblocking(True)
        peer[0].settimeout(WAIT)
        while peer[0].recv(4096):  # the peer sees the close
            pass
    finally:
        for s in peer + [srv]:
            s.close()


def test_explicit_ping_answered_keeps_connection(broker, make_manager):
    """mqtt_ping() on a keep-alive client: mosquitto answers, and the
    connection outlives several keep-alive periods."""
    mgr = make_manager()
    log = []
    c = open_client(mgr, broker, log, keepalive=1)
    c.mqtt_ping()
    poll_until(mgr, lambda: sum(1 for d in events(log, c, MG_EV_MQTT_CMD) if d["cmd"] == 13) >= 3,
               what="three PINGRESPs")
    assert not events(log, c, MG_EV_ERROR) and not events(log, c, MG_EV_CLOSE)
    c.close()


def test_async_manager_forwards_will(broker):
    """AsyncManager.mqtt_connect passes the will arguments through: a bad
    one raises ValueError, a good one is published when the handler (on the
    poll thread) drops the connection right after CONNACK."""
    import asyncio

    from pymongoose import AsyncManager

    sub = Subscriber(broker, "pmg/aio/#")

    def handler(conn, ev, data):
        if ev == MG_EV_MQTT_OPEN and data == 0:
            conn.close()  # no DISCONNECT

    async def main():
        async with AsyncManager() as am:
            url = f"mqtt://127.0.0.1:{broker}"
            with pytest.raises(ValueError, match="wildcard"):
                am.mqtt_connect(url, handler, will_topic="pmg/aio/#")
            am.mqtt_connect(url, handler, will_topic="pmg/aio/will", will_message=b"aio gone", will_qos=1)
            return await asyncio.get_running_loop().run_in_executor(None, lambda: sub.msgs.get(timeout=WAIT))

    try:
        assert asyncio.run(main()) == ("pmg/aio/will", b"aio gone", 1, False)
    finally:
        sub.close()
