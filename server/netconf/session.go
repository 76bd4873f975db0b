package netconf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/wirebeat/wirebeat/events"
	"github.com/wirebeat/wirebeat/schema"
	"github.com/wirebeat/wirebeat/server"
)

// session is one NETCONF session on an SSH channel.
type session struct {
	srv  *Server
	core *server.Session
	ch   ssh.Channel
	fr   *framer
	host string

	wmu sync.Mutex // replies and notifications write whole messages

	notif     *server.Subscription
	notifStop chan struct{}
	killOnce  sync.Once

	inRPCs, inBadRPCs, outRPCErrors, outNotifications atomic.Uint32
	start                                             time.Time
}

// runSession exchanges hellos and serves rpcs until the session ends.
func (s *Server) runSession(sc *ssh.ServerConn, ch ssh.Channel) {
	defer ch.Close()
	user := sc.Permissions.Extensions["user"]
	role := roleFromString(sc.Permissions.Extensions["role"])
	host := hostOnly(sc.RemoteAddr().String())
	core := s.core.OpenSession(user, role, "netconf", host)
	sess := &session{srv: s, core: core, ch: ch, fr: newFramer(ch, ch, s.opts.MaxMessage), host: host, start: time.Now(), notifStop: make(chan struct{})}
	s.mu.Lock()
	if s.closed || len(s.sessions) >= s.opts.MaxSessions {
		full := !s.closed
		s.mu.Unlock()
		s.core.CloseSession(core)
		if full {
			s.stats.droppedSessions.Add(1)
			s.log.Warn("session refused: too many sessions", "user", user, "remote", host, "max", s.opts.MaxSessions)
		}
		return
	}
	s.sessions[core.ID] = sess
	s.mu.Unlock()
	s.stats.inSessions.Add(1)
	s.publishSession(sess, "netconf-session-start", "")
	reason := "closed"
	defer func() {
		s.mu.Lock()
		delete(s.sessions, core.ID)
		s.mu.Unlock()
		sess.stopNotifications()
		s.confirm.sessionEnded(s, core.ID)
		s.core.CloseSession(core)
		s.publishSession(sess, "netconf-session-end", reason)
		s.log.Info("session end", "session", core.ID, "user", user, "reason", reason)
	}()
	s.log.Info("session start", "session", core.ID, "user", user, "role", role.String(), "remote", host)

	if err := sess.write(s.helloMessage(core.ID)); err != nil {
		reason = "dropped"
		return
	}
	if err := sess.readHello(); err != nil {
		s.stats.inBadHellos.Add(1)
		s.log.Warn("bad hello", "session", core.ID, "err", err)
		reason = "bad-hello"
		return
	}
	for {
		msg, err := sess.fr.readMessage()
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
			case errors.Is(err, ErrTooBig):
				sess.writeError("", protoErr(schema.TagTooBig, "message larger than %d bytes; closing the session", s.opts.MaxMessage))
				reason = "dropped"
				s.stats.droppedSessions.Add(1)
			default:
				reason = "dropped"
				s.stats.droppedSessions.Add(1)
			}
			return
		}
		if done := sess.handle(msg); done {
			return
		}
	}
}

func hostOnly(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return strings.Trim(addr[:i], "[]")
	}
	return addr
}

// readHello reads the client's hello and settles the framing: chunked when
// both sides say base:1.1 (RFC 6241 section 8.1).
func (sess *session) readHello() error {
	msg, err := sess.fr.readMessage()
	if err != nil {
		return err
	}
	x, err := parseXML(msg)
	if err != nil {
		return err
	}
	if x.Name.Local != "hello" || x.Name.Space != nsBase {
		return errors.New("first message is not a hello")
	}
	if x.child(nsBase, "session-id") != nil {
		return errors.New("a client hello carries no session-id")
	}
	caps := x.child(nsBase, "capabilities")
	if caps == nil {
		return errors.New("hello without capabilities")
	}
	var base10, base11 bool
	for _, c := range caps.Children {
		switch c.Text {
		case "urn:ietf:params:netconf:base:1.0":
			base10 = true
		case "urn:ietf:params:netconf:base:1.1":
			base11 = true
		}
	}
	if !base10 && !base11 {
		return errors.New("no common base capability")
	}
	sess.fr.chunked = base11
	return nil
}

