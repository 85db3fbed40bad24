"""UDP echo server: every datagram goes back to its sender.

A UDP listener's send() replies to the sender of the latest datagram.
As on raw TCP, nothing consumes a UDP receive buffer (recv_data() returns
every datagram received so far), so the handler remembers in userdata how
much it has already echoed. Because that buffer only grows, the main loop
replaces the listener by a fresh one on the same port once it holds more
than --recycle bytes; a datagram arriving during the swap may be lost,
which UDP clients must expect anyway.

    python examples/udp_echo.py --port 9000
    echo hello | nc -u -q1 127.0.0.1 9000
"""

import argparse

from pymongoose import MG_EV_OPEN, MG_EV_READ, Manager


def handler(conn, ev, data):
    if ev == MG_EV_OPEN:
        conn.userdata = 0  # bytes of the receive buffer already echoed
    elif ev == MG_EV_READ:
        fresh = conn.recv_data()[conn.userdata:]
        if fresh:
            conn.send(fresh)  # one datagram, to the latest sender
            conn.userdata += len(fresh)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000, help="0 picks a free port")
    parser.add_argument("--recycle", type=int, default=256 * 1024,
                        help="replace the listener when its receive buffer exceeds this many bytes")
    args = parser.parse_args()
    manager = Manager(handler, max_recv_size=0)  # the buffer is bounded by --recycle instead
    listener = manager.listen(f"udp://{args.host}:{args.port}")
    url = f"udp://{args.host}:{listener.local_addr[1]}"
    print(f"UDP echo on {args.host}:{listener.local_addr[1]}", flush=True)
    try:
        while True:
            manager.poll(1000)
            if listener.recv_len > args.recycle:
                listener.close()  # the port is free at once
                listener = manager.listen(url)
    except KeyboardInterrupt:
        pass
    finally:
        manager.close()


if __name__ == "__main__":
    main()
