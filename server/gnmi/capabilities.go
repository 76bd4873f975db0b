package gnmi

import (
	"context"
	"io/fs"
	"sort"
	"strings"
	"sync"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"

	wbyang "github.com/wirebeat/wirebeat/yang"
)

// Version is the version of the gNMI specification implemented.
const Version = "0.10.0"

// Capabilities answers with our modules, the encodings and the gNMI
// version (specification 3.2).
func (g *Server) Capabilities(context.Context, *gpb.CapabilityRequest) (*gpb.CapabilityResponse, error) {
	return &gpb.CapabilityResponse{
		SupportedModels:    models(),
		SupportedEncodings: []gpb.Encoding{gpb.Encoding_JSON, gpb.Encoding_JSON_IETF},
		GNMIVersion:        Version,
	}, nil
}

var (
	modelsOnce sync.Once
	modelList  []*gpb.ModelData
)

// models lists the element's YANG modules, read once from the embedded
// module texts: name, organization, and the latest revision as version.
func models() []*gpb.ModelData {
	modelsOnce.Do(func() {
		files, _ := fs.Glob(wbyang.Files, "*.yang")
		for _, name := range files {
			text, err := fs.ReadFile(wbyang.Files, name)
			if err != nil {
				continue
			}
			if m := modelOf(string(text), name); m != nil {
				modelList = append(modelList, m)
			}
		}
		sort.Slice(modelList, func(i, j int) bool { return modelList[i].Name < modelList[j].Name })
	})
	return modelList
}

func modelOf(text, file string) *gpb.ModelData {
	stmts, err := yang.Parse(text, file)
	if err != nil || len(stmts) == 0 || stmts[0].Keyword != "module" {
		return nil
	}
	m := &gpb.ModelData{Name: stmts[0].Argument}
	for _, s := range stmts[0].SubStatements() {
		switch s.Keyword {
		case "organization":
			m.Organization = strings.TrimSpace(s.Argument)
		case "revision":
			if s.Argument > m.Version { // YYYY-MM-DD sorts as text
				m.Version = s.Argument
			}
		}
	}
	return m
}

// knownModel reports whether a ModelData of use_models names one of ours.
func knownModel(md *gpb.ModelData) bool {
	for _, m := range models() {
		if m.Name == md.Name && (md.Organization == "" || md.Organization == m.Organization) &&
			(md.Version == "" || md.Version == m.Version) {
			return true
		}
	}
	return false
}
