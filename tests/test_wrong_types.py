"""No aborts: every public method and function called with wrong argument
types, hostile objects, huge and negative ints, on closed wrappers and after
Manager.close(), raises a Python exception and never crashes the process.

Each group runs in a subprocess so that a crash (SIGSEGV, SIGABRT, a Go
panic that kills the runtime) is a failed test naming the last call, not a
dead pytest.
"""

import os
import subprocess
import sys
import textwrap

import pytest

PRELUDE = textwrap.dedent(
    r'''
    import faulthandler, inspect, itertools, os, socket, sys, threading
    faulthandler.enable()
    import pymongoose
    from pymongoose import *

    # MemoryError: bytes(n) of an int n asks for n bytes (documented for send())
    ALLOWED = (TypeError, ValueError, OverflowError, RuntimeError, AttributeError, MemoryError)

    class Boom(Exception):
        pass

    class Evil:
        """Every conversion hook raises."""
        def __str__(self): raise Boom("str")
        def __repr__(self): raise Boom("repr")
        def __bytes__(self): raise Boom("bytes")
        def __index__(self): raise Boom("index")
        def __int__(self): raise Boom("int")
        def __float__(self): raise Boom("float")
        def __len__(self): raise Boom("len")
        def __iter__(self): raise Boom("iter")
        def __bool__(self): raise Boom("bool")
        def __buffer__(self, flags): raise Boom("buffer")
        def __fspath__(self): raise Boom("fspath")

    class EvilStr(str):
        def __str__(self): raise Boom("str")
        def encode(self, *a, **k): raise Boom("encode")

    class EvilBytes(bytes):
        def __bytes__(self): raise Boom("bytes")

    class EvilInt(int):
        def __index__(self): raise Boom("index")
        def __int__(self): raise Boom("int")

    class EvilDict(dict):
        def items(self): raise Boom("items")
        def keys(self): raise Boom("keys")
        def __iter__(self): raise Boom("iter")

    XS = os.environ.get("PMG_XS", "x")  # the plain str sample
    BAD = [
        None, True, b"x", XS, "", "\ud800", "a\x00b", EvilStr("s"), EvilBytes(b"b"),
        0, -1, 2**63, 2**64, 2**100, -2**63 - 1, -2**100, EvilInt(3),
        1.5, float("nan"), [], [1, 2], {}, {"a": "b"}, {Evil(): "v"}, {"k": Evil()},
        {1: 2}, {"a\r\nb": "c"}, EvilDict(a="b"), bytearray(b"ba"), memoryview(b"mv"),
        object(), Evil(), (lambda: None), type, Ellipsis,
    ]

    unexpected = []
    ncalls = [0]

    def call(label, fn, *args, **kw):
        """Call fn; record any exception outside the allowed set."""
        ncalls[0] += 1
        sys.stdout.write("CALL " + label + "\n")
        sys.stdout.flush()
        try:
            fn(*args, **kw)
        except ALLOWED:
            pass
        except Boom:
            pass
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            unexpected.append(f"{label}: {type(exc).__name__}: {exc}"[:300])

    def safe_label(name, args, kw=None):
        def one(a):
            try:
                return type(a).__name__ + ("=" + repr(a)[:30] if not isinstance(a, (Evil,)) else "")
            except Exception:
                return type(a).__name__
        s = name + "(" + ", ".join(one(a) for a in args)
        if kw:
            s += ", " + ", ".join(k + "=" + one(v) for k, v in kw.items())
        return s + ")"

    def hammer(name, fn, arity=3, kwnames=()):
        """fn() with 0..arity positional BAD values (all single ones, and
        pairs/triples drawn from a small subset), and each keyword alone."""
        call(name + "()", fn)
        for a in BAD:
            call(safe_label(name, [a]), fn, a)
        small = [None, b"x", XS, -1, 2**64, Evil(), {Evil(): 1}, 1.5, EvilStr("s")]
        if arity >= 2:
            for a, b in itertools.product([XS, 1, b"x"] + small, BAD):
                call(safe_label(name, [a, b]), fn, a, b)
        if arity >= 3:
            for a, b, c in itertools.product([XS, 1], [XS, b"x", 1], BAD):
                call(safe_label(name, [a, b, c]), fn, a, b, c)
            for a in small:
                call(safe_label(name, [a, a, a, a]), fn, a, a, a, a)
        for k in kwnames:
            for v in BAD:
                call(safe_label(name, [], {k: v}), fn, **{k: v})
        call(name + "(bogus kw)", fn, bogus=1)

    def kwnames_of(fn):
        try:
            return [p for p in inspect.signature(fn).parameters if p not in ("self",)]
        except (TypeError, ValueError):
            return []

    def finish():
        sys.stdout.write("CALLS %d\n" % ncalls[0])
        for u in unexpected:
            sys.stdout.write("UNEXPECTED " + u + "\n")
        sys.stdout.write("DONE\n")
        sys.stdout.flush()
    '''
)


