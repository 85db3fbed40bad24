"""TLS (docs/api.md section 11): https, wss and mqtts, client and server.

The certificates are generated here with the ``cryptography`` package: a CA,
a server certificate for localhost/127.0.0.1 (EC P-256 key in SEC1 PEM, as
the reference requires), a client certificate, an expired one, one for the
wrong host and an unrelated CA. Peers: Python's ``ssl``/``urllib``/
``requests``, ``http.server`` wrapped with ssl, ``websocket-client`` and a
TLS listener of ``mosquitto``.
"""

import concurrent.futures
import datetime
import hashlib
import http.server
import ipaddress
import socket
import ssl
import threading
import urllib.request

import pytest

from conftest import WAIT, mosquitto_broker, poll_until, run_client, recv_all

from pymongoose import (
    MG_EV_ACCEPT,
    MG_EV_CLOSE,
    MG_EV_CONNECT,
    MG_EV_ERROR,
    MG_EV_HTTP_MSG,
    MG_EV_MQTT_MSG,
    MG_EV_MQTT_OPEN,
    MG_EV_OPEN,
    MG_EV_POLL,
    MG_EV_READ,
    MG_EV_TLS_HS,
    MG_EV_WRITE,
    MG_EV_WS_MSG,
    MG_EV_WS_OPEN,
    TlsOpts,
)

x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402


# --------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------

def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key, fmt=serialization.PrivateFormat.TraditionalOpenSSL):
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


class CA:
    def __init__(self, cn):
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, hosts, expired=False, key=None, key_format=serialization.PrivateFormat.TraditionalOpenSSL):
        """A leaf for ``hosts``; returns (cert PEM, key PEM)."""
        key = key or ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        if expired:
            nb, na = now - datetime.timedelta(days=2), now - datetime.timedelta(days=1)
        else:
            nb, na = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=1)
        sans = []
        for h in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                sans.append(x509.DNSName(h))
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(hosts[0] if hosts else "leaf")).issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(nb).not_valid_after(na)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            # What a strict verifier (Python 3.13's VERIFY_X509_STRICT) requires
            # besides the above: key identifiers, key usage, not a CA.
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                           critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key, key_format)


def closed(conn):
    """MG_EV_CLOSE has been delivered (a closed wrapper keeps its id)."""
    return repr(conn) == "<Connection closed>"


def strict_context(**kw):
    """A client context that verifies as strictly as Python 3.13's default,
    on every Python version."""
    ctx = ssl.create_default_context(**kw)
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    return ctx


class PKI:
    def __init__(self, d):
        self.dir = d
        self.ca = CA("pymongoose test CA")
        self.other = CA("unrelated CA")
        self.server = self.ca.issue(["localhost", "127.0.0.1"])
        self.client = self.ca.issue(["client.test"])
        self.expired = self.ca.issue(["localhost", "127.0.0.1"], expired=True)
        self.wrong_host = self.ca.issue(["elsewhere.example"])
        self.untrusted = self.other.issue(["localhost", "127.0.0.1"])
        self.ca_file = self.write("ca.pem", self.ca.pem)
        self.server_files = (self.write("server.pem", self.server[0]), self.write("server.key", self.server[1]))
        self.client_files = (self.write("client.pem", self.client[0]), self.write("client.key", self.client[1]))

    def write(self, name, data):
        p = self.dir / name
        p.write_bytes(data)
        return str(p)

    def server_opts(self, **kw):
        return TlsOpts(cert=self.server[0], key=self.server[1], **kw)

    def client_ctx(self, cert=False):
        ctx = strict_context(cafile=self.ca_file)
        if cert:
            ctx.load_cert_chain(*self.client_files)
        return ctx


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return PKI(tmp_path_factory.mktemp("pki"))


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

class Log:
    """Records (conn, ev, data) with message views summarised; calls on()."""

    def __init__(self, on=None):
        self.on = on
        self.events = []
        self.failures = []

    def __call__(self, conn, ev, data):
        if ev == MG_EV_POLL:
            return
        stored = data
        if ev in (10, 11, 12):
            stored = bytes(data.body_bytes)
        elif ev == MG_EV_WS_MSG:
            stored = bytes(data.data)
        self.events.append((conn, ev, stored))
        if self.on is not None:
            try:
                self.on(conn, ev, data)
            except Exception as exc:  # reported by the test, not just printed
                self.failures.append(exc)
                raise

    def seq(self, conn):
        return [e for c, e, _ in self.events if c is conn]

    def data(self, ev, conn=None):
        return [d for c, e, d in self.events if e == ev and (conn is None or c is conn)]

    def conns(self, ev):
        out = []
        for c, e, _ in self.events:
            if e == ev and not any(c is o for o in out):
                out.append(c)
        return out

    def check(self):
        assert not self.failures, repr(self.failures[0])


