package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"mime"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The helper servers run in their own processes (the harness re-executes
// itself), so that each target's CPU time and memory can be read from
// /proc apart from the load generator's.

// readyPrefix starts the line a helper prints once it accepts connections.
const readyPrefix = "bench: serving http://"

// servedFile is one file of the origin, held in memory so that the origin
// never waits on the disk.
type servedFile struct {
	data  []byte
	ctype string
	etag  string
	cache string
}

// originMain serves a directory the way a typical origin serves static
// HTML: Content-Type with charset, Cache-Control, a strong ETag,
// Last-Modified, conditional requests.
func originMain(args []string) error {
	fl := flag.NewFlagSet("bench origin", flag.ContinueOnError)
	dir := fl.String("dir", "", "`directory` to serve")
	listen := fl.String("listen", "127.0.0.1:0", "`address` to listen on")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("origin: -dir is required")
	}
	files := map[string]*servedFile{}
	modTime := time.Now().Truncate(time.Second)
	var total int64
	err := filepath.WalkDir(*dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if total += int64(len(data)); total > 256<<20 {
			return errors.New("origin: more than 256 MiB to serve")
		}
		rel, _ := filepath.Rel(*dir, p)
		f := &servedFile{data: data, cache: "public, max-age=86400"}
		f.ctype = mime.TypeByExtension(path.Ext(p))
		if strings.HasSuffix(p, ".html") {
			f.ctype = "text/html; charset=utf-8"
			f.cache = "public, max-age=60, stale-while-revalidate=30"
		}
		if f.ctype == "" {
			f.ctype = "application/octet-stream"
		}
		sum := sha256.Sum256(data)
		f.etag = `"` + hex.EncodeToString(sum[:12]) + `"`
		files["/"+filepath.ToSlash(rel)] = f
		return nil
	})
	if err != nil {
		return err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasSuffix(p, "/") {
			p += "index.html"
		}
		f := files[p]
		if f == nil {
			f = files[p+".html"]
		}
		if f == nil {
			http.NotFound(w, r)
			return
		}
		hd := w.Header()
		if stamp, ok := strings.CutPrefix(r.URL.RawQuery, varyQuery); ok && stamps[stamp].text != "" && strings.HasPrefix(f.ctype, "text/html") {
			serveVarying(w, f, stamps[stamp])
			return
		}
		if r.URL.RawQuery == varyQuery+"streamed" {
			serveStreamed(w, f)
			return
		}
		hd.Set("Content-Type", f.ctype)
		hd.Set("Cache-Control", f.cache)
		hd.Set("ETag", f.etag)
		hd.Set("Vary", "Accept-Encoding")
		http.ServeContent(w, r, p, modTime, bytes.NewReader(f.data))
	})
	return serveHelper(*listen, h)
}

// varyQuery, followed by a key of stamps, asks the origin for a page
// that differs in every response (the bespoke-seen-varying,
// bespoke-seen-text and bespoke-seen-nonce targets); followed by
// "streamed", for the page as it is, sent chunked without a length or a
// validator (bespoke-seen-streamed).
const varyQuery = "bench-vary="

// A stamp is what a varying response inserts after the start tag of
// after: its request number, zero-padded, replaces the zeros, a render
// time of 0 to 999 ms, as many digits as it has, "{ms}", and its last
// digits the elements "<x0>0</x0>": each becomes <xd>d</xd> for its
// digit d, so that every response of a million in a row has elements of
// its own (with elements that only told even digits from odd, a map made
// from response n was the page of response n+2, which requests sent at
// once can compare it with).
type stamp struct{ after, text string }

// digitElement is the slot of one digit in a stamp's elements.
const digitElement = "<x0>0</x0>"

// stamps are the varying responses' stamps. markup puts the number in
// the page's elements, as pages that mark the response's variant or
// state in their markup do: which elements a page has is what the tree
// builder and every selector read, so no edit map can take them for
// unchanged (two responses in a row differ at least in their last
// digit's element). text puts it in the page's text, as pages that
// print a request id, a render time or a counter do, and in a class no
// selector names, as pages that mark the response in a class do: text
// the tree builder does not read, and a class list that holds the same
// of the selectors' classes, which edit maps take for volatile. nonce
// puts it in the values of a CSRF token and a CSP nonce, in an inline
// script that hands the page its request id and in a comment that says
// where and how fast the page was rendered (so the page's length changes
// too): values, script text and comments that edit maps take for
// volatile (nothing reads them).
var stamps = map[string]stamp{
	"markup": {"<body", `<p class="served-by">Served ` + strings.Repeat(digitElement, 6) + `</p>`},
	"text":   {"<body", `<p class="served-by r00000000000000000000">Request 00000000000000000000</p>`},
	"nonce": {"<head", `<meta name="csrf-token" content="00000000000000000000">` +
		`<script nonce="00000000000000000000">var requestId="00000000000000000000"</script>` +
		`<!-- rendered by web-00000000000000000000 in {ms} ms -->`},
}

