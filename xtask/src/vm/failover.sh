#!/bin/sh
# Failover smoke test inside the vm-test guest: node1 (MASTER, priority 100) and node2
# (BACKUP, 90) run the daemon, a client probes the VIP; all three are namespaces on veths
# joined by a bridge. node1's daemon is killed with `kill -9` and its link taken down, as
# if the host died: the VIP must move to node2 and answer the client again.
set -u
VIP=10.0.0.100
# iproute2's ip (netns, veth, bridge), not busybox's applet, which this busybox's shell
# would run for a bare `ip`.
ip() { /usr/sbin/ip "$@"; }
# VRRPv3 at 0.1 s: Master_Down_Interval of the priority-90 backup is 364.8 ms.
BOUND_MS=365

fail() {
    echo "report: $*"
    for n in node1 node2; do
        echo "--- $n's daemon log"
        cat "/tmp/$n.log" 2>/dev/null
    done
    exit 1
}

# Centiseconds since boot.
now() {
    read -r up _ </proc/uptime
    frac=${up#*.}
    echo $((${up%.*} * 100 + ${frac#0}))
}

has_vip() { ip -n "$1" -4 addr show dev eth0 | grep -q "inet $VIP/"; }

# `wait_for CENTISECONDS COMMAND...`: poll every 10 ms until COMMAND succeeds.
wait_for() {
    end=$(($(now) + $1))
    shift
    until "$@"; do
        [ "$(now)" -gt "$end" ] && return 1
        usleep 10000
    done
}

ip link add br0 type bridge || fail "cannot create a bridge (module bridge)"
ip link set br0 up
i=0
for n in node1 node2 client; do
    i=$((i + 1))
    ip netns add $n || fail "ip netns add $n failed"
    ip link add v-$n type veth peer name eth0 netns $n || fail "cannot create a veth (module veth)"
    ip link set v-$n master br0 up
    ip -n $n link set lo up
    ip -n $n addr add 10.0.0.$i/24 dev eth0
    ip -n $n link set eth0 up
done

# Newer daemons have a control socket, /run/vrrp-daemon.sock by default: one per node.
control=""
vrrp-daemon run --help 2>/dev/null | grep -q -- --control-socket && control=yes

start() {
    cat >/tmp/$1.conf <<EOF
global_defs {
    vrrp_version 3
}

vrrp_instance VI_1 {
    state $2
    interface eth0
    virtual_router_id 51
    priority $3
    advert_int 0.1
    virtual_ipaddress {
        $VIP
    }
}
EOF
    if [ -n "$control" ]; then
        ip netns exec $1 vrrp-daemon run -f /tmp/$1.conf --control-socket /run/$1.sock >/tmp/$1.log 2>&1 &
    else
        ip netns exec $1 vrrp-daemon run -f /tmp/$1.conf >/tmp/$1.log 2>&1 &
    fi
}

start node1 MASTER 100
node1=$!
start node2 BACKUP 90
node2=$!

wait_for 3000 has_vip node1 || fail "node1 (MASTER, 100) did not take the VIP within 30 s"
sleep 1
has_vip node2 && fail "both nodes hold the VIP"
ip netns exec client ping -c 1 -W 2 $VIP >/dev/null || fail "the client got no answer from the VIP on node1"

t0=$(now)
kill -9 $node1
ip -n node1 link set eth0 down
wait_for 3000 has_vip node2 || fail "node2 did not take the VIP within 30 s of the master's death"
t1=$(now)
ip netns exec client ping -c 3 -W 3 $VIP >/dev/null || fail "the client got no answer from the VIP on node2"

kill $node2
wait $node2 2>/dev/null
echo "--- node2's daemon log"
cat /tmp/node2.log
echo "report: VIP on node2 $(((t1 - t0) * 10)) ms after kill -9 of the master (bound $BOUND_MS ms + emulation), client answered before and after"
