"""Timers: Manager.timer_add, Timer.cancel/active (docs/api.md 10.4, 16.4, 19.5).

Assertions are on counts and order, never on elapsed time.  Where a test
needs time to pass without the timer being due, the margins are large
(hundreds of milliseconds against microseconds of work).
"""

import gc
import threading
import time

import pytest

from pymongoose import Manager, Timer

from conftest import poll_until


def counter():
    calls = []

    def cb():
        calls.append(1)

    return calls, cb


def test_one_shot_fires_once_then_inactive(make_manager):
    mgr = make_manager()
    calls, cb = counter()
    t = mgr.timer_add(5, cb)
    assert isinstance(t, Timer)
    assert t.active is True
    poll_until(mgr, lambda: calls, what="one-shot timer")
    assert len(calls) == 1
    assert t.active is False
    # A later timer proves that time passed: the one-shot never fires again.
    later, lcb = counter()
    mgr.timer_add(30, lcb)
    poll_until(mgr, lambda: later, what="sentinel timer")
    assert len(calls) == 1


def test_repeat_fires_until_cancelled(make_manager):
    mgr = make_manager()
    calls, cb = counter()
    t = mgr.timer_add(1, cb, repeat=True)
    poll_until(mgr, lambda: len(calls) >= 5, what="5 firings")
    assert t.active is True
    t.cancel()
    assert t.active is False
    n = len(calls)
    sentinel, scb = counter()
    mgr.timer_add(30, scb)
    poll_until(mgr, lambda: sentinel, what="sentinel timer")
    for _ in range(5):
        mgr.poll(5)
    assert len(calls) == n, "a cancelled timer fired again"
    t.cancel()  # idempotent
    assert t.active is False


def test_cancel_from_inside_own_callback(make_manager):
    mgr = make_manager()
    calls = []
    holder = {}

    def cb():
        calls.append(1)
        if len(calls) == 3:
            holder["t"].cancel()

    holder["t"] = mgr.timer_add(1, cb, repeat=True)
    poll_until(mgr, lambda: len(calls) >= 3)
    sentinel, scb = counter()
    mgr.timer_add(20, scb)
    poll_until(mgr, lambda: sentinel)
    assert len(calls) == 3
    assert holder["t"].active is False


def test_cancel_before_first_poll(make_manager):
    mgr = make_manager()
    calls, cb = counter()
    t = mgr.timer_add(1, cb, run_now=True)
    t.cancel()
    sentinel, scb = counter()
    mgr.timer_add(10, scb)
    poll_until(mgr, lambda: sentinel)
    assert calls == []


def test_cancel_one_shot_after_firing_is_noop(make_manager):
    mgr = make_manager()
    calls, cb = counter()
    t = mgr.timer_add(1, cb)
    poll_until(mgr, lambda: calls)
    t.cancel()
    t.cancel()
    assert t.active is False and len(calls) == 1


def test_newest_first_order(make_manager):
    mgr = make_manager()
    order = []
    # Same period, all started by the same (first) poll: they expire in the
    # same iteration and fire newest first.
    for name in "abcd":
        mgr.timer_add(20, lambda name=name: order.append(name))
    poll_until(mgr, lambda: order, what="timers")
    assert order == ["d", "c", "b", "a"]


def test_run_now_fires_in_first_poll_newest_first(make_manager):
    mgr = make_manager()
    order = []
    mgr.timer_add(60000, lambda: order.append("once"), run_now=True)
    rep = mgr.timer_add(60000, lambda: order.append("rep"), repeat=True, run_now=True)
    mgr.poll(0)
    assert order == ["rep", "once"]
    assert rep.active is True
    for _ in range(3):
        mgr.poll(0)
    assert order == ["rep", "once"]


def test_run_now_one_shot_never_fires_again(make_manager):
    mgr = make_manager()
    calls, cb = counter()
    t = mgr.timer_add(5, cb, run_now=True)
    mgr.poll(0)
    assert len(calls) == 1
    assert t.active is False
    sentinel, scb = counter()
    mgr.timer_add(50, scb)
    poll_until(mgr, lambda: sentinel)
    assert len(calls) == 1


def test_countdown_starts_at_first_poll(make_manager):
    mgr = make_manager()
    calls, cb = counter()
    mgr.timer_add(1000, cb)
    time.sleep(1.2)  # longer than the period, but no poll ran
    mgr.poll(0)  # records now + 1000 ms as the first deadline
    assert calls == [], "the period must count from the first poll, not from timer_add"


def test_late_repeating_timer_does_not_replay_missed_ticks(make_manager):
    mgr = make_manager()
    calls, cb = counter()
    mgr.timer_add(500, cb, repeat=True)
    mgr.poll(0)  # starts the countdown
    time.sleep(1.8)  # more than 3 periods without polling
    mgr.poll(0)
    assert len(calls) == 1
    mgr.poll(0)  # rescheduled to now + period: not due again at once
    assert len(calls) == 1


