"""HTTP client: fetch --url with connect(http=True), print status and body.

The request is written by hand with send() once MG_EV_CONNECT reports the
TCP connection; the engine parses the response (Content-Length, chunked or
close-delimited) and delivers it whole as MG_EV_HTTP_MSG. Exit code 0 for
any HTTP response, 1 for a failure (refused, DNS, timeout).

    python examples/http_client.py --url http://127.0.0.1:8000/api/status
"""

import argparse
import sys
import time
from urllib.parse import urlsplit

from pymongoose import MG_EV_CLOSE, MG_EV_CONNECT, MG_EV_ERROR, MG_EV_HTTP_MSG, Manager


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds")
    parser.add_argument("-i", "--include", action="store_true", help="print the response headers")
    args = parser.parse_args()
    url = urlsplit(args.url)
    if url.scheme != "http" or not url.hostname:
        parser.error("--url must be http://host[:port][/path] (https needs TLS)")
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    request = (f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
               "User-Agent: pymongoose-example\r\nConnection: close\r\n\r\n")
    result = {"done": False, "code": 1}

    def handler(conn, ev, data):
        if ev == MG_EV_CONNECT:
            conn.send(request)
        elif ev == MG_EV_HTTP_MSG:
            print(f"status {data.status()}")
            if args.include:
                for name, value in data.headers():
                    print(f"{name}: {value}")
            print(flush=True)
            sys.stdout.buffer.write(data.body_bytes)
            sys.stdout.flush()
            result.update(done=True, code=0)
            conn.close()
        elif ev == MG_EV_ERROR:
            print(f"error: {data}", file=sys.stderr)
        elif ev == MG_EV_CLOSE and not result["done"]:
            print("error: closed before a complete response", file=sys.stderr)
            result["done"] = True

    manager = Manager()
    deadline = time.monotonic() + args.timeout
    try:
        manager.connect(args.url, handler, http=True)
        while not result["done"]:
            if time.monotonic() > deadline:
                print("error: timed out", file=sys.stderr)
                break
            manager.poll(100)
    except KeyboardInterrupt:
        result["code"] = 0
    finally:
        manager.close()
    return result["code"]


if __name__ == "__main__":
    sys.exit(main())
