"""A Go panic anywhere in the binding becomes a Python exception, never an
abort of the interpreter (issue 9, "No aborts").

The panics are real Go runtime panics injected through the private
``DebugPanic`` hook: one in a cold-API call, one deep inside the engine while
poll() runs a timer. Each scenario runs in a subprocess so that an abort
fails the test instead of killing pytest."""

import os
import subprocess
import sys
import textwrap


def run(code):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                       timeout=60, cwd=os.path.dirname(os.path.abspath(__file__)), env=env)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    assert p.returncode == 0, f"interpreter died with {p.returncode}\n{err[-3000:]}"
    return out, err


def test_panic_in_a_cold_api_call_raises_runtimeerror():
    out, err = run(
        """
        from pymongoose._gopy import pybind as go
        try:
            go.DebugPanic("call")
        except RuntimeError as e:
            print("RAISED", e)
        from pymongoose import Manager
        m = Manager(None)
        m.listen("tcp://127.0.0.1:0")   # the runtime is still usable
        m.poll(0)
        m.close()
        print("ALIVE")
        """
    )
    assert "RAISED internal error: assignment to entry in nil map" in out
    assert "ALIVE" in out
    assert "goroutine" in err  # the Go stack is reported on stderr


def test_panic_inside_poll_raises_and_the_manager_goes_on():
    out, err = run(
        """
        import socket
        from pymongoose import Manager, MG_EV_READ
        from pymongoose._gopy import pybind as go

        got = []
        def handler(conn, ev, data):
            if ev == MG_EV_READ:
                got.append(bytes(conn.recv_data()))
        m = Manager(handler)
        lst = m.listen("tcp://127.0.0.1:0")
        fired = []
        m.timer_add(1, lambda: fired.append(1), repeat=True)
        go.DebugPanic("timer")
        raised = None
        for _ in range(200):
            try:
                m.poll(5)
            except RuntimeError as e:
                raised = e
                break
        print("RAISED", raised)
        # the engine keeps serving: a connection, data, timers
        s = socket.create_connection(("127.0.0.1", lst.local_addr[1]))
        s.sendall(b"ping")
        for _ in range(400):
            m.poll(5)
            if got and len(fired) >= 2:
                break
        print("GOT", b"".join(got), len(fired) >= 2)
        s.close()
        m.close()
        print("STATS", go.DebugStats())
        """
    )
    assert "RAISED internal error in the event loop" in out, out
    assert "GOT b'ping' True" in out, out
    assert "injected panic (DebugPanic)" in err
    assert "managers=0 conns=0 timers=0" in out, out
