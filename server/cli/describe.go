package cli

import (
	"io/fs"
	"strings"
	"sync"

	"github.com/openconfig/goyang/pkg/yang"

	wbyang "github.com/wirebeat/wirebeat/yang"
)

// The generated schema (gen.SchemaTree) is stored without the modules'
// description statements, and ? help shows them. They are read once from
// the embedded module texts, with goyang as ygot reads them, and found by
// schema path; an entry that carries its own description (a schema built
// in memory) keeps it.

var (
	descOnce sync.Once
	descs    map[string]string // schema path ("/bfd/profiles") -> description
)

// description returns the YANG description of a schema node.
func description(e *yang.Entry) string {
	if e == nil {
		return ""
	}
	if e.Description != "" {
		return e.Description
	}
	descOnce.Do(loadDescriptions)
	return descs[schemaPath(e)]
}

// schemaPath names a node by its data nodes from the root, without the
// choice and case nodes between them.
func schemaPath(e *yang.Entry) string {
	var names []string
	for ; e != nil && e.Parent != nil; e = e.Parent {
		if e.IsChoice() || e.IsCase() {
			continue
		}
		names = append(names, e.Name)
	}
	var b strings.Builder
	for i := len(names) - 1; i >= 0; i-- {
		b.WriteString("/" + names[i])
	}
	return b.String()
}

func loadDescriptions() {
	descs = map[string]string{}
	ms := yang.NewModules()
	files, _ := fs.Glob(wbyang.Files, "*.yang")
	for _, f := range files {
		text, err := fs.ReadFile(wbyang.Files, f)
		if err != nil {
			return
		}
		if err := ms.Parse(string(text), f); err != nil {
			return
		}
	}
	if errs := ms.Process(); len(errs) > 0 {
		return
	}
	for _, m := range ms.Modules {
		if m.BelongsTo != nil {
			continue
		}
		collectDescriptions(yang.ToEntry(m), "")
	}
}

func collectDescriptions(e *yang.Entry, path string) {
	for _, c := range e.Dir {
		p := path
		if !c.IsChoice() && !c.IsCase() {
			p += "/" + c.Name
			if c.Description != "" {
				if _, ok := descs[p]; !ok {
					descs[p] = c.Description
				}
			}
		}
		collectDescriptions(c, p)
	}
}
