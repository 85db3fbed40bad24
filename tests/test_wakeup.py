"""Manager.wakeup() from other threads (docs/api.md 10.5, 14.2)."""

import os
import threading
import time

import pytest

from pymongoose import MG_EV_POLL, MG_EV_WAKEUP, Manager

from conftest import poll_until


class WakeupLog:
    def __init__(self):
        self.got = []  # (conn id, payload)

    def __call__(self, conn, ev, data):
        if ev == MG_EV_WAKEUP:
            assert type(data) is bytes
            self.got.append((conn.id, data))


def target(mgr, handler):
    """A listener to address wakeups to."""
    return mgr.listen("tcp://127.0.0.1:0", handler)


def test_four_threads_ten_thousand_each_in_order(make_manager):
    log = WakeupLog()
    mgr = make_manager(log, enable_wakeup=True)
    conn = target(mgr, log)
    threads, per = 4, 10_000
    start = threading.Barrier(threads + 1)
    results = [[] for _ in range(threads)]

    def sender(t):
        start.wait()
        r = results[t]
        for i in range(per):
            r.append(mgr.wakeup(conn.id, b"%d:%d" % (t, i)))

    ths = [threading.Thread(target=sender, args=(t,)) for t in range(threads)]
    for th in ths:
        th.start()
    start.wait()
    poll_until(mgr, lambda: len(log.got) >= threads * per, timeout=60, what="40000 wakeups")
    for th in ths:
        th.join()
    mgr.poll(0)
    assert all(all(r) and len(r) == per for r in results)
    assert len(log.got) == threads * per
    seen = [[] for _ in range(threads)]
    for cid, data in log.got:
        assert cid == conn.id
        t, i = data.split(b":")
        seen[int(t)].append(int(i))
    for t in range(threads):
        assert seen[t] == list(range(per)), f"thread {t}: wakeups lost or out of order"


@pytest.mark.parametrize("size", [0, 1, 16376, 16377, 65507, 65536, 200_000, 1 << 20])
def test_payload_sizes_intact(make_manager, size):
    log = WakeupLog()
    mgr = make_manager(log, enable_wakeup=True)
    conn = target(mgr, log)
    payload = os.urandom(size)
    th = threading.Thread(target=lambda: mgr.wakeup(conn.id, payload))
    th.start()
    th.join()
    poll_until(mgr, lambda: log.got)
    assert log.got == [(conn.id, payload)]


def test_mixed_sizes_keep_order(make_manager):
    log = WakeupLog()
    mgr = make_manager(log, enable_wakeup=True)
    conn = target(mgr, log)
    payloads = [os.urandom(n) for n in (1 << 20, 0, 3, 70_000, 16376, 1 << 19)]
    for p in payloads:
        assert mgr.wakeup(conn.id, p) is True
    poll_until(mgr, lambda: len(log.got) == len(payloads))
    assert [d for _, d in log.got] == payloads


def test_default_payload_is_empty_bytes(make_manager):
    log = WakeupLog()
    mgr = make_manager(log, enable_wakeup=True)
    conn = target(mgr, log)
    assert mgr.wakeup(conn.id) is True
    poll_until(mgr, lambda: log.got)
    assert log.got == [(conn.id, b"")]


@pytest.mark.parametrize("timeout", [10000, -1])
def test_wakeup_interrupts_long_poll(make_manager, timeout):
    log = WakeupLog()
    mgr = make_manager(log, enable_wakeup=True)
    conn = target(mgr, log)
    mgr.poll(0)

    def later():
        time.sleep(0.3)
        mgr.wakeup(conn.id, b"now")

    th = threading.Thread(target=later)
    th.start()
    t0 = time.monotonic()
    mgr.poll(timeout)  # -1: wait for I/O indefinitely
    elapsed = time.monotonic() - t0
    th.join()
    if not log.got:  # delivered in the next poll at the latest
        mgr.poll(0)
    assert log.got == [(conn.id, b"now")]
    assert elapsed < 5.0, f"poll(10000) was not woken up ({elapsed:.1f}s)"


