"""An MQTT 3.1.1 broker built on Manager.mqtt_listen().

The MQTT engine parses packets and answers the QoS acknowledgement flows
(PUBACK, PUBREC, PUBREL, PUBCOMP), but it is not a broker: this program does
the rest, following MQTT 3.1.1:

* CONNECT validation (section 3.1): protocol "MQTT" level 4 (another level
  gets CONNACK return code 1), reserved flag 0, consistent will and password
  flags, an empty client id only with clean session (else return code 2);
  any packet before CONNECT, or a second CONNECT, closes the connection;
* keep-alive: a client silent for 1.5 x its keep-alive is disconnected;
* wills: published when a client's connection ends without DISCONNECT;
* sessions: with clean session 0 the subscriptions and the QoS 1/2 messages
  that arrive while the client is offline are kept, CONNACK says "session
  present", and messages not acknowledged before a drop are sent again
  (PUBLISH with DUP, or PUBREL) on reconnect;
* routing with `+` and `#` filters (topics starting with `$`, like
  `$SYS/...`, are not matched by a first-level wildcard) and retained
  messages.

There is no authentication and nothing is stored on disk.

The raw packet of each MG_EV_MQTT_CMD / MG_EV_MQTT_MSG is still at the front
of the receive buffer while the event is delivered, so conn.recv_data() is
how the broker reads what MqttMessage does not expose (CONNECT fields, topic
filters of SUBSCRIBE, the retain and DUP flags of PUBLISH).

    python examples/mqtt_broker.py --host 127.0.0.1 --port 1883 [-v]

Ctrl+C (or SIGTERM) stops it.
"""

import argparse
import collections
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, Optional

from pymongoose import MG_EV_ACCEPT, MG_EV_CLOSE, MG_EV_MQTT_CMD, MG_EV_MQTT_MSG, Manager

(CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK,
 PINGREQ, PINGRESP, DISCONNECT) = range(1, 15)

# CONNACK return codes (section 3.2.2.3).
ACCEPTED, BAD_PROTOCOL_LEVEL, BAD_CLIENT_ID = 0, 1, 2

CONNECT_TIMEOUT = 10.0  # seconds a new connection has to send CONNECT
MAX_QUEUED = 1000       # messages kept per offline session (the oldest go first)


class ProtocolError(Exception):
    """The client broke MQTT 3.1.1: the connection is closed without an answer."""


class Refused(Exception):
    """A CONNECT answered with a non-zero CONNACK return code, then a close."""

    def __init__(self, code: int):
        super().__init__(f"CONNACK return code {code}")
        self.code = code


# ---------------------------------------------------------------------------
# Packets
# ---------------------------------------------------------------------------


def packet_body(raw: bytes) -> bytes:
    """The variable header and payload of the packet at the front of raw."""
    n, shift, i = 0, 0, 1
    while True:
        b = raw[i]
        n |= (b & 0x7F) << shift
        shift += 7
        i += 1
        if not b & 0x80:
            return raw[i:i + n]


def encode_length(n: int) -> bytes:
    """An MQTT remaining length (a variable-length integer)."""
    out = bytearray()
    while True:
        digit, n = n & 0x7F, n >> 7
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish_packet(topic: str, payload: bytes, qos: int, pid: int, dup: bool) -> bytes:
    """A PUBLISH with a chosen packet id, for redelivery (mqtt_pub picks a new one)."""
    t = topic.encode()
    body = len(t).to_bytes(2, "big") + t + pid.to_bytes(2, "big") + payload
    return bytes([PUBLISH << 4 | (8 if dup else 0) | qos << 1]) + encode_length(len(body)) + body


