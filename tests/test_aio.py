"""pymongoose.AsyncManager: a Manager polled by a thread, for asyncio (API.md 19.9)."""

import asyncio
import inspect
import threading

import pytest

import pymongoose
from pymongoose import MG_EV_CLOSE, MG_EV_CONNECT, MG_EV_ERROR, MG_EV_HTTP_MSG, AsyncManager, Manager
from pymongoose.aio import AsyncManager as AioAsyncManager

from conftest import WAIT


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, WAIT * 3))


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


def test_serve_and_await_outgoing_requests():
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


def test_schedule_coroutine_from_handler_and_timer():
    async def main():
        got = asyncio.Queue()

        async def record(x):
            await got.put(("coro", x, threading.current_thread() is threading.main_thread()))

        async with AsyncManager() as am:
            poll_thread = []

            def tick():
                poll_thread.append(threading.current_thread())
                am.schedule(record(1))

            am.timer_add(1, tick)
            assert await got.get() == ("coro", 1, True)
            assert poll_thread and poll_thread[0] is not threading.main_thread()
            with pytest.raises(TypeError):
                am.schedule(42)

    run(main())


def test_reentrant_calls_from_handler_and_other_threads():
    async def main():
        async with AsyncManager(http_server_handler) as am:
            loop = asyncio.get_running_loop()
            done = loop.create_future()

            def from_timer():
                # inside the poll thread (lock already held): re-entrant listen
                c = am.listen("http://127.0.0.1:0")
                am.schedule(lambda: done.set_result(c.local_addr[1]))

            am.timer_add(1, from_timer)
            port1 = await done
            box = {}

            def other_thread():
                box["conn"] = am.listen("tcp://127.0.0.1:0", http=True)

            th = threading.Thread(target=other_thread)
            th.start()
            await loop.run_in_executor(None, th.join, WAIT)
            port2 = box["conn"].local_addr[1]
            assert await fetch(am, port1, "/a") == (200, b"served /a")
            assert await fetch(am, port2, "/b") == (200, b"served /b")
            assert am.wakeup(box["conn"].id, b"x") is True

    run(main())


def test_start_stop_leaks_no_threads():
    before = threading.active_count()

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
    assert threading.active_count() == before


def test_shutdown_timeout_warns_and_abandons():
    release = threading.Event()

    async def main():
        am = AsyncManager(shutdown_timeout=0.3)
        async with am:
            entered = asyncio.get_running_loop().create_future()

            def stuck():
                am.schedule(lambda: entered.done() or entered.set_result(None))
                release.wait(WAIT)

            am.timer_add(1, stuck)
            await entered
            mgr = am.manager
            thread = am._thread
        return mgr, thread

    with pytest.warns(RuntimeWarning) as rec:
        mgr, thread = run(main())
    texts = [str(w.message) for w in rec]
    assert any("abandon" in t for t in texts), texts
    release.set()
    thread.join(WAIT)
    assert not thread.is_alive()
    mgr.close()  # the abandoned Manager was not closed by the AsyncManager


@pytest.mark.skipif("error_handler" not in inspect.signature(Manager).parameters,
                    reason="Manager(error_handler=) not available")
def test_error_handler_receives_handler_exceptions():
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
