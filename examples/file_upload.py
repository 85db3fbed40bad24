"""File upload: an HTML form posting multipart/form-data, saved to --dir.

GET / shows the form; POST /upload walks the body part by part with
http_parse_multipart() and writes each file part to --dir under its base
name (never a path: "../x" is saved as "x"); the saved files are served
back under /files/. The whole body is in memory when MG_EV_HTTP_MSG
arrives, so --max-size bounds it (larger uploads get 413).

    python examples/file_upload.py --dir /tmp/uploads --port 8000
    curl -F file=@photo.jpg localhost:8000/upload
"""

import argparse
import os

from pymongoose import MG_EV_HTTP_MSG, Manager, http_parse_multipart

FORM = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>Upload</title></head><body>
<h1>Upload files</h1>
<form method="POST" action="/upload" enctype="multipart/form-data">
  <input type="file" name="file" multiple>
  <input type="text" name="note" placeholder="a note">
  <button>Upload</button>
</form>
<p><a href="/files/">uploaded files</a></p>
</body></html>
"""


def safe_name(filename):
    """The last path component of a client-supplied file name, or None."""
    name = os.path.basename(filename.replace("\\", "/"))
    return name if name not in ("", ".", "..") else None


def save_parts(body, directory):
    """Saves every file part of a multipart body; returns report lines."""
    lines, offset = [], 0
    while True:
        offset, part = http_parse_multipart(body, offset)
        if part is None:  # end marker, or nothing more that parses
            return lines
        name = safe_name(part["filename"])
        if part["filename"] == "":  # an ordinary form field
            lines.append(f"field {part['name']}: {part['body'].decode('utf-8', 'replace')}")
        elif name is None:
            lines.append(f"skipped {part['filename']!r}: not a file name")
        else:
            with open(os.path.join(directory, name), "wb") as f:
                f.write(part["body"])
            lines.append(f"saved {name} ({len(part['body'])} bytes)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--dir", default="uploads", help="where files are saved (created if missing)")
    parser.add_argument("--max-size", type=int, default=32 << 20, help="largest request body, bytes")
    args = parser.parse_args()
    directory = os.path.realpath(args.dir)
    os.makedirs(directory, exist_ok=True)

    def handler(conn, ev, data):
        if ev != MG_EV_HTTP_MSG:
            return
        if data.uri == "/" and data.method == "GET":
            conn.reply(200, FORM, {"Content-Type": "text/html; charset=utf-8"})
        elif data.uri == "/upload" and data.method == "POST":
            if "multipart/form-data" not in (data.header("Content-Type") or ""):
                conn.reply(400, b"expected multipart/form-data\n")
                return
            try:
                lines = save_parts(data.body_bytes, directory)
            except OSError as exc:
                conn.reply(500, f"cannot save: {exc.strerror}\n")
                return
            conn.reply(200, "\n".join(lines) + "\n", {"Content-Type": "text/plain; charset=utf-8"})
        elif data.uri.startswith("/files/"):
            conn.serve_dir(data, f"/files/={directory}")
        else:
            conn.reply(404, b"Not found\n")

    manager = Manager(handler, max_body_size=args.max_size)
    listener = manager.listen(f"http://{args.host}:{args.port}", http=True)
    print(f"upload form on http://{args.host}:{listener.local_addr[1]}/ (saving to {directory})", flush=True)
    try:
        while True:
            manager.poll(1000)
    except KeyboardInterrupt:
        pass
    finally:
        manager.close()


if __name__ == "__main__":
    main()
