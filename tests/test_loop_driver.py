"""Manager.fileno()/next_timeout_ms() and the LoopDriver: an asyncio loop
(the default one and uvloop) drives the Manager on its own thread."""

import asyncio
import os
import select
import socket
import threading
import urllib.request

import pytest
import uvloop

from pymongoose import MG_EV_ACCEPT, MG_EV_CLOSE, MG_EV_HTTP_MSG, MG_EV_WAKEUP, Manager
from pymongoose._loop import LoopDriver

from conftest import poll_until

LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


def run_on(loop_name, coro_fn, timeout=20):
    loop = LOOPS[loop_name]()
    try:
        return loop.run_until_complete(asyncio.wait_for(coro_fn(), timeout))
    finally:
        loop.close()


def readable(fd, timeout):
    r, _, _ = select.select([fd], [], [], timeout)
    return bool(r)


def test_fileno_is_readable_when_a_client_connects_and_quiet_after_poll():
    mgr = Manager(lambda c, ev, d: None)
    try:
        lst = mgr.listen("tcp://127.0.0.1:0")
        mgr.poll(0)
        assert not readable(mgr.fileno(), 0)
        assert mgr.next_timeout_ms() == -1
        cli = socket.create_connection(("127.0.0.1", lst.local_addr[1]))
        assert readable(mgr.fileno(), 10)
        poll_until(mgr, lambda: len(mgr.connections) == 2)
        mgr.poll(0)
        assert not readable(mgr.fileno(), 0)
        cli.close()
    finally:
        mgr.close()


def test_wakeup_from_another_thread_makes_fileno_readable():
    got = []
    mgr = Manager(lambda c, ev, d: got.append(d) if ev == MG_EV_WAKEUP else None, True)
    try:
        lst = mgr.listen("tcp://127.0.0.1:0")
        mgr.poll(0)
        assert not readable(mgr.fileno(), 0)
        threading.Thread(target=mgr.wakeup, args=(lst.id, b"hi")).start()
        assert readable(mgr.fileno(), 10)
        poll_until(mgr, lambda: got)
        assert got == [b"hi"]
    finally:
        mgr.close()


def test_next_timeout_follows_timers_and_queued_output():
    accepted = []
    mgr = Manager(lambda c, ev, d: None)
    try:
        lst = mgr.listen("tcp://127.0.0.1:0", lambda c, ev, d: accepted.append(c) if ev == MG_EV_ACCEPT else None)
        mgr.timer_add(5000, lambda: None)
        assert 0 < mgr.next_timeout_ms() <= 5000
        cli = socket.create_connection(("127.0.0.1", lst.local_addr[1]))
        poll_until(mgr, lambda: accepted)
        mgr.poll(0)
        accepted[0].send(b"queued outside poll")
        assert mgr.next_timeout_ms() == 0  # output waits for the next poll(0)
        mgr.poll(0)
        cli.settimeout(10)
        assert cli.recv(100) == b"queued outside poll"
        cli.close()
    finally:
        mgr.close()


def test_fileno_and_next_timeout_raise_once_closed():
    mgr = Manager(lambda c, ev, d: None)
    mgr.close()
    with pytest.raises(RuntimeError, match="freed"):
        mgr.fileno()
    with pytest.raises(RuntimeError, match="freed"):
        mgr.next_timeout_ms()


