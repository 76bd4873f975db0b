package interop

import (
	"fmt"
	"testing"
	"time"

	"github.com/wirebeat/wirebeat/bfd"
	"github.com/wirebeat/wirebeat/bfd/transport"
	"github.com/wirebeat/wirebeat/tools/bird"
	"github.com/wirebeat/wirebeat/tools/netns"
)

func birdConf(iface, peer, auth, secret string) string {
	return fmt.Sprintf(`router id 10.92.0.2;
protocol device {}
protocol bfd {
  interface "%s" {
    interval 100 ms;
    multiplier 3;
    authentication %s;
    password "%s" { id 1; };
  };
  neighbor %s dev "%s";
}
`, iface, auth, secret, peer, iface)
}

// TestBIRDInterop: single-hop IPv4 sessions with BIRD 2 under keyed SHA1
// and meticulous keyed MD5 come Up; with a wrong key they never do, and
// our end counts the authentication failures.
func TestBIRDInterop(t *testing.T) {
	cases := []struct {
		name string
		bird string
		typ  bfd.AuthType
	}{
		{"keyed-sha1", "keyed sha1", bfd.AuthKeyedSHA1},
		{"meticulous-keyed-md5", "meticulous keyed md5", bfd.AuthMeticulousKeyedMD5},
	}
	for _, c := range cases {
		for _, wrong := range []bool{false, true} {
			name := c.name
			if wrong {
				name += "/wrong-key"
			}
			t.Run(name, func(t *testing.T) {
				nsA, nsB := netns.New(t, "biA"), netns.New(t, "biB")
				ifA, ifB := netns.Unique("ba"), netns.Unique("bb")
				netns.Veth(t, nsA, ifA, nsB, ifB)
				nsA.Addr(t, ifA, "10.92.0.1/24")
				nsB.Addr(t, ifB, "10.92.0.2/24")
				birdd := bird.Start(t, nsB, birdConf(ifB, "10.92.0.1", c.bird, "s3cr3t-key"))

				eng := startEngine(t, nsA, bfd.Options{})
				tr := eng.transport(transport.Config{Kind: bfd.PathSingleHop, Interface: ifA})
				secret := "s3cr3t-key"
				if wrong {
					secret = "not-the-key"
				}
				d := eng.session(tr, "10.92.0.2", bfd.SessionConfig{DesiredMinTxInterval: 100_000, RequiredMinRxInterval: 100_000,
					DetectMult: 3, Auth: bfd.AuthConfig{Type: c.typ, TxKeyID: 1, Keys: []bfd.Key{{ID: 1, Secret: []byte(secret)}}}})
				if !wrong {
					waitFor(t, 15*time.Second, "both Up", func() bool {
						return eng.info(d).LocalState == bfd.StateUp && birdd.SessionState(t, "10.92.0.1") == "Up"
					})
					time.Sleep(2 * time.Second)
					i := eng.info(d)
					if i.LocalState != bfd.StateUp || i.DownCount != 0 || i.Counters.RxAuthFailures != 0 || !i.RemoteAuthenticated {
						t.Fatalf("after 2 s Up: %+v", i)
					}
					return
				}
				time.Sleep(5 * time.Second)
				i := eng.info(d)
				if i.LocalState == bfd.StateUp || i.UpCount != 0 || i.Counters.RxAuthFailures == 0 || i.Counters.RxPackets != 0 {
					t.Fatalf("wrong key: %+v", i)
				}
				if st := birdd.SessionState(t, "10.92.0.1"); st == "Up" {
					t.Fatal("BIRD came Up with a wrong key")
				}
				t.Logf("wrong key: %d authentication failures counted in 5 s", i.Counters.RxAuthFailures)
			})
		}
	}
}
