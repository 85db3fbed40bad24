"""MG_EV_POLL to many idle connections (delivered in runs by the engine):
order, identity and what a POLL handler may do, seen from Python."""

import socket

import pytest

from conftest import poll_until, tcp_listen
from pymongoose import MG_EV_ACCEPT, MG_EV_CLOSE, MG_EV_POLL, MG_EV_WRITE

N = 12


@pytest.fixture
def idle(make_manager, recorder):
    """A listener, N accepted idle connections and their raw client sockets.

    Returns (mgr, rec, listener, conns newest first, clients); rec records
    every event; set rec.on to act on them."""
    rec = recorder()
    mgr = make_manager()
    lst, port = tcp_listen(mgr, rec)
    clients = []
    for _ in range(N):
        s = socket.create_connection(("127.0.0.1", port))
        clients.append(s)
        poll_until(mgr, lambda: rec.count(MG_EV_ACCEPT) == len(clients))
    mgr.poll(0)
    conns = rec.conns_with(MG_EV_ACCEPT)[::-1]
    rec.events.clear()
    yield mgr, rec, lst, conns, clients
    for s in clients:
        s.close()


def polls(rec):
    return [c for c, e, _ in rec.events if e == MG_EV_POLL]


def test_order_newest_first_same_objects(idle):
    mgr, rec, lst, conns, _ = idle
    for _ in range(3):
        rec.events.clear()
        mgr.poll(0)
        got = polls(rec)
        assert len(got) == N + 1
        assert all(a is b for a, b in zip(got, conns + [lst]))


def test_close_later_conn_in_same_run(idle):
    mgr, rec, lst, conns, _ = idle
    closer, victim = conns[2], conns[7]

    def on(c, ev, d):
        if ev == MG_EV_POLL and c is closer:
            victim.close()

    rec.on = on
    mgr.poll(0)
    seq = [(c, e) for c, e, _ in rec.events]
    i = seq.index((closer, MG_EV_POLL))
    assert seq[i + 1] == (victim, MG_EV_CLOSE)
    assert seq[i + 2] == (conns[3], MG_EV_POLL)
    assert (victim, MG_EV_POLL) not in seq
    assert repr(victim) == "<Connection closed>"
    assert len(polls(rec)) == N
    rec.events.clear()
    rec.on = None
    mgr.poll(0)
    assert len(polls(rec)) == N


def test_close_earlier_and_self(idle):
    mgr, rec, lst, conns, _ = idle

    def on(c, ev, d):
        if ev == MG_EV_POLL and c is conns[5]:
            conns[1].close()  # its POLL is done
            c.close()

    rec.on = on
    mgr.poll(0)
    seq = [(c, e) for c, e, _ in rec.events]
    i = seq.index((conns[5], MG_EV_POLL))
    assert seq[i + 1:i + 4] == [(conns[1], MG_EV_CLOSE), (conns[5], MG_EV_CLOSE), (conns[6], MG_EV_POLL)]
    assert seq.count((conns[1], MG_EV_POLL)) == 1
    assert len(polls(rec)) == N + 1


def test_send_and_drain_finish_the_turn_before_the_next_poll(idle):
    mgr, rec, lst, conns, clients = idle

    def on(c, ev, d):
        if ev == MG_EV_POLL and c is conns[3]:
            c.send(b"tick")
        elif ev == MG_EV_POLL and c is conns[8]:
            c.send(b"bye")
            c.drain()

    rec.on = on
    mgr.poll(0)
    seq = [(c, e) for c, e, _ in rec.events]
    i = seq.index((conns[3], MG_EV_POLL))
    assert seq[i + 1:i + 3] == [(conns[3], MG_EV_WRITE), (conns[4], MG_EV_POLL)]
    i = seq.index((conns[8], MG_EV_POLL))
    assert seq[i + 1:i + 4] == [(conns[8], MG_EV_WRITE), (conns[8], MG_EV_CLOSE), (conns[9], MG_EV_POLL)]
    # conns[3] (newest first) is clients[N - 1 - 3]
    s = clients[N - 1 - 3]
    s.settimeout(10)
    assert s.recv(10) == b"tick"
    s = clients[N - 1 - 8]
    s.settimeout(10)
    assert s.recv(10) == b"bye"
    assert s.recv(10) == b""


