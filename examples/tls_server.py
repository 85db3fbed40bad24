"""HTTPS server: TLS on every accepted connection.

    python examples/tls_server.py --cert server.pem --key server.key [--ca ca.pem]

TLS is never automatic in pymongoose: each accepted connection calls
tls_init() in its MG_EV_ACCEPT handler. With --ca, clients must present a
certificate signed by that CA (mutual TLS). Test it with
    curl --cacert ca.pem https://localhost:8443/

A CA, a server certificate for localhost and a client certificate, made with
OpenSSL 3 and carrying the extensions strict verifiers (Python 3.13's
default VERIFY_X509_STRICT) require: key identifiers, key usage, basic
constraints (tests/test_tls.py runs these lines):

    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj "/CN=Example CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -keyout ca.key -out ca.pem
    openssl req -x509 -CA ca.pem -CAkey ca.key -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -addext "basicConstraints=critical,CA:FALSE" -addext "keyUsage=critical,digitalSignature" -addext "extendedKeyUsage=serverAuth" -keyout server.key -out server.pem
    openssl req -x509 -CA ca.pem -CAkey ca.key -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj "/CN=client" -addext "basicConstraints=critical,CA:FALSE" -addext "keyUsage=critical,digitalSignature" -addext "extendedKeyUsage=clientAuth" -keyout client.key -out client.pem
"""

import argparse

from pymongoose import MG_EV_ACCEPT, MG_EV_ERROR, MG_EV_HTTP_MSG, Manager, TlsOpts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--cert", required=True, help="server certificate (PEM)")
    parser.add_argument("--key", required=True, help="its private key (PEM)")
    parser.add_argument("--ca", help="CA certificate: require client certificates signed by it")
    args = parser.parse_args()

    def read(path):
        with open(path, "rb") as f:
            return f.read()

    opts = TlsOpts(cert=read(args.cert), key=read(args.key), ca=read(args.ca) if args.ca else None)

    def handler(conn, ev, data):
        if ev == MG_EV_ACCEPT:
            conn.tls_init(opts)
        elif ev == MG_EV_HTTP_MSG:
            conn.reply(200, f"Hello over TLS, you asked for {data.uri}\n", {"Content-Type": "text/plain"})
        elif ev == MG_EV_ERROR:
            print(f"connection {conn.id}: {data}", flush=True)  # e.g. a failed handshake

    manager = Manager(handler)
    listener = manager.listen(f"https://{args.host}:{args.port}", http=True)
    print(f"HTTPS on https://{args.host}:{listener.local_addr[1]}/", flush=True)
    try:
        while True:
            manager.poll(1000)
    except KeyboardInterrupt:
        pass
    finally:
        manager.close()


if __name__ == "__main__":
    main()
