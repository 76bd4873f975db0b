"""ncclient scenarios for the conformance fixes (issue 17).

Usage: ncclient_conform.py HOST PORT USER PASSWORD SCENARIO
Exits 0 and prints OK when the scenario holds.
"""
import sys
import time

from lxml import etree
from ncclient import manager
from ncclient.operations import RPCError

HOST, PORT, USER, PASSWORD, SCENARIO = sys.argv[1:6]
NS = {"wbbfd": "urn:wirebeat:bfd", "wbsys": "urn:wirebeat:system"}


def connect():
    return manager.connect(host=HOST, port=int(PORT), username=USER, password=PASSWORD,
                           hostkey_verify=False, allow_agent=False, look_for_keys=False, timeout=30)


def check(cond, what):
    if not cond:
        print("FAILED:", what)
        sys.exit(1)


def profile(name, mult, stability):
    return ('<config><bfd xmlns="urn:wirebeat:bfd"><profiles><profile><name>%s</name>'
            '<detection-multiplier>%d</detection-multiplier><stability><enabled>%s</enabled></stability>'
            '</profile></profiles></bfd></config>' % (name, mult, stability))


def names(reply):
    root = etree.fromstring(reply.data_xml.encode())
    return sorted(e.text for e in root.iter("{urn:wirebeat:bfd}name"))


def xpath():
    with connect() as m:
        m.edit_config(target="running", config=profile("x1", 3, "false"))
        m.edit_config(target="running", config=profile("x2", 7, "true"))
        m.edit_config(target="running", config=profile("x3", 9, "false"))
        get = lambda sel: m.get_config(source="running", filter=("xpath", (NS, sel)))
        # A predicate with a multi-step path.
        r = get("/wbbfd:bfd/wbbfd:profiles/wbbfd:profile[wbbfd:stability/wbbfd:enabled='true']")
        check(names(r) == ["x2"], "multi-step predicate: %s" % r.data_xml)
        # Comparisons.
        r = get("/wbbfd:bfd/wbbfd:profiles/wbbfd:profile[wbbfd:detection-multiplier >= 7]/wbbfd:name")
        check(names(r) == ["x2", "x3"], "comparison: %s" % r.data_xml)
        # Descendant steps, a node test on . and boolean operators.
        r = get("//wbbfd:detection-multiplier[. > 5 and . < 8]")
        check(names(r) == ["x2"] and "<detection-multiplier>7</detection-multiplier>" in r.data_xml
              and "stability" not in r.data_xml, "// and and: %s" % r.data_xml)
        # The ancestors come with the selected node, keys included.
        r = get("//wbbfd:profile[wbbfd:name='x3']/wbbfd:detection-multiplier")
        check("<name>x3</name>" in r.data_xml and "<detection-multiplier>9</detection-multiplier>" in r.data_xml,
              "ancestors and keys: %s" % r.data_xml)
        # A union of the engine and a simple path, and functions.
        r = get("/wbbfd:bfd/wbbfd:profiles/wbbfd:profile[starts-with(wbbfd:name, 'x') and string-length(wbbfd:name) = 2"
                " and not(wbbfd:stability/wbbfd:enabled = 'true')]/wbbfd:name")
        check(names(r) == ["x1", "x3"], "functions: %s" % r.data_xml)
        r = get("/wbbfd:bfd/wbbfd:profiles/wbbfd:profile[last()]/wbbfd:name | /wbbfd:bfd/wbbfd:profiles/wbbfd:profile[1]/wbbfd:name")
        check(names(r) == ["x1", "x3"], "positions and unions: %s" % r.data_xml)
        # <get> sees state and the protocol's own data through the engine too.
        r = m.get(filter=("xpath", ({"ncm": "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"},
                                    "//ncm:session[ncm:username='%s']/ncm:session-id" % USER)))
        check("<session-id>" in r.data_xml, "monitoring via the engine: %s" % r.data_xml)
        # Not a node-set, or not XPath: an error, never empty data.
        for bad in ["count(//wbbfd:profile)", "/wbbfd:bfd[", "/nope:bfd"]:
            try:
                r = get(bad)
                check(False, "%s answered %s" % (bad, r.data_xml))
            except RPCError as e:
                check(e.tag == "invalid-value", "%s: tag %s" % (bad, e.tag))


NMDA = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"


def nmda_rpc(m, op, datastore, *children):
    root = etree.Element("{%s}%s" % (NMDA, op), nsmap={None: NMDA, "ds": "urn:ietf:params:xml:ns:yang:ietf-datastores"})
    etree.SubElement(root, "{%s}datastore" % NMDA).text = "ds:" + datastore
    for c in children:
        root.append(etree.fromstring(c))
    return m.dispatch(root)


