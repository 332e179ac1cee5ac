#!/bin/sh
# /init of the small initramfs that lab/netem-host.sh builds for the lab's QEMU guest (it runs
# under the initramfs' static busybox; never run it on the host).
#
# The guest has no disk. Its root file system is the host's / shared read-only over virtio-9p
# (mount tag "hostroot"), so the guest runs the host's own sshd, dockerd, tc and ping. This
# script only gets that far:
#   1. loads the few modules needed to reach the share (virtio-pci, 9p, overlay), in the order
#      listed in /modules.list (made with `modprobe --show-depends` when the initramfs is built);
#   2. mounts the share read-only, puts RAM under everything the guest writes: tmpfs on /run,
#      /tmp, /root, and overlays (host dir below, tmpfs above) on /etc and /var;
#   3. switches root and hands PID 1 to the guest script named on the kernel command line
#      (qs_init=..., with qs_dir=... the lab's work dir).
# Nothing in it can write to the host: the 9p export itself is read-only (QEMU readonly=on).
export PATH=/bin
say() { echo "qs-netem-initramfs: $*"; }
fail() { say "$*"; say "giving up"; poweroff -f; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

qs_init="" qs_dir=""
for arg in $(cat /proc/cmdline); do
  case $arg in
    qs_init=*) qs_init=${arg#qs_init=} ;;
    qs_dir=*) qs_dir=${arg#qs_dir=} ;;
  esac
done
[ -n "$qs_init" ] && [ -n "$qs_dir" ] || fail "qs_init= and qs_dir= are missing from the kernel command line"

while read -r ko; do
  insmod "/lib/modules/$ko" || say "insmod $ko failed"
done < /modules.list

# The virtio device is probed when virtio_pci registers; give it a moment if it is late.
mkdir -p /newroot
i=0
until mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=524288 hostroot /newroot; do
  i=$((i + 1))
  [ $i -lt 50 ] || fail "cannot mount the host root (9p tag hostroot)"
  sleep 0.1
done

mount -t tmpfs -o mode=755 tmpfs /newroot/run
mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp
# The host's /root holds dotfiles that would run in every ssh session (a slow pyenv init).
mount -t tmpfs -o mode=700 tmpfs /newroot/root
for d in etc var; do
  mkdir -p "/newroot/run/qs-netem/ovl/$d/upper" "/newroot/run/qs-netem/ovl/$d/work"
  mount -t overlay overlay \
    -o "lowerdir=/newroot/$d,upperdir=/newroot/run/qs-netem/ovl/$d/upper,workdir=/newroot/run/qs-netem/ovl/$d/work" \
    "/newroot/$d" || fail "overlay on /$d failed"
done

for d in dev proc sys; do mount --move "/$d" "/newroot/$d"; done
say "switching root at uptime $(cut -d' ' -f1 /newroot/proc/uptime) s"
exec switch_root /newroot /bin/sh "$qs_init" "$qs_dir"
