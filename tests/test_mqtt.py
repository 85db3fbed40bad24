"""MQTT 3.1.1: our client against a real mosquitto broker (started by the
test on a free port with a generated config and password file), the
server-side engine of mqtt_listen() against raw sockets, argument rules,
and malformed/oversize packets."""

import shutil
import subprocess

import pytest

from conftest import WAIT, connect, free_port, mosquitto_broker, poll_until
from pymongoose import (
    MG_EV_CLOSE,
    MG_EV_CONNECT,
    MG_EV_ERROR,
    MG_EV_MQTT_CMD,
    MG_EV_MQTT_MSG,
    MG_EV_MQTT_OPEN,
    MG_EV_OPEN,
    MG_EV_POLL,
    MG_EV_READ,
    MG_EV_RESOLVE,
    MG_EV_WRITE,
    MqttMessage,
)

CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP = 8, 9, 10, 11, 12, 13

USER, PASSWORD = "pmg-user", "s3cret pass"


class MqttLog:
    """Records MQTT events per connection; message views are summarised
    during the call (they are invalid afterwards)."""

    def __init__(self, on=None):
        self.events = []
        self.on = on
        self.views = []

    def __call__(self, conn, ev, data):
        if ev in (MG_EV_MQTT_CMD, MG_EV_MQTT_MSG):
            self.views.append(data)
            data = dict(topic=data.topic, data=data.data, text=data.text, id=data.id, cmd=data.cmd,
                        qos=data.qos, ack=data.ack, props=data.properties(), raw=conn.recv_data())
        if ev != MG_EV_POLL:
            self.events.append((conn, ev, data))
        if self.on:
            self.on(conn, ev, data)

    def seq(self, conn):
        return [e for c, e, _ in self.events if c is conn]

    def cmds(self, conn, cmd=None):
        return [d for c, e, d in self.events
                if c is conn and e == MG_EV_MQTT_CMD and (cmd is None or d["cmd"] == cmd)]

    def msgs(self, conn):
        return [d for c, e, d in self.events if c is conn and e == MG_EV_MQTT_MSG]

    def closed(self, conn):
        return MG_EV_CLOSE in self.seq(conn)


# --------------------------------------------------------------------------
# mosquitto
# --------------------------------------------------------------------------



@pytest.fixture(scope="module")
def mosquitto(tmp_path_factory):
    """A mosquitto broker on 127.0.0.1:<free port>, password required.
    Readiness is read from its log, not waited for with sleeps."""
    if shutil.which("mosquitto") is None or shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto is not installed")
    d = tmp_path_factory.mktemp("mosquitto")
    pwfile = d / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(pwfile), USER, PASSWORD], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with mosquitto_broker(d, "allow_anonymous false", f"password_file {pwfile}") as port:
        yield port


def login(mgr, port, log, **kw):
    kw.setdefault("username", USER)
    kw.setdefault("password", PASSWORD)
    c = mgr.mqtt_connect(f"mqtt://127.0.0.1:{port}", log, **kw)
    poll_until(mgr, lambda: MG_EV_MQTT_OPEN in log.seq(c) or log.closed(c), what="CONNACK")
    return c


def test_connect_sequence_and_credentials(mosquitto, make_manager):
    mgr = make_manager()
    log = MqttLog()
    c = mgr.mqtt_connect(f"mqtt://127.0.0.1:{mosquitto}", log, client_id="pmg-seq",
                         username=USER, password=PASSWORD)
    # Inside the call: OPEN, RESOLVE; CONNECT already queued.
    assert log.seq(c) == [MG_EV_OPEN, MG_EV_RESOLVE]
    assert c.is_client
    sent = c.send_data()
    assert sent[0] == 0x10 and b"\x00\x04MQTT\x04\xc2\x00\x3c\x00\x07pmg-seq" in sent
    poll_until(mgr, lambda: MG_EV_MQTT_OPEN in log.seq(c), what="CONNACK")
    seq = log.seq(c)
    assert seq[:4] == [MG_EV_OPEN, MG_EV_RESOLVE, MG_EV_CONNECT, MG_EV_WRITE]
    i = seq.index(MG_EV_MQTT_OPEN)
    assert seq[i:i + 3] == [MG_EV_MQTT_OPEN, MG_EV_MQTT_CMD, MG_EV_READ]
    assert [d for cc, e, d in log.events if e == MG_EV_MQTT_OPEN] == [0]
    connack = log.cmds(c, CONNACK)[0]
    assert (connack["cmd"], connack["ack"], connack["id"], connack["topic"], connack["props"]) == (2, 0, 0, "", [])
    c.mqtt_disconnect()  # DISCONNECT does not close by itself; the broker does
    assert not c.is_closing
    poll_until(mgr, lambda: log.closed(c), what="close after DISCONNECT")


