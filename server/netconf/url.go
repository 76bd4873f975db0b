package netconf

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/server"
)

// The :url capability (RFC 6241 section 8.8) with the file scheme only,
// confined to one directory, DATADIR/files: an administrator can save a
// configuration there and load it back (copy-config, edit-config,
// validate, delete-config), nothing else on the host is reachable, and no
// other role may use it. A file holds one <config> element in the base
// namespace, as RFC 6241 describes.

// urlDir is the directory file:// URLs must name files in.
func (s *Server) urlDir() string { return filepath.Join(s.opts.DataDir, "files") }

func (s *Server) urlEnabled() bool { return s.opts.DataDir != "" }

// urlOf returns the <url> child of <which> (source or target), if any.
func urlOf(parent *xnode, which string) *xnode {
	x := parent.childBase(which)
	if x == nil || len(x.Children) != 1 {
		return nil
	}
	if c := x.Children[0]; c.Name.Local == "url" && c.Name.Space == nsBase {
		return c
	}
	return nil
}

// urlFile checks a URL and the session's right to use it and returns the
// file it names.
func (sess *session) urlFile(u *xnode) (string, *rpcError) {
	s := sess.srv
	if !s.urlEnabled() {
		return "", badElement(schema.TagOperationNotSupp, "url", "the :url capability is not supported: no data directory")
	}
	if sess.core.Role != server.RoleAdmin {
		e := badElement(schema.TagAccessDenied, "url", "only administrators may use <url>")
		e.Type = "protocol"
		return "", e
	}
	parsed, err := url.Parse(strings.TrimSpace(u.Text))
	if err != nil || parsed.Scheme != "file" || (parsed.Host != "" && parsed.Host != "localhost") || parsed.RawQuery != "" {
		return "", badElement(schema.TagInvalidValue, "url", "%q is not a file:// URL on this host: only the file scheme is supported", u.Text)
	}
	dir := s.urlDir()
	p := filepath.Clean(parsed.Path)
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") || strings.ContainsRune(rel, filepath.Separator) {
		return "", badElement(schema.TagInvalidValue, "url", "file URLs name a file directly in %s, not %s", dir, p)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", protoErr(schema.TagOperationFailed, "url directory: %v", err)
	}
	if fi, err := os.Lstat(p); err == nil && !fi.Mode().IsRegular() {
		return "", badElement(schema.TagInvalidValue, "url", "%s is not a regular file", p)
	}
	return p, nil
}

// readURL loads the <config> a file holds.
func (sess *session) readURL(u *xnode) (*xnode, *rpcError) {
	p, rerr := sess.urlFile(u)
	if rerr != nil {
		return nil, rerr
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, badElement(schema.TagInvalidValue, "url", "cannot read %s: %v", p, err)
	}
	defer f.Close()
	limit := int64(sess.srv.opts.MaxMessage)
	var buf bytes.Buffer
	if n, err := buf.ReadFrom(&limitedReader{f, limit + 1}); err != nil || n > limit {
		return nil, badElement(schema.TagTooBig, "url", "%s: unreadable or larger than %d bytes", p, limit)
	}
	x, err := parseXML(buf.Bytes())
	if err != nil {
		return nil, badElement(schema.TagInvalidValue, "url", "%s is not XML: %v", p, err)
	}
	if x.Name.Local != "config" || (x.Name.Space != nsBase && x.Name.Space != "") {
		return nil, badElement(schema.TagInvalidValue, "url", "%s holds <%s>, not a <config> element", p, x.Name.Local)
	}
	return x, nil
}

type limitedReader struct {
	f *os.File
	n int64
}

func (l *limitedReader) Read(b []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("too large")
	}
	if int64(len(b)) > l.n {
		b = b[:l.n]
	}
	n, err := l.f.Read(b)
	l.n -= int64(n)
	return n, err
}

// writeURL stores cfg as a <config> file, atomically.
func (sess *session) writeURL(u *xnode, cfg *gen.Device) *rpcError {
	p, rerr := sess.urlFile(u)
	if rerr != nil {
		return rerr
	}
	var b bytes.Buffer
	b.WriteString(`<config xmlns="` + nsBase + `">`)
	enc := &xmlEncoder{si: sess.srv.si, b: &b, configOnly: true}
	enc.encodeData([]*gen.Device{cfg}, nil)
	b.WriteString("</config>\n")
	tmp, err := os.CreateTemp(filepath.Dir(p), ".url-*")
	if err != nil {
		return protoErr(schema.TagOperationFailed, "write %s: %v", p, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b.Bytes())
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		return protoErr(schema.TagOperationFailed, "write %s: %v", p, err)
	}
	return nil
}

// deleteURL removes the file a URL names.
func (sess *session) deleteURL(u *xnode) *rpcError {
	p, rerr := sess.urlFile(u)
	if rerr != nil {
		return rerr
	}
	if err := os.Remove(p); err != nil {
		return badElement(schema.TagInvalidValue, "url", "delete %s: %v", p, err)
	}
	return nil
}
