package server

import (
	gpb "github.com/openconfig/gnmi/proto/gnmi"

	"github.com/wirebeat/wirebeat/gen"
	"github.com/wirebeat/wirebeat/schema"
)

// View returns the configuration of running together with the state the
// subsystems render under paths (all of it when paths is empty): what a
// gNMI Get of type ALL or a subscription reads. The result shares nodes
// with running and must only be read.
func (s *Server) View(paths []*gpb.Path) (*gen.Device, error) {
	state, err := s.State(paths)
	if err != nil {
		return nil, err
	}
	return schema.MergeTrees(s.Running(), state), nil
}
