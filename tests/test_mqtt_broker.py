"""examples/mqtt_broker.py against paho-mqtt, mosquitto's clients
(mosquitto_pub, mosquitto_sub) and raw sockets: wildcards, QoS 1/2
delivery, retained messages, unsubscribe, CONNECT validation, keep-alive,
wills, persistent sessions with offline queueing and redelivery,
`$`-topics, and a clean exit on Ctrl+C."""

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

mqtt = pytest.importorskip("paho.mqtt.client")

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "mqtt_broker.py"
WAIT = 10.0


@pytest.fixture
def broker():
    """The example broker on a free port; yields the port, then stops it
    with SIGINT and checks that it exits cleanly."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, str(EXAMPLE), "--host", "127.0.0.1", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=str(Path(__file__).resolve().parent),
                            # a child of a non-interactive shell may inherit SIGINT ignored
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = proc.stdout.readline()
        assert "listening on mqtt://127.0.0.1:" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
        yield int(line.rsplit(":", 1)[1])
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                pytest.fail("broker did not stop on SIGINT")
        err = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err


class Client:
    """A paho client whose callbacks feed queues the test waits on;
    session_present is the flag of the last CONNACK."""

    def __init__(self, port, name, clean_session=True):
        try:
            self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv311,
                                 clean_session=clean_session)
        except AttributeError:  # paho-mqtt 1.x
            self.c = mqtt.Client(client_id=name, protocol=mqtt.MQTTv311, clean_session=clean_session)
        self.msgs = queue.Queue()
        self.acks = queue.Queue()
        self.connected = threading.Event()
        self.session_present = None

        def on_connect(client, userdata, flags, *rest):
            present = getattr(flags, "session_present", None)
            self.session_present = bool(flags["session present"] if present is None else present)
            self.connected.set()

        self.c.on_connect = on_connect
        self.c.on_message = lambda client, userdata, msg: self.msgs.put(
            (msg.topic, msg.payload, msg.qos, bool(msg.retain)))
        self.c.on_subscribe = lambda client, userdata, mid, *rest: self.acks.put(("sub", mid, rest))
        self.c.on_unsubscribe = lambda client, userdata, mid, *rest: self.acks.put(("unsub", mid))
        self.c.on_publish = lambda client, userdata, mid, *rest: self.acks.put(("pub", mid))
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        assert self.connected.wait(WAIT), f"{name}: no CONNACK"

    def ack(self, kind):
        while True:
            got = self.acks.get(timeout=WAIT)
            if got[0] == kind:
                return got

    def subscribe(self, flt, qos):
        self.c.subscribe(flt, qos)
        return self.ack("sub")

    def publish(self, topic, payload, qos=0, retain=False):
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(WAIT)
        assert info.is_published()

    def next(self):
        return self.msgs.get(timeout=WAIT)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def test_wildcards_qos1_and_unsubscribe(broker):
    a = Client(broker, "sub-a")
    b = Client(broker, "sub-b")
    pub = Client(broker, "pub")
    try:
        a.subscribe("sensors/+/temp", 1)
        b.subscribe("sensors/#", 0)
        b.subscribe("control/#", 1)

        pub.publish("sensors/kitchen/temp", b"21.5", qos=1)  # PUBACK from the engine
        pub.publish("sensors/kitchen/humidity", b"40", qos=0)
        pub.publish("sensors/hall/temp", b"\x00\xffbin", qos=1)

        assert a.next() == ("sensors/kitchen/temp", b"21.5", 1, False)  # QoS 1 delivered as QoS 1
        assert a.next() == ("sensors/hall/temp", b"\x00\xffbin", 1, False)
        got_b = [b.next() for _ in range(3)]
        assert got_b == [("sensors/kitchen/temp", b"21.5", 0, False),
                         ("sensors/kitchen/humidity", b"40", 0, False),
                         ("sensors/hall/temp", b"\x00\xffbin", 0, False)]

        b.c.unsubscribe("sensors/#")
        b.ack("unsub")
        pub.publish("sensors/kitchen/temp", b"22", qos=1)
        pub.publish("control/stop", b"now", qos=1)
        # In-order delivery: the control message arrives, the unsubscribed
        # sensors message never came before it.
        assert b.next() == ("control/stop", b"now", 1, False)
        assert a.next() == ("sensors/kitchen/temp", b"22", 1, False)
        assert b.msgs.empty() and a.msgs.empty()
    finally:
        for c in (a, b, pub):
            c.close()


def test_retained_and_qos2(broker):
    pub = Client(broker, "pub")
    try:
        pub.publish("status/door", b"open", qos=1, retain=True)
        pub.publish("status/window", b"closed", qos=0, retain=True)
        late = Client(broker, "late")
        try:
            late.subscribe("status/+", 2)
            got = sorted([late.next(), late.next()])
            assert got == [("status/door", b"open", 1, True), ("status/window", b"closed", 0, True)]
            # A live message on an established subscription: retain flag 0;
            # QoS 2 both ways (PUBREC/PUBREL/PUBCOMP by the engine).
            pub.publish("status/door", b"shut", qos=2, retain=True)
            assert late.next() == ("status/door", b"shut", 2, False)
        finally:
            late.close()
        # Clearing a retained message with an empty payload.
        pub.publish("status/window", b"", qos=1, retain=True)
        again = Client(broker, "again")
        try:
            again.subscribe("status/#", 1)
            assert again.next() == ("status/door", b"shut", 1, True)
            pub.publish("status/end", b"x", qos=1)
            assert again.next() == ("status/end", b"x", 1, False)
        finally:
            again.close()
    finally:
        pub.close()


def test_ping_and_raw_disconnect(broker):
    import socket

    s = socket.create_connection(("127.0.0.1", broker), timeout=WAIT)
    try:
        s.sendall(bytes.fromhex("100d00044d5154540402003c000161"))
        assert s.recv(4) == b"\x20\x02\x00\x00"
        s.sendall(b"\xc0\x00")
        assert s.recv(2) == b"\xd0\x00"
        s.sendall(b"\xe0\x00")
        assert s.recv(1) == b""  # the broker drains and closes
    finally:
        s.close()


# --------------------------------------------------------------------------
# Raw-socket clients: exact bytes for what paho and mosquitto never send
# --------------------------------------------------------------------------


def mqtt_string(b):
    if isinstance(b, str):
        b = b.encode()
    return len(b).to_bytes(2, "big") + b


def packet(first_byte, body):
    n, enc = len(body), bytearray()
    while True:
        d, n = n & 0x7F, n >> 7
        enc.append(d | (0x80 if n else 0))
        if not n:
            return bytes([first_byte]) + bytes(enc) + body


def connect_packet(client_id="raw", clean=True, keepalive=60, will=None, username=None, password=None,
                   name="MQTT", level=4, extra_flags=0):
    """A CONNECT; will is (topic, message, qos, retain)."""
    flags = (0x02 if clean else 0) | extra_flags
    payload = mqtt_string(client_id)
    if will:
        topic, message, qos, retain = will
        flags |= 0x04 | qos << 3 | (0x20 if retain else 0)
        payload += mqtt_string(topic) + mqtt_string(message)
    if username is not None:
        flags |= 0x80
        payload += mqtt_string(username)
    if password is not None:
        flags |= 0x40
        payload += mqtt_string(password)
    return packet(0x10, mqtt_string(name) + bytes([level, flags]) + keepalive.to_bytes(2, "big") + payload)


def subscribe_packet(pid, *filters):
    return packet(0x82, pid.to_bytes(2, "big") + b"".join(mqtt_string(f) + bytes([q]) for f, q in filters))


def ack_packet(cmd, pid):
    return bytes([cmd << 4 | (2 if cmd == 6 else 0), 2]) + pid.to_bytes(2, "big")


CONNACK_OK = b"\x20\x02\x00\x00"
CONNACK_PRESENT = b"\x20\x02\x01\x00"
PINGREQ, PINGRESP = b"\xc0\x00", b"\xd0\x00"


class Raw:
    """A socket speaking MQTT byte by byte."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)

    def send(self, data):
        self.s.sendall(data)

    def exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            assert chunk, f"EOF after {buf!r}"
            buf += chunk
        return buf

    def packet(self):
        """The next packet: (first byte, body)."""
        first = self.exact(1)[0]
        n, shift = 0, 0
        while True:
            b = self.exact(1)[0]
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        return first, self.exact(n)

    def until_eof(self):
        """Everything the broker sends before it closes the connection."""
        buf = b""
        while True:
            chunk = self.s.recv(4096)
            if not chunk:
                return buf
            buf += chunk

    def close(self):
        self.s.close()


