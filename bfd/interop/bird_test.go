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

// Both ends send every 100 ms with a multiplier of 30: 3 s of detection
// time, so that a loaded machine's scheduling delay (BIRD and our engine
// each waiting for a core; 1.5 s was seen under load) does not pass for a
// failure. The test proves authentication interworking, which does not
// depend on the timers.
const birdMult = 30

func birdConf(iface, peer, auth, secret string) string {
	return fmt.Sprintf(`router id 10.92.0.2;
protocol device {}
protocol bfd {
  interface "%s" {
    interval 100 ms;
    multiplier %d;
    authentication %s;
    password "%s" { id 1; };
  };
  neighbor %s dev "%s";
}
`, iface, birdMult, auth, secret, peer, iface)
}

// TestBIRDInterop: single-hop IPv4 sessions with BIRD 2 under keyed SHA1
// and meticulous keyed MD5 come Up and stay Up for 40 more of BIRD's
// packets (past BIRD's detection time of our packets, so BIRD keeps
// accepting our sequence numbers and digests); with a wrong key they never
// come Up, and our end counts the authentication failures.
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
					DetectMult: birdMult, Auth: bfd.AuthConfig{Type: c.typ, TxKeyID: 1, Keys: []bfd.Key{{ID: 1, Secret: []byte(secret)}}}})
				if !wrong {
					waitFor(t, 15*time.Second, "both Up", func() bool {
						return eng.info(d).LocalState == bfd.StateUp && birdd.SessionState(t, "10.92.0.1") == "Up"
					})
					// 40 packets from BIRD at 100 ms (less jitter) take
					// more than the 3 s BIRD waits for ours: had it
					// stopped accepting them, it would have gone Down
					// and told us.
					rx := eng.info(d).Counters.RxPackets
					waitFor(t, 30*time.Second, "40 more packets from BIRD", func() bool {
						i := eng.info(d)
						return i.Counters.RxPackets >= rx+40 || i.LocalState != bfd.StateUp
					})
					i := eng.info(d)
					if i.LocalState != bfd.StateUp || i.DownCount != 0 || i.Counters.RxAuthFailures != 0 || !i.RemoteAuthenticated {
						t.Fatalf("after 40 packets Up: %+v", i)
					}
					if st := birdd.SessionState(t, "10.92.0.1"); st != "Up" {
						t.Fatalf("BIRD's session is %q after 40 packets Up", st)
					}
					return
				}
				// BIRD sends once a second while Down: three refused
				// packets, and neither end came Up meanwhile.
				waitFor(t, 20*time.Second, "3 packets from BIRD refused", func() bool {
					return eng.info(d).Counters.RxAuthFailures >= 3
				})
				i := eng.info(d)
				if i.LocalState == bfd.StateUp || i.UpCount != 0 || i.Counters.RxAuthFailures == 0 || i.Counters.RxPackets != 0 {
					t.Fatalf("wrong key: %+v", i)
				}
				if st := birdd.SessionState(t, "10.92.0.1"); st == "Up" {
					t.Fatal("BIRD came Up with a wrong key")
				}
				t.Logf("wrong key: %d authentication failures counted", i.Counters.RxAuthFailures)
			})
		}
	}
}