def run_script(body, timeout=90, xs="x"):
    code = PRELUDE + textwrap.dedent(body) + "\nfinish()\n"
    env = dict(os.environ, PYTHONUNBUFFERED="1", PMG_XS=xs)
    try:
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=timeout,
                           cwd=os.path.dirname(os.path.abspath(__file__)), env=env)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace").splitlines()
        last = [line for line in out if line.startswith("CALL ")][-1:]
        pytest.fail(f"hang (timeout {timeout}s) at {last}")
    out = p.stdout.decode(errors="replace").splitlines()
    last = [line for line in out if line.startswith("CALL ")][-1:]
    assert p.returncode == 0, (
        f"process died with {p.returncode} at {last}\n" + p.stderr.decode(errors="replace")[-4000:]
    )
    assert "DONE" in out, f"no DONE; last call {last}"
    bad = [line for line in out if line.startswith("UNEXPECTED ")]
    assert not bad, "\n".join(bad[:40])
    calls = [int(line.split()[1]) for line in out if line.startswith("CALLS ")]
    assert calls and calls[0] > 0
    return calls[0]


def test_module_functions_wrong_types():
    n = run_script(
        r'''
        names = sorted(n for n in dir(pymongoose) if not n.startswith("_"))
        for name in names:
            obj = getattr(pymongoose, name)
            if isinstance(obj, type) or not callable(obj):
                continue
            hammer(name, obj, arity=3, kwnames=kwnames_of(obj))
        # a few values that are right in type but extreme
        for f in (random_bytes, random_str):
            for v in (0, -1, 2**62, 2**64):
                call(f"{f.__name__}({v})", f, v)
        call("http_parse_multipart(huge offset)", http_parse_multipart, b"--x\r\n", 2**62)
        call("http_parse_multipart(neg offset)", http_parse_multipart, b"--x\r\n", -5)
        log_set(0)
        '''
    )
    assert n > 1000


def test_manager_methods_wrong_types():
    run_script(
        r'''
        import time
        # constructor
        hammer("Manager", Manager, arity=3, kwnames=kwnames_of(Manager.__init__))
        m = Manager(None, enable_wakeup=True)
        m.timer_add(20, lambda: None, repeat=True)  # bounds every poll() wait
        lst = m.listen("tcp://127.0.0.1:0")
        skip = {"run", "close", "poll", "__exit__"}
        for name in sorted(dir(m)):
            if name.startswith("_") and name not in ("__enter__",) or name in skip:
                continue
            attr = getattr(m, name)
            if not callable(attr):
                continue
            hammer("Manager." + name, attr, arity=3, kwnames=kwnames_of(attr))
        # poll: wrong types, and values that must not hang (a 20 ms timer runs)
        for v in BAD:
            if isinstance(v, int) and not isinstance(v, bool) and type(v) is int and v < 0:
                continue  # negative waits for I/O: tested below with a wakeup
            if type(v) is int and 0 < v < 2**63:
                continue
            call(safe_label("poll", [v]), m.poll, v)
        call("poll(2**31)", m.poll, 2**31)
        threading.Timer(0.05, lambda: m.wakeup(m.wakeup_id, b"")).start()
        call("poll(-1)", m.poll, -1)
        call("__exit__ bad", m.__exit__, Evil(), Evil(), Evil())
        m.close()
        # after close(): everything raises RuntimeError or is a no-op
        for name in sorted(dir(m)):
            if name.startswith("_") or name == "run":
                continue
            attr = getattr(m, name)
            if not callable(attr):
                continue
            hammer("closed Manager." + name, attr, arity=2)
        call("closed poll", m.poll, 0)
        call("closed listener wrapper send", lst.send, b"x")
        call("closed run", m.run, "x")
        ''',
        # listen() looks host names up with the blocking system resolver
        # (5 s per name offline): the str sample is a name /etc/hosts has.
        xs="localhost",
    )