class Reader:
    """Reads the fields of a packet body; a field past the end is a protocol error."""

    def __init__(self, body: bytes):
        self.body, self.pos = body, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.body):
            raise ProtocolError("packet shorter than its fields")
        chunk = self.body[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def binary(self) -> bytes:
        return self.take(self.u16())

    def string(self) -> str:
        """A UTF-8 string (section 1.5.3: well-formed, no U+0000)."""
        raw = self.binary()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("string is not valid UTF-8") from None
        if "\0" in text:
            raise ProtocolError("string contains U+0000")
        return text

    def at_end(self) -> bool:
        return self.pos == len(self.body)


def topic_matches(flt: str, topic: str) -> bool:
    """MQTT topic filter matching: `+` is one level, `#` the rest; a
    wildcard at the first level does not match a `$` topic (section 4.7.2)."""
    if topic.startswith("$") and flt[:1] in ("+", "#"):
        return False
    f, t = flt.split("/"), topic.split("/")
    for i, level in enumerate(f):
        if level == "#":
            return True
        if i >= len(t) or (level != "+" and level != t[i]):
            return False
    return len(f) == len(t)


def valid_filter(flt: str) -> bool:
    """Section 4.7.1: `#` only as the whole last level, `+` only as a whole level."""
    levels = flt.split("/")
    return bool(flt) and all(
        ("#" not in lv or (lv == "#" and i == len(levels) - 1)) and ("+" not in lv or lv == "+")
        for i, lv in enumerate(levels))


def valid_topic(topic: str) -> bool:
    return bool(topic) and "+" not in topic and "#" not in topic


@dataclass
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool = False


@dataclass
class ConnectRequest:
    """The fields of a CONNECT packet (section 3.1)."""
    client_id: str
    clean_session: bool
    keepalive: int
    will: Optional[Message]
    username: Optional[str]
    password: Optional[bytes]

    @classmethod
    def parse(cls, flags: int, body: bytes) -> "ConnectRequest":
        if flags != 0:
            raise ProtocolError("CONNECT fixed header flags are not 0")
        r = Reader(body)
        name, level = r.string(), r.u8()
        if name not in ("MQTT", "MQIsdp"):  # MQIsdp: MQTT 3.1, refused below
            raise ProtocolError(f"unknown protocol name {name!r}")
        if level != 4 or name != "MQTT":
            raise Refused(BAD_PROTOCOL_LEVEL)
        cf, keepalive = r.u8(), r.u16()
        has_will, will_qos, will_retain = bool(cf & 0x04), (cf >> 3) & 3, bool(cf & 0x20)
        has_user, has_password = bool(cf & 0x80), bool(cf & 0x40)
        if cf & 0x01:
            raise ProtocolError("reserved CONNECT flag is set")
        if not has_will and (will_qos or will_retain):
            raise ProtocolError("will QoS or retain without a will")
        if will_qos == 3:
            raise ProtocolError("will QoS 3")
        if has_password and not has_user:
            raise ProtocolError("password without a username")
        client_id = r.string()
        will = None
        if has_will:
            topic, payload = r.string(), r.binary()
            if not valid_topic(topic):
                raise ProtocolError(f"invalid will topic {topic!r}")
            will = Message(topic, payload, will_qos, will_retain)
        username = r.string() if has_user else None
        password = r.binary() if has_password else None
        if not r.at_end():
            raise ProtocolError("bytes after the CONNECT payload")
        if not client_id and not cf & 0x02:
            raise Refused(BAD_CLIENT_ID)  # section 3.1.3.1: a session needs an id
        return cls(client_id, bool(cf & 0x02), keepalive, will, username, password)


# ---------------------------------------------------------------------------
# Broker state
# ---------------------------------------------------------------------------


@dataclass
class Session:
    """What the broker keeps for a client id; outlives the connection when
    the client asked for clean session 0."""
    client_id: str
    clean: bool
    conn: object = None                    # the Connection while online
    subscriptions: Dict[str, int] = field(default_factory=dict)  # filter -> granted QoS
    # Sent to the client, not yet acknowledged: packet id -> (message, awaiting)
    # where awaiting is PUBACK/PUBREC (the PUBLISH may be resent) or PUBCOMP.
    inflight: Dict[int, tuple] = field(default_factory=dict)
    queued: collections.deque = field(default_factory=lambda: collections.deque(maxlen=MAX_QUEUED))
    qos2_received: set = field(default_factory=set)  # PUBREC sent, PUBREL not yet received

    def granted_qos(self, topic: str) -> Optional[int]:
        return max((q for f, q in self.subscriptions.items() if topic_matches(f, topic)), default=None)

    def deliver(self, msg: Message) -> None:
        """Send msg now, or keep it (QoS 1/2) until the client is back."""
        if self.conn is None or self.conn.is_closing:
            if msg.qos > 0:
                self.queued.append(msg)
            return
        # mqtt_pub's packet ids count per Manager (1-65535, then again from 1):
        # fine unless a message stays unacknowledged for 65535 others.
        pid = self.conn.mqtt_pub(msg.topic, msg.payload, msg.qos, retain=msg.retain)
        if msg.qos > 0:
            self.inflight[pid] = (msg, PUBACK if msg.qos == 1 else PUBREC)

    def resume(self) -> None:
        """On reconnect: what was in flight, with its original packet ids, then the queue."""
        for pid, (msg, awaiting) in self.inflight.items():
            if awaiting == PUBCOMP:
                self.conn.send(bytes([PUBREL << 4 | 2, 2]) + pid.to_bytes(2, "big"))
            else:
                self.conn.send(publish_packet(msg.topic, msg.payload, msg.qos, pid, dup=True))
        while self.queued:
            self.deliver(self.queued.popleft())

    def acknowledged(self, cmd: int, pid: int) -> None:
        """PUBACK / PUBREC / PUBCOMP from the client."""
        entry = self.inflight.get(pid)
        if entry is None:
            return
        if cmd == PUBREC:
            self.inflight[pid] = (entry[0], PUBCOMP)  # the engine has answered PUBREL
        else:
            del self.inflight[pid]


@dataclass
class Link:
    """One network connection; its session is set once CONNECT is accepted."""
    conn: object
    last_seen: float
    session: Optional[Session] = None
    keepalive: int = 0
    will: Optional[Message] = None
    closing: bool = False


class Broker:
    """Routes messages between the connections of one mqtt_listen() listener."""

    def __init__(self, manager: Manager, verbose: bool = False):
        self.manager = manager
        self.verbose = verbose
        self.links: Dict[object, Link] = {}
        self.sessions: Dict[str, Session] = {}
        self.retained: Dict[str, Message] = {}
        self.anonymous = 0
        self.stopping = False  # no wills while the manager closes every connection
        manager.timer_add(250, self.expire_idle, repeat=True)

    def log(self, text: str) -> None:
        if self.verbose:
            print(text, file=sys.stderr, flush=True)

    # -- events ------------------------------------------------------------

    def handler(self, conn, ev, data):
        if ev == MG_EV_ACCEPT:
            self.links[conn] = Link(conn, time.monotonic())
        elif ev == MG_EV_CLOSE:
            self.closed(conn)
        elif ev in (MG_EV_MQTT_MSG, MG_EV_MQTT_CMD):
            link = self.links.get(conn)
            if link is None or link.closing:
                return
            link.last_seen = time.monotonic()
            try:
                if ev == MG_EV_MQTT_MSG:
                    self.on_publish(link, data)
                else:
                    self.on_packet(link, data)
            except ProtocolError as e:
                self.drop(link, str(e))

    def on_packet(self, link: Link, msg) -> None:
        conn, cmd, raw = link.conn, msg.cmd, link.conn.recv_data()
        if cmd == CONNECT:
            self.on_connect(link, raw)
            return
        session = link.session
        if session is None:
            raise ProtocolError(f"packet type {cmd} before CONNECT")
        if cmd in (SUBSCRIBE, UNSUBSCRIBE, PUBREL) and raw[0] & 0x0F != 2:
            raise ProtocolError(f"packet type {cmd} with flags {raw[0] & 0x0F}")
        if cmd in (PUBACK, PUBREC, PUBCOMP):
            session.acknowledged(cmd, msg.id)
        elif cmd == PUBREL:
            session.qos2_received.discard(msg.id)  # the engine answers PUBCOMP
        elif cmd == SUBSCRIBE:
            self.subscribe(session, msg.id, packet_body(raw))
        elif cmd == UNSUBSCRIBE:
            self.unsubscribe(session, msg.id, packet_body(raw))
        elif cmd == PINGREQ:
            conn.mqtt_pong()
        elif cmd == DISCONNECT:
            link.will = None  # a clean exit: no will
            self.drop(link, "DISCONNECT")
        elif cmd != PUBLISH:  # PUBLISH was handled by MG_EV_MQTT_MSG
            raise ProtocolError(f"unexpected packet type {cmd}")

    def on_connect(self, link: Link, raw: bytes) -> None:
        if link.session is not None:
            raise ProtocolError("second CONNECT")
        try:
            req = ConnectRequest.parse(raw[0] & 0x0F, packet_body(raw))
        except Refused as e:
            link.conn.send(bytes([CONNACK << 4, 2, 0, e.code]))
            self.drop(link, str(e))
            return
        client_id = req.client_id
        if not client_id:  # clean session: any unique name will do
            self.anonymous += 1
            client_id = f"\0anonymous-{self.anonymous}"  # "\0" cannot come from a client
        old = self.sessions.get(client_id)
        if old is not None and old.conn is not None:
            self.log(f"{client_id}: taken over by a new connection")
            old.conn.close()  # section 3.1.4: the existing client is disconnected
            old = self.sessions.get(client_id)  # gone if it was a clean session
        if req.clean_session or old is None:
            session = self.sessions[client_id] = Session(client_id, req.clean_session)
            present = False
        else:
            session, present = old, True
        session.conn = link.conn
        link.session, link.keepalive, link.will = session, req.keepalive, req.will
        link.conn.send(bytes([CONNACK << 4, 2, int(present), ACCEPTED]))
        self.log(f"{client_id}: connected (clean session {int(req.clean_session)}, "
                 f"keep-alive {req.keepalive} s, session present {int(present)})")
        session.resume()

    def on_publish(self, link: Link, msg) -> None:
        session = link.session
        if session is None:
            raise ProtocolError("PUBLISH before CONNECT")
        flags = link.conn.recv_data(1)[0]  # (QoS 3 is refused by the engine)
        if not valid_topic(msg.topic):
            raise ProtocolError(f"invalid PUBLISH topic {msg.topic!r}")
        if msg.qos == 2:
            # Until its PUBREL, a resent QoS 2 PUBLISH is the same message.
            if msg.id in session.qos2_received:
                return
            session.qos2_received.add(msg.id)
        self.publish(Message(msg.topic, msg.data, msg.qos, bool(flags & 1)))

    def closed(self, conn) -> None:
        link = self.links.pop(conn, None)
        if link is None:
            return
        session = link.session
        if session is not None and session.conn is conn:
            session.conn = None
            if session.clean:
                del self.sessions[session.client_id]
            self.log(f"{session.client_id}: connection closed")
        if link.will is not None and not self.stopping:
            self.publish(link.will)

    def drop(self, link: Link, reason: str) -> None:
        """Close link after what is queued (e.g. a CONNACK) has been sent."""
        self.log(f"closing {link.conn.remote_addr}: {reason}")
        link.closing = True
        link.conn.drain()

    def expire_idle(self) -> None:
        """Keep-alive (section 3.1.2.10): disconnect a client silent for 1.5 x
        its keep-alive; a connection that sends no CONNECT at all as well."""
        now = time.monotonic()
        for link in list(self.links.values()):
            limit = 1.5 * link.keepalive if link.session is not None else CONNECT_TIMEOUT
            if limit and now - link.last_seen > limit and not link.closing:
                self.log(f"closing {link.conn.remote_addr}: keep-alive expired")
                link.conn.close()  # MG_EV_CLOSE (and the will) before close() returns

    # -- routing -----------------------------------------------------------

    def subscribe(self, session: Session, pid: int, body: bytes) -> None:
        r = Reader(body)
        r.u16()  # packet id, already in pid
        granted, new = [], []
        while not r.at_end():
            flt, qos = r.string(), r.u8()
            if qos > 2:
                raise ProtocolError("SUBSCRIBE with QoS 3 or reserved bits")
            if not valid_filter(flt):
                granted.append(0x80)  # failure, section 3.9.3
                continue
            session.subscriptions[flt] = qos
            granted.append(qos)
            new.append((flt, qos))
        if not granted:
            raise ProtocolError("SUBSCRIBE without a topic filter")
        session.conn.send(bytes([SUBACK << 4, 2 + len(granted)]) + pid.to_bytes(2, "big") + bytes(granted))
        for flt, qos in new:
            for topic, msg in self.retained.items():
                if topic_matches(flt, topic):
                    session.deliver(Message(topic, msg.payload, min(qos, msg.qos), retain=True))

    def unsubscribe(self, session: Session, pid: int, body: bytes) -> None:
        r = Reader(body)
        r.u16()
        while not r.at_end():
            session.subscriptions.pop(r.string(), None)
        session.conn.send(bytes([UNSUBACK << 4, 2]) + pid.to_bytes(2, "big"))

    def publish(self, msg: Message) -> None:
        if msg.retain:
            if msg.payload:
                self.retained[msg.topic] = msg
            else:
                self.retained.pop(msg.topic, None)
        for session in list(self.sessions.values()):
            best = session.granted_qos(msg.topic)
            if best is not None:
                # Retain is only set on a message sent because of a new subscription.
                session.deliver(Message(msg.topic, msg.payload, min(msg.qos, best)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883, help="0 picks a free port")
    parser.add_argument("-v", "--verbose", action="store_true", help="log connections to stderr")
    args = parser.parse_args()
    manager = Manager()
    broker = Broker(manager, args.verbose)
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
        broker.stopping = True
        manager.close()


if __name__ == "__main__":
    main()
