"""ncclient scenarios against a running wirebeat NETCONF server.

Usage: ncclient_client.py HOST PORT USER PASSWORD SCENARIO
Exits 0 when the scenario holds; prints what went wrong otherwise.
"""
import sys
import time

from ncclient import manager
from ncclient.operations import RPCError

HOST, PORT, USER, PASSWORD, SCENARIO = sys.argv[1:6]
BFD = "urn:wirebeat:bfd"


def connect(user=USER, password=PASSWORD):
    return manager.connect(host=HOST, port=int(PORT), username=user, password=password,
                           hostkey_verify=False, allow_agent=False, look_for_keys=False,
                           timeout=30)


def check(cond, what):
    if not cond:
        print("FAILED:", what)
        sys.exit(1)


def profile(name, mult, op=None):
    attr = ' xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="%s"' % op if op else ""
    return ('<config><bfd xmlns="%s"><profiles><profile%s><name>%s</name>'
            '<detection-multiplier>%d</detection-multiplier></profile></profiles></bfd></config>'
            % (BFD, attr, name, mult))


def hello():
    with connect() as m:
        caps = set(m.server_capabilities)
        for c in [":base:1.1", ":candidate", ":confirmed-commit:1.1", ":validate:1.1", ":startup",
                  ":xpath", ":notification", ":interleave", ":with-defaults",
                  ":rollback-on-error", ":writable-running"]:
            check(c in m.server_capabilities, "capability " + c)
        check(any(c.startswith("urn:wirebeat:bfd?module=wirebeat-bfd") for c in caps), "module capability")
        check(m.session_id is not None and int(m.session_id) > 0, "session id")


def candidate_commit():
    with connect() as m:
        m.edit_config(target="candidate", config=profile("nc-cand", 4))
        running = m.get_config(source="running").data_xml
        check("nc-cand" not in running, "candidate edit visible in running before commit")
        m.commit()
        running = m.get_config(source="running").data_xml
        check("nc-cand" in running, "commit did not reach running")


def filters():
    with connect() as m:
        m.edit_config(target="running", config=profile("f1", 3))
        m.edit_config(target="running", config=profile("f2", 5))
        sub = m.get_config(source="running", filter=("subtree",
            '<bfd xmlns="%s"><profiles><profile><name>f2</name></profile></profiles></bfd>' % BFD)).data_xml
        check("f2" in sub and "f1" not in sub, "subtree content match: " + sub)
        check("system" not in sub, "subtree filter leaked other modules")
        xp = m.get_config(source="running", filter=("xpath", ({"b": BFD},
            "/b:bfd/b:profiles/b:profile[b:name='f1']/b:detection-multiplier"))).data_xml
        check("<detection-multiplier>3</detection-multiplier>" in xp and "f2" not in xp, "xpath filter: " + xp)


def locks():
    with connect() as a, connect() as b:
        a.lock(target="running")
        try:
            b.lock(target="running")
            check(False, "second lock granted")
        except RPCError as e:
            check(e.tag == "lock-denied", "lock-denied expected, got " + str(e.tag))
            check(str(a.session_id) in (e.info or ""), "lock-denied names the holder: " + str(e.info))
        try:
            b.edit_config(target="running", config=profile("locked", 3))
            check(False, "edit of a locked datastore accepted")
        except RPCError as e:
            check(e.tag == "in-use", "in-use expected, got " + str(e.tag))
        a.unlock(target="running")
        b.lock(target="running")
        b.unlock(target="running")


def confirmed():
    with connect() as m:
        m.edit_config(target="candidate", config=profile("nc-confirm", 3))
        m.commit(confirmed=True, timeout="2")
        check("nc-confirm" in m.get_config(source="running").data_xml, "confirmed commit applied")
        deadline = time.time() + 15
        while time.time() < deadline and "nc-confirm" in m.get_config(source="running").data_xml:
            time.sleep(0.2)
        check("nc-confirm" not in m.get_config(source="running").data_xml, "not rolled back after timeout")


def validate_errors():
    with connect() as m:
        # A value out of its range is refused by the edit itself.
        try:
            m.edit_config(target="candidate", config=profile("bad", 0))
            check(False, "out-of-range value accepted")
        except RPCError as e:
            check(e.tag == "invalid-value", "invalid-value expected, got " + str(e.tag))
            check("detection-multiplier" in (e.path or ""), "error-path names the leaf: " + str(e.path))
        # A reference to a missing profile is legal in the candidate until
        # validate or commit.
        m.edit_config(target="candidate", config=(
            '<config><bfd xmlns="%s"><single-hop><session><interface>eth0</interface>'
            '<dest-addr>192.0.2.1</dest-addr><profile>missing</profile></session></single-hop></bfd></config>' % BFD))
        for op in (lambda: m.validate(source="candidate"), m.commit):
            try:
                op()
                check(False, "invalid candidate accepted")
            except RPCError as e:
                check(e.tag == "data-missing", "data-missing expected, got " + str(e.tag))
                check("profile" in (e.path or ""), "error-path names the leafref: " + str(e.path))
        m.discard_changes()
        m.validate(source="candidate")


{"hello": hello, "candidate": candidate_commit, "filters": filters, "locks": locks,
 "confirmed": confirmed, "validate": validate_errors}[SCENARIO]()
print("OK")