def test_connection_methods_wrong_types_alive_closed_and_in_handler():
    run_script(
        r'''
        state = {}

        def conn_hammer(prefix, c, arity=3):
            for name in sorted(dir(c)):
                if name.startswith("_") or name in ("close", "drain"):
                    continue
                try:
                    attr = getattr(c, name)
                except ALLOWED:
                    continue
                if not callable(attr):
                    for v in BAD[:12]:
                        call(f"{prefix}.{name} = {type(v).__name__}", setattr, c, name, v)
                    continue
                hammer(f"{prefix}.{name}", attr, arity=arity, kwnames=kwnames_of(attr))

        def handler(c, ev, data):
            if ev == MG_EV_HTTP_MSG and "msg" not in state:
                state["msg"] = data
                # the live message and the live connection, inside the handler
                for name in sorted(dir(data)):
                    if name.startswith("_"):
                        continue
                    attr = getattr(data, name)
                    if callable(attr):
                        hammer("HttpMessage." + name, attr, arity=3, kwnames=kwnames_of(attr))
                conn_hammer("conn(in handler)", c, arity=2)
                for name in ("serve_dir", "serve_file", "ws_upgrade"):
                    for v in BAD:
                        call(f"{name}(msg, {type(v).__name__})", getattr(c, name), data, v)
                        call(f"{name}(msg, '.', {type(v).__name__})", getattr(c, name), data, ".", v)
                state["done"] = True

        m = Manager(handler)
        lst = m.listen("http://127.0.0.1:0", http=True)
        s = socket.create_connection(("127.0.0.1", lst.local_addr[1]))
        s.sendall(b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\nCookie: a=b\r\n\r\n")
        for _ in range(500):
            m.poll(5)
            if state.get("done"):
                break
        assert state.get("done")
        # stale message view after its handler
        msg = state["msg"]
        for name in sorted(dir(msg)):
            if not name.startswith("_"):
                attr = getattr(msg, name)
                if callable(attr):
                    hammer("stale HttpMessage." + name, attr, arity=2)
        call("bool(stale msg)", bool, msg)
        # a live accepted connection outside its handler
        conns = [c for c in m.connections if not c.is_listening]
        for c in conns:
            conn_hammer("conn", c, arity=2)
        # the listener itself
        conn_hammer("listener", lst, arity=2)
        # a raw TCP connection and a UDP one
        raw = m.listen("tcp://127.0.0.1:0")
        udp = m.listen("udp://127.0.0.1:0")
        conn_hammer("udp", udp, arity=1)
        # closed wrappers
        for c in conns + [raw]:
            c.close()
        for c in conns + [raw]:
            conn_hammer("closed conn", c, arity=2)
            call("closed close()", c.close)
            call("closed drain()", c.drain)
        # a wrapper made by hand
        w = Connection()
        conn_hammer("Connection()", w, arity=2)
        m.close()
        conn_hammer("conn after Manager.close", lst, arity=2)
        s.close()
        # message classes made by hand
        for cls in (HttpMessage, WsMessage, MqttMessage, Timer, TlsOpts, Rpc, RpcReq):
            hammer(cls.__name__, cls, arity=2, kwnames=kwnames_of(cls))
            try:
                obj = cls()
            except ALLOWED:
                continue
            for name in sorted(dir(obj)):
                if name.startswith("_"):
                    continue
                try:
                    attr = getattr(obj, name)
                except ALLOWED:
                    continue
                if callable(attr):
                    hammer(f"{cls.__name__}().{name}", attr, arity=2)
        ''',
        timeout=120,
    )


def test_timer_and_ws_mqtt_wrappers_wrong_types():
    run_script(
        r'''
        m = Manager(None)
        t = m.timer_add(10, lambda: None, repeat=True)
        for name in ("cancel",):
            hammer("Timer." + name, getattr(t, name), arity=2)
        for v in BAD[:12]:
            call("Timer.active = x", setattr, t, "active", v)
        t.cancel()
        call("Timer.cancel again", t.cancel)
        for ms in (-1, -2**63, 2**63 - 1, 2**64):
            call(f"timer_add({ms})", m.timer_add, ms, lambda: None)
        for cb in BAD:
            call(f"timer_add(1, {type(cb).__name__})", m.timer_add, 1, cb, repeat=True)
        for _ in range(5):
            m.poll(2)  # non-callable callbacks fire: must be reported, not crash
        m.close()
        hammer("closed Timer.cancel", t.cancel, arity=1)
        call("closed timer.active", getattr, t, "active")

        # WebSocket client and MQTT client wrappers: wrong types in their methods
        m = Manager(None)
        ws = m.ws_connect("ws://127.0.0.1:1/")
        mq = m.mqtt_connect("mqtt://127.0.0.1:1")
        for c, pre in ((ws, "ws"), (mq, "mqtt")):
            for name in ("ws_send", "ws_upgrade", "mqtt_pub", "mqtt_sub", "mqtt_unsub", "mqtt_ping",
                         "mqtt_pong", "mqtt_disconnect", "tls_init", "tls_free", "resolve",
                         "resolve_cancel", "sntp_request", "http_sse", "http_basic_auth", "reply_json",
                         "http_chunk", "reply", "send", "error"):
                hammer(f"{pre}.{name}", getattr(c, name), arity=3, kwnames=kwnames_of(getattr(c, name)))
        for _ in range(20):
            m.poll(2)
        m.close()
        '''
    )