def nmda():
    with connect() as m:
        check(any("ietf-netconf-nmda" in c for c in m.server_capabilities), "nmda module announced")
        cfg = ('<config xmlns="%s"><bfd xmlns="urn:wirebeat:bfd"><profiles><profile><name>nm1</name>'
               '<detection-multiplier>4</detection-multiplier></profile></profiles></bfd></config>' % NMDA)
        nmda_rpc(m, "edit-data", "running", cfg)
        r = nmda_rpc(m, "get-data", "running",
                     '<subtree-filter xmlns="%s"><bfd xmlns="urn:wirebeat:bfd"><profiles/></bfd></subtree-filter>' % NMDA)
        check("<name>nm1</name>" in r.xml and "<detection-multiplier>4</detection-multiplier>" in r.xml,
              "edit-data then get-data running: %s" % r.xml)
        r = nmda_rpc(m, "get-data", "operational", '<config-filter xmlns="%s">false</config-filter>' % NMDA,
                     '<with-origin xmlns="%s"/>' % NMDA)
        check("or:system" in r.xml and "<detection-multiplier>" not in r.xml and "<version>" in r.xml,
              "operational state with origin: %.2000s" % r.xml)
        r = nmda_rpc(m, "get-data", "intended",
                     '<xpath-filter xmlns="%s" xmlns:b="urn:wirebeat:bfd">//b:profile[b:detection-multiplier=4]/b:name</xpath-filter>' % NMDA)
        check("<name>nm1</name>" in r.xml, "intended with an XPath filter: %s" % r.xml)
        try:
            nmda_rpc(m, "edit-data", "operational", cfg)
            check(False, "edit-data of operational accepted")
        except RPCError as e:
            check(e.tag == "invalid-value", "edit-data operational: %s" % e.tag)


def replay():
    import datetime
    import time
    fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    begin = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
    with connect() as m:
        for i in range(1, 4):
            m.edit_config(target="running", config=profile("r%d" % i, 3, "false"))
    time.sleep(0.5)  # the log is fed from the event hub, asynchronously
    with connect() as m:
        stop = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)
        m.create_subscription(start_time=fmt(begin), stop_time=fmt(stop))
        seen = []
        while True:
            n = m.take_notification(timeout=20)
            check(n is not None, "notifications stopped after %s" % seen)
            x = n.notification_xml
            if "replayComplete" in x:
                seen.append("replayComplete")
            elif "notificationComplete" in x:
                seen.append("notificationComplete")
                break
            elif "netconf-config-change" in x:
                seen.append("change")
        check(seen[:4] == ["change", "change", "change", "replayComplete"] and seen[-1] == "notificationComplete",
              "replay sequence: %s" % seen)
        # The subscription ended at stopTime: another may be made.
        m.create_subscription()
    with connect() as m:
        try:
            future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
            m.create_subscription(start_time=fmt(future))
            check(False, "startTime in the future accepted")
        except RPCError as e:
            check(e.tag == "bad-element", "future startTime: %s" % e.tag)


SN = "urn:ietf:params:xml:ns:yang:ietf-subscribed-notifications"
YP = "urn:ietf:params:xml:ns:yang:ietf-yang-push"


def establish(m, body):
    root = etree.fromstring('<establish-subscription xmlns="%s" xmlns:yp="%s" xmlns:ds="urn:ietf:params:xml:ns:yang:ietf-datastores">%s</establish-subscription>' % (SN, YP, body))
    r = m.dispatch(root)
    ids = etree.fromstring(r.xml.encode()).findall(".//{%s}id" % SN)
    check(len(ids) == 1, "establish-subscription reply: %s" % r.xml)
    return ids[0].text


def next_for(m, sid, kinds, limit=40):
    """The next notification of subscription sid whose body is one of kinds."""
    for _ in range(limit):
        n = m.take_notification(timeout=20)
        check(n is not None, "no notification for subscription %s" % sid)
        x = etree.fromstring(n.notification_xml.encode())
        body = [c for c in x if not c.tag.endswith("eventTime")][0]
        local = etree.QName(body).localname
        bid = body.find("{*}id")
        if (bid is not None and bid.text == sid or sid is None) and local in kinds:
            return local, n.notification_xml
    check(False, "no %s for %s" % (kinds, sid))


