#!/usr/bin/env bash
# DS-Lite demo (make demo / make demo-stop, as root): a home host behind a
# wirebeat B4, an IPv6 access segment, two wirebeat AFTRs with their own
# NAT pools, and an Internet server, each in a network namespace named
# wbdemo-*. Everything it makes is listed in $DIR and removed by "down".
set -euo pipefail
DIR=${DEMO_DIR:-/tmp/wirebeat-dslite-demo}
NS=(home b4 acc aftr1 aftr2 inet)
PASSWORD=${WIREBEAT_ADMIN_PASSWORD:-dslite-demo}

down() {
	if [[ -d $DIR ]]; then
		for f in "$DIR"/*.pid; do
			[[ -e $f ]] && kill "$(cat "$f")" 2>/dev/null || true
		done
		sleep 1
		for f in "$DIR"/*.pid; do
			[[ -e $f ]] && kill -9 "$(cat "$f")" 2>/dev/null || true
		done
	fi
	for n in "${NS[@]}"; do
		ip netns del "wbdemo-$n" 2>/dev/null || true
	done
	rm -rf "$DIR"
	echo "DS-Lite demo removed."
}

up() {
	[[ $(id -u) == 0 ]] || { echo "make demo needs root (network namespaces)"; exit 1; }
	down >/dev/null
	mkdir -p "$DIR"
	echo "building wirebeat..."
	go build -o "$DIR/wirebeat" .
	for n in "${NS[@]}"; do
		ip netns add "wbdemo-$n"
		ip -n "wbdemo-$n" link set lo up
		ip netns exec "wbdemo-$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	done
	pair() { # ns1 if1 ns2 if2
		ip link add "$2" netns "wbdemo-$1" type veth peer name "$4" netns "wbdemo-$3"
		for x in "$1 $2" "$3 $4"; do
			set -- $x
			ip -n "wbdemo-$1" link set "$2" up
		done
	}
	pair home h0 b4 lan0
	pair b4 wan0 acc a1
	pair aftr1 in0 acc a2
	pair aftr2 in0 acc a3
	pair aftr1 ext0 inet x1
	pair aftr2 ext0 inet x2
	ip -n wbdemo-acc link add br0 type bridge
	for d in a1 a2 a3; do ip -n wbdemo-acc link set "$d" master br0; done
	ip -n wbdemo-acc link set br0 up
	ip -n wbdemo-inet link add br0 type bridge
	for d in x1 x2; do ip -n wbdemo-inet link set "$d" master br0; done
	ip -n wbdemo-inet link set br0 up
	ip -n wbdemo-inet addr add 192.0.2.1/24 dev br0
	ip -n wbdemo-inet addr add 203.0.113.10/32 dev lo
	ip -n wbdemo-inet route add 198.51.100.0/28 via 192.0.2.11
	ip -n wbdemo-inet route add 198.51.100.16/28 via 192.0.2.12
	ip -n wbdemo-home addr add 192.168.1.100/24 dev h0
	ip -n wbdemo-home route add default via 192.168.1.1

	profile='"wirebeat-bfd:bfd":{"profiles":{"profile":[{"name":"sw","desired-min-tx-interval":300000,"required-min-rx-interval":300000,"detection-multiplier":3}]}}'
	aftr() { # name endpoint external-address pool
		cat >"$DIR/$1.json" <<JSON
{$profile,
 "wirebeat-softwire:softwire":{"aftr":{"enabled":true,"internal-device":"in0","external-device":"ext0",
  "tunnel-endpoint":"$2","external-address":"$3","external-next-hop":"192.0.2.1","b4-prefix":["2001:db8:1::/64"],
  "nat44":{"pool":[{"prefix":"$4"}],"port-block-size":64},"bfd":{"enabled":true,"profile":"sw"}}}}
JSON
	}
	aftr aftr1 2001:db8:1::a1 192.0.2.11 198.51.100.0/28
	aftr aftr2 2001:db8:1::a2 192.0.2.12 198.51.100.16/28
	cat >"$DIR/b4.json" <<JSON
{"wirebeat-bfd:bfd":{"profiles":{"profile":[{"name":"sw","desired-min-tx-interval":300000,"required-min-rx-interval":300000,"detection-multiplier":3}]},
  "softwire":{"session":[{"b4-address":"2001:db8:1::b1","role":"b4","aftr-address":"2001:db8:1::a1"}]}},
 "wirebeat-softwire:softwire":{"b4":{"enabled":true,"wan-device":"wan0","lan-device":"lan0","b4-address":"2001:db8:1::b1",
  "lan-address":"192.168.1.1","aftr":[{"address":"2001:db8:1::a1","preference":10},{"address":"2001:db8:1::a2","preference":20}],
  "bfd":{"enabled":true,"profile":"sw"},"failover":{"policy":"non-revertive"}}}}
JSON
	for e in aftr1 aftr2 b4; do
		WIREBEAT_ADMIN_PASSWORD=$PASSWORD ip netns exec "wbdemo-$e" "$DIR/wirebeat" run --datadir "$DIR/$e" --config "$DIR/$e.json" \
			--netconf 127.0.0.1:8830 --gnmi "" --cli 127.0.0.1:8022 >"$DIR/$e.log" 2>&1 &
		echo $! >"$DIR/$e.pid"
	done
	mkdir -p "$DIR/www" && echo "hello through DS-Lite" >"$DIR/www/index.html"
	ip netns exec wbdemo-inet /usr/bin/python3 -m http.server 8080 --bind 203.0.113.10 --directory "$DIR/www" >"$DIR/http.log" 2>&1 &
	echo $! >"$DIR/http.pid"
	for e in aftr1 aftr2 b4; do
		for _ in $(seq 100); do grep -q '^running;' "$DIR/$e.log" 2>/dev/null && break; sleep 0.2; done
	done
	cat <<TXT

DS-Lite demo is up (logs in $DIR). The admin password of every element is $PASSWORD.

  Fetch a page from the home host through B4 and AFTR1:
    ip netns exec wbdemo-home curl http://203.0.113.10:8080/
  The B4's CLI (its state, then watch it):
    ip netns exec wbdemo-b4 ssh -p 8022 admin@127.0.0.1
      show softwire b4
      monitor
  AFTR1's CLI (active B4s, NAT sessions):
    ip netns exec wbdemo-aftr1 ssh -p 8022 admin@127.0.0.1
      show softwire aftr
  Kill AFTR1 and watch the B4 move to AFTR2 (the monitor shows aftr-failover):
    kill -9 \$(cat $DIR/aftr1.pid)
    ip netns exec wbdemo-home curl http://203.0.113.10:8080/
  Remove everything:
    make demo-stop
TXT
}

case ${1:-} in
up) up ;;
down) down ;;
*) echo "usage: $0 up|down"; exit 2 ;;
esac
