"""The adapters' private event filter (AdapterSkipEvents): skipped events
never reach a handler; MG_EV_CLOSE always does."""

import socket

from pymongoose import (MG_EV_CLOSE, MG_EV_HTTP_HDRS, MG_EV_HTTP_MSG, MG_EV_POLL, MG_EV_READ,
                        MG_EV_WRITE, Manager)
from pymongoose._gopy import pybind as _go

from conftest import poll_until


def test_skipped_events_are_not_delivered_and_close_always_is():
    seen = []

    def handler(conn, ev, data):
        seen.append(ev)
        if ev == MG_EV_HTTP_MSG:
            conn.reply(200, b"ok")

    mgr = Manager(handler)
    try:
        mask = sum(1 << ev for ev in (MG_EV_POLL, MG_EV_READ, MG_EV_HTTP_HDRS, MG_EV_CLOSE))
        _go.AdapterSkipEvents(mgr._mid, mask)
        lst = mgr.listen("http://127.0.0.1:0")
        cli = socket.create_connection(("127.0.0.1", lst.local_addr[1]))
        cli.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        poll_until(mgr, lambda: MG_EV_WRITE in seen)
        cli.settimeout(10)
        assert cli.recv(100).startswith(b"HTTP/1.1 200")
        cli.close()
        poll_until(mgr, lambda: MG_EV_CLOSE in seen)
        assert MG_EV_HTTP_MSG in seen
        assert not {MG_EV_POLL, MG_EV_READ, MG_EV_HTTP_HDRS} & set(seen)
    finally:
        mgr.close()


def test_a_manager_without_the_filter_gets_every_event():
    seen = set()
    mgr = Manager(lambda conn, ev, data: seen.add(ev))
    try:
        lst = mgr.listen("http://127.0.0.1:0")
        cli = socket.create_connection(("127.0.0.1", lst.local_addr[1]))
        cli.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        poll_until(mgr, lambda: MG_EV_HTTP_MSG in seen)
        assert {MG_EV_POLL, MG_EV_READ, MG_EV_HTTP_HDRS} <= seen
        cli.close()
    finally:
        mgr.close()
