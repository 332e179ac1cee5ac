#!/bin/sh
# PID 1 of the Quayside lab's QEMU guest, started by the initramfs (lab/netem/initramfs-init.sh)
# after it switched root to the host's / (read-only over 9p). Never run it on the host.
#
# There is no systemd and no udev: this script loads the modules the lab needs from the Debian
# kernel's /lib/modules/<release> (on the host root), brings up eth0 with QEMU user-net
# addresses, starts sshd with the lab's own config and the guest's own dockerd, and then leaves
# PID 1 to tini, which reaps orphans. Everything the guest writes stays in its RAM (tmpfs and
# overlays set up by the initramfs; Docker's data root is one more tmpfs).
#
# Usage (by the initramfs only): guest-init.sh QS_NETEM_DIR
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
say() { echo "qs-netem-guest: $*"; }
up_s() { cut -d' ' -f1 /proc/uptime; }
# It mounts over /dev/shm, /var/lib/docker and more: anywhere but as the guest's PID 1 that
# would be harmful.
if [ $$ -ne 1 ] || [ -z "${1:-}" ] || [ ! -d /run/qs-netem/ovl ]; then
  echo "guest-init.sh runs only as PID 1 of the lab's QEMU guest" >&2
  exit 1
fi
QS_NETEM_DIR=$1
# shellcheck source=/dev/null
. "$QS_NETEM_DIR/guest.conf"

mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t mqueue mqueue /dev/mqueue
mount -t cgroup2 cgroup2 /sys/fs/cgroup
ln -sf /proc/self/fd /dev/fd 2>/dev/null

hostname "$QS_GUEST_HOSTNAME"
echo "$QS_GUEST_HOSTNAME" > /etc/hostname
printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$QS_GUEST_HOSTNAME" > /etc/hosts
: > /etc/resolv.conf

# The NIC first, so that sshd answers as early as possible.
modprobe virtio_net || say "modprobe virtio_net failed"

# QEMU user networking: the guest is 10.0.2.15, QEMU's gateway 10.0.2.2. The only way in is
# the host's hostfwd on 127.0.0.1:PORT -> guest :22 (and `restrict=on` keeps the guest from
# reaching anything outside).
ip link set lo up
ip link set eth0 up
ip addr add "$QS_GUEST_ADDR" dev eth0
ip route add default via "$QS_GUEST_GW"

mkdir -p /run/sshd /run/qs-netem
chmod 755 /run/sshd
echo "$QS_GUEST_HOSTNAME" > /run/qs-netem/guest   # tells guest-check.sh where it runs
/usr/sbin/sshd -f "$QS_NETEM_DIR/sshd_config" -E /run/qs-netem/sshd.log || say "sshd failed"
say "sshd started at uptime $(up_s) s"

# Traffic control as Quayside uses it, and what Docker's bridge network needs; one modprobe
# call, because each one reads the module index over 9p. ifb makes no devices of its own:
# Quayside creates and names its IFB devices itself.
modprobe -a sch_netem sch_htb sch_tbf sch_ingress act_mirred cls_u32 cls_matchall veth \
  bridge br_netfilter overlay nf_nat nf_conntrack nft_chain_nat nft_compat xt_MASQUERADE \
  xt_addrtype xt_conntrack iptable_nat iptable_filter || say "some modules did not load"
modprobe ifb numifbs=0 || say "modprobe ifb failed"
say "modules loaded at uptime $(up_s) s"

# The guest's own dockerd on the standard socket, /var/run/docker.sock (= /run, the guest's
# tmpfs), data root on a tmpfs of its own (overlay2 cannot sit on the /var overlay). Its config
# file is the lab's, not the host's /etc/docker/daemon.json. Debian's iptables is the nft
# flavour; if the kernel cannot do NAT through it, dockerd gets iptables-legacy on its PATH.
mkdir -p /var/lib/docker /run/qs-netem/bin
mount -t tmpfs -o mode=710 tmpfs /var/lib/docker
echo '{}' > /run/qs-netem/daemon.json
dpath=$PATH
if ! iptables -t nat -L -n >/dev/null 2>&1; then
  say "iptables (nft) cannot use the nat table; dockerd gets iptables-legacy"
  for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -sf "/usr/sbin/$t-legacy" "/run/qs-netem/bin/$t"
  done
  dpath=/run/qs-netem/bin:$PATH
fi
PATH=$dpath setsid dockerd --config-file /run/qs-netem/daemon.json \
  </dev/null >/run/qs-netem/dockerd.log 2>&1 &
say "dockerd started at uptime $(up_s) s"

# From here on PID 1 only has to reap orphans: tini (a dependency of docker.io) does that.
[ -x /usr/bin/tini-static ] && exec /usr/bin/tini-static -s -- /bin/sleep infinity
say "no tini: PID 1 will not reap orphans"
while :; do sleep 3600; done