def publish_fields(first, body):
    """(topic, id, payload, qos, dup, retain) of a PUBLISH."""
    assert first >> 4 == 3, hex(first)
    qos = (first >> 1) & 3
    n = int.from_bytes(body[:2], "big")
    topic, rest = body[2:2 + n].decode(), body[2 + n:]
    pid = int.from_bytes(rest[:2], "big") if qos else 0
    return topic, pid, rest[2:] if qos else rest, qos, bool(first & 8), bool(first & 1)


# --------------------------------------------------------------------------
# CONNECT validation
# --------------------------------------------------------------------------

BAD_SESSIONS = [
    # name, bytes sent, everything the broker answers before closing
    ("protocol level 3", connect_packet(level=3), b"\x20\x02\x00\x01"),
    ("protocol level 5", connect_packet(level=5), b"\x20\x02\x00\x01"),
    ("MQTT 3.1 (MQIsdp)", connect_packet(name="MQIsdp", level=3), b"\x20\x02\x00\x01"),
    ("empty client id, clean session 0", connect_packet(client_id="", clean=False), b"\x20\x02\x00\x02"),
    ("unknown protocol name", connect_packet(name="MQTX"), b""),
    ("reserved flag set", connect_packet(extra_flags=0x01), b""),
    ("CONNECT header flags", b"\x12" + connect_packet()[1:], b""),
    ("password without username", connect_packet(password="pw"), b""),
    ("will QoS without will", connect_packet(extra_flags=0x08), b""),
    ("will retain without will", connect_packet(extra_flags=0x20), b""),
    ("will QoS 3", connect_packet(will=("w", "m", 3, False)), b""),
    ("wildcard will topic", connect_packet(will=("w/#", "m", 0, False)), b""),
    ("client id not UTF-8", connect_packet(client_id=b"\xff\xfe"), b""),
    ("truncated payload", packet(0x10, connect_packet()[2:-2]), b""),
    ("PINGREQ before CONNECT", PINGREQ, b""),
    ("PUBLISH before CONNECT", packet(0x30, mqtt_string("t") + b"x"), b""),
]