def test_bad_password_refused(mosquitto, make_manager):
    mgr = make_manager()
    log = MqttLog()
    c = login(mgr, mosquitto, log, password="wrong")
    codes = [d for cc, e, d in log.events if e == MG_EV_MQTT_OPEN]
    assert len(codes) == 1 and codes[0] != 0
    poll_until(mgr, lambda: log.closed(c), what="close after refused CONNACK")
    seq = log.seq(c)
    i = seq.index(MG_EV_MQTT_OPEN)
    assert seq[i + 1] == MG_EV_MQTT_CMD and seq[-1] == MG_EV_CLOSE


def test_pub_sub_qos_round_trips(mosquitto, make_manager):
    mgr = make_manager()
    log = MqttLog()
    c = login(mgr, mosquitto, log, client_id="pmg-rt")
    assert c.mqtt_sub("pmg/rt/#", qos=2) is None
    poll_until(mgr, lambda: log.cmds(c, SUBACK), what="SUBACK")
    sub_id = log.cmds(c, SUBACK)[0]["id"]
    ids = [c.mqtt_pub("pmg/rt/q0", b"zero"), c.mqtt_pub("pmg/rt/q1", "one", qos=1),
           c.mqtt_pub("pmg/rt/q2", bytearray(b"\x00two\xff"), qos=2)]
    # Manager-wide counter shared with mqtt_sub: consecutive ids, 0 for QoS 0.
    assert ids == [0, sub_id + 1, sub_id + 2]
    poll_until(mgr, lambda: len(log.msgs(c)) == 3 and log.cmds(c, PUBCOMP) and log.cmds(c, PUBACK)
               and log.cmds(c, PUBREL), what="three messages and the acks")
    got = sorted((m["topic"], m["data"], m["qos"]) for m in log.msgs(c))
    assert got == [("pmg/rt/q0", b"zero", 0), ("pmg/rt/q1", b"one", 1), ("pmg/rt/q2", b"\x00two\xff", 2)]
    assert log.cmds(c, PUBACK)[0]["id"] == ids[1]
    assert log.cmds(c, PUBREC)[0]["id"] == ids[2] and log.cmds(c, PUBCOMP)[0]["id"] == ids[2]
    for m in log.msgs(c):
        assert m["text"] == m["data"].decode("utf-8", "surrogateescape")
        assert (m["id"] != 0) == (m["qos"] > 0)
        assert m["raw"][0] >> 4 == PUBLISH  # the packet is still buffered during the event
    # Every MSG is followed by its CMD (cmd 3).
    seq = [(e, d["cmd"] if isinstance(d, dict) else None) for cc, e, d in log.events if cc is c]
    for k, (e, _) in enumerate(seq):
        if e == MG_EV_MQTT_MSG:
            assert seq[k + 1] == (MG_EV_MQTT_CMD, PUBLISH)
    # The views are invalid after the handler returned.
    assert all(v.cmd == 0 and v.topic == "" and v.data == b"" and v.properties() == [] for v in log.views)

    c.mqtt_unsub("pmg/rt/#")
    poll_until(mgr, lambda: log.cmds(c, UNSUBACK), what="UNSUBACK")
    c.mqtt_ping()
    poll_until(mgr, lambda: log.cmds(c, PINGRESP), what="PINGRESP")
    c.mqtt_disconnect()
    poll_until(mgr, lambda: log.closed(c), what="close")
    assert len(log.msgs(c)) == 3  # nothing after the unsubscribe