// write sends one message.
func (sess *session) write(msg []byte) error {
	sess.wmu.Lock()
	defer sess.wmu.Unlock()
	return sess.fr.writeMessage(msg)
}

// kill ends the session from outside (kill-session, shutdown).
func (sess *session) kill() {
	sess.killOnce.Do(func() { sess.ch.Close() })
}

// handle serves one message; it reports whether the session is over.
func (sess *session) handle(msg []byte) bool {
	x, err := parseXML(msg)
	if err != nil {
		sess.srv.stats.inBadRPCs.Add(1)
		sess.inBadRPCs.Add(1)
		sess.writeError("", protoErr(schema.TagMalformedMessage, "the message is not well-formed XML: %v", err))
		return false
	}
	if x.Name.Local != "rpc" || x.Name.Space != nsBase {
		sess.srv.stats.inBadRPCs.Add(1)
		sess.inBadRPCs.Add(1)
		e := badElement(schema.TagUnknownElement, x.Name.Local, "expected <rpc> in namespace %s", nsBase)
		e.Type = "rpc"
		sess.writeError("", e)
		return false
	}
	attrs := replyAttrs(x)
	if _, ok := x.attr("", "message-id"); !ok {
		sess.srv.stats.inBadRPCs.Add(1)
		sess.inBadRPCs.Add(1)
		e := protoErr(schema.TagMissingAttribute, "<rpc> needs a message-id attribute")
		e.Type = "rpc"
		e.BadAttr, e.BadElement = "message-id", "rpc"
		sess.writeError(attrs, e)
		return false
	}
	sess.srv.stats.inRPCs.Add(1)
	sess.inRPCs.Add(1)
	if len(x.Children) != 1 {
		sess.writeError(attrs, badElement(schema.TagMalformedMessage, "rpc", "<rpc> must hold exactly one operation"))
		return false
	}
	reply, done := sess.dispatch(x.Children[0])
	var b bytes.Buffer
	b.WriteString(`<rpc-reply xmlns="` + nsBase + `"`)
	b.WriteString(attrs)
	b.WriteString(">")
	switch {
	case reply.errs != nil:
		sess.srv.stats.outRPCErrors.Add(1)
		sess.outRPCErrors.Add(1)
		for _, e := range reply.errs {
			sess.srv.si.writeRPCError(&b, e)
		}
	case reply.data != nil:
		b.Write(reply.data)
	default:
		b.WriteString("<ok/>")
	}
	b.WriteString("</rpc-reply>")
	if err := sess.write(b.Bytes()); err != nil {
		return true
	}
	if reply.after != nil {
		reply.after()
	}
	return done
}

// replyAttrs copies the attributes of <rpc> for <rpc-reply> (RFC 6241
// section 4.2), with the namespace declarations they need.
func replyAttrs(x *xnode) string {
	var b bytes.Buffer
	for _, a := range x.Attr {
		b.WriteByte(' ')
		if a.Name.Space != "" {
			prefix := "a" + strconv.Itoa(b.Len())
			b.WriteString("xmlns:" + prefix + `="`)
			xml.EscapeText(&b, []byte(a.Name.Space))
			b.WriteString(`" ` + prefix + ":")
		}
		b.WriteString(a.Name.Local)
		b.WriteString(`="`)
		xml.EscapeText(&b, []byte(a.Value))
		b.WriteByte('"')
	}
	return b.String()
}

func (sess *session) writeError(attrs string, e *rpcError) {
	var b bytes.Buffer
	b.WriteString(`<rpc-reply xmlns="` + nsBase + `"` + attrs + ">")
	sess.srv.si.writeRPCError(&b, e)
	b.WriteString("</rpc-reply>")
	sess.srv.stats.outRPCErrors.Add(1)
	sess.outRPCErrors.Add(1)
	sess.write(b.Bytes())
}

// publishSession sends RFC 6470 session notifications through the hub.
func (s *Server) publishSession(sess *session, name, reason string) {
	leaves := []events.Leaf{
		{Name: "username", Value: sess.core.User},
		{Name: "session-id", Value: sess.core.ID},
		{Name: "source-host", Value: sess.host},
	}
	if reason != "" {
		leaves = append(leaves, events.Leaf{Name: "termination-reason", Value: reason})
	}
	s.core.Hub().Publish(events.Event{Time: time.Now(), Kind: events.Notification, Module: "ietf-netconf-notifications", Name: name, Leaves: leaves})
}
