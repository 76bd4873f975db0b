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

	lastActive atomic.Int64 // unix nanoseconds of the last message
	subscribed atomic.Bool  // a notification subscription is active
	ended      atomic.Bool
}

// runSession exchanges hellos and serves rpcs until the session ends.
func (s *Server) runSession(sc *ssh.ServerConn, ch ssh.Channel) {
	defer ch.Close()
	user := sc.Permissions.Extensions["user"]
	role := roleFromString(sc.Permissions.Extensions["role"])
	host := hostOnly(sc.RemoteAddr().String())
	lim := s.core.Limits()
	core, err := s.core.StartSession(user, role, "netconf", host)
	if err != nil {
		s.stats.droppedSessions.Add(1)
		s.log.Warn("session refused", "user", server.BoundedName(user), "remote", host, "err", err)
		io.WriteString(ch.Stderr(), "wirebeat: session refused: "+err.Error()+"\n")
		return
	}
	sess := &session{srv: s, core: core, ch: ch, fr: newFramer(ch, ch, s.opts.MaxMessage), host: host, start: time.Now(), notifStop: make(chan struct{})}
	budget := s.core.ParseBudget()
	sess.fr.reserve = func(n int64) error { return budget.Reserve(n, role) }
	sess.fr.free = budget.Release
	s.mu.Lock()
	if closed := s.front.Closed(); closed || len(s.sessions) >= s.opts.MaxSessions {
		full := !closed
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
		sess.ended.Store(true)
		s.mu.Lock()
		delete(s.sessions, core.ID)
		s.mu.Unlock()
		sess.stopNotifications()
		s.confirm.sessionEnded(s, core.ID)
		s.core.CloseSession(core)
		sess.fr.release()
		s.publishSession(sess, "netconf-session-end", reason)
		s.log.Info("session end", "session", core.ID, "user", user, "reason", reason)
	}()
	s.log.Info("session start", "session", core.ID, "user", user, "role", role.String(), "remote", host)

	// The session ends when the core revokes it (its user deleted or
	// given another role, kill-session), when the hello does not come in
	// time, and when it stays idle too long.
	var why atomic.Pointer[string]
	end := func(r string) {
		why.CompareAndSwap(nil, &r)
		sess.kill()
	}
	stopRevoke := make(chan struct{})
	defer close(stopRevoke)
	go func() {
		select {
		case <-core.Done():
			if r := core.Revoked(); r != "closed" {
				end("revoked: " + r)
			}
		case <-stopRevoke:
		}
	}()
	helloTimer := time.AfterFunc(lim.HelloTimeout, func() { end("hello timeout") })
	if err := sess.write(s.helloMessage(core.ID)); err != nil {
		helloTimer.Stop()
		reason = "dropped"
		return
	}
	err = sess.readHello()
	helloTimer.Stop()
	sess.fr.release()
	if err != nil {
		s.stats.inBadHellos.Add(1)
		if w := why.Load(); w != nil {
			err = errors.New(*w)
		}
		s.log.Warn("bad hello", "session", core.ID, "err", err)
		reason = "bad-hello"
		return
	}
	idle := time.AfterFunc(lim.IdleTimeout, sess.idleCheck(lim.IdleTimeout, end))
	defer idle.Stop()
	for {
		msg, err := sess.fr.readMessage()
		if err != nil {
			var budgetErr *server.ErrBudget
			switch {
			case why.Load() != nil:
				reason = "dropped"
				if strings.HasPrefix(*why.Load(), "revoked") {
					reason = "killed"
				}
				s.log.Info("session ended", "session", core.ID, "why", *why.Load())
			case errors.Is(err, io.EOF):
			case errors.Is(err, ErrTooBig):
				sess.writeError("", protoErr(schema.TagTooBig, "message larger than %d bytes; closing the session", s.opts.MaxMessage))
				reason = "dropped"
				s.stats.droppedSessions.Add(1)
			case errors.As(err, &budgetErr):
				sess.writeError("", protoErr(schema.TagResourceDenied, "%v; closing the session", err))
				reason = "dropped"
				s.stats.droppedSessions.Add(1)
			default:
				reason = "dropped"
				s.stats.droppedSessions.Add(1)
			}
			return
		}
		sess.lastActive.Store(time.Now().UnixNano())
		done := sess.handle(msg)
		sess.fr.release()
		sess.wmu.Lock()
		sess.subscribed.Store(sess.notif != nil)
		sess.wmu.Unlock()
		if done {
			return
		}
	}
}

// idleCheck returns the idle timer's function: it ends a session that has
// sent nothing for d, unless it waits for notifications.
func (sess *session) idleCheck(d time.Duration, end func(string)) func() {
	var f func()
	f = func() {
		if sess.ended.Load() {
			return
		}
		last := time.Unix(0, sess.lastActive.Load())
		if sess.lastActive.Load() == 0 {
			last = sess.start
		}
		if left := d - time.Since(last); left > 0 || sess.subscribed.Load() {
			time.AfterFunc(max(left, d/4, time.Millisecond), f)
			return
		}
		end("idle timeout")
	}
	return f
}

func hostOnly(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return strings.Trim(addr[:i], "[]")
	}
	return addr
}

// parse parses a message within the element's parse budget; the caller
// releases what it reports reserved once the tree is no longer used.
func (sess *session) parse(msg []byte) (*xnode, int64, error) {
	budget := sess.srv.core.ParseBudget()
	role := sess.core.Role
	var reserved int64
	x, err := parseXMLLimited(msg, parseLimits{
		factor: sess.srv.core.Limits().ParseFactor,
		reserve: func(n int64) error {
			if err := budget.Reserve(n, role); err != nil {
				return err
			}
			reserved += n
			return nil
		},
	})
	return x, reserved, err
}

// readHello reads the client's hello and settles the framing: chunked when
// both sides say base:1.1 (RFC 6241 section 8.1).
func (sess *session) readHello() error {
	msg, err := sess.fr.readMessage()
	if err != nil {
		return err
	}
	x, reserved, err := sess.parse(msg)
	sess.srv.core.ParseBudget().Release(reserved)
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
	x, reserved, err := sess.parse(msg)
	defer sess.srv.core.ParseBudget().Release(reserved)
	var budgetErr *server.ErrBudget
	if errors.Is(err, ErrTooComplex) || errors.As(err, &budgetErr) {
		sess.srv.stats.inBadRPCs.Add(1)
		sess.inBadRPCs.Add(1)
		sess.writeError("", protoErr(schema.TagResourceDenied, "%v", err))
		return false
	}
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
	if err := sess.srv.core.CheckSession(sess.core); err != nil {
		sess.writeError(attrs, protoErr(schema.TagAccessDenied, "%v", err))
		return true
	}
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
