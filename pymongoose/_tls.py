"""TlsOpts: TLS material for Connection.tls_init() (API.md section 11.1)."""


class TlsOpts:  # replaced by the full implementation
    pass
