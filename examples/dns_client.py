"""Name resolution: look up --host and print its IPv4 address.

Any client connection resolves its host first: the lookup runs off the
poll thread (with the system resolver, so /etc/hosts counts) and ends in
MG_EV_RESOLVE, when remote_addr holds the address, or in MG_EV_ERROR with
a text containing "DNS". A udp:// connection is used because connecting
it sends nothing; the program only wants the address.

    python examples/dns_client.py --host example.com
"""

import argparse
import sys
import time

from pymongoose import MG_EV_CLOSE, MG_EV_ERROR, MG_EV_RESOLVE, Manager


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="localhost", help="the name to look up")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds")
    args = parser.parse_args()
    result = {"addr": None, "error": None}

    def handler(conn, ev, data):
        if ev == MG_EV_RESOLVE:
            result["addr"] = conn.remote_addr[0]
            conn.close()
        elif ev == MG_EV_ERROR:
            result["error"] = data  # e.g. "<host> DNS lookup failed"
        elif ev == MG_EV_CLOSE and result["addr"] is None:
            result["error"] = result["error"] or "closed"

    manager = Manager()
    deadline = time.monotonic() + args.timeout
    try:
        # localhost and IP literals resolve inside connect(); names in a later poll()
        manager.connect(f"udp://{args.host}:53", handler)
        while result["addr"] is None and result["error"] is None and time.monotonic() < deadline:
            manager.poll(100)
    except KeyboardInterrupt:
        return 0
    finally:
        manager.close()
    if result["addr"] is None:
        print(f"error: {result['error'] or 'timed out'}", file=sys.stderr)
        return 1
    print(f"{args.host} -> {result['addr']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