def yangpush():
    with connect() as m:
        m.edit_config(target="running", config=profile("yp0", 3, "false"))
        # Periodic, every 10 centiseconds, of running's /bfd.
        sid = establish(m, '<yp:datastore>ds:running</yp:datastore><yp:datastore-subtree-filter><bfd xmlns="urn:wirebeat:bfd"/></yp:datastore-subtree-filter><yp:periodic><yp:period>10</yp:period></yp:periodic>')
        for _ in range(2):
            kind, x = next_for(m, sid, ["push-update"])
            check("<bfd" in x and "datastore-contents" in x, "push-update: %s" % x)
        m.dispatch(etree.fromstring('<delete-subscription xmlns="%s"><id>%s</id></delete-subscription>' % (SN, sid)))
        # On-change of running's profiles: the first update, then patches.
        sid = establish(m, '<yp:datastore>ds:running</yp:datastore><yp:datastore-xpath-filter xmlns:b="urn:wirebeat:bfd">/b:bfd/b:profiles</yp:datastore-xpath-filter><yp:on-change/>')
        kind, x = next_for(m, sid, ["push-update"])
        m.edit_config(target="running", config=profile("yp1", 3, "false"))
        kind, x = next_for(m, sid, ["push-change-update"])
        check("<operation>create</operation>" in x and "profile=yp1" in x and "<detection-multiplier>3</detection-multiplier>" in x,
              "create patch: %s" % x)
        m.edit_config(target="running", config=profile("yp1", 8, "false"))
        kind, x = next_for(m, sid, ["push-change-update"])
        check("<operation>replace</operation>" in x and "profile=yp1/detection-multiplier" in x and ">8<" in x, "replace patch: %s" % x)
        m.edit_config(target="running", config='<config><bfd xmlns="urn:wirebeat:bfd"><profiles><profile xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="delete"><name>yp1</name></profile></profiles></bfd></config>')
        kind, x = next_for(m, sid, ["push-change-update"])
        check("<operation>delete</operation>" in x and "profile=yp1" in x, "delete patch: %s" % x)
        # On-change of operational state without events: the clock.
        sid2 = establish(m, '<yp:datastore>ds:operational</yp:datastore><yp:datastore-subtree-filter><system xmlns="urn:wirebeat:system"><state><current-datetime/></state></system></yp:datastore-subtree-filter><yp:on-change><yp:sync-on-start>false</yp:sync-on-start></yp:on-change>')
        kind, x = next_for(m, sid2, ["push-change-update"])
        check("current-datetime" in x and "<operation>replace</operation>" in x, "state change: %s" % x)
        # The event stream, as create-subscription gives it.
        establish(m, '<stream>NETCONF</stream>')
        m.edit_config(target="running", config=profile("yp2", 3, "false"))
        kind, x = next_for(m, None, ["netconf-config-change"])
        # stop-time ends a subscription with subscription-completed.
        import datetime
        stop = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        sid3 = establish(m, '<yp:datastore>ds:running</yp:datastore><yp:periodic><yp:period>50</yp:period></yp:periodic><stop-time>%s</stop-time>' % stop)
        next_for(m, sid3, ["subscription-completed"])
        # Errors.
        for body, tag in [('<yp:datastore>ds:running</yp:datastore><yp:periodic><yp:period>0</yp:period></yp:periodic>', "invalid-value"),
                          ('<yp:datastore>ds:nowhere</yp:datastore><yp:on-change/>', "invalid-value"),
                          ('<stream>OTHER</stream>', "invalid-value")]:
            try:
                establish(m, body)
                check(False, "accepted: %s" % body)
            except RPCError as e:
                check(e.tag == tag, "%s: %s" % (body, e.tag))
        try:
            m.dispatch(etree.fromstring('<delete-subscription xmlns="%s"><id>999999</id></delete-subscription>' % SN))
            check(False, "delete of an unknown subscription accepted")
        except RPCError as e:
            check(e.tag == "invalid-value" and "no-such-subscription" in (e.app_tag or ""), "unknown id: %s %s" % (e.tag, e.app_tag))
    modify()
    replay_stream()


def modify_rpc(m, sid, body):
    return m.dispatch(etree.fromstring('<modify-subscription xmlns="%s" xmlns:yp="%s">'
                                       '<id>%s</id>%s</modify-subscription>' % (SN, YP, sid, body)))


