"""Regression tests for crashes and hangs found by the binding audit (issue 18).

Each scenario that could crash or hang the interpreter runs in a subprocess
with a timeout, so a SIGSEGV or a deadlock fails the test instead of the run.
"""

import os
import socket
import subprocess
import sys
import textwrap
import threading

import pytest

from pymongoose import (
    MG_EV_CLOSE,
    MG_EV_HTTP_MSG,
    MG_EV_OPEN,
    MG_EV_WRITE,
    Manager,
)

from conftest import poll_until

HERE = os.path.dirname(os.path.abspath(__file__))


def run_py(code, timeout=60):
    """Run ``code`` in a fresh interpreter; a crash or a hang fails."""
    try:
        p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                           text=True, timeout=timeout, cwd=HERE,
                           env=dict(os.environ, PYTHONFAULTHANDLER="1"))
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"hung (killed after {timeout}s); output so far:\n{e.stdout}\n{e.stderr}")
    assert p.returncode == 0, f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    return p.stdout


# -- 1. sub-interpreters ---------------------------------------------------


def test_handlers_run_inside_cold_calls_after_a_subinterpreter_existed():
    """Once a sub-interpreter existed, PyGILState_Check() always answers 1:
    handlers fired inside listen/connect/close (whose gopy wrappers let the
    GIL go) must still take it."""
    out = run_py("""
        try:
            import _interpreters as si
        except ImportError:
            import _xxsubinterpreters as si
        si.destroy(si.create())
        from pymongoose import Manager, MG_EV_OPEN, MG_EV_CLOSE, MG_EV_ACCEPT
        seen = []
        def h(c, ev, d):
            seen.append(ev)
            [bytes(100) for _ in range(50)]  # allocate: crashes without a thread state
        m = Manager(h)
        lst = m.listen("tcp://127.0.0.1:0")
        assert MG_EV_OPEN in seen, seen
        port = lst.local_addr[1]
        fired = []
        m.timer_add(1, lambda: fired.append(1), repeat=True)
        m.connect(f"tcp://127.0.0.1:{port}")
        for _ in range(1000):
            if MG_EV_ACCEPT in seen and fired:
                break
            m.poll(10)
        assert MG_EV_ACCEPT in seen and fired
        m.close()
        assert seen.count(MG_EV_CLOSE) == 3, seen
        print("OK")
    """)
    assert out.strip() == "OK"


# -- 2. Manager.close() from a handler outside poll() ------------------------


def test_manager_close_from_close_handler_during_with_block_exit():
    out = run_py("""
        from pymongoose import Manager, MG_EV_CLOSE
        closes = []
        def h(c, ev, d):
            if ev == MG_EV_CLOSE:
                closes.append(c)
                mgr.close()
        with Manager(h) as mgr:
            mgr.listen("tcp://127.0.0.1:0")
            mgr.listen("udp://127.0.0.1:0")
        assert len(closes) == 2
        mgr.close()  # idempotent
        print("OK")
    """, timeout=30)
    assert out.strip() == "OK"


def test_manager_close_from_close_handler_in_run_finally():
    out = run_py("""
        from pymongoose import Manager, MG_EV_CLOSE
        def h(c, ev, d):
            if ev == MG_EV_CLOSE:
                mgr.close()
        def stop():
            raise KeyboardInterrupt
        mgr = Manager(h)
        mgr.listen("tcp://127.0.0.1:0")
        mgr.timer_add(1, stop)
        try:
            mgr.run(poll_ms=10)
        except KeyboardInterrupt:
            pass
        try:
            mgr.poll(0)
        except RuntimeError as e:
            assert "freed" in str(e)
        print("OK")
    """, timeout=30)
    assert out.strip() == "OK"