def https_server(mgr, pki, on_msg, opts=None, log=None):
    """An HTTPS listener whose children get tls_init in MG_EV_ACCEPT."""
    opts = opts or pki.server_opts()

    def on(conn, ev, data):
        if ev == MG_EV_ACCEPT:
            assert conn.is_tls
            conn.tls_init(opts)
            assert conn.is_tls
        elif ev == MG_EV_HTTP_MSG:
            on_msg(conn, data)

    log = log or Log()
    log.on = on
    lst = mgr.listen("https://127.0.0.1:0", log, http=True)
    assert lst.is_tls
    return lst, lst.local_addr[1], log


def reply_drain(body):
    def on_msg(conn, msg):
        conn.reply(200, body if not callable(body) else body(msg))
        conn.drain()
    return on_msg


# --------------------------------------------------------------------------
# Our HTTPS server, Python clients
# --------------------------------------------------------------------------

def test_python_clients_fetch_from_our_https_server(pki, make_manager):
    mgr = make_manager()
    _, port, log = https_server(mgr, pki, reply_drain(lambda m: b"hello " + m.uri.encode()))

    def raw_ssl():
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            with pki.client_ctx().wrap_socket(s, server_hostname="localhost") as t:
                t.sendall(b"GET /raw HTTP/1.1\r\nHost: localhost\r\n\r\n")
                out = b""
                while True:
                    chunk = t.recv(65536)
                    if not chunk:
                        return out
                    out += chunk

    raw = run_client(mgr, raw_ssl)
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and raw.endswith(b"hello /raw")

    def url_get():
        with urllib.request.urlopen(f"https://localhost:{port}/urllib", context=pki.client_ctx(),
                                    timeout=WAIT) as r:
            return r.status, r.read()

    assert run_client(mgr, url_get) == (200, b"hello /urllib")

    requests = pytest.importorskip("requests")

    def req_get():
        r = requests.get(f"https://127.0.0.1:{port}/requests", verify=pki.ca_file, timeout=WAIT)
        return r.status_code, r.content

    assert run_client(mgr, req_get) == (200, b"hello /requests")
    log.check()
    # Each accepted connection: OPEN, ACCEPT, TLS_HS, then HTTP, and a drain.
    children = log.conns(MG_EV_ACCEPT)
    assert len(children) == 3
    poll_until(mgr, lambda: all(closed(c) for c in children), what="children closed")
    for c in children:
        seq = log.seq(c)
        assert seq[:3] == [MG_EV_OPEN, MG_EV_ACCEPT, MG_EV_TLS_HS], seq
        assert MG_EV_HTTP_MSG in seq and seq[-2:] == [MG_EV_WRITE, MG_EV_CLOSE], seq


