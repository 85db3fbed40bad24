"""WebSocket subprotocol negotiation (RFC 6455 §4.2.2) with real clients:
the `websockets` client and headless Chromium.

The 101 response names at most one subprotocol: the one the handler puts in
``ws_upgrade(..., extra_headers)``, which must be one of the offered values
(ValueError otherwise), else none. pymongoose 0.1.4 echoed the client's whole
offer, which both clients reject when more than one value was offered.
"""

import asyncio
import importlib.util
import os
import shutil
import subprocess

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from conftest import WAIT, Client, http_listen, poll_until, run_client
from pymongoose import MG_EV_HTTP_MSG, MG_EV_WS_MSG

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def load_ws_echo():
    """examples/ws_echo.py as a module: its handler is the server under test."""
    spec = importlib.util.spec_from_file_location("ws_echo_example", os.path.join(EXAMPLES, "ws_echo.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def ws_session(port, offer, message="hello"):
    """Open with the `websockets` client offering ``offer``, echo one message;
    returns (subprotocol, echoed message, the 101's Sec-WebSocket-Protocol values)."""

    async def go():
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws", subprotocols=offer,
                                      open_timeout=WAIT) as ws:
            await ws.send(message)
            echoed = await asyncio.wait_for(ws.recv(), WAIT)
            return ws.subprotocol, echoed, ws.response.headers.get_all("Sec-WebSocket-Protocol")

    return asyncio.run(go())


@pytest.fixture
def echo_server(make_manager):
    """The ws_echo example's handler on a free port; returns (manager, port)."""
    mgr = make_manager()
    _, port = http_listen(mgr, load_ws_echo().handler)
    return mgr, port


@pytest.mark.parametrize("offer, chosen", [
    (["chat", "superchat"], "superchat"),  # the server's preference wins over the client's order
    (["chat"], "chat"),
    (["superchat", "other"], "superchat"),
])
def test_websockets_client_gets_the_one_chosen_subprotocol(echo_server, offer, chosen):
    mgr, port = echo_server
    assert run_client(mgr, ws_session, port, offer) == (chosen, "hello", [chosen])


@pytest.mark.parametrize("offer", [None, ["other", "more"]])
def test_no_subprotocol_chosen_means_none_in_the_101(echo_server, offer):
    mgr, port = echo_server
    assert run_client(mgr, ws_session, port, offer) == (None, "hello", [])


def test_handler_choosing_nothing_while_two_are_offered(make_manager):
    """A handler that passes no Sec-WebSocket-Protocol: the 101 names none and the
    client connects (0.1.4 echoed "chat, superchat", which `websockets` rejects)."""

    def handler(conn, ev, data):
        if ev == MG_EV_HTTP_MSG:
            conn.ws_upgrade(data, {"X-Server": "test"})
        elif ev == MG_EV_WS_MSG:
            conn.ws_send(data.data)

    mgr = make_manager()
    _, port = http_listen(mgr, handler)
    assert run_client(mgr, ws_session, port, ["chat", "superchat"]) == (None, "hello", [])


def test_choosing_a_value_the_client_did_not_offer_raises(make_manager):
    errors = []

    def handler(conn, ev, data):
        if ev == MG_EV_HTTP_MSG:
            try:
                conn.ws_upgrade(data, {"Sec-WebSocket-Protocol": data.query_var("p")})
            except ValueError as exc:
                errors.append(str(exc))
                conn.reply(400, b"bad subprotocol\n")  # nothing was queued: the handler still answers

    def session(port, choice):
        async def go():
            async with websockets.connect(f"ws://127.0.0.1:{port}/ws?p={choice}",
                                          subprotocols=["chat", "superchat"], open_timeout=WAIT):
                pass

        with pytest.raises(InvalidStatus) as info:
            asyncio.run(go())
        return info.value.response.status_code, info.value.response.body

    mgr = make_manager()
    _, port = http_listen(mgr, handler)
    for choice in ("other", "chat,superchat", "Chat"):  # tokens are case-sensitive
        assert run_client(mgr, session, port, choice) == (400, b"bad subprotocol\n")
    assert len(errors) == 3 and all("offered" in e for e in errors)


# --------------------------------------------------------------------------
# Chromium
# --------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# The page opens a WebSocket offering two subprotocols, echoes one message and
# writes the outcome into #out. Its load event waits for an iframe (/wait) the
# server answers only after the page reported the outcome (/done), so that
# --dump-dom dumps the DOM with the outcome in it.
PAGE = b"""<!doctype html>
<html><body><pre id="out">pending</pre>
<script>
const out = document.getElementById("out");
const done = (text) => { out.textContent = text; fetch("/done").catch(() => {}); };
const ws = new WebSocket(`ws://${location.host}/ws`, ["chat", "superchat"]);
ws.onopen = () => ws.send("hello from chromium");
ws.onmessage = (e) => { done("open " + ws.protocol + " echo " + e.data); ws.close(); };
ws.onerror = () => done("error");
</script>
<iframe src="/wait"></iframe>
</body></html>
"""


def chromium_dump(tmp_path, url):
    r = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url],
        capture_output=True, text=True, timeout=90,
    )
    return r.stdout, r.stderr


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_chromium_page_offering_two_subprotocols(make_manager, tmp_path):
    example = load_ws_echo()
    waiting = []

    def handler(conn, ev, data):
        if ev == MG_EV_HTTP_MSG and data.uri == "/":
            conn.reply(200, PAGE, {"Content-Type": "text/html; charset=utf-8"})
        elif ev == MG_EV_HTTP_MSG and data.uri == "/wait":
            waiting.append(conn)  # answered once the page reported its outcome
        elif ev == MG_EV_HTTP_MSG and data.uri == "/done":
            conn.reply(204)
            while waiting:
                waiting.pop().reply(200, b"", {"Content-Type": "text/html"})
        else:
            example.handler(conn, ev, data)  # /ws: the example's choice; echo

    mgr = make_manager()
    _, port = http_listen(mgr, handler)
    cl = Client(chromium_dump, tmp_path, f"http://127.0.0.1:{port}/")
    poll_until(mgr, lambda: cl.done, timeout=120, what="chromium")
    dom, log = cl.result()
    assert '<pre id="out">open superchat echo hello from chromium</pre>' in dom, log[-2000:]
    assert "Sec-WebSocket-Protocol" not in log


