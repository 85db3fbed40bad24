"""pymongoose.AsyncManager: a Manager driven by the asyncio loop on its own thread
(docs/api.md 19.9), on the default loop and on uvloop."""

import asyncio
import inspect
import threading

import pytest
import uvloop

import pymongoose
from pymongoose import MG_EV_CLOSE, MG_EV_CONNECT, MG_EV_ERROR, MG_EV_HTTP_MSG, AsyncManager, Manager
from pymongoose.aio import AsyncManager as AioAsyncManager

from conftest import WAIT, threads_started_since


LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


@pytest.fixture(params=sorted(LOOPS))
def run(request):
    """Runs a coroutine to completion on a new loop of each kind."""
    def runner(coro):
        loop = LOOPS[request.param]()
        try:
            return loop.run_until_complete(asyncio.wait_for(coro, WAIT * 3))
        finally:
            loop.close()
    return runner


def http_server_handler(conn, ev, data):
    if ev == MG_EV_HTTP_MSG:
        conn.reply(200, f"served {data.uri}".encode(), {"Content-Type": "text/plain"})


async def fetch(am, port, path):
    """GET through AsyncManager.connect(http=True); the handler resolves a
    Future on the asyncio loop via schedule()."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def settle(value=None, exc=None):
        if fut.done():
            return
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(value)

    def client(conn, ev, data):
        if ev == MG_EV_CONNECT:
            conn.send(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        elif ev == MG_EV_HTTP_MSG:
            status, body = data.status(), data.body_bytes
            am.schedule(lambda: settle((status, body)))
            conn.drain()
        elif ev == MG_EV_ERROR:
            am.schedule(lambda: settle(exc=ConnectionError(data)))
        elif ev == MG_EV_CLOSE:
            am.schedule(lambda: settle(exc=ConnectionError("closed before a response")))

    am.connect(f"http://127.0.0.1:{port}", client, http=True)
    return await fut


def test_reexported():
    assert AsyncManager is AioAsyncManager
    assert pymongoose.AsyncManager is AsyncManager


def test_not_started_errors():
    am = AsyncManager()
    for call in (lambda: am.manager, lambda: am.listen("http://127.0.0.1:0"),
                 lambda: am.connect("http://127.0.0.1:1"), lambda: am.wakeup(1),
                 lambda: am.timer_add(10, lambda: None), lambda: am.schedule(lambda: None),
                 lambda: am.mqtt_listen("mqtt://127.0.0.1:0"),
                 lambda: am.sntp_connect("udp://127.0.0.1:123"),
                 lambda: am.mqtt_connect("mqtt://127.0.0.1:1")):
        with pytest.raises(RuntimeError, match="AsyncManager is not started"):
            call()
    assert am.running is False


def test_serve_and_await_outgoing_requests(run):
    async def main():
        async with AsyncManager(http_server_handler) as am:
            assert am.running
            assert isinstance(am.manager, Manager)
            lst = am.listen("http://127.0.0.1:0")  # http inferred from the scheme
            port = lst.local_addr[1]
            ticks = 0

            async def ticker():
                nonlocal ticks
                while True:
                    await asyncio.sleep(0)
                    ticks += 1

            task = asyncio.create_task(ticker())
            results = await asyncio.gather(*(fetch(am, port, f"/r{i}") for i in range(5)))
            task.cancel()
            assert results == [(200, f"served /r{i}".encode()) for i in range(5)]
            assert ticks > 0  # the asyncio loop ran other tasks while the requests were served
        assert not am.running

    run(main())


def test_timer_and_handlers_run_on_the_loop_thread(run):
    async def main():
        got = asyncio.Queue()
        loop = asyncio.get_running_loop()

        async def record(x):
            await got.put(("coro", x, threading.get_ident()))

        async with AsyncManager() as am:
            def tick():
                # on the loop's thread: a task can be created directly
                assert asyncio.get_running_loop() is loop
                loop.create_task(record(1))
                am.schedule(record(2))  # still works, for compatibility

            am.timer_add(1, tick)
            assert sorted([await got.get(), await got.get()]) == [
                ("coro", 1, threading.get_ident()), ("coro", 2, threading.get_ident())]
            with pytest.raises(TypeError):
                am.schedule(42)

    run(main())


def test_schedule_from_another_thread(run):
    async def main():
        loop = asyncio.get_running_loop()
        async with AsyncManager() as am:
            done = loop.create_future()

            async def coro():
                done.set_result(threading.get_ident())

            await loop.run_in_executor(None, am.schedule, coro())
            assert await done == threading.get_ident()
            called = loop.create_future()
            await loop.run_in_executor(None, am.schedule, lambda: called.set_result(1))
            assert await called == 1

    run(main())


def test_reentrant_calls_from_handler_and_other_threads(run):
    async def main():
        async with AsyncManager(http_server_handler) as am:
            loop = asyncio.get_running_loop()
            done = loop.create_future()

            def from_timer():
                # inside poll(), on the loop's thread: a re-entrant listen
                c = am.listen("http://127.0.0.1:0")
                done.set_result(c.local_addr[1])

            am.timer_add(1, from_timer)
            port1 = await done
            box = {}
            timer_fired = loop.create_future()

            def other_thread():
                # run on the loop's thread; this thread waits for the result
                box["conn"] = am.listen("tcp://127.0.0.1:0", http=True)
                am.timer_add(1, lambda: timer_fired.set_result(threading.get_ident()))

            th = threading.Thread(target=other_thread)
            th.start()
            await loop.run_in_executor(None, th.join, WAIT)
            port2 = box["conn"].local_addr[1]
            assert await fetch(am, port1, "/a") == (200, b"served /a")
            assert await fetch(am, port2, "/b") == (200, b"served /b")
            assert am.wakeup(box["conn"].id, b"x") is True
            assert await timer_fired == threading.get_ident()  # set directly: on the loop thread

    run(main())


def test_call_from_another_thread_needs_a_running_loop():
    loop = asyncio.new_event_loop()
    try:
        am = loop.run_until_complete(AsyncManager().__aenter__())
        # the loop is not running now: nothing could run the call
        box = {}

        def other():
            try:
                am.listen("tcp://127.0.0.1:0")
            except RuntimeError as exc:
                box["exc"] = exc

        th = threading.Thread(target=other)
        th.start()
        th.join(WAIT)
        assert "not running" in str(box["exc"])
        loop.run_until_complete(am.__aexit__(None, None, None))
    finally:
        loop.close()


def test_start_stop_leaks_no_threads(run):
    before = set(threading.enumerate())

    async def main():
        for _ in range(5):
            async with AsyncManager(http_server_handler, poll_interval=10) as am:
                am.listen("http://127.0.0.1:0")
                assert am.running
                mgr = am.manager
            assert not am.running
            with pytest.raises(RuntimeError, match="Manager has been freed"):
                mgr.poll(0)
            with pytest.raises(RuntimeError, match="AsyncManager is not started"):
                am.manager

    run(main())
    assert threads_started_since(before) == []


def test_shutdown_timeout_cancels_scheduled_coroutines(run):
    async def main():
        cancelled = []
        finished = []

        async def slow():
            try:
                await asyncio.sleep(WAIT * 10)
            except asyncio.CancelledError:
                cancelled.append(True)
                raise

        async def quick():
            await asyncio.sleep(0.01)
            finished.append(True)

        async with AsyncManager(shutdown_timeout=0.3) as am:
            am.schedule(slow())
            am.schedule(quick())
            mgr = am.manager
        return mgr, cancelled, finished

    with pytest.warns(RuntimeWarning, match="cancelling"):
        mgr, cancelled, finished = run(main())
    assert cancelled == [True] and finished == [True]
    with pytest.raises(RuntimeError, match="freed"):
        mgr.poll(0)  # closed all the same


@pytest.mark.skipif("error_handler" not in inspect.signature(Manager).parameters,
                    reason="Manager(error_handler=) not available")
def test_error_handler_receives_handler_exceptions(run):
    async def main():
        loop = asyncio.get_running_loop()
        got = loop.create_future()

        def on_error(exc):
            loop.call_soon_threadsafe(lambda: got.done() or got.set_result(exc))

        async with AsyncManager(error_handler=on_error) as am:
            def bad():
                raise ValueError("from timer")

            am.timer_add(1, bad)
            exc = await got
            assert isinstance(exc, ValueError) and str(exc) == "from timer"

    run(main())
