// Package codec holds the engine's parsers and encoders of untrusted bytes:
// HTTP/1.x message heads and chunked bodies, multipart bodies, URLs
// (listen/connect endpoints, the url_* parts, percent-coding), query
// variables, base64, JSON lookups by path, glob matching, MIME types by
// extension, and MQTT 3.1.1 packets with their argument rules.
//
// It is a leaf: it knows no connection, buffer or event loop (nothing of
// package core), so every function here is a pure function of its input,
// tested by tables and fuzz targets without sockets. core drives these
// parsers from its loop; the Python binding calls the module-function ones
// (json_get, url_encode, http_parse_multipart, match, ...) directly.
package codec