// serveStreamed serves f as a page sent as it is rendered: chunked, with
// no length and no validator (net/http sends a body past its buffer so).
func serveStreamed(w http.ResponseWriter, f *servedFile) {
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("Cache-Control", "no-cache")
	w.Write(f.data)
}

// varyCount numbers the varying responses.
var varyCount atomic.Uint64

// varyPages hold the copies of pages that serveVarying stamps.
var varyPages sync.Pool

// serveVarying serves f as an origin that renders each response: the
// same page with st, numbered, after the start tag st.after (fixed width
// but for a render time, so every response differs from the one before in
// a few bytes), no validators. Nothing that remembers a previous response
// of the page byte for byte can reuse it.
func serveVarying(w http.ResponseWriter, f *servedFile, st stamp) {
	at := 0
	if tag := bytes.Index(f.data, []byte(st.after)); tag >= 0 {
		if gt := bytes.IndexByte(f.data[tag:], '>'); gt >= 0 {
			at = tag + gt + 1
		}
	}
	n := varyCount.Add(1)
	var room [256]byte
	stamp := room[:0]
	if i := strings.Index(st.text, "{ms}"); i >= 0 {
		stamp = append(stamp, st.text[:i]...)
		stamp = strconv.AppendUint(stamp, n*7919%1000, 10)
		stamp = append(stamp, st.text[i+len("{ms}"):]...)
	} else {
		stamp = append(stamp, st.text...)
	}
	bp, _ := varyPages.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b := append(append(append((*bp)[:0], f.data[:at]...), stamp...), f.data[at:]...)
	const zeros = "00000000000000000000"
	for i := at; i < at+len(stamp); {
		j := bytes.Index(b[i:at+len(stamp)], []byte(zeros))
		if j < 0 {
			break
		}
		digits := b[i+j : i+j+len(zeros)]
		for k, m := len(digits)-1, n; k >= 0 && m > 0; k-- {
			digits[k] = byte('0' + m%10)
			m /= 10
		}
		i += j + len(zeros)
	}
	if k := bytes.Index(b[at:at+len(stamp)], []byte(digitElement)); k >= 0 {
		slots := b[at+k : at+len(stamp)]
		last := bytes.LastIndex(slots, []byte(digitElement)) / len(digitElement)
		for i, m := last, n; i >= 0; i, m = i-1, m/10 {
			e, d := slots[i*len(digitElement):], '0'+byte(m%10)
			e[2], e[4], e[8] = d, d, d
		}
	}
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
	*bp = b
	varyPages.Put(bp)
}

// bufferPool lends the reverse proxy its copy buffers.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// goproxyMain is the floor for any Go proxy: httputil.ReverseProxy with a
// Transport tuned for one busy origin and no personalization.
func goproxyMain(args []string) error {
	fl := flag.NewFlagSet("bench goproxy", flag.ContinueOnError)
	origin := fl.String("origin", "", "origin `URL`")
	listen := fl.String("listen", "127.0.0.1:0", "`address` to listen on")
	if err := fl.Parse(args); err != nil {
		return err
	}
	target, err := url.Parse(*origin)
	if err != nil || target.Scheme != "http" || target.Host == "" {
		return fmt.Errorf("goproxy: -origin %q is not an http:// URL", *origin)
	}
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		DisableCompression:    true,
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        32 << 10,
	}
	rp := &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport:  tr,
		BufferPool: &bufferPool{},
		ErrorLog:   log.New(os.Stderr, "goproxy: ", 0),
	}
	return serveHelper(*listen, rp)
}

// serveHelper serves h until SIGTERM or SIGINT.
func serveHelper(addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          log.New(os.Stderr, "", 0),
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	fmt.Printf("%s%s\n", readyPrefix, ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
