package core

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
)

// Configurations are immutable once built and safe to share, so the same
// material (typically the server's, once per accepted connection) is
// parsed once; sharing also lets clients resume sessions.
var tlsCache struct {
	sync.Mutex
	m map[[32]byte]*tls.Config
}

const tlsCacheMax = 64

func cachedTLSConfig(o TLSOptions, server bool, urlHost string) (*tls.Config, error) {
	h := sha256.New()
	var n [8]byte
	for _, f := range [][]byte{o.CA, o.Cert, o.Key, []byte(o.Name), []byte(urlHost)} {
		binary.LittleEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write(f)
	}
	flags := []byte{0, 0}
	if server {
		flags[0] = 1
	}
	if o.SkipVerification {
		flags[1] = 1
	}
	h.Write(flags)
	var key [32]byte
	h.Sum(key[:0])
	tlsCache.Lock()
	cfg := tlsCache.m[key]
	tlsCache.Unlock()
	if cfg != nil {
		return cfg, nil
	}
	cfg, err := tlsConfig(o, server, urlHost)
	if err != nil {
		return nil, err
	}
	tlsCache.Lock()
	if tlsCache.m == nil || len(tlsCache.m) >= tlsCacheMax {
		tlsCache.m = make(map[[32]byte]*tls.Config)
	}
	tlsCache.m[key] = cfg
	tlsCache.Unlock()
	return cfg, nil
}

// tlsConfig turns TlsOpts into a crypto/tls configuration (docs/api.md §11.2,
// "This project"): the peer's chain is verified against ca when ca is
// given (a server then requires a client certificate: mutual TLS); a
// client sends SNI and checks the server's name (name, else the URL host)
// even without ca; skip_verification turns every check off. Errors are the
// EvError texts of tls_init.
func tlsConfig(o TLSOptions, server bool, urlHost string) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:                  tls.VersionTLS12,
		DynamicRecordSizingDisabled: true,
	}
	switch {
	case len(o.Cert) > 0 && len(o.Key) == 0:
		return nil, errors.New("Certificate provided without a private key")
	case len(o.Key) > 0 && len(o.Cert) == 0:
		return nil, errors.New("Private key provided without a certificate")
	case len(o.Cert) > 0:
		pair, err := keyPair(o.Cert, o.Key)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{pair}
	case server:
		return nil, errors.New("TLS server needs a certificate and a key")
	}
	var pool *x509.CertPool
	if len(o.CA) > 0 {
		var err error
		if pool, err = certPool(o.CA); err != nil {
			return nil, err
		}
	}
	if server {
		if pool != nil {
			cfg.ClientCAs = pool
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
			if o.SkipVerification {
				cfg.ClientAuth = tls.RequireAnyClientCert
			}
		}
		return cfg, nil
	}
	host := o.Name
	if host == "" {
		host = urlHost
	}
	cfg.ServerName = host // crypto/tls sends no SNI for an IP literal
	switch {
	case o.SkipVerification:
		cfg.InsecureSkipVerify = true
	case pool != nil:
		cfg.RootCAs = pool
		if host == "" {
			return nil, errors.New("TLS: no server name to verify")
		}
	default:
		// No ca: the chain is not verified, the name still is.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: server sent no certificate")
			}
			return cs.PeerCertificates[0].VerifyHostname(host)
		}
	}
	return cfg, nil
}

func isPEM(b []byte) bool { return bytes.Contains(b, []byte("-----BEGIN")) }

// keyPair accepts PEM or DER for both parts; keys may be SEC1 EC
// ("EC PRIVATE KEY"), PKCS#8 or PKCS#1 RSA.
func keyPair(cert, key []byte) (tls.Certificate, error) {
	if !isPEM(cert) {
		cert = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert})
	}
	if !isPEM(key) {
		typ := ""
		switch {
		case func() bool { _, err := x509.ParseECPrivateKey(key); return err == nil }():
			typ = "EC PRIVATE KEY"
		case func() bool { _, err := x509.ParsePKCS8PrivateKey(key); return err == nil }():
			typ = "PRIVATE KEY"
		case func() bool { _, err := x509.ParsePKCS1PrivateKey(key); return err == nil }():
			typ = "RSA PRIVATE KEY"
		default:
			return tls.Certificate{}, errors.New("TLS: cannot parse the private key")
		}
		key = pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: key})
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		return tls.Certificate{}, errors.New("TLS: " + strings.TrimPrefix(err.Error(), "tls: "))
	}
	return pair, nil
}

// certPool reads every certificate of ca (PEM, or DER).
func certPool(ca []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if isPEM(ca) {
		if !pool.AppendCertsFromPEM(ca) {
			return nil, errors.New("TLS: no certificate found in ca")
		}
		return pool, nil
	}
	certs, err := x509.ParseCertificates(ca)
	if err != nil || len(certs) == 0 {
		return nil, errors.New("TLS: cannot parse ca")
	}
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}