# Sent after an accepted CONNECT: the broker closes without answering.
BAD_AFTER_CONNECT = [
    ("second CONNECT", connect_packet()),
    ("wildcard PUBLISH topic", packet(0x30, mqtt_string("a/+") + b"x")),
    ("empty PUBLISH topic", packet(0x30, mqtt_string("") + b"x")),
    ("PUBLISH QoS 3", packet(0x36, mqtt_string("a") + b"\x00\x01x")),
    ("SUBSCRIBE flags 0", b"\x80" + subscribe_packet(1, ("a", 0))[1:]),
    ("SUBSCRIBE QoS 3", subscribe_packet(1, ("a", 3))),
    ("SUBSCRIBE without a filter", packet(0x82, b"\x00\x01")),
    ("CONNACK from a client", CONNACK_OK),
]


@pytest.mark.parametrize("name,sent,answer", BAD_SESSIONS, ids=[b[0] for b in BAD_SESSIONS])
def test_connect_validation_closes(broker, name, sent, answer):
    raw = Raw(broker)
    try:
        raw.send(sent)
        assert raw.until_eof() == answer
    finally:
        raw.close()
    assert_broker_works(broker)


@pytest.mark.parametrize("name,sent", BAD_AFTER_CONNECT, ids=[b[0] for b in BAD_AFTER_CONNECT])
def test_protocol_violation_closes(broker, name, sent):
    raw = Raw(broker)
    try:
        raw.send(connect_packet())
        assert raw.exact(4) == CONNACK_OK
        raw.send(sent)
        assert raw.until_eof() == b""
    finally:
        raw.close()
    assert_broker_works(broker)


def assert_broker_works(broker):
    ok = Raw(broker)
    try:
        ok.send(connect_packet(client_id="") + PINGREQ)
        assert ok.exact(6) == CONNACK_OK + PINGRESP  # empty id + clean session: accepted
    finally:
        ok.close()