# The example's own page, with a hook appended that reports when its log shows
# the echo (same /wait-/done handshake as PAGE above).
EXAMPLE_PAGE_HOOK = b"""<script>
const hookLog = document.getElementById("log");
new MutationObserver(() => {
  if (hookLog.textContent.includes("echo:")) fetch("/done").catch(() => {});
}).observe(hookLog, {childList: true, characterData: true, subtree: true});
</script>
<iframe src="/wait"></iframe>
</body>"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_chromium_on_the_ws_echo_example_page(make_manager, tmp_path):
    example = load_ws_echo()
    page = example.PAGE.replace(b"</body>", EXAMPLE_PAGE_HOOK)
    waiting = []

    def handler(conn, ev, data):
        if ev == MG_EV_HTTP_MSG and data.uri == "/":
            conn.reply(200, page, {"Content-Type": "text/html; charset=utf-8"})
        elif ev == MG_EV_HTTP_MSG and data.uri == "/wait":
            waiting.append(conn)
        elif ev == MG_EV_HTTP_MSG and data.uri == "/done":
            conn.reply(204)
            while waiting:
                waiting.pop().reply(200, b"", {"Content-Type": "text/html"})
        else:
            example.handler(conn, ev, data)

    mgr = make_manager()
    _, port = http_listen(mgr, handler)
    cl = Client(chromium_dump, tmp_path, f"http://127.0.0.1:{port}/")
    poll_until(mgr, lambda: cl.done, timeout=120, what="chromium")
    dom, log = cl.result()
    assert '<pre id="log">connected, subprotocol superchat\necho: hello\n' in dom, log[-2000:]