def test_callback_runs_on_poll_thread(make_manager):
    mgr = make_manager()
    threads = []
    mgr.timer_add(1, lambda: threads.append(threading.get_ident()))
    poll_until(mgr, lambda: threads)
    assert threads == [threading.get_ident()]


def test_exception_is_printed_and_repeating_timer_goes_on(make_manager, capfd):
    mgr = make_manager()
    calls = []

    def cb():
        calls.append(1)
        raise ValueError("boom in timer")

    t = mgr.timer_add(1, cb, repeat=True)
    poll_until(mgr, lambda: len(calls) >= 3)
    assert t.active is True
    err = capfd.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "ValueError: boom in timer" in err


def test_return_value_ignored_and_non_callable_reported_when_fired(make_manager, capfd):
    mgr = make_manager()
    calls = []
    mgr.timer_add(1, lambda: calls.append(1) or 42)
    mgr.timer_add(1, "not callable")  # accepted; fails (reported) when fired
    poll_until(mgr, lambda: calls)
    sentinel, scb = counter()
    mgr.timer_add(10, scb)
    poll_until(mgr, lambda: sentinel)
    assert "TypeError" in capfd.readouterr().err


def test_dropped_timer_object_still_fires(make_manager):
    mgr = make_manager()
    calls = []

    def add():
        # Neither the Timer nor the callback is referenced after this.
        box = []
        mgr.timer_add(5, lambda: calls.append(len(box)), repeat=True)

    add()
    gc.collect()
    poll_until(mgr, lambda: len(calls) >= 3)


def test_timer_added_by_callback_waits_for_next_poll(make_manager):
    mgr = make_manager()
    order = []

    def first():
        order.append("first")
        mgr.timer_add(60000, lambda: order.append("inner"), run_now=True)

    mgr.timer_add(60000, first, run_now=True)
    mgr.poll(0)
    assert order == ["first"]
    mgr.poll(0)
    assert order == ["first", "inner"]


def test_cancel_from_other_thread_while_polling(make_manager):
    mgr = make_manager()
    calls, cb = counter()
    t = mgr.timer_add(1, cb, repeat=True)
    poll_until(mgr, lambda: len(calls) >= 2)
    done = threading.Event()

    def canceller():
        t.cancel()
        done.set()

    th = threading.Thread(target=canceller)
    th.start()
    poll_until(mgr, done.is_set, what="cancel in thread")
    th.join()
    n = len(calls)
    assert t.active is False
    sentinel, scb = counter()
    mgr.timer_add(20, scb)
    poll_until(mgr, lambda: sentinel)
    assert len(calls) == n


def test_keyboard_interrupt_propagates_from_poll(make_manager):
    mgr = make_manager()
    calls = []

    def cb():
        calls.append(1)
        raise KeyboardInterrupt

    t = mgr.timer_add(1, cb, repeat=True)
    with pytest.raises(KeyboardInterrupt):
        poll_until(mgr, lambda: False, timeout=10)
    assert calls == [1]
    t.cancel()
    mgr.poll(0)  # the Manager remains usable


def test_many_timers_counts(make_manager):
    mgr = make_manager()
    counts = [0] * 50

    def make(i):
        def cb():
            counts[i] += 1
        return cb

    timers = [mgr.timer_add(1 + i % 5, make(i), repeat=True) for i in range(50)]
    poll_until(mgr, lambda: min(counts) >= 3)
    for t in timers[::2]:
        t.cancel()
    snap = counts[:]
    poll_until(mgr, lambda: all(counts[i] >= snap[i] + 2 for i in range(1, 50, 2)))
    assert all(counts[i] == snap[i] for i in range(0, 50, 2))


def test_validation_and_close():
    mgr = Manager()
    with pytest.raises(TypeError, match="milliseconds"):
        mgr.timer_add("10", lambda: None)
    calls, cb = counter()
    t = mgr.timer_add(1, cb, repeat=True)
    t2 = mgr.timer_add(60000, cb)
    mgr.close()
    assert t.active is False and t2.active is False
    t.cancel()  # no-op after close
    with pytest.raises(RuntimeError, match="Manager has been freed"):
        mgr.timer_add(10, cb)
    assert calls == []  # discarded by close() without firing


def test_empty_timer_object():
    t = Timer()
    assert t.active is False
    t.cancel()
    assert t.active is False


def test_huge_period_never_fires(make_manager):
    mgr = make_manager()
    calls, cb = counter()
    t = mgr.timer_add(1 << 62, cb, repeat=True)
    sentinel, scb = counter()
    mgr.timer_add(20, scb)
    poll_until(mgr, lambda: sentinel)
    assert calls == [] and t.active is True