def test_retained_message(mosquitto, make_manager):
    mgr = make_manager()
    log = MqttLog()
    a = login(mgr, mosquitto, log, client_id="pmg-ret-a")
    a.mqtt_pub("pmg/retained/x", b"kept", qos=1, retain=True)
    poll_until(mgr, lambda: log.cmds(a, PUBACK), what="PUBACK")
    b = login(mgr, mosquitto, log, client_id="pmg-ret-b")
    b.mqtt_sub("pmg/retained/+", 1)
    poll_until(mgr, lambda: log.msgs(b), what="retained message")
    m = log.msgs(b)[0]
    assert (m["topic"], m["data"], m["qos"]) == ("pmg/retained/x", b"kept", 1)
    assert m["raw"][0] & 1 == 1  # retain flag on the wire
    a.mqtt_pub("pmg/retained/x", b"", qos=1, retain=True)  # clear it
    poll_until(mgr, lambda: len(log.msgs(b)) == 2, what="the clearing publish")
    for c in (a, b):
        c.mqtt_disconnect()
    poll_until(mgr, lambda: log.closed(a) and log.closed(b), what="close")


def test_automatic_keepalive_ping(mosquitto, make_manager):
    mgr = make_manager()
    log = MqttLog()
    c = login(mgr, mosquitto, log, keepalive=1)
    # No mqtt_ping(): the engine sends PINGREQ after 1 s without output.
    poll_until(mgr, lambda: log.cmds(c, PINGRESP), what="automatic PINGRESP")
    c.close()


def test_random_client_id_and_flags(mosquitto, make_manager):
    mgr = make_manager()
    log = MqttLog()
    c = mgr.mqtt_connect(f"mqtt://127.0.0.1:{mosquitto}", log, clean_session=False, keepalive=0)
    sent = c.send_data()
    # flags: no clean session, no user, no password; keepalive 0; 19-char id
    assert sent[2:12] == b"\x00\x04MQTT\x04\x00\x00\x00" and sent[12:14] == b"\x00\x13"
    cid = sent[14:33].decode()
    assert len(cid) == 19 and cid.isalnum() and cid.isascii()
    poll_until(mgr, lambda: MG_EV_MQTT_OPEN in log.seq(c), what="CONNACK")
    c.close()


# --------------------------------------------------------------------------
# Server side (mqtt_listen) with raw sockets
# --------------------------------------------------------------------------


def mqtt_server(mgr, log):
    lst = mgr.mqtt_listen("mqtt://127.0.0.1:0", log)
    return lst, lst.local_addr[1]


CONNECT_PKT = bytes.fromhex("100d00044d5154540402003c000161")


def read_polling(mgr, sock, n):
    """Read exactly n bytes from sock while polling mgr (no threads)."""
    buf = bytearray()
    sock.setblocking(False)

    def pull():
        try:
            chunk = sock.recv(n - len(buf))
        except BlockingIOError:
            return
        if not chunk:
            raise EOFError(f"EOF after {len(buf)} of {n} bytes")
        buf.extend(chunk)

    poll_until(mgr, lambda: len(buf) >= n, before_poll=pull, what=f"{n} bytes from the server")
    sock.setblocking(True)
    return bytes(buf)


def test_server_side_events_and_fields(make_manager):
    mgr = make_manager()
    log = MqttLog()
    lst, port = mqtt_server(mgr, log)
    s = connect(port)
    try:
        s.sendall(CONNECT_PKT + bytes.fromhex("8207000500036123" "01") +
                  bytes.fromhex("3406 0001 74 0007 7a".replace(" ", "")) + b"\xc0\x00")
        # The engine answers only the QoS 2 PUBLISH (PUBREC), never CONNECT or PINGREQ.
        assert read_polling(mgr, s, 4) == b"\x50\x02\x00\x07"
        s.sendall(b"\x62\x02\x00\x07")
        assert read_polling(mgr, s, 4) == b"\x70\x02\x00\x07"
        poll_until(mgr, lambda: len([e for _, e, _ in log.events if e == MG_EV_MQTT_CMD]) == 5, what="5 packets")
        conn = [c for c, e, _ in log.events if e == MG_EV_MQTT_CMD][0]
        assert conn is not lst and conn.handler is log  # inherited from the listener
        cmds = [(d["cmd"], d["qos"], d["id"], d["topic"]) for d in log.cmds(conn)]
        assert cmds == [(1, 0, 0, ""), (8, 1, 5, ""), (3, 2, 7, "t"), (12, 0, 0, ""), (6, 1, 7, "")]
        assert log.cmds(conn, SUBSCRIBE)[0]["raw"].startswith(bytes.fromhex("820700050003"))
        conn.send(b"\x20\x02\x00\x00")
        conn.mqtt_pong()
        pid = conn.mqtt_pub("x/y", b"fwd", qos=1)
        assert pid > 0
        expected = b"\x20\x02\x00\x00\xd0\x00" + b"\x32\x0a\x00\x03x/y" + pid.to_bytes(2, "big") + b"fwd"
        poll_until(mgr, lambda: conn.send_len == 0, what="flush")
        assert read_polling(mgr, s, len(expected)) == expected
    finally:
        s.close()
    poll_until(mgr, lambda: log.closed(conn), what="close")


