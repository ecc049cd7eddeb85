#!/bin/sh
# /init of the `cargo xtask vm-test` guest: mount what the checks need, load the modules,
# run each check with a time limit, print one `VMTEST <check> PASS|FAIL <detail>` line per
# check on the console (the host reads them; a check's own output goes before it, as
# `  | ` lines), and power off.
export PATH=/bin HOME=/root RUST_BACKTRACE=1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t bpf bpf /sys/fs/bpf
mkdir -p /run/netns /root
hostname vmtest
ip link set lo up

say() { echo "VMTEST $*"; }

# `check NAME LIMIT COMMAND...`: the detail is the command's last `report: ` line, or the
# test harness's summary.
check() {
    name=$1 limit=$2
    shift 2
    timeout "$limit" "$@" >"/tmp/$name.out" 2>&1
    rc=$?
    sed 's/^/  | /' "/tmp/$name.out"
    detail=$(sed -n 's/.*report: //p' "/tmp/$name.out" | tail -n 1)
    if [ -z "$detail" ]; then
        detail=$(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed;.* finished in \(.*\)$/\1 passed, \2 failed, in \3/p' "/tmp/$name.out" | tail -n 1)
    fi
    if [ "$rc" -eq 0 ]; then
        say "$name PASS ${detail:-ok}"
    elif [ "$rc" -eq 143 ] || [ "$rc" -eq 124 ]; then
        say "$name FAIL killed after ${limit} s${detail:+: $detail}"
    else
        say "$name FAIL exit status $rc${detail:+: $detail}"
    fi
}

echo
say "boot PASS $(uname -r) ($(uname -v)), userspace at $(cut -d' ' -f1 /proc/uptime) s, $(nproc) CPUs"

loaded=""
for m in $(cat /etc/vmtest/modules); do
    if insmod "/lib/modules/$m.ko"; then loaded="$loaded $m"; else say "modules FAIL insmod $m"; fi
done
echo "  | modules loaded:$loaded"

check kernel-check 120 /bin/kernel_gate --exact this_kernel_has_what_the_data_plane_needs --nocapture
check verifier 120 /bin/kernel_gate --exact the_xdp_program_passes_the_verifier --nocapture
check fixtures 600 /bin/xdp_fixtures
check gate-variant 120 /bin/kernel_gate --exact a_variant_calling_a_helper_this_kernel_lacks_is_refused_by_name --nocapture
check failover 180 sh /failover.sh

dmesg | sed 's/^/  dmesg| /'
echo VMTEST-END
poweroff -f
sleep 5
reboot -f
