package netconf

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// The YANG library (RFC 8525, and RFC 7895 modules-state for older
// clients) lists every module the server implements or imports: our own
// five and the IETF modules of the protocol itself. Their names,
// revisions, namespaces and features are facts about what this server
// does, written here; their texts are not ours to ship. get-schema serves
// the IETF texts from the YANG directories of the host (Debian's libyang2
// installs /usr/share/yang/modules/libyang, yangcli's libyuma-base
// /usr/share/yuma/modules/ietf). A module whose text is not installed is
// still listed (the server implements it either way) but get-schema says
// precisely what is missing, and netconf-state/schemas gives it no
// NETCONF location.

// DefaultYangDirs are the directories searched for the IETF module texts
// when Options.YangDirs is empty: the system YANG directories of Debian's
// libyang2, libnetconf2 and yangcli (libyuma-base) packages.
var DefaultYangDirs = []string{
	"/usr/share/yang/modules/libnetconf2",
	"/usr/share/yang/modules/libyang",
	"/usr/share/yang/modules",
	"/usr/share/yuma/modules/ietf",
	"/usr/share/yuma/nmda-modules/ietf",
	"/usr/local/share/yang/modules",
}

// libModule is one entry of the YANG library.
type libModule struct {
	Name, Revision, Namespace string
	Features                  []string
	// ImportOnly modules are there for their typedefs and groupings
	// (RFC 8525 import-only-module, RFC 7895 conformance-type import).
	ImportOnly bool
	// Text is the module's source, empty when not available; File where
	// it was read from, for the log.
	Text, File string
}

// ietfModules are the modules of the protocol the server implements (or
// imports through them), with the features it supports.
func ietfModules(nmda bool) []*libModule {
	ms := []*libModule{
		{Name: "ietf-netconf", Revision: "2011-06-01", Namespace: nsBase,
			Features: []string{"candidate", "confirmed-commit", "rollback-on-error", "startup", "validate", "writable-running", "xpath"}},
		{Name: "ietf-netconf-monitoring", Revision: "2010-10-04", Namespace: nsMonitoring},
		{Name: "ietf-netconf-notifications", Revision: "2012-02-06", Namespace: nsNCNotif},
		{Name: "ietf-netconf-with-defaults", Revision: "2011-06-01", Namespace: nsWithDefault},
		{Name: "ietf-yang-library", Revision: "2019-01-04", Namespace: nsYangLib},
		{Name: "ietf-datastores", Revision: "2018-02-14", Namespace: nsNMDA},
		{Name: "ietf-inet-types", Revision: "2013-07-15", Namespace: "urn:ietf:params:xml:ns:yang:ietf-inet-types", ImportOnly: true},
		{Name: "ietf-yang-types", Revision: "2013-07-15", Namespace: "urn:ietf:params:xml:ns:yang:ietf-yang-types", ImportOnly: true},
	}
	ms = append(ms,
		// YANG-Push (yangpush.go) and what its modules import.
		&libModule{Name: "ietf-subscribed-notifications", Revision: "2019-09-09", Namespace: nsSN, Features: []string{"encode-xml", "subtree", "xpath"}},
		&libModule{Name: "ietf-yang-push", Revision: "2019-09-09", Namespace: nsYP, Features: []string{"on-change"}},
		&libModule{Name: "ietf-yang-patch", Revision: "2017-02-22", Namespace: nsPatch, ImportOnly: true},
		&libModule{Name: "ietf-restconf", Revision: "2017-01-26", Namespace: "urn:ietf:params:xml:ns:yang:ietf-restconf", ImportOnly: true},
		&libModule{Name: "ietf-network-instance", Revision: "2019-01-21", Namespace: "urn:ietf:params:xml:ns:yang:ietf-network-instance", ImportOnly: true},
		&libModule{Name: "ietf-interfaces", Revision: "2018-02-20", Namespace: "urn:ietf:params:xml:ns:yang:ietf-interfaces", ImportOnly: true},
		&libModule{Name: "ietf-ip", Revision: "2018-02-22", Namespace: "urn:ietf:params:xml:ns:yang:ietf-ip", ImportOnly: true},
		&libModule{Name: "ietf-yang-schema-mount", Revision: "2019-01-14", Namespace: "urn:ietf:params:xml:ns:yang:ietf-yang-schema-mount", ImportOnly: true},
	)
	if nmda {
		ms = append(ms,
			&libModule{Name: "ietf-netconf-nmda", Revision: "2019-01-07", Namespace: nsNCNMDA, Features: []string{"origin", "with-defaults"}},
			&libModule{Name: "ietf-origin", Revision: "2018-02-14", Namespace: nsOrigin},
			&libModule{Name: "ietf-yang-metadata", Revision: "2016-08-05", Namespace: "urn:ietf:params:xml:ns:yang:ietf-yang-metadata", ImportOnly: true},
		)
	}
	return ms
}

var reModuleRevision = regexp.MustCompile(`(?m)^\s*revision\s+"?([0-9]{4}-[0-9]{2}-[0-9]{2})"?`)

// findModuleText looks for name@revision.yang, else name.yang whose first
// revision statement is revision, in dirs.
func findModuleText(dirs []string, name, revision string) (text, file string) {
	for _, d := range dirs {
		for _, f := range []string{name + "@" + revision + ".yang", name + ".yang"} {
			p := filepath.Join(d, f)
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			s := string(b)
			if !strings.Contains(s, "module "+name) {
				continue
			}
			if m := reModuleRevision.FindStringSubmatch(s); m == nil || m[1] != revision {
				continue
			}
			return s, p
		}
	}
	return "", ""
}

// buildLibrary lists our modules and the IETF ones, the latter with their
// texts read from dirs when present; url and replay add those features
// (both need the data directory). It returns the names of the modules
// whose text was not found.
func (si *schemaInfo) buildLibrary(dirs []string, nmda, url, replay bool) (missing []string) {
	si.library = nil
	for _, m := range si.modules {
		si.library = append(si.library, &libModule{Name: m.Name, Revision: m.Revision, Namespace: m.Namespace, Text: m.Text, File: "embedded"})
	}
	for _, m := range ietfModules(nmda) {
		if url && m.Name == "ietf-netconf" {
			m.Features = append(m.Features, "url")
			sort.Strings(m.Features)
		}
		if replay && m.Name == "ietf-subscribed-notifications" {
			m.Features = append(m.Features, "replay")
			sort.Strings(m.Features)
		}
		m.Text, m.File = findModuleText(dirs, m.Name, m.Revision)
		if m.Text == "" {
			missing = append(missing, m.Name+"@"+m.Revision)
		}
		si.library = append(si.library, m)
	}
	sort.Slice(si.library, func(i, j int) bool { return si.library[i].Name < si.library[j].Name })
	return missing
}

// libraryModule returns the library's module name (at revision, when not
// empty).
func (si *schemaInfo) libraryModule(name, revision string) *libModule {
	for _, m := range si.library {
		if m.Name == name && (revision == "" || revision == m.Revision) {
			return m
		}
	}
	return nil
}

// nmdaOps reports whether <get-data> and <edit-data> (RFC 8526) are served,
// and with them ietf-netconf-nmda and ietf-origin listed.
const nmdaOps = true