def test_manager_close_from_handler_of_connection_close_outside_poll():
    out = run_py("""
        from pymongoose import Manager, MG_EV_CLOSE
        closes = []
        def h(c, ev, d):
            if ev == MG_EV_CLOSE:
                closes.append(c)
                mgr.close()
        mgr = Manager(h)
        a = mgr.listen("tcp://127.0.0.1:0")
        b = mgr.listen("tcp://127.0.0.1:0")
        a.close()  # its MG_EV_CLOSE handler closes the Manager
        mgr.close()
        assert sorted(map(id, closes)) == sorted([id(a), id(b)]), closes
        print("OK")
    """, timeout=30)
    assert out.strip() == "OK"


def test_manager_close_from_close_handler_during_close_deferred_by_poll():
    """Found by the API fuzzer (seed 209173): close() from a timer is
    deferred to the end of poll(); an MG_EV_CLOSE handler of that close
    calling close() again freed the Manager in the middle of it."""
    out = run_py("""
        from pymongoose import Manager, MG_EV_CLOSE
        closes = []
        def h(c, ev, d):
            if ev == MG_EV_CLOSE:
                closes.append(c)
                mgr.close()
        mgr = Manager(h)
        for _ in range(3):
            mgr.listen("tcp://127.0.0.1:0")
        mgr.timer_add(0, mgr.close, run_now=True)
        mgr.poll(0)
        assert len(set(map(id, closes))) == 3, closes
        try:
            mgr.poll(0)
            raise SystemExit("poll() after close() did not raise")
        except RuntimeError as e:
            assert "freed" in str(e), e
        print("OK")
    """, timeout=30)
    assert out.strip() == "OK"


# -- 3. fork ----------------------------------------------------------------


def test_forked_child_raises_on_connections_and_conn():
    out = run_py("""
        import os
        from pymongoose import Manager
        m = Manager()
        lst = m.listen("tcp://127.0.0.1:0")
        port = lst.local_addr[1]
        for _ in range(100):
            m.connect(f"tcp://127.0.0.1:{port}")
        for _ in range(50):
            m.poll(1)
        pid = os.fork()
        if pid == 0:
            bad = 0
            for _ in range(2000):
                for f in (lambda: m.connections, lambda: m._core.conn(lst.id)):
                    try:
                        f()
                        bad += 1
                    except RuntimeError as e:
                        if "fork" not in str(e):
                            bad += 1
            os._exit(0 if bad == 0 else 3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        m.close()
        print("OK")
    """, timeout=60)
    assert out.strip() == "OK"


# -- 4. one thread at a time --------------------------------------------------


def test_calls_from_another_thread_raise_while_a_handler_runs():
    """While the poll thread is inside a timer callback, every call from
    another thread that reaches the engine raises RuntimeError naming it;
    wakeup() works; once poll() has returned the calls are allowed."""
    out = run_py("""
        import threading
        from pymongoose import Manager, MG_EV_ACCEPT
        accepted = []
        def h(c, ev, d):
            if ev == MG_EV_ACCEPT:
                accepted.append(c)
        m = Manager(h, enable_wakeup=True)
        lst = m.listen("tcp://127.0.0.1:0")
        port = lst.local_addr[1]
        cli = m.connect(f"tcp://127.0.0.1:{port}")
        while not accepted:
            m.poll(10)
        results = {}
        calls = {
            "Manager.timer_add()": lambda: m.timer_add(10, lambda: None),
            "Manager.listen()": lambda: m.listen("tcp://127.0.0.1:0"),
            "Manager.connect()": lambda: m.connect(f"tcp://127.0.0.1:{port}"),
            "Manager.connections": lambda: m.connections,
            "Connection.send()": lambda: cli.send(b"x"),
            "Connection.reply()": lambda: cli.reply(200, b"x"),
            "Connection.close()": lambda: cli.close(),
            "Connection.drain()": lambda: cli.drain(),
            "Connection.recv_data()/send_data()": lambda: cli.recv_data(),
            "a Connection attribute": lambda: cli.is_closing,
            "Connection.error()": lambda: cli.error("x"),
        }
        def other():
            for name, f in calls.items():
                try:
                    f()
                    results[name] = "no error"
                except RuntimeError as e:
                    results[name] = str(e)
            try:
                m.poll(0)
            except RuntimeError as e:
                results["poll"] = str(e)
            results["wakeup"] = m.wakeup(cli.id, b"hi")
            results["repr"] = repr(cli)
        def inside():
            t = threading.Thread(target=other)
            t.start()
            t.join()
        m.timer_add(0, inside, run_now=True)
        m.poll(0)
        owner = threading.get_ident()
        for name in calls:
            msg = results[name]
            assert msg.startswith(name + " was called from another thread"), (name, msg)
            assert f"by thread {owner}" in msg, msg
            assert "only wakeup() and close() are safe from any thread" in msg
        assert results["poll"].startswith("poll() is not reentrant"), results["poll"]
        assert results["wakeup"] is True
        assert results["repr"].startswith("<Connection id=")
        # nothing inside now: another thread may call
        ok = []
        t = threading.Thread(target=lambda: ok.append(m.timer_add(1, lambda: ok.append("fired"))))
        t.start(); t.join()
        assert cli.id and cli.is_writable is not None
        while "fired" not in ok:
            m.poll(10)
        m.close()
        print("OK")
    """)
    assert out.strip() == "OK"


