#!/bin/sh
# Runs INSIDE the lab's QEMU guest, over ssh (fed on stdin by `lab/netem-host.sh check`): proves
# that netem works there the way Quayside uses it, by measuring ping round trips.
#
#   1. netem on one end of a veth pair between two netns: RTT ~ 100 ms with `delay 100ms`.
#   2. netem on a container's host-side veth, found from the peer index of the container's eth0
#      (an exact integer match against each interface's ifindex): guest -> container ~ 100 ms.
#   3. the upload path on the same veth: ingress qdisc, u32 filter, mirred redirect to an IFB
#      device, HTB with a netem child there (+50 ms): guest -> container ~ 150 ms.
#
# Prints one PASS/FAIL line per step and exits non-zero when any step fails. It removes
# everything it made (netns, container, IFB) on the way out.
# Usage: sh -s IMAGE < guest-check.sh
image=${1:?usage: guest-check.sh IMAGE}
# It makes netns, containers and qdiscs: only ever inside the guest (guest-init.sh marks it).
if [ ! -f /run/qs-netem/guest ]; then
  echo "guest-check.sh runs only inside the lab's QEMU guest (use: lab/netem-host.sh check)" >&2
  exit 2
fi
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ns_a=qs-check-a ns_b=qs-check-b ctr=qs-netem-check ifb=qsifbcheck
# Emulated CPUs are slow and the host is shared: upper bounds are loose on purpose.
slack=${QS_NETEM_CHECK_SLACK:-60}
failed=0

cleanup() {
  ip netns del "$ns_a" 2>/dev/null
  ip netns del "$ns_b" 2>/dev/null
  ip link del "$ifb" 2>/dev/null
  docker rm -f "$ctr" >/dev/null 2>&1
}
trap cleanup EXIT
cleanup

pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; failed=1; }

# Average RTT in ms (integer) from ping's summary line, or nothing when no reply came back.
avg_rtt_ms() { sed -n 's|^rtt .*= *[0-9.]*/\([0-9]*\)[0-9.]*/.*$|\1|p' | tail -1; }

# expect_rtt LABEL LOW HIGH PING-ARGS...: pings and judges the average against [LOW, HIGH] ms.
expect_rtt() {
  label=$1 low=$2 high=$3; shift 3
  out=$("$@" 2>&1)
  avg=$(printf '%s\n' "$out" | avg_rtt_ms)
  summary=$(printf '%s\n' "$out" | tail -1)
  if [ -n "$avg" ] && [ "$avg" -ge "$low" ] && [ "$avg" -le "$high" ]; then
    pass "$label: avg ${avg} ms in [$low, $high] ($summary)"
  else
    fail "$label: avg '${avg:-none}' ms, wanted [$low, $high] ($summary)"
  fi
}

echo "guest: $(uname -sr), $(nproc) CPUs, uptime $(cut -d' ' -f1 /proc/uptime) s"

# 1. veth pair between two netns
if ip netns add "$ns_a" && ip netns add "$ns_b" &&
   ip link add qs-va netns "$ns_a" type veth peer name qs-vb netns "$ns_b" &&
   ip -n "$ns_a" addr add 10.77.0.1/24 dev qs-va && ip -n "$ns_b" addr add 10.77.0.2/24 dev qs-vb &&
   ip -n "$ns_a" link set qs-va up && ip -n "$ns_b" link set qs-vb up; then
  expect_rtt "veth pair, no qdisc (baseline)" 0 20 \
    ip netns exec "$ns_a" ping -n -q -c 5 -i 0.2 -W 2 10.77.0.2
  if ip netns exec "$ns_a" tc qdisc add dev qs-va root netem delay 100ms; then
    pass "tc qdisc add dev qs-va root netem delay 100ms"
    expect_rtt "veth pair, netem delay 100ms" 95 $((100 + slack)) \
      ip netns exec "$ns_a" ping -n -q -c 10 -i 0.2 -W 2 10.77.0.2
  else
    fail "tc qdisc add netem on the veth pair"
  fi
else
  fail "veth pair setup"
fi

# 2. a container's host-side veth
if docker run -d --name "$ctr" --label quayside.lab=1 "$image" sleep 600 >/dev/null; then
  pid=$(docker inspect -f '{{.State.Pid}}' "$ctr")
  cip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$ctr")
  # "N: eth0@ifM: ..." seen from the container's netns: M is the host-side peer's ifindex.
  peer=$(nsenter -t "$pid" -n ip -o link show dev eth0 | sed -n 's/^[0-9]*: eth0@if\([0-9]*\):.*/\1/p')
  veth=""
  if [ -n "$peer" ]; then
    for d in /sys/class/net/*; do
      [ "$(cat "$d/ifindex")" -eq "$peer" ] && { veth=${d##*/}; break; }
    done
  fi
  if [ -n "$veth" ] && ip -d link show dev "$veth" | grep -qw veth; then
    pass "container $ctr ($cip): eth0 peer ifindex $peer is host-side veth $veth"
    expect_rtt "guest -> container, no qdisc (baseline)" 0 20 ping -n -q -c 5 -i 0.2 -W 2 "$cip"
    if tc qdisc add dev "$veth" root netem delay 100ms; then
      pass "tc qdisc add dev $veth root netem delay 100ms"
      expect_rtt "guest -> container, netem delay 100ms on $veth" 95 $((100 + slack)) \
        ping -n -q -c 10 -i 0.2 -W 2 "$cip"
    else
      fail "tc qdisc add netem on $veth"
    fi

    # 3. upload direction, shaped on an IFB as Quayside builds it
    if ip link add "$ifb" type ifb && ip link set "$ifb" up &&
       tc qdisc add dev "$veth" handle ffff: ingress &&
       tc filter add dev "$veth" parent ffff: protocol all u32 match u32 0 0 \
         action mirred egress redirect dev "$ifb" &&
       tc qdisc add dev "$ifb" root handle 1: htb default 1 &&
       tc class add dev "$ifb" parent 1: classid 1:1 htb rate 100mbit &&
       tc qdisc add dev "$ifb" parent 1:1 handle 10: netem delay 50ms; then
      pass "ingress + u32 + mirred -> $ifb, htb 1:1 with netem delay 50ms"
      expect_rtt "guest -> container, 100 ms down + 50 ms up" 145 $((150 + slack)) \
        ping -n -q -c 10 -i 0.2 -W 2 "$cip"
    else
      fail "upload tree on $veth / $ifb"
    fi
  else
    fail "host-side veth of $ctr not found (peer ifindex '${peer:-none}')"
  fi
else
  fail "docker run $image"
fi

exit "$failed"
