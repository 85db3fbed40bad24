"""MQTT client: subscribe to --topic on the broker at --url, print messages.

mqtt_connect() queues CONNECT at once; the broker's CONNACK arrives as
MG_EV_MQTT_OPEN (0 = accepted), then the client subscribes. The SUBACK
(MG_EV_MQTT_CMD with cmd 9) confirms the subscription; with --publish the
client then publishes one message itself. Each PUBLISH received is
printed as "topic: payload". --count N exits after N messages; Ctrl+C
(or SIGTERM) sends DISCONNECT and exits. With --will-topic the broker
publishes --will-message there if the client vanishes without DISCONNECT.

    python examples/mqtt_broker.py --port 1883 &
    python examples/mqtt_client.py --url mqtt://127.0.0.1:1883 --topic 'demo/#' --publish hi
"""

import argparse
import signal
import sys
import time

from pymongoose import MG_EV_CLOSE, MG_EV_ERROR, MG_EV_MQTT_CMD, MG_EV_MQTT_MSG, MG_EV_MQTT_OPEN, Manager

SUBACK = 9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--topic", default="pymongoose/#", help="topic filter to subscribe to")
    parser.add_argument("--qos", type=int, default=1, choices=(0, 1, 2))
    parser.add_argument("--publish", help="a message to publish once subscribed")
    parser.add_argument("--pub-topic", default="pymongoose/hello", help="topic for --publish")
    parser.add_argument("--count", type=int, default=0, help="exit after this many messages (0: never)")
    parser.add_argument("--client-id", default="", help="default: a random one")
    parser.add_argument("--will-topic", help="where the broker publishes --will-message if the client vanishes")
    parser.add_argument("--will-message", default="offline")
    args = parser.parse_args()
    state = {"received": 0, "stop": False, "closed": False, "code": 0}

    def handler(conn, ev, data):
        if ev == MG_EV_MQTT_OPEN:
            if data != 0:
                print(f"error: broker refused the connection (code {data})", file=sys.stderr)
                state["code"] = 1
                return
            print(f"connected to {args.url}", flush=True)
            conn.mqtt_sub(args.topic, args.qos)
        elif ev == MG_EV_MQTT_CMD and data.cmd == SUBACK:
            print(f"subscribed to {args.topic}", flush=True)
            if args.publish is not None:
                conn.mqtt_pub(args.pub_topic, args.publish, args.qos)
        elif ev == MG_EV_MQTT_MSG:
            print(f"{data.topic}: {data.text}", flush=True)
            state["received"] += 1
            if state["received"] == args.count:
                state["stop"] = True
        elif ev == MG_EV_ERROR:
            print(f"error: {data}", file=sys.stderr)
            state["code"] = 1
        elif ev == MG_EV_CLOSE:
            state["closed"] = True
            if not state["stop"]:
                state["code"] = 1  # the broker went away (or never answered)

    signal.signal(signal.SIGTERM, lambda *_: state.update(stop=True))
    manager = Manager()
    conn = None
    try:
        conn = manager.mqtt_connect(args.url, handler, client_id=args.client_id, keepalive=30,
                                    will_topic=args.will_topic,
                                    will_message=args.will_message if args.will_topic else b"")
        while not state["stop"] and not state["closed"]:
            manager.poll(1000)
    except KeyboardInterrupt:
        state["stop"] = True
    except ValueError as e:  # e.g. a will topic with a wildcard
        print(f"error: {e}", file=sys.stderr)
        manager.close()
        return 2
    try:
        if conn is not None and not state["closed"]:  # say goodbye: DISCONNECT, flushed, close
            state["stop"] = True
            conn.mqtt_disconnect()
            conn.drain()
            deadline = time.monotonic() + 2
            while not state["closed"] and time.monotonic() < deadline:
                manager.poll(50)
    except KeyboardInterrupt:
        pass
    finally:
        manager.close()
    return state["code"]


if __name__ == "__main__":
    sys.exit(main())