def test_wakeup_queued_before_poll_makes_wait_return(make_manager):
    log = WakeupLog()
    mgr = make_manager(log, enable_wakeup=True)
    conn = target(mgr, log)
    mgr.wakeup(conn.id, b"x")
    t0 = time.monotonic()
    mgr.poll(10000)
    assert log.got == [(conn.id, b"x")]
    assert time.monotonic() - t0 < 5.0


def test_delivered_to_the_right_connection(make_manager):
    log = WakeupLog()
    mgr = make_manager(log, enable_wakeup=True)
    a = target(mgr, log)
    b = target(mgr, log)
    mgr.wakeup(b.id, b"to-b")
    mgr.wakeup(a.id, b"to-a")
    poll_until(mgr, lambda: len(log.got) == 2)
    assert log.got == [(b.id, b"to-b"), (a.id, b"to-a")]


def test_unknown_and_internal_ids_are_dropped(make_manager):
    events = []
    mgr = make_manager(lambda c, ev, d: ev != MG_EV_POLL and events.append((c.id, ev, d)), enable_wakeup=True)
    conn = target(mgr, None)
    events.clear()
    assert mgr.wakeup(999, b"nobody") is True
    assert mgr.wakeup(1, b"channel") is True  # the internal wakeup channel
    mgr.wakeup(conn.id, b"last")
    poll_until(mgr, lambda: events)
    for _ in range(3):
        mgr.poll(0)
    assert events == [(conn.id, MG_EV_WAKEUP, b"last")]


def test_closed_connection_gets_nothing(make_manager):
    log = WakeupLog()
    mgr = make_manager(log, enable_wakeup=True)
    conn = target(mgr, log)
    cid = conn.id
    mgr.wakeup(cid, b"late")
    conn.close()
    for _ in range(3):
        mgr.poll(0)
    assert log.got == []


def test_disabled_returns_false(make_manager):
    log = WakeupLog()
    mgr = make_manager(log)
    conn = target(mgr, log)
    assert mgr.wakeup(conn.id, b"x") is False
    for _ in range(3):
        mgr.poll(0)
    assert log.got == []


def test_argument_validation(make_manager):
    mgr = make_manager(enable_wakeup=True)
    assert mgr.wakeup(0, b"x") is False
    with pytest.raises(TypeError):
        mgr.wakeup("1", b"x")
    with pytest.raises(TypeError):
        mgr.wakeup(1.0, b"x")
    with pytest.raises(TypeError) as ei:
        mgr.wakeup(2, "text")
    assert str(ei.value) == "Argument 'data' has incorrect type (expected bytes, got str)"
    with pytest.raises(TypeError, match="got bytearray"):
        mgr.wakeup(2, bytearray(b"x"))
    with pytest.raises(OverflowError):
        mgr.wakeup(-1, b"x")
    with pytest.raises(OverflowError):
        mgr.wakeup(1 << 64, b"x")
    assert mgr.wakeup(connection_id=5, data=b"kw") is True


def test_after_close_raises():
    mgr = Manager(enable_wakeup=True)
    mgr.close()
    with pytest.raises(RuntimeError, match="Manager has been freed"):
        mgr.wakeup(2, b"x")
    mgr2 = Manager()
    mgr2.close()
    with pytest.raises(RuntimeError, match="Manager has been freed"):
        mgr2.wakeup(2, b"x")


def test_race_with_close_is_safe():
    mgr = Manager(lambda c, ev, d: None, enable_wakeup=True)
    conn = mgr.listen("tcp://127.0.0.1:0")
    cid = conn.id
    stop = threading.Event()
    outcomes = {"ok": 0, "freed": 0, "other": []}
    lock = threading.Lock()

    def hammer():
        while not stop.is_set():
            try:
                mgr.wakeup(cid, b"y" * 100)
                key = "ok"
            except RuntimeError as exc:
                key = "freed" if "freed" in str(exc) else None
                if key is None:
                    outcomes["other"].append(exc)
                    return
            with lock:
                outcomes[key] += 1
            if key == "freed":
                return

    ths = [threading.Thread(target=hammer) for _ in range(4)]
    for th in ths:
        th.start()
    poll_until(mgr, lambda: outcomes["ok"] > 200)
    mgr.close()
    stop.set()
    for th in ths:
        th.join()
    assert outcomes["other"] == []
