package netconf

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"

	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/schema"
)

// rpcError is one <rpc-error> of RFC 6241 section 4.3.
type rpcError struct {
	Type       string // transport, rpc, protocol, application
	Tag        schema.Tag
	AppTag     string
	Path       *gpb.Path // data path, rendered as an XPath
	RawPath    string    // a path that is not a data path (an element of the rpc)
	Message    string
	BadElement string
	BadAttr    string
	BadNS      string
	SessionID  uint32 // error-info session-id (lock-denied)
	hasSession bool
}

func (e *rpcError) Error() string { return string(e.Tag) + ": " + e.Message }

// errorTypes gives the error-type RFC 6241 Appendix A allows for each tag
// when the error concerns data rather than the rpc itself.
func errorType(tag schema.Tag) string {
	switch tag {
	case schema.TagLockDenied, schema.TagInUse, schema.TagMissingAttribute, schema.TagBadAttribute,
		schema.TagUnknownAttribute, schema.TagOperationNotSupp:
		return "protocol"
	case schema.TagMalformedMessage:
		return "rpc"
	case schema.TagTooBig:
		return "transport"
	}
	return "application"
}

// toRPCError classifies any error for the reply.
func toRPCError(err error) *rpcError {
	var re *rpcError
	if errors.As(err, &re) {
		return re
	}
	e := schema.AsError(err)
	out := &rpcError{Type: errorType(e.Tag), Tag: e.Tag, AppTag: e.AppTag, Path: e.Path, Message: e.Message}
	if e.Tag == schema.TagLockDenied {
		out.SessionID, out.hasSession = e.Holder, true
	}
	return out
}

func protoErr(tag schema.Tag, format string, args ...any) *rpcError {
	return &rpcError{Type: errorType(tag), Tag: tag, Message: fmt.Sprintf(format, args...)}
}

// badElement reports a problem with an element of the request.
func badElement(tag schema.Tag, elem string, format string, args ...any) *rpcError {
	e := protoErr(tag, format, args...)
	e.BadElement = elem
	if tag == schema.TagUnknownElement || tag == schema.TagMissingElement || tag == schema.TagBadElement {
		e.Type = "protocol"
	}
	return e
}

// writeRPCError renders one error.
func (si *schemaInfo) writeRPCError(b *bytes.Buffer, e *rpcError) {
	b.WriteString("<rpc-error><error-type>")
	b.WriteString(e.Type)
	b.WriteString("</error-type><error-tag>")
	b.WriteString(string(e.Tag))
	b.WriteString("</error-tag><error-severity>error</error-severity>")
	if e.AppTag != "" {
		b.WriteString("<error-app-tag>")
		xmlEscape(b, e.AppTag)
		b.WriteString("</error-app-tag>")
	}
	switch {
	case e.Path != nil:
		path, decl := si.xpath(e.Path)
		b.WriteString("<error-path")
		writeNSDecls(b, decl)
		b.WriteString(">")
		xmlEscape(b, path)
		b.WriteString("</error-path>")
	case e.RawPath != "":
		b.WriteString("<error-path>")
		xmlEscape(b, e.RawPath)
		b.WriteString("</error-path>")
	}
	if e.Message != "" {
		b.WriteString(`<error-message xml:lang="en">`)
		xmlEscape(b, e.Message)
		b.WriteString("</error-message>")
	}
	if e.BadElement != "" || e.BadAttr != "" || e.BadNS != "" || e.hasSession {
		b.WriteString("<error-info>")
		if e.BadAttr != "" {
			b.WriteString("<bad-attribute>")
			xmlEscape(b, e.BadAttr)
			b.WriteString("</bad-attribute>")
		}
		if e.BadElement != "" {
			b.WriteString("<bad-element>")
			xmlEscape(b, e.BadElement)
			b.WriteString("</bad-element>")
		}
		if e.BadNS != "" {
			b.WriteString("<bad-namespace>")
			xmlEscape(b, e.BadNS)
			b.WriteString("</bad-namespace>")
		}
		if e.hasSession {
			b.WriteString("<session-id>")
			b.WriteString(strconv.FormatUint(uint64(e.SessionID), 10))
			b.WriteString("</session-id>")
		}
		b.WriteString("</error-info>")
	}
	b.WriteString("</rpc-error>")
}

func writeNSDecls(b *bytes.Buffer, decl map[string]string) {
	prefixes := make([]string, 0, len(decl))
	for p := range decl {
		prefixes = append(prefixes, p)
	}
	sort.Strings(prefixes)
	for _, p := range prefixes {
		b.WriteString(" xmlns:")
		b.WriteString(p)
		b.WriteString(`="`)
		xmlEscape(b, decl[p])
		b.WriteString(`"`)
	}
}
