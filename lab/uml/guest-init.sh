#!/bin/sh
# PID 1 of the Quayside lab's User-Mode Linux guest (started by lab/uml-host.sh; never run it on
# the host).
#
# The guest's root file system is the host's / through hostfs, mounted read-only, so the guest
# has the host's whole userland (sshd, dockerd, tc, ping) without an image. Everything the guest
# writes goes to RAM: tmpfs on /run /tmp /root /dev/shm, and overlays (host dir below, tmpfs
# above) on /etc, /var and /usr/lib. Nothing here can change a file on the host.
#
# The kernel passes QS_UML_DIR (the lab's work dir) from its command line; the rest of the
# settings come from $QS_UML_DIR/guest.conf, written by uml-host.sh.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
say() { echo "qs-uml-init: $*"; }
# It mounts over /run, /etc and more: anywhere but as the guest's PID 1 that would be harmful.
if [ $$ -ne 1 ] || [ -z "${QS_UML_DIR:-}" ]; then
  echo "guest-init.sh runs only as PID 1 of the lab's UML guest" >&2
  exit 1
fi

# Kernel file systems.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t cgroup2 cgroup2 /sys/fs/cgroup

# Private, RAM-backed places. /root hides the host's dotfiles, which would otherwise run in
# every ssh session (a slow pyenv init, for one).
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=700 tmpfs /root

# shellcheck source=/dev/null
. "$QS_UML_DIR/guest.conf"

# Copy-on-write views of host directories. The UML kernel's modules live in
# /usr/lib/uml/modules/<release>, but modprobe (and the kernel's own autoload) look in
# /lib/modules, which may not exist on the host and cannot be made on a read-only root: the
# /usr/lib overlay gets a `modules` link in its upper layer instead. overlay.ko itself has to be
# loaded by path, before modprobe can find anything.
insmod "/usr/lib/uml/modules/$(uname -r)/kernel/fs/overlayfs/overlay.ko"
overlay() { # overlay DIR [PREPARE-UPPER-COMMAND]
  d=$1; n=$(echo "$d" | tr / _)
  mkdir -p "/run/qs-uml/ovl/$n/upper" "/run/qs-uml/ovl/$n/work"
  [ -z "${2:-}" ] || (cd "/run/qs-uml/ovl/$n/upper" && eval "$2")
  mount -t overlay overlay \
    -o "lowerdir=$d,upperdir=/run/qs-uml/ovl/$n/upper,workdir=/run/qs-uml/ovl/$n/work" "$d"
}
overlay /etc
overlay /var
overlay /usr/lib 'ln -s uml/modules modules'

# sshd without PAM refuses a locked account; root's password stays unusable either way.
sed -i 's/^root:![^:]*:/root:*:/' /etc/shadow
hostname "$QS_GUEST_HOSTNAME"
echo "$QS_GUEST_HOSTNAME" > /etc/hostname

# Traffic control as Quayside uses it, plus what Docker's bridge network needs (Debian's UML
# kernel has no nft NAT, so Docker gets the legacy iptables modules). ifb makes no devices of its
# own: Quayside creates and names its IFB devices itself.
for m in sch_netem sch_htb sch_ingress act_mirred cls_u32 veth \
         bridge br_netfilter ip_tables iptable_filter iptable_nat nf_nat xt_MASQUERADE \
         xt_addrtype xt_conntrack; do
  modprobe "$m" || say "modprobe $m failed"
done
modprobe ifb numifbs=0 || say "modprobe ifb failed"

# The only link to the outside: vec0, whose host end is a tap in a private netns.
ip link set lo up
ip link set vec0 up
ip addr add "$QS_GUEST_ADDR" dev vec0

# sshd with the lab's own config, host key and authorized_keys (all in the work dir).
mkdir -p /run/sshd /run/qs-uml
chmod 755 /run/sshd
echo "$QS_GUEST_HOSTNAME" > /run/qs-uml/guest   # tells guest-check.sh where it runs
/usr/sbin/sshd -f "$QS_UML_DIR/sshd_config" -E /run/qs-uml/sshd.log || say "sshd failed"
say "sshd started at uptime $(cut -d' ' -f1 /proc/uptime) s"

# The guest's own dockerd: state on tmpfs, its own socket, also reachable at the default path
# (/var/run is a link to /run on Debian). It calls iptables through a PATH shim that points at
# iptables-legacy; the shim lives in the guest's /run only.
D=$QS_GUEST_DOCKER_DIR
mkdir -p "$D/data" "$D/exec" "$D/bin" "$D/tmp"
for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -sf "/usr/sbin/$t-legacy" "$D/bin/$t"
done
echo '{}' > "$D/daemon.json"
ln -sf "$D/docker.sock" /run/docker.sock
PATH="$D/bin:$PATH" TMPDIR="$D/tmp" setsid dockerd \
  --host "unix://$D/docker.sock" --data-root "$D/data" --exec-root "$D/exec" \
  --pidfile "$D/dockerd.pid" --config-file "$D/daemon.json" \
  </dev/null >"$D/dockerd.log" 2>&1 &
say "dockerd started"

# From here on PID 1 only has to reap orphans: tini (a dependency of docker.io) does that.
[ -x /usr/bin/tini-static ] && exec /usr/bin/tini-static -- /bin/sleep infinity
say "no tini: PID 1 will not reap orphans"
while :; do sleep 3600; done
