"""A multithreaded server: slow work in a thread pool, replies via wakeup().

The event loop never blocks: each request is handed to a worker thread with
the connection id; the worker computes the answer and calls
manager.wakeup(conn_id, payload), the only Manager method that is safe from
other threads. The loop then receives MG_EV_WAKEUP on that connection and
replies. Try: curl 'localhost:8000/?n=30' (n-th Fibonacci number, slowly).
"""

import argparse
from concurrent.futures import ThreadPoolExecutor

from pymongoose import MG_EV_HTTP_MSG, MG_EV_WAKEUP, Manager


def slow_fib(n):
    return n if n < 2 else slow_fib(n - 1) + slow_fib(n - 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    pool = ThreadPoolExecutor(args.workers)

    def work(conn_id, n):
        manager.wakeup(conn_id, str(slow_fib(n)).encode())

    def handler(conn, ev, data):
        if ev == MG_EV_HTTP_MSG:
            n = data.query_var("n")
            n = int(n) if n and n.isdigit() else 20
            pool.submit(work, conn.id, min(n, 32))  # reply later (deferred reply)
        elif ev == MG_EV_WAKEUP:
            conn.reply(200, data + b"\n")

    manager = Manager(handler, enable_wakeup=True)
    listener = manager.listen(f"http://{args.host}:{args.port}", http=True)
    print(f"serving on http://{args.host}:{listener.local_addr[1]}/?n=25 with {args.workers} workers",
          flush=True)
    try:
        while True:
            manager.poll(1000)
    except KeyboardInterrupt:
        pass
    finally:
        pool.shutdown(wait=True)
        manager.close()


if __name__ == "__main__":
    main()
