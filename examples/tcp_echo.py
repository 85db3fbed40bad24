"""TCP echo server.

Note the pymongoose rule for raw TCP: the receive buffer is never consumed,
so recv_data() returns everything received so far. The echo therefore keeps
in userdata how many bytes it has already sent back and echoes only the new
ones. (The buffer is capped by max_recv_size, 3 MiB by default: a client that
sends more gets MG_EV_ERROR and is closed.)
"""

import argparse

from pymongoose import MG_EV_ACCEPT, MG_EV_READ, Manager


def handler(conn, ev, data):
    if ev == MG_EV_ACCEPT:
        conn.userdata = 0  # bytes echoed so far
    elif ev == MG_EV_READ:
        fresh = conn.recv_data()[conn.userdata:]
        if fresh:
            conn.send(fresh)
            conn.userdata += len(fresh)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7000)
    args = parser.parse_args()
    manager = Manager(handler)
    listener = manager.listen(f"tcp://{args.host}:{args.port}")
    print(f"TCP echo on {args.host}:{listener.local_addr[1]}", flush=True)
    try:
        while True:
            manager.poll(1000)
    except KeyboardInterrupt:
        pass
    finally:
        manager.close()


if __name__ == "__main__":
    main()