def modify():
    """modify-subscription (RFC 8639 2.4.3, RFC 8641 4.4.2)."""
    with connect() as m:
        m.edit_config(target="running", config='<config><system xmlns="urn:wirebeat:system"><hostname>mod-a</hostname></system></config>')
        # Periodic: new period and a new filter, announced by
        # subscription-modified; the updates after it follow them.
        sid = establish(m, '<yp:datastore>ds:running</yp:datastore><yp:datastore-subtree-filter><bfd xmlns="urn:wirebeat:bfd"/></yp:datastore-subtree-filter><yp:periodic><yp:period>10</yp:period></yp:periodic>')
        kind, x = next_for(m, sid, ["push-update"])
        check("<bfd" in x, "first update: %s" % x)
        modify_rpc(m, sid, '<yp:datastore-subtree-filter><system xmlns="urn:wirebeat:system"><hostname/></system></yp:datastore-subtree-filter><yp:periodic><yp:period>20</yp:period></yp:periodic>')
        kind, x = next_for(m, sid, ["subscription-modified"])
        check("<period>20</period>" in x and "hostname" in x and "ds:running" in x, "subscription-modified: %s" % x)
        kind, x = next_for(m, sid, ["push-update"])
        check("mod-a" in x and "<bfd" not in x, "update after modify: %s" % x)
        # Changing its kind is refused, and so is an empty modify.
        for body, tag in [('<yp:on-change/>', "invalid-value"), ('', "missing-element"),
                          ('<stream-subtree-filter><x/></stream-subtree-filter>', "invalid-value")]:
            try:
                modify_rpc(m, sid, body)
                check(False, "modify accepted: %r" % body)
            except RPCError as e:
                check(e.tag == tag, "modify %r: %s" % (body, e.tag))
        m.dispatch(etree.fromstring('<delete-subscription xmlns="%s"><id>%s</id></delete-subscription>' % (SN, sid)))
        try:
            modify_rpc(m, sid, '<yp:periodic><yp:period>30</yp:period></yp:periodic>')
            check(False, "modify of a deleted subscription accepted")
        except RPCError as e:
            check(e.tag == "invalid-value" and "no-such-subscription" in (e.app_tag or ""), "deleted id: %s %s" % (e.tag, e.app_tag))
        # On-change with a new filter: a whole update of the new
        # selection, then changes within it only.
        sid = establish(m, '<yp:datastore>ds:running</yp:datastore><yp:datastore-xpath-filter xmlns:b="urn:wirebeat:bfd">/b:bfd/b:profiles</yp:datastore-xpath-filter><yp:on-change/>')
        next_for(m, sid, ["push-update"])
        modify_rpc(m, sid, '<yp:datastore-xpath-filter xmlns:s="urn:wirebeat:system">/s:system/s:hostname</yp:datastore-xpath-filter>')
        kind, x = next_for(m, sid, ["subscription-modified"])
        check("/s:system/s:hostname" in x and 'xmlns:s="urn:wirebeat:system"' in x and "on-change" in x, "subscription-modified: %s" % x)
        kind, x = next_for(m, sid, ["push-update"])
        check("mod-a" in x and "profile" not in x, "resync after modify: %s" % x)
        m.edit_config(target="running", config=profile("mod1", 3, "false"))
        m.edit_config(target="running", config='<config><system xmlns="urn:wirebeat:system"><hostname>mod-b</hostname></system></config>')
        kind, x = next_for(m, sid, ["push-change-update"])
        check("mod-b" in x and "mod1" not in x, "change after modify: %s" % x)


def replay_stream():
    """replay-start-time on an event stream subscription (RFC 8639 2.4.2.1)."""
    import datetime
    fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with connect() as m:
        m.edit_config(target="running", config=profile("rp1", 3, "false"))
    time.sleep(0.5)  # the log is fed from the event hub, asynchronously
    with connect() as m:
        # An hour ago is before the log began: the reply revises it.
        begin = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
        r = m.dispatch(etree.fromstring('<establish-subscription xmlns="%s"><stream>NETCONF</stream>'
                                        '<replay-start-time>%s</replay-start-time></establish-subscription>' % (SN, fmt(begin))))
        x = etree.fromstring(r.xml.encode())
        sid = x.find(".//{%s}id" % SN).text
        check(x.find(".//{%s}replay-start-time-revision" % SN) is not None, "no replay-start-time-revision: %s" % r.xml)
        seen = []
        while True:
            kind, n = next_for(m, None, ["netconf-config-change", "replay-completed", "netconf-session-start", "netconf-session-end"])
            if kind == "replay-completed":
                check(("<id>%s</id>" % sid) in n, "replay-completed of another subscription: %s" % n)
                break
            seen.append(kind)
        check("netconf-config-change" in seen, "nothing replayed: %s" % seen)
        # Live events follow the replay.
        m.edit_config(target="running", config=profile("rp2", 3, "false"))
        kind, n = next_for(m, None, ["netconf-config-change"])
        check("rp2" in n or "profile" in n, "live after replay: %s" % n)
        future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        try:
            m.dispatch(etree.fromstring('<establish-subscription xmlns="%s"><stream>NETCONF</stream>'
                                        '<replay-start-time>%s</replay-start-time></establish-subscription>' % (SN, fmt(future))))
            check(False, "replay-start-time in the future accepted")
        except RPCError as e:
            check(e.tag == "invalid-value", "future replay-start-time: %s" % e.tag)


SCENARIOS = {"xpath": xpath, "nmda": nmda, "replay": replay, "yangpush": yangpush}
SCENARIOS[SCENARIO]()
print("OK")
