"""Static file server: every file below --dir, with serve_dir().

serve_dir() does the whole job: MIME types, ETag and 304, Range requests,
a pre-compressed .gz variant when the client accepts gzip, index.html,
directory listings, and "400 Invalid path" for anything that tries to
leave the root (.., %2e%2e, symbolic links). Files stream from disk, so
large files do not fill memory.

    python examples/http_static.py --dir ~/public --port 8000
    curl -i localhost:8000/
"""

import argparse
import os

from pymongoose import MG_EV_HTTP_MSG, Manager

# Extra MIME types on top of the built-in table, "ext=type" comma-separated.
MIME_TYPES = "md=text/markdown,log=text/plain"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--dir", default=".", help="directory to serve (default: current)")
    args = parser.parse_args()
    if not os.path.isdir(args.dir):
        parser.error(f"--dir {args.dir!r} is not a directory")
    root = os.path.realpath(args.dir)

    def handler(conn, ev, data):
        if ev == MG_EV_HTTP_MSG:
            conn.serve_dir(data, root, extra_headers="Cache-Control: no-cache\r\n",
                           mime_types=MIME_TYPES)

    manager = Manager(handler)
    listener = manager.listen(f"http://{args.host}:{args.port}", http=True)
    print(f"serving {root} on http://{args.host}:{listener.local_addr[1]}/", flush=True)
    try:
        while True:
            manager.poll(1000)
    except KeyboardInterrupt:
        pass
    finally:
        manager.close()


if __name__ == "__main__":
    main()
