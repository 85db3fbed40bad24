"""A small MQTT 3.1.1 broker built on Manager.mqtt_listen().

The MQTT engine parses packets and handles the QoS acknowledgements, but it
is not a broker (API.md 9.3): this program answers CONNECT, SUBSCRIBE,
UNSUBSCRIBE and PINGREQ itself, routes PUBLISH to the matching subscribers
(topic filters with `+` and `#`), keeps retained messages, and delivers
QoS 1 and 2 with the engine's acknowledgement flows. Sessions are not
persistent and unacknowledged messages are not retransmitted.

The raw packet of each MG_EV_MQTT_CMD / MG_EV_MQTT_MSG is still at the front
of the receive buffer while the event is delivered, so conn.recv_data() is
how the broker reads what MqttMessage does not expose (topic filters of
SUBSCRIBE, the retain flag of PUBLISH).

    python examples/mqtt_broker.py --host 127.0.0.1 --port 1883

Ctrl+C (or SIGTERM) stops it.
"""

import argparse
import signal

from pymongoose import MG_EV_CLOSE, MG_EV_MQTT_CMD, MG_EV_MQTT_MSG, Manager

CONNECT, PUBLISH, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT = 1, 3, 8, 10, 12, 14


def packet_body(raw):
    """The variable header and payload of the packet at the front of raw."""
    n, shift, i = 0, 0, 1
    while True:
        b = raw[i]
        n |= (b & 0x7F) << shift
        shift += 7
        i += 1
        if not b & 0x80:
            return raw[i:i + n]


def read_string(body, pos):
    n = int.from_bytes(body[pos:pos + 2], "big")
    return body[pos + 2:pos + 2 + n].decode("utf-8", "replace"), pos + 2 + n


def topic_matches(flt, topic):
    """MQTT topic filter matching: `+` is one level, `#` the rest."""
    if topic.startswith("$") and flt[:1] in ("+", "#"):
        return False
    f, t = flt.split("/"), topic.split("/")
    for i, level in enumerate(f):
        if level == "#":
            return True
        if i >= len(t) or (level != "+" and level != t[i]):
            return False
    return len(f) == len(t)


class Broker:
    def __init__(self):
        self.subs = {}      # Connection -> {topic filter: granted QoS}
        self.retained = {}  # topic -> (payload, QoS)

    def handler(self, conn, ev, data):
        if ev == MG_EV_MQTT_CMD:
            if data.cmd == CONNECT:
                conn.send(b"\x20\x02\x00\x00")  # CONNACK: accepted, no session
                self.subs[conn] = {}
            elif data.cmd == SUBSCRIBE:
                self.subscribe(conn, data.id, packet_body(conn.recv_data()))
            elif data.cmd == UNSUBSCRIBE:
                self.unsubscribe(conn, data.id, packet_body(conn.recv_data()))
            elif data.cmd == PINGREQ:
                conn.mqtt_pong()
            elif data.cmd == DISCONNECT:
                self.subs.pop(conn, None)
                conn.drain()
        elif ev == MG_EV_MQTT_MSG:
            retain = bool(conn.recv_data(1)[0] & 1)
            self.publish(data.topic, data.data, data.qos, retain)
        elif ev == MG_EV_CLOSE:
            self.subs.pop(conn, None)

    def subscribe(self, conn, pid, body):
        pos, granted, new = 2, [], []
        while pos < len(body):
            flt, pos = read_string(body, pos)
            qos = min(body[pos] & 3, 2)
            pos += 1
            self.subs.setdefault(conn, {})[flt] = qos
            granted.append(qos)
            new.append((flt, qos))
        conn.send(bytes([0x90, 2 + len(granted)]) + pid.to_bytes(2, "big") + bytes(granted))
        for flt, qos in new:
            for topic, (payload, rq) in self.retained.items():
                if topic_matches(flt, topic):
                    conn.mqtt_pub(topic, payload, min(qos, rq), retain=True)

    def unsubscribe(self, conn, pid, body):
        pos = 2
        while pos < len(body):
            flt, pos = read_string(body, pos)
            self.subs.get(conn, {}).pop(flt, None)
        conn.send(b"\xb0\x02" + pid.to_bytes(2, "big"))

    def publish(self, topic, payload, qos, retain):
        if retain:
            if payload:
                self.retained[topic] = (payload, qos)
            else:
                self.retained.pop(topic, None)
        for sub, filters in list(self.subs.items()):
            best = max((q for f, q in filters.items() if topic_matches(f, topic)), default=None)
            if best is not None:
                sub.mqtt_pub(topic, payload, min(qos, best))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883, help="0 picks a free port")
    args = parser.parse_args()
    broker = Broker()
    manager = Manager()
    listener = manager.mqtt_listen(f"mqtt://{args.host}:{args.port}", broker.handler)
    print(f"MQTT broker listening on mqtt://{args.host}:{listener.local_addr[1]}", flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    try:
        while not stop:
            manager.poll(200)
    except KeyboardInterrupt:
        pass
    finally:
        manager.close()


if __name__ == "__main__":
    main()
