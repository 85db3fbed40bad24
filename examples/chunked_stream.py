"""Chunked streaming: a response of unknown length, produced as it is sent.

GET /numbers?count=N answers "1\\n2\\n...N\\n" with Transfer-Encoding:
chunked (http_chunk), generating the next chunk only when the send buffer
has room: the handler tops it up on every MG_EV_WRITE while send_len is
below LOW_WATER, so a slow client never makes the server buffer the whole
body. http_chunk(b"") ends the response; the connection stays open for the
next request (keep-alive).

    python examples/chunked_stream.py --port 8000
    curl -N 'localhost:8000/numbers?count=1000000' | tail -1
"""

import argparse

from pymongoose import MG_EV_HTTP_MSG, MG_EV_WRITE, Manager

LOW_WATER = 64 * 1024  # refill the send buffer below this many bytes
LINES_PER_CHUNK = 1000
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"


class Numbers:
    """The state of one response in progress: the next number to send."""

    def __init__(self, count):
        self.next, self.count = 1, count

    def refill(self, conn):
        while conn.send_len < LOW_WATER and self.next <= self.count:
            last = min(self.next + LINES_PER_CHUNK - 1, self.count)
            conn.http_chunk("".join(f"{i}\n" for i in range(self.next, last + 1)))
            self.next = last + 1
        if self.next > self.count:
            conn.http_chunk(b"")  # the terminating chunk ends the response
            conn.userdata = None


def handler(conn, ev, data):
    if ev == MG_EV_HTTP_MSG:
        if data.uri != "/numbers":
            conn.reply(404, b"try /numbers?count=100\n")
            return
        count = data.query_var("count") or "100"
        if not count.isdigit():
            conn.reply(400, b"count must be a number\n")
            return
        conn.send(HEAD)  # send(), not reply(): no Content-Length
        conn.userdata = Numbers(int(count))
        conn.userdata.refill(conn)
    elif ev == MG_EV_WRITE and isinstance(conn.userdata, Numbers):
        conn.userdata.refill(conn)  # some output left: there is room again


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    args = parser.parse_args()
    manager = Manager(handler)
    listener = manager.listen(f"http://{args.host}:{args.port}", http=True)
    print(f"streaming on http://{args.host}:{listener.local_addr[1]}/numbers?count=100000", flush=True)
    try:
        while True:
            manager.poll(1000)
    except KeyboardInterrupt:
        pass
    finally:
        manager.close()


if __name__ == "__main__":
    main()
