"""examples/mqtt_broker.py against paho-mqtt clients (a real third-party
MQTT implementation): wildcards, QoS 1 delivery, retained messages,
unsubscribe, and a clean exit on Ctrl+C."""

import os
import queue
import signal
import subprocess
import sys
import threading
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
    """A paho client whose callbacks feed queues the test waits on."""

    def __init__(self, port, name):
        try:
            self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv311)
        except AttributeError:  # paho-mqtt 1.x
            self.c = mqtt.Client(client_id=name, protocol=mqtt.MQTTv311)
        self.msgs = queue.Queue()
        self.acks = queue.Queue()
        self.connected = threading.Event()
        self.c.on_connect = lambda *a: self.connected.set()
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
