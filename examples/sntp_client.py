"""SNTP client: ask the time server at --url and print its time.

sntp_connect() sends the request as soon as the UDP connection exists; a
valid answer arrives as MG_EV_SNTP_TIME with the server's time in
milliseconds since the Unix epoch, already corrected by half the round
trip. The connection closes after the answer, or after 3 s without one.

    python examples/sntp_client.py --url udp://time.google.com:123
"""

import argparse
import sys
import time
from datetime import datetime, timezone

from pymongoose import MG_EV_CLOSE, MG_EV_ERROR, MG_EV_SNTP_TIME, Manager


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="udp://pool.ntp.org:123", help="udp://host:port of the server")
    args = parser.parse_args()
    result = {"ms": None, "closed": False}

    def handler(conn, ev, data):
        if ev == MG_EV_SNTP_TIME:
            result["ms"] = data
        elif ev == MG_EV_ERROR:
            print(f"error: {data}", file=sys.stderr)
        elif ev == MG_EV_CLOSE:
            result["closed"] = True

    manager = Manager()
    try:
        manager.sntp_connect(args.url, handler)  # the request leaves at once for an IP address
        while not result["closed"]:
            manager.poll(200)
    except KeyboardInterrupt:
        return 0
    finally:
        manager.close()
    if result["ms"] is None:
        print(f"error: no valid answer from {args.url}", file=sys.stderr)
        return 1
    server = datetime.fromtimestamp(result["ms"] / 1000, timezone.utc)
    offset = result["ms"] / 1000 - time.time()
    print(f"{server.isoformat(timespec='milliseconds')} ({result['ms']} ms since the epoch; "
          f"the local clock is {offset:+.3f} s off)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
