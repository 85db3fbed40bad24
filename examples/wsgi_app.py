"""A tiny WSGI app for the server command: every answer names the process
that served it, so `--workers N` shows its N processes.

    python -m pymongoose.wsgi examples.wsgi_app:app --workers 2 --threads 8
    curl http://127.0.0.1:8000/
"""

import json
import os


def app(environ, start_response):
    body = json.dumps({"hello": "world", "path": environ["PATH_INFO"], "pid": os.getpid()}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
