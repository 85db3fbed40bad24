"""A Flask app with one JSON route answering a 27-byte body (bench/servers.py)."""

from __future__ import annotations

from typing import Dict

from flask import Flask

# Flask's JSON provider renders compactly outside debug mode and appends "\n":
# "Hello, World" (no "!") keeps the body at 27 bytes like the other apps.
BODY = b'{"message":"Hello, World"}\n'
assert len(BODY) == 27

app = Flask(__name__)


@app.route("/")
def hello() -> Dict[str, str]:
    """The measured route (a dict: Flask answers it as JSON)."""
    return {"message": "Hello, World"}