def test_mqtt31_client_refused(broker):
    """mosquitto_pub speaking MQTT 3.1 gets return code 1 (unacceptable
    protocol version) and gives up."""
    res = subprocess.run(["mosquitto_pub", "-V", "mqttv31", "-h", "127.0.0.1", "-p", str(broker),
                          "-t", "t", "-m", "x"], capture_output=True, text=True, timeout=WAIT)
    assert res.returncode != 0
    assert "unacceptable protocol version" in (res.stdout + res.stderr).lower()


def test_invalid_filter_refused_in_suback(broker):
    raw = Raw(broker)
    try:
        raw.send(connect_packet() + subscribe_packet(7, ("a/#/b", 1), ("ok/+", 2), ("x+", 0)))
        assert raw.exact(4) == CONNACK_OK
        assert raw.packet() == (0x90, b"\x00\x07\x80\x02\x80")  # failure, QoS 2, failure
    finally:
        raw.close()


def test_takeover_closes_the_older_connection(broker):
    a, b = Raw(broker), Raw(broker)
    try:
        a.send(connect_packet(client_id="same"))
        assert a.exact(4) == CONNACK_OK
        b.send(connect_packet(client_id="same"))
        assert b.exact(4) == CONNACK_OK
        assert a.until_eof() == b""
        b.send(PINGREQ)
        assert b.exact(2) == PINGRESP
    finally:
        a.close()
        b.close()


# --------------------------------------------------------------------------
# Keep-alive and wills
# --------------------------------------------------------------------------


def test_silent_client_closed_and_its_will_published(broker):
    watcher = Client(broker, "watcher")
    raw = Raw(broker)
    try:
        watcher.subscribe("status/#", 1)
        raw.send(connect_packet(client_id="sleepy", keepalive=1, will=("status/sleepy", "offline", 1, False)))
        assert raw.exact(4) == CONNACK_OK
        # Nothing more is sent: after 1.5 x 1 s the broker closes the connection.
        assert raw.until_eof() == b""
        assert watcher.next() == ("status/sleepy", b"offline", 1, False)
    finally:
        raw.close()
        watcher.close()


def test_client_that_pings_stays(broker):
    raw = Raw(broker)
    try:
        raw.send(connect_packet(client_id="awake", keepalive=1))
        assert raw.exact(4) == CONNACK_OK
        # Three keep-alive periods, a PINGREQ every half period (pacing, not waiting).
        for _ in range(6):
            time.sleep(0.5)
            raw.send(PINGREQ)
            assert raw.exact(2) == PINGRESP
    finally:
        raw.close()