def test_forwarded_publish_bytes(make_manager):
    mgr = make_manager()
    log = MqttLog()
    lst, port = mqtt_server(mgr, log)
    s = connect(port)
    try:
        s.sendall(CONNECT_PKT)
        poll_until(mgr, lambda: log.cmds(next((c for c, e, _ in log.events if e == MG_EV_MQTT_CMD), None)),
                   what="CONNECT")
        conn = [c for c, e, _ in log.events if e == MG_EV_MQTT_CMD][0]
        pid = conn.mqtt_pub("x/y", b"fwd", qos=1, retain=True)
        assert conn.mqtt_pub("x/y", b"", qos=0) == 0
        nxt = conn.mqtt_pub("z", "é", qos=2)
        assert nxt == (pid % 65535) + 1
        expected = (b"\x33\x0a\x00\x03x/y" + pid.to_bytes(2, "big") + b"fwd" + b"\x30\x05\x00\x03x/y" +
                    b"\x34\x07\x00\x01z" + nxt.to_bytes(2, "big") + "é".encode())
        assert conn.send_data() == expected
        poll_until(mgr, lambda: conn.send_len == 0, what="flush")
        assert read_polling(mgr, s, len(expected)) == expected
        s.sendall(b"\x40\x02" + pid.to_bytes(2, "big"))
        poll_until(mgr, lambda: log.cmds(conn, PUBACK), what="PUBACK")
        assert log.cmds(conn, PUBACK)[0]["id"] == pid
    finally:
        s.close()


MALFORMED = [
    ("length over 4 bytes", bytes.fromhex("30ffffffff01")),
    ("short CONNACK", bytes.fromhex("200100")),
    ("QoS 1 publish without id", bytes.fromhex("3203000174")),
    ("topic past the end", bytes.fromhex("3003000561")),
    ("PUBLISH with QoS 3", bytes.fromhex("3606000174000178")),
    ("good then bad", CONNECT_PKT + bytes.fromhex("4001ff")),
]