def test_send_on_an_earlier_conn_is_written_next_poll(idle):
    mgr, rec, lst, conns, clients = idle

    def on(c, ev, d):
        if ev == MG_EV_POLL and c is conns[6]:
            conns[2].send(b"late")

    rec.on = on
    mgr.poll(0)
    assert rec.count(MG_EV_WRITE) == 0  # its turn was over: like one by one
    rec.on = None
    poll_until(mgr, lambda: rec.count(MG_EV_WRITE) == 1)
    s = clients[N - 1 - 2]
    s.settimeout(10)
    assert s.recv(10) == b"late"


def test_exception_is_reported_and_the_run_goes_on(idle, capfd):
    mgr, rec, lst, conns, _ = idle

    def on(c, ev, d):
        if ev == MG_EV_POLL and c in (conns[1], conns[9]):
            raise ValueError(f"poll-failure-{c.id}")

    rec.on = on
    mgr.poll(0)
    assert len(polls(rec)) == N + 1
    err = capfd.readouterr().err
    assert f"ValueError: poll-failure-{conns[1].id}" in err
    assert f"ValueError: poll-failure-{conns[9].id}" in err


def test_error_handler_gets_poll_exceptions(idle):
    mgr, rec, lst, conns, _ = idle
    seen = []
    mgr._core.error_handler = seen.append  # as Manager(error_handler=) sets it

    def on(c, ev, d):
        if ev == MG_EV_POLL and c is conns[4]:
            raise RuntimeError("poll-eh")

    rec.on = on
    mgr.poll(0)
    assert [str(e) for e in seen] == ["poll-eh"]
    assert len(polls(rec)) == N + 1


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_base_exception_stops_the_run(idle, exc_type):
    mgr, rec, lst, conns, _ = idle

    def on(c, ev, d):
        if ev == MG_EV_POLL and c is conns[4]:
            raise exc_type()

    rec.on = on
    with pytest.raises(exc_type):
        mgr.poll(0)
    assert all(a is b for a, b in zip(polls(rec), conns[:5]))
    assert len(polls(rec)) == 5
    rec.on = None
    rec.events.clear()
    mgr.poll(0)  # still usable; the next pass starts over
    assert len(polls(rec)) == N + 1


def test_base_exception_in_close_of_later_conn_stops_the_run(idle):
    mgr, rec, lst, conns, _ = idle

    def on(c, ev, d):
        if ev == MG_EV_POLL and c is conns[2]:
            conns[6].close()
        elif ev == MG_EV_CLOSE and c is conns[6]:
            raise KeyboardInterrupt

    rec.on = on
    with pytest.raises(KeyboardInterrupt):
        mgr.poll(0)
    assert len(polls(rec)) == 3
    assert repr(conns[6]) == "<Connection closed>"


def test_manager_close_inside_poll(idle):
    mgr, rec, lst, conns, _ = idle

    def on(c, ev, d):
        if ev == MG_EV_POLL and c is conns[3] and not closed:
            closed.append(1)
            mgr.close()  # deferred to the end of this poll()

    closed = []
    rec.on = on
    mgr.poll(0)
    everyone = conns + [lst]
    # The pass goes on, then every connection gets POLL and CLOSE.
    seq = [(c, e) for c, e, _ in rec.events]
    assert [c for c, e in seq[:N + 1]] == everyone
    rest = seq[N + 1:]
    assert sorted(id(c) for c, e in rest if e == MG_EV_CLOSE) == sorted(id(c) for c in everyone)
    assert all(repr(c) == "<Connection closed>" for c in everyone)
    with pytest.raises(RuntimeError):
        mgr.poll(0)


def test_handlers_per_connection(make_manager):
    calls = []

    def mk(name):
        def h(c, ev, d):
            if ev == MG_EV_POLL:
                calls.append((name, c))
        return h

    mgr = make_manager(mk("default"))
    lst = mgr.listen("tcp://127.0.0.1:0", mk("listener"))
    port = lst.local_addr[1]
    plain = mgr.listen("tcp://127.0.0.1:0")  # no handler: the Manager's
    out = mgr.connect(f"tcp://127.0.0.1:{port}", mk("client"))
    poll_until(mgr, lambda: len(mgr.connections) == 4)
    acc = [c for c in mgr.connections if c not in (lst, plain, out)][0]
    for _ in range(3):
        mgr.poll(0)
    calls.clear()
    mgr.poll(0)
    got = {id(c): name for name, c in calls}
    assert len(calls) == 4
    assert got == {id(lst): "listener", id(plain): "default", id(out): "client", id(acc): "listener"}
    acc.set_handler(mk("changed"))
    calls.clear()
    mgr.poll(0)
    assert dict((id(c), n) for n, c in calls)[id(acc)] == "changed"
