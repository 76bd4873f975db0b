"""ncclient scenarios for the conformance fixes (issue 17).

Usage: ncclient_conform.py HOST PORT USER PASSWORD SCENARIO
Exits 0 and prints OK when the scenario holds.
"""
import sys

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


SCENARIOS = {"xpath": xpath}
SCENARIOS[SCENARIO]()
print("OK")
