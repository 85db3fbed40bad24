"""JSON-RPC: Rpc and RpcReq (docs/api.md 19.7), exact output formats."""

import pytest

from pymongoose import Rpc, RpcReq
from pymongoose import _mongoose as m


def make_rpc():
    rpc = Rpc()
    rpc.add("sum", lambda r: r.ok(str(m.json_get_long(r.frame, "$.params[0]")
                                      + m.json_get_long(r.frame, "$.params[1]"))))
    rpc.add("hello", lambda r: r.ok('"hi"'))
    rpc.add("fail", lambda r: r.err(123, 'bad "thing"\n'))
    rpc.add("none", lambda r: None)

    def raises(r):
        raise ValueError("oops")

    rpc.add("raise", raises)
    return rpc


CASES = [
    ('{"id":1,"method":"sum","params":[2,3]}', '{"id":1,"result":5}'),
    ('{"id":"a b","method":"hello"}', '{"id":"a b","result":"hi"}'),
    ('{"id": {"x": [1, 2]} ,"method":"hello"}', '{"id":{"x": [1, 2]},"result":"hi"}'),
    ('{"id":null,"method":"hello"}', '{"id":null,"result":"hi"}'),
    ('{"method":"hello"}', ''),  # notification: no output on success
    ('{"id":7,"method":"fail"}', '{"id":7,"error":{"code":123,"message":"bad \\"thing\\"\\n"}}'),
    ('{"method":"fail"}', '{"error":{"code":123,"message":"bad \\"thing\\"\\n"}}'),
    ('{"id":2,"method":"nope"}', '{"id":2,"error":{"code":-32601,"message":"nope not found"}}'),
    ('{"method":"nope"}', '{"error":{"code":-32601,"message":"nope not found"}}'),
    ('{"id":3,"method":"none"}', '{"id":3,"error":{"code":-32603,"message":"handler produced no response"}}'),
    ('{"id":4,"method":"raise"}', '{"id":4,"error":{"code":-32603,"message":"oops"}}'),
    ('{"id":5}', '{"id":5,"error":{"code":-32700,"message":"{\\"id\\":5}"}}'),
    ('not json', '{"error":{"code":-32700,"message":"not json"}}'),
    ('{"id":6,"method":5}', '{"id":6,"error":{"code":-32700,"message":"{\\"id\\":6,\\"method\\":5}"}}'),
    # a response frame without a "" handler: " not found", as Mongoose
    ('{"id":8,"result":1}', '{"id":8,"error":{"code":-32601,"message":" not found"}}'),
]


@pytest.mark.parametrize("frame,out", CASES)
def test_process(frame, out):
    rpc = make_rpc()
    assert rpc.process(frame) == out
    assert rpc.process(frame.encode()) == out
    assert rpc.process(bytearray(frame.encode())) == out


def test_patterns_and_order():
    rpc = Rpc()
    calls = []
    rpc.add("user.*", lambda r: (calls.append("star"), r.ok("1")))
    rpc.add("user.get", lambda r: (calls.append("exact"), r.ok("2")))
    rpc.add("#", lambda r: (calls.append("any"), r.ok("3")))
    assert rpc.methods == ["#", "user.get", "user.*"]
    assert rpc.process('{"id":1,"method":"user.get"}') == '{"id":1,"result":3}'
    rpc2 = Rpc()
    rpc2.add("user.*", lambda r: r.ok("1"))
    rpc2.add("user.get", lambda r: r.ok("2"))
    assert rpc2.process('{"id":1,"method":"user.get"}') == '{"id":1,"result":2}'
    assert rpc2.process('{"id":1,"method":"user.put"}') == '{"id":1,"result":1}'
    assert rpc2.process('{"id":1,"method":"user.a.b"}') == '{"id":1,"result":1}'  # '*' stops only at '/'
    assert rpc2.process('{"id":1,"method":"user/a"}') == (
        '{"id":1,"error":{"code":-32601,"message":"user/a not found"}}')
    assert calls == ["any"]


def test_response_handler():
    rpc = Rpc()
    seen = []
    rpc.add("", lambda r: (seen.append(r.frame), r.ok("null")))
    rpc.add("ping", lambda r: r.ok('"pong"'))
    assert rpc.methods == ["ping"]
    assert rpc.process('{"id":9,"result":"x"}') == '{"id":9,"result":null}'
    assert rpc.process('{"error":{"code":1}}') == ""
    assert seen == ['{"id":9,"result":"x"}', '{"error":{"code":1}}']


def test_req_lifecycle():
    rpc = Rpc()
    kept = []
    errors = []

    def h(r):
        kept.append(r)
        assert r.frame == '{"id":1,"method":"x"}'
        r.ok("1")
        for f in (lambda: r.ok("2"), lambda: r.err(1, "again")):
            try:
                f()
            except RuntimeError as exc:
                errors.append(str(exc))
        raise ValueError("after the answer")  # ignored: already responded

    rpc.add("x", h)
    assert rpc.process('{"id":1,"method":"x"}') == '{"id":1,"result":1}'
    assert errors == ["Response already sent", "Response already sent"]
    r = kept[0]
    assert r.frame == ""
    with pytest.raises(RuntimeError, match="RpcReq is no longer valid"):
        r.ok("1")
    with pytest.raises(RuntimeError, match="RpcReq is no longer valid"):
        r.err(1, "x")
    empty = RpcReq()
    assert empty.frame == ""
    with pytest.raises(RuntimeError, match="RpcReq is no longer valid"):
        empty.ok("1")


def test_base_exceptions_propagate():
    rpc = Rpc()

    def h(r):
        raise KeyboardInterrupt

    rpc.add("k", h)
    with pytest.raises(KeyboardInterrupt):
        rpc.process('{"id":1,"method":"k"}')


def test_error_message_encoding():
    rpc = Rpc()
    rpc.add("e", lambda r: r.err(-1, "tab\there \\ é \x01"))
    assert rpc.process('{"id":1,"method":"e"}') == (
        '{"id":1,"error":{"code":-1,"message":"tab\\there \\\\ é \\u0001"}}')


def test_argument_types():
    rpc = Rpc()
    with pytest.raises(TypeError):
        rpc.add(b"x", lambda r: None)
    with pytest.raises(TypeError):
        rpc.add("x", None)
    rpc.add("x", lambda r: r.ok(1))
    assert rpc.process('{"id":1,"method":"x"}') == (
        '{"id":1,"error":{"code":-32603,"message":"Argument \'result_json\' has incorrect type '
        '(expected str, got int)"}}')