@pytest.mark.parametrize("name,data", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_packet_closes(make_manager, name, data):
    mgr = make_manager()
    log = MqttLog()
    lst, port = mqtt_server(mgr, log)
    s = connect(port)
    try:
        s.sendall(data)
        s.settimeout(WAIT)
        poll_until(mgr, lambda: any(e == MG_EV_CLOSE and c is not lst for c, e, _ in log.events),
                   what="server-side close")
        assert not [e for _, e, _ in log.events if e == MG_EV_ERROR]
        s.settimeout(WAIT)
        assert s.recv(16) == b""  # the peer sees the close
    finally:
        s.close()
    # The manager is still fine.
    s2 = connect(port)
    s2.sendall(CONNECT_PKT)
    poll_until(mgr, lambda: len([d for _, e, d in log.events if e == MG_EV_MQTT_CMD and d["cmd"] == 1])
               >= (2 if data.startswith(CONNECT_PKT) else 1), what="next client works")
    s2.close()


def test_oversize_packet_error(make_manager):
    mgr = make_manager(max_message_size=1000)
    log = MqttLog()
    lst, port = mqtt_server(mgr, log)
    s = connect(port)
    try:
        s.sendall(b"\x30\xd0\x0f\x00\x01t")  # announces a 2000-byte packet
        poll_until(mgr, lambda: any(e == MG_EV_CLOSE and c is not lst for c, e, _ in log.events), what="close")
        assert [d for _, e, d in log.events if e == MG_EV_ERROR] == ["MG_MAX_RECV_SIZE"]
    finally:
        s.close()


def test_packet_over_max_recv_size_is_fine(make_manager):
    mgr = make_manager(max_recv_size=4096)
    log = MqttLog()
    lst, port = mqtt_server(mgr, log)
    payload = bytes(range(256)) * 400
    body = b"\x00\x03big" + payload
    n, enc = len(body), bytearray()
    while True:
        d, n = n & 0x7F, n >> 7
        enc.append(d | (0x80 if n else 0))
        if not n:
            break
    s = connect(port)
    try:
        s.sendall(b"\x30" + bytes(enc) + body)
        poll_until(mgr, lambda: log.msgs(next((c for c, e, _ in log.events if e == MG_EV_MQTT_MSG), None)),
                   what="big message")
        m = [d for _, e, d in log.events if e == MG_EV_MQTT_MSG][0]
        assert m["topic"] == "big" and m["data"] == payload
        assert not [e for _, e, _ in log.events if e == MG_EV_ERROR]
    finally:
        s.close()


# --------------------------------------------------------------------------
# Argument rules
# --------------------------------------------------------------------------


def test_argument_errors(make_manager):
    mgr = make_manager()
    lst = mgr.listen("tcp://127.0.0.1:0")
    with pytest.raises(OverflowError):
        lst.mqtt_pub("t", b"x", qos=256)
    with pytest.raises(OverflowError):
        lst.mqtt_pub("t", b"x", qos=-1)
    with pytest.raises(OverflowError):
        lst.mqtt_sub("t", qos=1 << 70)
    with pytest.raises(TypeError):
        lst.mqtt_pub(b"t", b"x")
    with pytest.raises(TypeError):
        lst.mqtt_pub("t", None)
    with pytest.raises(TypeError):
        lst.mqtt_sub(None)
    with pytest.raises(TypeError):
        lst.mqtt_unsub(b"t")
    with pytest.raises(TypeError):
        lst.mqtt_pub("t", b"x", qos="1")
    with pytest.raises(ValueError, match="QoS must be 0, 1 or 2"):
        lst.mqtt_pub("t", b"x", qos=4)
    with pytest.raises(TypeError):
        mgr.mqtt_connect(b"mqtt://127.0.0.1:1")
    with pytest.raises(TypeError):
        mgr.mqtt_listen(b"mqtt://127.0.0.1:0")
    with pytest.raises(AttributeError):
        mgr.mqtt_connect("mqtt://127.0.0.1:1", client_id=b"x")
    with pytest.raises(AttributeError):
        mgr.mqtt_connect("mqtt://127.0.0.1:1", username=b"x")
    with pytest.raises(RuntimeError, match="Failed to listen for MQTT on 'mqtt://1.2.3.4.5:0'"):
        mgr.mqtt_listen("mqtt://1.2.3.4.5:0")
    with pytest.raises(RuntimeError, match="Failed to connect to MQTT broker ''"):
        mgr.mqtt_connect("")
    # Closed wrapper: validation first, then RuntimeError.
    lst.close()
    with pytest.raises(TypeError):
        lst.mqtt_pub(b"t", b"x")
    with pytest.raises(OverflowError):
        lst.mqtt_pub("t", b"x", qos=300)
    for call in (lambda: lst.mqtt_pub("t", b"x"), lambda: lst.mqtt_sub("t"), lambda: lst.mqtt_unsub("t"),
                 lst.mqtt_ping, lst.mqtt_pong, lst.mqtt_disconnect):
        with pytest.raises(RuntimeError, match="Connection has been closed"):
            call()
    mgr.close()
    with pytest.raises(RuntimeError, match="Manager has been freed"):
        mgr.mqtt_connect("mqtt://127.0.0.1:1")
    with pytest.raises(RuntimeError, match="Manager has been freed"):
        mgr.mqtt_listen("mqtt://127.0.0.1:0")


def test_empty_message_and_handler_routing(make_manager):
    default = MqttLog()
    mgr = make_manager(default)
    own = MqttLog()
    c = mgr.mqtt_connect(f"mqtt://127.0.0.1:{free_port()}", own)
    # MG_EV_OPEN fired inside the call went to handler=, not the default.
    assert own.seq(c)[:1] == [MG_EV_OPEN] and not default.events
    poll_until(mgr, lambda: own.closed(c), what="refused connect closes")
    m = MqttMessage()
    assert (m.topic, m.data, m.text, m.id, m.cmd, m.qos, m.ack, m.properties()) == ("", b"", "", 0, 0, 0, 0, [])
