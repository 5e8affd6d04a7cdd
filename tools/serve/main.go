// Command serve is webtune's dev server: it serves public/ with the right
// MIME types, gzip, the COOP/COEP headers for cross-origin isolation and a
// strict Content-Security-Policy that lets the page reach only itself and
// the model hub.
package main

import (
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	dir := flag.String("dir", "public", "folder to serve")
	hubs := flag.String("hub-origins", "https://huggingface.co https://*.huggingface.co https://*.hf.co", "origins the page may download models from (space-separated), for the CSP")
	flag.Parse()
	if _, err := os.Stat(filepath.Join(*dir, "build", "app.wasm")); err != nil {
		log.Fatalf("%s/build/app.wasm is missing: run `make build` first", *dir)
	}
	h := Handler(*dir, strings.Fields(*hubs))
	// Listen first: "serving" is printed only once the port is ours.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			log.Fatalf("%s is already in use by another program: choose another port, e.g. make run PORT=8081", *addr)
		}
		log.Fatalf("cannot listen on %s: %v", *addr, err)
	}
	fmt.Printf("webtune: serving %s at http://%s\n", *dir, ln.Addr())
	log.Fatal(http.Serve(ln, h))
}

// Handler serves dir with webtune's headers.
func Handler(dir string, hubOrigins []string) http.Handler {
	for ext, typ := range map[string]string{".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript",
		".json": "application/json", ".safetensors": "application/octet-stream", ".css": "text/css", ".svg": "image/svg+xml"} {
		_ = mime.AddExtensionType(ext, typ)
	}
	csp := strings.Join([]string{
		"default-src 'self'",
		"script-src 'self' 'wasm-unsafe-eval'",
		"worker-src 'self'",
		"connect-src 'self' " + strings.Join(hubOrigins, " "),
		"img-src 'self' data: blob:",
		"style-src 'self' 'unsafe-inline'", // inline widths on progress bars
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
	files := http.FileServer(noListing{http.Dir(dir)})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.URL.RawPath)+len(r.URL.Path)+len(r.URL.RawQuery) > maxURL {
			http.Error(w, "URI too long", http.StatusRequestURITooLong)
			return
		}
		h := w.Header()
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Embedder-Policy", "require-corp")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") && compressible(r.URL.Path) {
			h.Set("Content-Encoding", "gzip")
			h.Add("Vary", "Accept-Encoding")
			gz := gzPool.Get().(*gzip.Writer)
			gz.Reset(w)
			defer func() { gz.Close(); gzPool.Put(gz) }()
			files.ServeHTTP(gzipWriter{ResponseWriter: w, w: gz}, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// maxURL bounds a request's path and query: the page's own are short, and
// a file name that long would fail the file system (a 500) anyway.
const maxURL = 2048

// noListing is a file system whose folders open only through their
// index.html: the server never lists what a folder holds.
type noListing struct{ fs http.FileSystem }

func (n noListing) Open(name string) (http.File, error) {
	f, err := n.fs.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		index, err := n.fs.Open(strings.TrimSuffix(name, "/") + "/index.html")
		if err != nil {
			f.Close()
			return nil, os.ErrNotExist
		}
		index.Close()
	}
	return f, nil
}

var gzPool = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed); return w }}

func compressible(path string) bool {
	switch filepath.Ext(path) {
	case ".wasm", ".js", ".mjs", ".css", ".html", ".json", ".svg", ".safetensors", ".tsv", ".txt":
		return true
	}
	return path == "/" || strings.HasSuffix(path, "/")
}

// gzipWriter compresses the body; Content-Length no longer applies.
type gzipWriter struct {
	http.ResponseWriter
	w io.Writer
}

func (g gzipWriter) WriteHeader(code int) {
	g.ResponseWriter.Header().Del("Content-Length")
	g.ResponseWriter.WriteHeader(code)
}

func (g gzipWriter) Write(b []byte) (int, error) {
	g.ResponseWriter.Header().Del("Content-Length")
	return g.w.Write(b)
}