def test_calls_from_another_thread_raise_while_poll_waits_and_close_interrupts():
    out = run_py("""
        import threading
        from pymongoose import Manager
        m = Manager(enable_wakeup=True)
        errors = []
        def loop():
            try:
                while True:
                    m.poll(-1)
            except RuntimeError as e:
                errors.append(str(e))
        t = threading.Thread(target=loop)
        t.start()
        while m._core.owner != t.ident:
            pass
        try:
            m.timer_add(5, lambda: None)
            raise SystemExit("timer_add from another thread did not raise")
        except RuntimeError as e:
            assert "Manager.timer_add() was called from another thread" in str(e), e
        m.close()  # interrupts the waiting poll() and waits for it
        t.join(30)
        assert not t.is_alive()
        assert errors and "freed" in errors[0], errors
        print("OK")
    """)
    assert out.strip() == "OK"


def test_cold_call_keeps_other_threads_out_while_it_runs_handlers():
    out = run_py("""
        import threading
        from pymongoose import Manager, MG_EV_OPEN
        got = []
        def other():
            try:
                m.poll(0)
                got.append("no error")
            except RuntimeError as e:
                got.append(str(e))
        def h(c, ev, d):
            if ev == MG_EV_OPEN:
                t = threading.Thread(target=other)
                t.start()
                t.join()
        m = Manager(h)
        m.listen("tcp://127.0.0.1:0")
        assert got and got[0].startswith("Manager.poll() was called from another thread"), got
        m.close()
        print("OK")
    """)
    assert out.strip() == "OK"


def test_timer_add_hammered_from_another_thread_loses_nothing():
    """The original report: timer_add() from a second thread while the
    first polls. Each call either raises RuntimeError or adds a timer that
    fires; nothing crashes and no timer is lost."""
    out = run_py("""
        import threading
        from pymongoose import Manager
        m = Manager(enable_wakeup=True)
        added, refused, fired = [0], [0], [0]
        done = threading.Event()
        def cb():
            fired[0] += 1
        def hammer():
            for i in range(20000):
                try:
                    m.timer_add(0, cb)
                    added[0] += 1
                except RuntimeError as e:
                    assert "another thread" in str(e), e
                    refused[0] += 1
            done.set()
        polls_refused = [0]
        def poll(ms):
            try:
                m.poll(ms)
            except RuntimeError as e:  # the hammering thread is inside timer_add()
                assert "Manager.poll() was called from another thread" in str(e), e
                polls_refused[0] += 1
        t = threading.Thread(target=hammer)
        t.start()
        while not done.is_set():
            poll(1)
        t.join()
        for _ in range(100000):
            if fired[0] == added[0]:
                break
            poll(1)
        assert fired[0] == added[0], (fired, added)
        assert added[0] + refused[0] == 20000
        m.close()
        print("OK", added[0], refused[0], polls_refused[0])
    """, timeout=120)
    assert out.startswith("OK")