@pytest.mark.parametrize("loop_name", sorted(LOOPS))
def test_loop_driver_serves_http_with_handlers_on_the_loop_thread(loop_name):
    async def main():
        loop = asyncio.get_running_loop()
        threads, replies = set(), []

        def handler(conn, ev, data):
            if ev == MG_EV_HTTP_MSG:
                threads.add(threading.get_ident())
                uri = data.uri

                async def answer():  # a task created by the handler
                    await asyncio.sleep(0)
                    conn.reply(200, f"task saw {uri}".encode())
                    driver.kick()

                loop.create_task(answer())

        mgr = Manager(handler)
        driver = LoopDriver(mgr)
        lst = mgr.listen("http://127.0.0.1:0")
        driver.start()
        port = lst.local_addr[1]
        for i in range(3):
            body = await loop.run_in_executor(
                None, lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/r{i}", timeout=10).read())
            replies.append(body)
        driver.stop()
        mgr.close()
        return threads, replies

    threads, replies = run_on(loop_name, main)
    assert replies == [b"task saw /r0", b"task saw /r1", b"task saw /r2"]
    assert threads == {threading.get_ident()}


@pytest.mark.parametrize("loop_name", sorted(LOOPS))
def test_loop_driver_fires_timers_without_io(loop_name):
    async def main():
        fired = asyncio.get_running_loop().create_future()
        mgr = Manager(None)
        driver = LoopDriver(mgr)
        driver.start()
        mgr.timer_add(30, lambda: fired.done() or fired.set_result(threading.get_ident()))
        driver.kick()  # the timer was added outside poll()
        tid = await fired
        driver.stop()
        mgr.close()
        return tid

    assert run_on(loop_name, main) == threading.get_ident()


@pytest.mark.parametrize("loop_name", sorted(LOOPS))
def test_loop_driver_delivers_wakeups_from_threads(loop_name):
    async def main():
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        got = []

        def handler(conn, ev, data):
            if ev == MG_EV_WAKEUP:
                got.append(data)
                if len(got) == 100 and not done.done():
                    done.set_result(None)

        mgr = Manager(handler, True)
        driver = LoopDriver(mgr)
        lst = mgr.listen("tcp://127.0.0.1:0")
        driver.start()

        def send_many(k):
            for i in range(25):
                mgr.wakeup(lst.id, b"%d-%d" % (k, i))

        workers = [threading.Thread(target=send_many, args=(k,)) for k in range(4)]
        for w in workers:
            w.start()
        await done
        for w in workers:
            w.join()
        driver.stop()
        mgr.close()
        return got

    got = run_on(loop_name, main)
    assert sorted(got) == sorted(b"%d-%d" % (k, i) for k in range(4) for i in range(25))


@pytest.mark.parametrize("loop_name", sorted(LOOPS))
def test_manager_closed_by_a_handler_stops_the_driver(loop_name):
    async def main():
        loop = asyncio.get_running_loop()
        closed = loop.create_future()

        def handler(conn, ev, data):
            if ev == MG_EV_HTTP_MSG:
                mgr.close()  # from inside poll(): deferred to its end
            elif ev == MG_EV_CLOSE and conn.is_listening and not closed.done():
                closed.set_result(None)

        mgr = Manager(handler)
        driver = LoopDriver(mgr)
        lst = mgr.listen("http://127.0.0.1:0")
        driver.start()
        fds_before = len(os.listdir("/proc/self/fd"))
        port = lst.local_addr[1]

        def request():
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read()
            except Exception:
                pass  # the Manager closes without answering

        await loop.run_in_executor(None, request)
        await closed
        for _ in range(3):
            await asyncio.sleep(0)
        running = driver.running
        return running, fds_before, len(os.listdir("/proc/self/fd"))

    running, before, after = run_on(loop_name, main)
    assert not running
    assert after < before  # the driver's descriptor and the Manager's are gone


@pytest.mark.parametrize("loop_name", sorted(LOOPS))
def test_manager_closed_outside_poll_after_driver_stop(loop_name):
    async def main():
        mgr = Manager(None)
        driver = LoopDriver(mgr)
        mgr.listen("tcp://127.0.0.1:0")
        driver.start()
        await asyncio.sleep(0.01)
        driver.stop()
        driver.stop()  # idempotent
        mgr.close()
        await asyncio.sleep(0.01)  # the loop keeps running without the Manager
        return driver.running

    assert run_on(loop_name, main) is False
