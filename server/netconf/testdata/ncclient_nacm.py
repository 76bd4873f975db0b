"""NACM (RFC 8341) seen from ncclient.

Usage: ncclient_nacm.py HOST PORT ADMIN ADMINPW USER USERPW
The admin puts USER (a viewer) in a group that may write /bfd only, hides
one BFD profile from it and denies it copy-config; then USER's edits,
reads and operations must come out as the rules say, and the counters
of /nacm must count the denials. Prints OK when everything held.
"""
import datetime
import re
import sys
import time

from ncclient import manager
from ncclient.operations import RPCError

HOST, PORT, ADMIN, ADMINPW, USER, USERPW = sys.argv[1:7]
BFD = "urn:wirebeat:bfd"
SYS = "urn:wirebeat:system"
ACM = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"


def connect(user, password):
    return manager.connect(host=HOST, port=int(PORT), username=user, password=password,
                           hostkey_verify=False, allow_agent=False, look_for_keys=False,
                           timeout=30)


def check(cond, what):
    if not cond:
        print("FAILED:", what)
        sys.exit(1)


def profile(name, mult):
    return ('<config><bfd xmlns="%s"><profiles><profile><name>%s</name>'
            '<detection-multiplier>%d</detection-multiplier></profile></profiles></bfd></config>'
            % (BFD, name, mult))


def denied(fn, what):
    try:
        fn()
    except RPCError as e:
        check(e.tag == "access-denied", "%s: tag %s (%s)" % (what, e.tag, e.message))
        return e
    check(False, what + " was not refused")


def counters(m):
    data = m.get(filter=("subtree", '<nacm xmlns="%s"/>' % ACM)).data_xml
    def num(leaf):
        g = re.search(r"<%s>(\d+)</%s>" % (leaf, leaf), data)
        check(g is not None, "no %s in %s" % (leaf, data))
        return int(g.group(1))
    return num("denied-operations"), num("denied-data-writes")


def replayed(m, begin):
    """The names of the notifications replayed to m since begin."""
    m.create_subscription(start_time=begin.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    names = []
    while True:
        n = m.take_notification(timeout=20)
        check(n is not None, "replay stopped after %s" % names)
        x = n.notification_xml
        if "replayComplete" in x:
            return names
        names.append(re.sub(r"(?s).*</eventTime>\s*<(?:\w+:)?([\w-]+).*", r"\1", x))


BEGIN = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
POLICY = """<config><nacm xmlns="%s">
  <groups><group><name>bfd-editors</name><user-name>%s</user-name></group></groups>
  <rule-list><name>10-bfd-editors</name><group>bfd-editors</group>
    <rule><name>10-hide-one</name><module-name>wirebeat-bfd</module-name>
      <path>/wbbfd:bfd/wbbfd:profiles/wbbfd:profile[wbbfd:name='hidden']</path>
      <access-operations>read</access-operations><action>deny</action>
      <comment>this profile is none of their business</comment></rule>
    <rule><name>20-write-bfd</name><module-name>wirebeat-bfd</module-name>
      <path>/bfd</path><access-operations>create update delete</access-operations>
      <action>permit</action></rule>
    <rule><name>30-no-copy</name><module-name>ietf-netconf</module-name>
      <rpc-name>copy-config</rpc-name><access-operations>exec</access-operations>
      <action>deny</action></rule>
    <rule><name>40-no-changes</name><module-name>ietf-netconf-notifications</module-name>
      <notification-name>netconf-config-change</notification-name>
      <access-operations>read</access-operations><action>deny</action></rule>
  </rule-list>
</nacm>
<system xmlns="%s"><hostname>nacm-host</hostname></system>
<bfd xmlns="%s"><profiles>
  <profile><name>hidden</name><detection-multiplier>9</detection-multiplier></profile>
  <profile><name>shown</name><detection-multiplier>8</detection-multiplier></profile>
</profiles></bfd></config>""" % (ACM, USER, SYS, BFD)

with connect(ADMIN, ADMINPW) as admin:
    acm = [c for c in admin.server_capabilities if c.startswith(ACM + "?")]
    check(acm == [ACM + "?module=ietf-netconf-acm&revision=2026-12-01"], "module capability %r" % acm)
    lib = admin.get(filter=("subtree", '<yang-library xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-library"/>')).data_xml
    check(lib.count("<name>ietf-netconf-acm</name>") == 1, "ietf-netconf-acm in the YANG library: %s" % lib)
    check(re.search(r"<module>\s*<name>ietf-netconf-acm</name>", lib) is not None, "ietf-netconf-acm not implemented: %s" % lib)
    admin.edit_config(target="running", config=POLICY)
    ops0, writes0 = counters(admin)

    with connect(USER, USERPW) as m:
        # A write inside the group's subtree commits.
        m.edit_config(target="running", config=profile("ed1", 4))
        check("<name>ed1</name>" in admin.get_config(source="running").data_xml, "permitted edit not in running")

        # A write outside is refused with the path, and changes nothing.
        e = denied(lambda: m.edit_config(target="running", config=(
            '<config><system xmlns="%s"><hostname>stolen</hostname></system>'
            '<bfd xmlns="%s"><profiles><profile><name>ed2</name><detection-multiplier>5</detection-multiplier>'
            '</profile></profiles></bfd></config>' % (SYS, BFD))), "write to /system")
        check(e.path is not None and "hostname" in e.path, "error-path %r" % e.path)
        run = admin.get_config(source="running").data_xml
        check("nacm-host" in run and "stolen" not in run and "<name>ed2</name>" not in run,
              "refused edit changed running")

        # Through the candidate the same: the commit is refused.
        denied(lambda: m.edit_config(target="candidate", config=(
            '<config><system xmlns="%s"><hostname>stolen</hostname></system></config>' % SYS)),
            "candidate write to /system")

        # Reads leave the denied entry out, in get and get-config.
        for what, data in (("get-config", m.get_config(source="running").data_xml),
                           ("get", m.get(filter=("subtree", '<bfd xmlns="%s"/>' % BFD)).data_xml)):
            check("<name>shown</name>" in data, what + ": permitted profile missing")
            check("<name>hidden</name>" not in data, what + ": denied profile visible")
        check("$2" not in m.get_config(source="running").data_xml, "viewer reads password hashes")
        check("<name>hidden</name>" in admin.get_config(source="running").data_xml, "admin lost the entry")
        check("$2" in admin.get_config(source="running").data_xml, "admin does not read hashes")

        # Operations by name.
        denied(lambda: m.copy_config(source="running", target="startup"), "copy-config")
        denied(lambda: m.kill_session(admin.session_id), "kill-session")

    # Replay (RFC 5277) is decided like live delivery: the log holds the
    # policy's own change notifications, which the admin sees and USER
    # does not.
    time.sleep(0.5)  # the replay log is fed from the event hub, asynchronously
    check(replayed(admin, BEGIN).count("netconf-config-change") >= 1, "admin replay has no config changes")
    with connect(USER, USERPW) as m:
        seen = replayed(m, BEGIN)
        check("netconf-config-change" not in seen, "denied notification replayed: %s" % seen)

    ops1, writes1 = counters(admin)
    check(ops1 >= ops0 + 2, "denied-operations %d -> %d" % (ops0, ops1))
    check(writes1 >= writes0 + 2, "denied-data-writes %d -> %d" % (writes0, writes1))
print("OK")