def mosquitto_client(*args):
    """A mosquitto_sub/mosquitto_pub process with -d (debug lines on stdout)."""
    if shutil.which(args[0]) is None:
        pytest.skip(f"{args[0]} is not installed (package mosquitto-clients)")
    # stdbuf: line-buffered output through the pipe, so each line is seen at once
    return subprocess.Popen(["stdbuf", "-oL", *args, "-d"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def wait_line(proc, text):
    """Read proc's output until a line contains text (the thread-free way
    needs a timeout: a watchdog kills the process after WAIT)."""
    timer = threading.Timer(WAIT, proc.kill)
    timer.start()
    try:
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if text in line:
                return line
        pytest.fail(f"no {text!r} in {seen}")
    finally:
        timer.cancel()


def test_will_of_killed_mosquitto_sub(broker):
    """mosquitto_sub with --will-topic is killed (no DISCONNECT): the
    broker publishes its will, retained, to a paho subscriber."""
    watcher = Client(broker, "watcher")
    proc = mosquitto_client("mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker), "-t", "ignored",
                            "--will-topic", "status/mosq", "--will-payload", "gone", "--will-qos", "2",
                            "--will-retain")
    try:
        watcher.subscribe("status/#", 2)
        wait_line(proc, "received SUBACK")
        proc.kill()
        proc.wait()
        assert watcher.next() == ("status/mosq", b"gone", 2, False)
        late = Client(broker, "late")
        try:
            late.subscribe("status/mosq", 1)
            assert late.next() == ("status/mosq", b"gone", 1, True)  # kept as retained
        finally:
            late.close()
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        watcher.close()


EXAMPLE_CLIENT = EXAMPLE.parent / "mqtt_client.py"


def test_will_of_killed_example_client(broker):
    """examples/mqtt_client.py with --will-topic, killed: its will reaches
    a paho subscriber through the example broker."""
    watcher = Client(broker, "watcher")
    proc = subprocess.Popen([sys.executable, str(EXAMPLE_CLIENT), "--url", f"mqtt://127.0.0.1:{broker}",
                             "--topic", "ignored", "--will-topic", "status/example", "--will-message", "bye"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        watcher.subscribe("status/#", 1)
        assert proc.stdout.readline().startswith("connected to")
        assert proc.stdout.readline() == "subscribed to ignored\n"
        proc.kill()
        proc.wait()
        assert watcher.next() == ("status/example", b"bye", 0, False)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        watcher.close()


def test_example_client_rejects_wildcard_will(broker):
    res = subprocess.run([sys.executable, str(EXAMPLE_CLIENT), "--url", f"mqtt://127.0.0.1:{broker}",
                          "--will-topic", "status/#"], capture_output=True, text=True, timeout=WAIT)
    assert res.returncode == 2
    assert "error: MQTT will topic \"status/#\" contains a wildcard" in res.stderr
    assert "Traceback" not in res.stderr


def test_no_will_after_disconnect(broker):
    """mosquitto_pub with a will publishes and disconnects cleanly: the
    message arrives, the will does not."""
    watcher = Client(broker, "watcher")
    try:
        watcher.subscribe("news/#", 1)
        res = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker), "-q", "1", "-t", "news/a",
                              "-m", "hello", "--will-topic", "news/will", "--will-payload", "lost"],
                             capture_output=True, text=True, timeout=WAIT)
        assert res.returncode == 0, res.stderr
        assert watcher.next() == ("news/a", b"hello", 1, False)
        watcher.publish("news/marker", b"m", qos=1)
        assert watcher.next() == ("news/marker", b"m", 1, False)  # no will came before it
    finally:
        watcher.close()


# --------------------------------------------------------------------------
# Persistent sessions
# --------------------------------------------------------------------------


def test_persistent_session_with_paho(broker):
    keeper = Client(broker, "keeper", clean_session=False)
    assert keeper.session_present is False
    keeper.subscribe("jobs/#", 2)
    keeper.close()  # DISCONNECT: the session stays
    pub = Client(broker, "pub")
    try:
        pub.publish("jobs/1", b"one", qos=1)
        pub.publish("jobs/2", b"two", qos=2)
        pub.publish("jobs/3", b"three", qos=0)  # QoS 0 is not kept for an offline client
        keeper = Client(broker, "keeper", clean_session=False)
        try:
            assert keeper.session_present is True
            assert keeper.next() == ("jobs/1", b"one", 1, False)
            assert keeper.next() == ("jobs/2", b"two", 2, False)
            pub.publish("jobs/4", b"four", qos=1)  # the subscription is still there
            assert keeper.next() == ("jobs/4", b"four", 1, False)
        finally:
            keeper.close()
        # Clean session 1 discards the session and its subscription.
        fresh = Client(broker, "keeper", clean_session=True)
        try:
            assert fresh.session_present is False
            fresh.subscribe("marker", 1)
            pub.publish("jobs/5", b"five", qos=1)
            pub.publish("marker", b"m", qos=1)
            assert fresh.next() == ("marker", b"m", 1, False)
        finally:
            fresh.close()
    finally:
        pub.close()


def test_persistent_session_with_mosquitto_clients(broker):
    base = ["-h", "127.0.0.1", "-p", str(broker)]
    if shutil.which("mosquitto_sub") is None:
        pytest.skip("mosquitto_sub is not installed (package mosquitto-clients)")

    def run(*args):
        res = subprocess.run(list(args), capture_output=True, text=True, timeout=WAIT)
        assert res.returncode == 0, res.stderr
        return res.stdout

    # Subscribe with a persistent session, then exit (-E).
    run("mosquitto_sub", *base, "-c", "-i", "mosq-keeper", "-q", "2", "-t", "queue/#", "-E")
    run("mosquitto_pub", *base, "-q", "1", "-t", "queue/a", "-m", "first")
    run("mosquitto_pub", *base, "-q", "2", "-t", "queue/b", "-m", "second")
    out = run("mosquitto_sub", *base, "-c", "-i", "mosq-keeper", "-q", "2", "-t", "queue/#", "-C", "2", "-v")
    assert out.splitlines() == ["queue/a first", "queue/b second"]


def test_inflight_redelivered_on_reconnect(broker):
    """A client that drops before acknowledging: on reconnect the QoS 1
    PUBLISH comes again with DUP and its packet id, the half-done QoS 2
    flow continues with PUBREL."""
    a = Raw(broker)
    try:
        a.send(connect_packet(client_id="raw-keeper", clean=False) + subscribe_packet(1, ("inbox/#", 2)))
        assert a.exact(4) == CONNACK_OK
        assert a.packet() == (0x90, b"\x00\x01\x02")
        pub = Client(broker, "pub")
        try:
            pub.publish("inbox/q1", b"one", qos=1)
            pub.publish("inbox/q2", b"two", qos=2)
        finally:
            pub.close()
        t1, id1, p1, q1, dup1, _ = publish_fields(*a.packet())
        t2, id2, p2, q2, dup2, _ = publish_fields(*a.packet())
        assert (t1, p1, q1, dup1, t2, p2, q2, dup2) == ("inbox/q1", b"one", 1, False, "inbox/q2", b"two", 2, False)
        a.send(ack_packet(5, id2))  # PUBREC for the QoS 2 message, no PUBACK for QoS 1
        assert a.packet() == (0x62, id2.to_bytes(2, "big"))  # PUBREL
    finally:
        a.close()  # dropped without DISCONNECT
    b = Raw(broker)
    try:
        b.send(connect_packet(client_id="raw-keeper", clean=False))
        assert b.exact(4) == CONNACK_PRESENT
        assert publish_fields(*b.packet()) == ("inbox/q1", id1, b"one", 1, True, False)  # DUP set
        assert b.packet() == (0x62, id2.to_bytes(2, "big"))  # PUBREL again
        b.send(ack_packet(4, id1) + ack_packet(7, id2) + b"\xe0\x00")  # PUBACK, PUBCOMP, DISCONNECT
        assert b.until_eof() == b""
    finally:
        b.close()
    c = Raw(broker)
    try:
        c.send(connect_packet(client_id="raw-keeper", clean=False) + PINGREQ)
        assert c.exact(6) == CONNACK_PRESENT + PINGRESP  # nothing left to redeliver
    finally:
        c.close()


def test_qos2_resent_by_publisher_delivered_once(broker):
    watcher = Client(broker, "watcher")
    raw = Raw(broker)
    try:
        watcher.subscribe("once/#", 2)
        raw.send(connect_packet(client_id="resender", clean=False))
        assert raw.exact(4) == CONNACK_OK
        pub = packet(0x34, mqtt_string("once/x") + b"\x00\x09" + b"payload")
        raw.send(pub)
        assert raw.packet() == (0x50, b"\x00\x09")  # PUBREC
        raw.send(b"\x3c" + pub[1:])  # the same PUBLISH again, DUP set
        assert raw.packet() == (0x50, b"\x00\x09")
        raw.send(ack_packet(6, 9))  # PUBREL
        assert raw.packet() == (0x70, b"\x00\x09")  # PUBCOMP
        raw.send(packet(0x34, mqtt_string("once/end") + b"\x00\x0ae"))
        assert raw.packet() == (0x50, b"\x00\x0a")
        raw.send(ack_packet(6, 10))
        assert raw.packet() == (0x70, b"\x00\x0a")
        # QoS 2 flows reach the subscriber in order: a duplicate would come before once/end.
        assert watcher.next() == ("once/x", b"payload", 2, False)
        assert watcher.next() == ("once/end", b"e", 2, False)
    finally:
        raw.close()
        watcher.close()


# --------------------------------------------------------------------------
# $-topics
# --------------------------------------------------------------------------


def test_dollar_topics_not_matched_by_first_level_wildcards(broker):
    every, plus, sys_ = Client(broker, "every"), Client(broker, "plus"), Client(broker, "sys")
    try:
        every.subscribe("#", 1)
        plus.subscribe("+/uptime", 1)
        sys_.subscribe("$SYS/#", 1)
        every.publish("$SYS/uptime", b"42", qos=1)
        every.publish("box/uptime", b"7", qos=1)
        assert sys_.next() == ("$SYS/uptime", b"42", 1, False)
        assert every.next() == ("box/uptime", b"7", 1, False)  # not $SYS/uptime
        assert plus.next() == ("box/uptime", b"7", 1, False)
        assert every.msgs.empty() and plus.msgs.empty() and sys_.msgs.empty()
    finally:
        for c in (every, plus, sys_):
            c.close()