def test_drain_flushes_16_mib_and_close_notify(pki, make_manager):
    mgr = make_manager()
    big = hashlib.sha256(b"seed").digest() * (16 * 1024 * 1024 // 32)
    _, port, log = https_server(mgr, pki, reply_drain(big))

    def fetch():
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            t = pki.client_ctx().wrap_socket(s, server_hostname="localhost")
            t.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = recv_all(t)
            # recv() returned b"" after a close_notify: unwrap() completes
            # the shutdown without error only when the alert was received.
            t.unwrap()
            return data

    data = run_client(mgr, fetch, timeout=60)
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"200 OK" in head
    assert len(body) == len(big) and hashlib.sha256(body).digest() == hashlib.sha256(big).digest()
    log.check()


def test_python_upload_16_mib(pki, make_manager):
    mgr = make_manager()
    got = []
    big = bytes(range(256)) * (16 * 4096)

    def on_msg(conn, msg):
        got.append(hashlib.sha256(msg.body_bytes).hexdigest())
        conn.reply(200, b"stored")
        conn.drain()

    _, port, log = https_server(mgr, pki, on_msg)

    def post():
        req = urllib.request.Request(f"https://localhost:{port}/up", data=big, method="POST")
        with urllib.request.urlopen(req, context=pki.client_ctx(), timeout=60) as r:
            return r.read()

    assert run_client(mgr, post, timeout=60) == b"stored"
    assert got == [hashlib.sha256(big).hexdigest()]
    log.check()


def test_100_concurrent_handshakes(pki, make_manager):
    mgr = make_manager()
    _, port, log = https_server(mgr, pki, reply_drain(b"ok"))
    ctx = pki.client_ctx()

    def one(i):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                t.sendall(f"GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                return recv_all(t)

    def all_at_once():
        with concurrent.futures.ThreadPoolExecutor(100) as ex:
            return list(ex.map(one, range(100)))

    results = run_client(mgr, all_at_once, timeout=60)
    assert all(r.endswith(b"\r\n\r\nok") for r in results)
    assert len(log.data(MG_EV_TLS_HS)) >= 100

    # And 100 of our own clients against our server, in the same Manager.
    done = []

    def client(conn, ev, data):
        if ev == MG_EV_CONNECT:
            conn.tls_init(TlsOpts(ca=pki.ca.pem, name="localhost"))
            conn.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        elif ev == MG_EV_HTTP_MSG:
            done.append(bytes(data.body_bytes))
            conn.drain()
        elif ev == MG_EV_ERROR:
            done.append(data)

    for _ in range(100):
        mgr.connect(f"https://127.0.0.1:{port}", client, http=True)
    poll_until(mgr, lambda: len(done) == 100, timeout=60, what="100 clients")
    assert done == [b"ok"] * 100
    log.check()


# --------------------------------------------------------------------------
# Our HTTPS client, Python ssl server
# --------------------------------------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802
        body = f"python ssl server saw {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def python_https(pki):
    """http.server wrapped with ssl, in a thread; yields its port."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*pki.server_files)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_our_https_client_against_python_ssl_server(pki, python_https, make_manager):
    mgr = make_manager()
    states = []

    def on(conn, ev, data):
        if ev == MG_EV_CONNECT:
            states.append(("connect", conn.is_tls))
            conn.tls_init(TlsOpts(ca=pki.ca.pem))  # name: the URL host
            states.append(("after init", conn.is_tls))
            conn.send(b"GET /fetched HTTP/1.1\r\nHost: localhost\r\n\r\n")
        elif ev == MG_EV_HTTP_MSG:
            conn.drain()

    log = Log(on)
    c = mgr.connect(f"https://localhost:{python_https}", log, http=True)
    assert c.is_tls and c.is_client
    poll_until(mgr, lambda: closed(c), what="client closed")
    log.check()
    assert states == [("connect", True), ("after init", True)]
    assert log.data(MG_EV_HTTP_MSG) == [b"python ssl server saw /fetched"]
    seq = log.seq(c)
    assert seq[seq.index(MG_EV_CONNECT) + 1] == MG_EV_TLS_HS, seq
    assert MG_EV_ERROR not in seq and seq[-1] == MG_EV_CLOSE


def test_client_tls_init_right_after_connect(pki, python_https, make_manager):
    mgr = make_manager()
    log = Log(lambda conn, ev, data: conn.drain() if ev == MG_EV_HTTP_MSG else None)
    c = mgr.connect(f"https://127.0.0.1:{python_https}", log, http=True)
    c.tls_init(TlsOpts(ca=pki.ca.pem, name="localhost"))
    c.send(b"GET /early HTTP/1.1\r\nHost: localhost\r\n\r\n")
    poll_until(mgr, lambda: closed(c), what="client closed")
    log.check()
    assert log.data(MG_EV_HTTP_MSG) == [b"python ssl server saw /early"]


# --------------------------------------------------------------------------
# Verification failures: MG_EV_ERROR and a close, never a hang
# --------------------------------------------------------------------------

@pytest.mark.parametrize("which,opts,text", [
    ("wrong_host", lambda p: TlsOpts(ca=p.ca.pem, name="localhost"), "elsewhere.example"),
    ("wrong_host_url", lambda p: TlsOpts(ca=p.ca.pem), "127.0.0.1"),
    ("wrong_host_no_ca", lambda p: TlsOpts(), "127.0.0.1"),
    ("untrusted", lambda p: TlsOpts(ca=p.ca.pem, name="localhost"), "unknown authority"),
    ("expired", lambda p: TlsOpts(ca=p.ca.pem, name="localhost"), "expired"),
])
def test_client_verification_errors(pki, make_manager, which, opts, text):
    cert = {"wrong_host": pki.wrong_host, "wrong_host_url": pki.wrong_host,
            "wrong_host_no_ca": pki.wrong_host, "untrusted": pki.untrusted,
            "expired": pki.expired}[which]
    mgr = make_manager()
    _, port, slog = https_server(mgr, pki, reply_drain(b"x"), opts=TlsOpts(cert=cert[0], key=cert[1]))

    def on(conn, ev, data):
        if ev == MG_EV_CONNECT:
            conn.tls_init(opts(pki))
            conn.send(b"GET / HTTP/1.1\r\n\r\n")

    log = Log(on)
    c = mgr.connect(f"https://127.0.0.1:{port}", log, http=True)
    poll_until(mgr, lambda: closed(c), what="client closed")
    errors = log.data(MG_EV_ERROR)
    assert len(errors) == 1 and text in errors[0], errors
    seq = log.seq(c)
    assert MG_EV_TLS_HS not in seq and MG_EV_HTTP_MSG not in seq and seq[-1] == MG_EV_CLOSE
    # The server side fails too (the client's alert), and closes.
    children = slog.conns(MG_EV_ACCEPT)
    poll_until(mgr, lambda: all(closed(ch) for ch in children), what="server side closed")
    assert not slog.data(MG_EV_HTTP_MSG)


def test_skip_verification_turns_every_check_off(pki, make_manager):
    mgr = make_manager()
    _, port, _ = https_server(mgr, pki, reply_drain(b"unchecked"),
                              opts=TlsOpts(cert=pki.expired[0], key=pki.expired[1]))

    def on(conn, ev, data):
        if ev == MG_EV_CONNECT:
            conn.tls_init(TlsOpts(ca=pki.other.pem, name="nowhere.example", skip_verification=True))
            conn.send(b"GET / HTTP/1.1\r\n\r\n")
        elif ev == MG_EV_HTTP_MSG:
            conn.drain()

    log = Log(on)
    c = mgr.connect(f"https://127.0.0.1:{port}", log, http=True)
    poll_until(mgr, lambda: closed(c), what="client closed")
    assert log.data(MG_EV_HTTP_MSG) == [b"unchecked"] and not log.data(MG_EV_ERROR)


def test_python_client_rejects_wrong_server(pki, make_manager):
    mgr = make_manager()
    _, port, slog = https_server(mgr, pki, reply_drain(b"x"),
                                 opts=TlsOpts(cert=pki.untrusted[0], key=pki.untrusted[1]))

    def fetch():
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            with pki.client_ctx().wrap_socket(s, server_hostname="localhost"):
                pass

    with pytest.raises(ssl.SSLCertVerificationError):
        run_client(mgr, fetch)
    child = slog.conns(MG_EV_ACCEPT)[0]
    poll_until(mgr, lambda: closed(child), what="server side closed")
    assert len(slog.data(MG_EV_ERROR, child)) == 1


def test_handshake_garbage_and_plain_http_to_tls_port(pki, make_manager):
    mgr = make_manager()
    _, port, slog = https_server(mgr, pki, reply_drain(b"x"))

    def plain():
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            return recv_all(s)

    out = run_client(mgr, plain)
    assert b"HTTP/1.1 200" not in out
    child = slog.conns(MG_EV_ACCEPT)[0]
    poll_until(mgr, lambda: closed(child), what="closed")
    errs = slog.data(MG_EV_ERROR, child)
    assert len(errs) == 1 and errs[0].startswith("TLS"), errs


# --------------------------------------------------------------------------
# Mutual TLS
# --------------------------------------------------------------------------

def test_mutual_tls(pki, make_manager):
    mgr = make_manager()
    _, port, slog = https_server(mgr, pki, reply_drain(b"client verified"),
                                 opts=pki.server_opts(ca=pki.ca.pem))

    def fetch(with_cert):
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            with pki.client_ctx(cert=with_cert).wrap_socket(s, server_hostname="localhost") as t:
                t.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                return recv_all(t)

    assert run_client(mgr, fetch, True).endswith(b"client verified")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        run_client(mgr, fetch, False)
    poll_until(mgr, lambda: slog.data(MG_EV_ERROR), what="server error")
    assert "certificate" in slog.data(MG_EV_ERROR)[0]

    # Our client, with and without its certificate.
    def client(cert):
        log = Log()

        def on(conn, ev, data):
            if ev == MG_EV_CONNECT:
                if cert:
                    conn.tls_init(TlsOpts(ca=pki.ca.pem, cert=pki.client[0], key=pki.client[1],
                                          name="localhost"))
                else:
                    conn.tls_init(TlsOpts(ca=pki.ca.pem, name="localhost"))
                conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            elif ev == MG_EV_HTTP_MSG:
                conn.drain()

        log.on = on
        c = mgr.connect(f"https://127.0.0.1:{port}", log, http=True)
        poll_until(mgr, lambda: closed(c), what="client closed")
        return log

    ok = client(True)
    assert ok.data(MG_EV_HTTP_MSG) == [b"client verified"] and not ok.data(MG_EV_ERROR)
    refused = client(False)
    assert not refused.data(MG_EV_HTTP_MSG) and len(refused.data(MG_EV_ERROR)) == 1


# --------------------------------------------------------------------------
# Key formats, tls_init rules, is_tls
# --------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["sec1", "pkcs8", "rsa", "der"])
def test_key_formats(pki, make_manager, kind):
    if kind == "rsa":
        cert, key = pki.ca.issue(["localhost"], key=rsa.generate_private_key(65537, 2048))
    elif kind == "pkcs8":
        cert, key = pki.ca.issue(["localhost"], key_format=serialization.PrivateFormat.PKCS8)
    else:
        cert, key = pki.server
    if kind == "der":
        cert = x509.load_pem_x509_certificate(cert).public_bytes(serialization.Encoding.DER)
        key = serialization.load_pem_private_key(key, None).private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption())
    mgr = make_manager()
    _, port, log = https_server(mgr, pki, reply_drain(kind.encode()), opts=TlsOpts(cert=cert, key=key))

    def url_get():
        with urllib.request.urlopen(f"https://localhost:{port}/", context=pki.client_ctx(),
                                    timeout=WAIT) as r:
            return r.read()

    assert run_client(mgr, url_get) == kind.encode()
    log.check()


def test_tls_init_argument_and_closed_errors(pki, make_manager):
    mgr = make_manager()
    lst = mgr.listen("tcp://127.0.0.1:0")
    with pytest.raises(TypeError, match="TlsOpts"):
        lst.tls_init(None)
    with pytest.raises(TypeError):
        lst.tls_init({"cert": b"x"})
    lst.tls_init(TlsOpts())  # on a listener: nothing useful, no error
    lst.close()
    with pytest.raises(TypeError):
        lst.tls_init(1)  # argument validation first
    with pytest.raises(RuntimeError, match="closed"):
        lst.tls_init(TlsOpts())
    with pytest.raises(RuntimeError, match="closed"):
        lst.tls_free()


@pytest.mark.parametrize("opts,text", [
    (lambda p: TlsOpts(cert=p.server[0]), "Certificate provided without a private key"),
    (lambda p: TlsOpts(cert=p.server[0], key=b"not a key"), "TLS"),
    (lambda p: TlsOpts(cert=p.server[0], key=p.client[1]), "TLS"),
    (lambda p: TlsOpts(ca=b"-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n",
                       cert=p.server[0], key=p.server[1]), "ca"),
])
def test_bad_key_material_errors_inside_tls_init(pki, make_manager, opts, text):
    mgr = make_manager()
    seen = []

    def on(conn, ev, data):
        if ev == MG_EV_ACCEPT:
            conn.tls_init(opts(pki))
            seen.append(("after tls_init", conn.is_closing))
        elif ev == MG_EV_ERROR:
            seen.append(("error", data))

    log = Log(on)
    lst = mgr.listen("https://127.0.0.1:0", log, http=True)
    port = lst.local_addr[1]
    s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    try:
        poll_until(mgr, lambda: log.data(MG_EV_CLOSE), what="child closed")
    finally:
        s.close()
    assert len(seen) == 2 and seen[0][0] == "error" and text in seen[0][1], seen
    assert seen[1] == ("after tls_init", True)


def test_is_tls_downgrade_without_tls_init(make_manager):
    mgr = make_manager()
    states = []

    def on(conn, ev, data):
        if ev == MG_EV_ACCEPT:
            states.append(("accept", conn.is_tls))
        elif ev == MG_EV_READ:
            states.append(("read", conn.is_tls))
            conn.send(conn.recv_data())
            conn.drain()

    lst = mgr.listen("tls://127.0.0.1:0", on)
    assert lst.is_tls
    port = lst.local_addr[1]

    def plain():
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.sendall(b"clear text")
            s.shutdown(socket.SHUT_WR)
            return recv_all(s)

    assert run_client(mgr, plain) == b"clear text"
    assert states == [("accept", True), ("read", False)]

    # Client side: is_tls until MG_EV_CONNECT, False after it without tls_init.
    cstates = []

    def con(conn, ev, data):
        if ev in (MG_EV_OPEN, MG_EV_CONNECT):
            cstates.append(conn.is_tls)
        elif ev == MG_EV_WRITE:
            cstates.append(conn.is_tls)
            conn.drain()

    c = mgr.connect(f"tcps://127.0.0.1:{port}", con)
    c.send(b"x")
    poll_until(mgr, lambda: closed(c), what="client closed")
    assert cstates == [True, True, False]

    # Plain schemes start without TLS.
    assert not mgr.listen("tcp://127.0.0.1:0").is_tls


def test_tls_free_returns_to_clear_text(make_manager, pki):
    mgr = make_manager()

    def on(conn, ev, data):
        if ev == MG_EV_ACCEPT:
            conn.tls_init(pki.server_opts())
            assert conn.is_tls
            conn.tls_free()
            assert not conn.is_tls
        elif ev == MG_EV_READ:
            conn.send(conn.recv_data())
            conn.drain()

    lst = mgr.listen("tls://127.0.0.1:0", on)
    port = lst.local_addr[1]

    def plain():
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.sendall(b"after free")
            s.shutdown(socket.SHUT_WR)
            return recv_all(s)

    assert run_client(mgr, plain) == b"after free"


def test_tls_hs_on_both_sides_and_raw_tcp_echo(pki, make_manager):
    """tls:// raw TCP: MG_EV_READ sees plaintext, send() is encrypted."""
    mgr = make_manager()

    def srv(conn, ev, data):
        if ev == MG_EV_ACCEPT:
            conn.tls_init(pki.server_opts())
        elif ev == MG_EV_READ:
            if conn.recv_data().endswith(b"!"):
                conn.send(conn.recv_data().upper())
                conn.drain()

    slog = Log(srv)
    lst = mgr.listen("tls://127.0.0.1:0", slog)
    port = lst.local_addr[1]

    got = []

    def cl(conn, ev, data):
        if ev == MG_EV_CONNECT:
            conn.tls_init(TlsOpts(ca=pki.ca.pem, name="localhost"))
            conn.send(b"secret ")
            conn.send(b"words!")
        elif ev == MG_EV_READ:
            got.append((conn.recv_data(), conn.is_tls))

    clog = Log(cl)
    c = mgr.connect(f"tls://127.0.0.1:{port}", clog)
    # The server drains: its close_notify ends our connection too.
    poll_until(mgr, lambda: closed(c), what="client closed")
    assert got[-1] == (b"SECRET WORDS!", True)
    slog.check()
    clog.check()
    child = slog.conns(MG_EV_ACCEPT)[0]
    assert MG_EV_TLS_HS in slog.seq(child) and MG_EV_TLS_HS in clog.seq(c)


# --------------------------------------------------------------------------
# WebSocket over TLS
# --------------------------------------------------------------------------

def wss_server(mgr, pki):
    def on(conn, ev, data):
        if ev == MG_EV_ACCEPT:
            conn.tls_init(pki.server_opts())
        elif ev == MG_EV_HTTP_MSG:
            conn.ws_upgrade(data)
        elif ev == MG_EV_WS_MSG:
            conn.ws_send(b"echo:" + bytes(data.data), 2)

    log = Log(on)
    lst = mgr.listen("wss://127.0.0.1:0", log, http=True)
    return lst.local_addr[1], log


def test_wss_echo_with_websocket_client(pki, make_manager):
    websocket = pytest.importorskip("websocket")
    mgr = make_manager()
    port, log = wss_server(mgr, pki)
    payload = bytes(range(256)) * 1000

    def talk():
        ws = websocket.create_connection(f"wss://localhost:{port}/ws",
                                         sslopt={"ca_certs": pki.ca_file}, timeout=WAIT)
        try:
            out = []
            for msg in (b"one", payload):
                ws.send_binary(msg)
                out.append(ws.recv())
            return out
        finally:
            ws.close()

    assert run_client(mgr, talk) == [b"echo:one", b"echo:" + payload]
    log.check()


def test_wss_our_client(pki, make_manager):
    mgr = make_manager()
    port, slog = wss_server(mgr, pki)
    got = []

    def on(conn, ev, data):
        if ev == MG_EV_CONNECT:
            conn.tls_init(TlsOpts(ca=pki.ca.pem, name="localhost"))
        elif ev == MG_EV_WS_OPEN:
            conn.ws_send(b"over wss", 2)
        elif ev == MG_EV_WS_MSG:
            got.append(bytes(data.data))
            conn.drain()

    log = Log(on)
    c = mgr.ws_connect(f"wss://127.0.0.1:{port}/ws", log)
    poll_until(mgr, lambda: closed(c), what="ws client closed")
    log.check()
    assert got == [b"echo:over wss"]


# --------------------------------------------------------------------------
# MQTT over TLS against mosquitto
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mosquitto_tls(pki, tmp_path_factory):
    d = tmp_path_factory.mktemp("mosquitto-tls")
    with mosquitto_broker(d, f"cafile {pki.ca_file}", f"certfile {pki.server_files[0]}",
                          f"keyfile {pki.server_files[1]}", "allow_anonymous true") as port:
        yield port


def test_mqtts_against_mosquitto(pki, mosquitto_tls, make_manager):
    mgr = make_manager()
    got = []

    def on(conn, ev, data):
        if ev == MG_EV_CONNECT:
            conn.tls_init(TlsOpts(ca=pki.ca.pem, name="localhost"))
        elif ev == MG_EV_MQTT_OPEN:
            assert data == 0
            conn.mqtt_sub("pmg/tls", qos=1)
            conn.mqtt_pub("pmg/tls", b"encrypted hello", qos=1)
        elif ev == MG_EV_MQTT_MSG:
            got.append((data.topic, bytes(data.data)))

    log = Log(on)
    c = mgr.mqtt_connect(f"mqtts://127.0.0.1:{mosquitto_tls}", log, client_id="pmg-tls")
    assert c.is_tls
    poll_until(mgr, lambda: got or closed(c), what="message back from mosquitto")
    log.check()
    assert got == [("pmg/tls", b"encrypted hello")]
    assert c.is_tls and MG_EV_TLS_HS in log.seq(c)
    c.close()


def test_mqtts_untrusted_broker_is_an_error(pki, mosquitto_tls, make_manager):
    mgr = make_manager()

    def on(conn, ev, data):
        if ev == MG_EV_CONNECT:
            conn.tls_init(TlsOpts(ca=pki.other.pem, name="localhost"))

    log = Log(on)
    c = mgr.mqtt_connect(f"mqtts://127.0.0.1:{mosquitto_tls}", log)
    poll_until(mgr, lambda: closed(c), what="closed")
    errs = log.data(MG_EV_ERROR)
    assert len(errs) == 1 and "unknown authority" in errs[0]
    assert MG_EV_MQTT_OPEN not in log.seq(c)


def test_serve_file_and_chunks_over_https(pki, make_manager, tmp_path):
    """Static files stream from disk through the TLS write path."""
    blob = hashlib.sha256(b"file").digest() * (5 * 1024 * 1024 // 32 + 7)
    f = tmp_path / "blob.bin"
    f.write_bytes(blob)

    def on_msg(conn, msg):
        if msg.uri == "/file":
            conn.serve_file(msg, str(f))
        else:
            conn.reply(200, b"", {"Transfer-Encoding": "chunked"})
            for part in (b"alpha ", b"beta ", b"gamma"):
                conn.http_chunk(part)
            conn.http_chunk(b"")

    mgr = make_manager()
    _, port, log = https_server(mgr, pki, on_msg)

    def fetch(path):
        with urllib.request.urlopen(f"https://localhost:{port}{path}", context=pki.client_ctx(),
                                    timeout=WAIT) as r:
            return r.read()

    got = run_client(mgr, fetch, "/file", timeout=60)
    assert len(got) == len(blob) and got == blob
    assert run_client(mgr, fetch, "/chunks") == b"alpha beta gamma"
    log.check()


def test_keep_alive_requests_over_one_tls_connection(pki, make_manager):
    requests = pytest.importorskip("requests")
    mgr = make_manager()
    _, port, log = https_server(mgr, pki, lambda conn, msg: conn.reply(200, msg.uri.encode()))

    def session():
        with requests.Session() as s:
            return [s.get(f"https://localhost:{port}/{i}", verify=pki.ca_file, timeout=WAIT).content
                    for i in range(5)]

    assert run_client(mgr, session) == [f"/{i}".encode() for i in range(5)]
    children = log.conns(MG_EV_ACCEPT)
    assert len(children) == 1
    seq = [e for e in log.seq(children[0]) if e in (MG_EV_HTTP_MSG, MG_EV_READ, MG_EV_TLS_HS)]
    assert seq == [MG_EV_TLS_HS] + [MG_EV_HTTP_MSG, MG_EV_READ] * 5
    log.check()


def test_drain_stall_over_tls_times_out(pki, make_manager):
    mgr = make_manager(stall_timeout_ms=300)
    _, port, log = https_server(mgr, pki, reply_drain(b"x" * (16 * 1024 * 1024)))
    ctx = pki.client_ctx()
    s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    box = {}

    def handshake():
        t = ctx.wrap_socket(s, server_hostname="localhost")
        t.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        box["t"] = t  # and never read the answer

    try:
        run_client(mgr, handshake)
        poll_until(mgr, lambda: log.data(MG_EV_CLOSE), what="stalled drain closed")
        assert "drain timeout" in log.data(MG_EV_ERROR)
    finally:
        box.get("t", s).close()


def test_tls_server_example(pki):
    """examples/tls_server.py serves HTTPS, with and without mutual TLS."""
    import os
    import re
    import signal
    import subprocess
    import sys

    example = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples",
                           "tls_server.py")
    for mutual in (False, True):
        extra = ["--ca", pki.ca_file] if mutual else []
        proc = subprocess.Popen([sys.executable, example, "--port", "0", "--cert", pki.server_files[0],
                                 "--key", pki.server_files[1], *extra], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            port = int(re.search(r":(\d+)/", proc.stdout.readline()).group(1))
            ctx = pki.client_ctx(cert=mutual)
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                    s.sendall(b"GET /x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                    data = b""
                    while chunk := s.recv(65536):
                        data += chunk
            assert data.startswith(b"HTTP/1.1 200 OK\r\n")
            assert data.endswith(b"Hello over TLS, you asked for /x\n")
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()


def test_tls_server_example_certificates_from_its_instructions(tmp_path):
    """The openssl lines of examples/tls_server.py's docstring make a CA, a
    server and a client certificate that a strict verifier accepts: the
    example serves HTTPS with them, with and without mutual TLS."""
    import os
    import re
    import shlex
    import shutil
    import signal
    import subprocess
    import sys

    assert shutil.which("openssl"), "openssl is needed (.ci/run installs it)"
    example = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples",
                           "tls_server.py")
    with open(example) as f:
        doc = f.read().split('"""')[1]
    commands = [line.strip() for line in doc.splitlines() if line.strip().startswith("openssl ")]
    assert len(commands) == 3, commands
    for command in commands:
        subprocess.run(shlex.split(command), cwd=tmp_path, check=True, capture_output=True)
    for mutual in (False, True):
        extra = ["--ca", "ca.pem"] if mutual else []
        proc = subprocess.Popen([sys.executable, example, "--port", "0", "--cert", "server.pem",
                                 "--key", "server.key", *extra], cwd=tmp_path, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            port = int(re.search(r":(\d+)/", proc.stdout.readline()).group(1))
            ctx = strict_context(cafile=str(tmp_path / "ca.pem"))
            if mutual:
                ctx.load_cert_chain(str(tmp_path / "client.pem"), str(tmp_path / "client.key"))
            with urllib.request.urlopen(f"https://localhost:{port}/doc", context=ctx, timeout=WAIT) as r:
                assert r.read() == b"Hello over TLS, you asked for /doc\n"
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