# -- 5. serve_file during MG_EV_CLOSE ------------------------------------------


def served_fds(path):
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == path:
                n += 1
        except OSError:
            pass
    return n


@pytest.mark.parametrize("call", ["serve_file", "serve_dir"])
def test_serve_during_close_opens_no_file(tmp_path, call):
    path = str(tmp_path / "index.html")
    with open(path, "wb") as f:
        f.write(b"x" * 100000)
    calls = []

    def h(c, ev, data):
        if ev == MG_EV_HTTP_MSG:
            c.userdata = data
            c.close()  # MG_EV_CLOSE runs now, while data is still valid
        elif ev == MG_EV_CLOSE and c.userdata is not None:
            if call == "serve_file":
                c.serve_file(c.userdata, path)
            else:
                c.serve_dir(c.userdata, str(tmp_path))
            calls.append(served_fds(path))

    mgr = Manager(h)
    try:
        lst = mgr.listen("http://127.0.0.1:0")
        port = lst.local_addr[1]
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
        poll_until(mgr, lambda: calls, what="serve during MG_EV_CLOSE")
        assert calls == [0], "the file was opened for a connection being closed"
        assert served_fds(path) == 0
        s.close()
    finally:
        mgr.close()


# -- 6. KeyboardInterrupt from a handler fired inside a UDP send() -------------


def test_keyboard_interrupt_from_handler_inside_udp_send_raises_from_send():
    """A UDP send() writes the datagram and delivers MG_EV_WRITE at once: a
    KeyboardInterrupt from that handler comes out of send() itself."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(10)
    port = sink.getsockname()[1]
    writes = []

    def h(c, ev, data):
        if ev == MG_EV_WRITE:
            writes.append(data)
            raise KeyboardInterrupt

    def raises_keyboard_interrupt(fn):
        try:
            fn()
        except KeyboardInterrupt:
            return True
        return False

    mgr = Manager(h)
    try:
        c = mgr.connect(f"udp://127.0.0.1:{port}")
        from_send = raises_keyboard_interrupt(lambda: c.send(b"ping"))
        later = raises_keyboard_interrupt(lambda: (mgr.poll(0), mgr.poll(0)))
        assert (from_send, later) == (True, False), "raised by send(), not by a later poll()"
        assert len(writes) == 1
        assert sink.recvfrom(100)[0] == b"ping"
    finally:
        sink.close()
        raises_keyboard_interrupt(mgr.close)


# -- 7. tracebacks are printed without keeping the frame -----------------------


def test_handler_exception_is_printed_but_not_kept_in_sys_last_value(capfd):
    for name in ("last_value", "last_type", "last_traceback", "last_exc"):
        if hasattr(sys, name):
            delattr(sys, name)

    def h(c, ev, data):
        if ev == MG_EV_OPEN:
            raise ValueError("boom from handler")

    mgr = Manager()
    try:
        mgr.timer_add(0, lambda: mgr.listen("tcp://127.0.0.1:0", h), run_now=True)
        mgr.poll(0)
        err = capfd.readouterr().err
        assert "ValueError: boom from handler" in err and "Traceback" in err
        for name in ("last_value", "last_type", "last_traceback", "last_exc"):
            assert not hasattr(sys, name), name
    finally:
        mgr.close()


def test_exception_in_timer_is_printed_and_loop_goes_on(capfd):
    ran = []

    def bad():
        raise RuntimeError("timer failure")

    mgr = Manager()
    try:
        mgr.timer_add(0, bad, run_now=True)
        mgr.timer_add(0, lambda: ran.append(1), run_now=True)
        poll_until(mgr, lambda: ran)
        assert "RuntimeError: timer failure" in capfd.readouterr().err
        assert not hasattr(sys, "last_value")
    finally:
        mgr.close()
