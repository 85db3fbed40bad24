package codec

import "strings"

// builtinMIME is Mongoose's table of known types (docs/api.md §7.8), keyed by the
// case-sensitive text after the last dot.
var builtinMIME = map[string]string{
	"html": "text/html; charset=utf-8", "htm": "text/html; charset=utf-8",
	"shtml": "text/html; charset=utf-8",
	"css":   "text/css; charset=utf-8",
	"js":    "text/javascript; charset=utf-8", "mjs": "text/javascript; charset=utf-8",
	"txt": "text/plain; charset=utf-8",
	"csv": "text/csv", "json": "application/json",
	"gif": "image/gif", "png": "image/png", "webp": "image/webp",
	"jpg": "image/jpeg", "jpeg": "image/jpeg", "svg": "image/svg+xml", "ico": "image/x-icon",
	"woff": "font/woff", "ttf": "font/ttf",
	"pdf": "application/pdf", "zip": "application/zip", "gz": "application/gzip",
	"tgz": "application/tar-gz", "doc": "application/msword", "exe": "application/octet-stream",
	"avi": "video/x-msvideo", "mov": "video/quicktime", "mp4": "video/mp4", "mpeg": "video/mpeg",
	"3gp": "video/3gpp", "mp3": "audio/mpeg", "wav": "audio/wav",
}

const defaultMIME = "text/plain; charset=utf-8"

// MIMEType guesses the Content-Type of path as mg_http_serve_file does:
// the user's comma-separated "ext=type" list first ("*=type" matches
// everything), then the built-in table, else text/plain.
func MIMEType(path, extra string) string {
	ext := path
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		ext = path[i+1:]
	}
	for extra != "" {
		var entry string
		entry, extra, _ = strings.Cut(extra, ",")
		k, v, ok := strings.Cut(entry, "=")
		if ok && (k == "*" || k == ext) {
			return v
		}
	}
	if t, ok := builtinMIME[ext]; ok {
		return t
	}
	return defaultMIME
}
