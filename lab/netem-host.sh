#!/usr/bin/env bash
# A netem-capable "remote host" for the Quayside test lab: a QEMU guest running Debian's stock
# kernel, with its own sshd and its own dockerd, reached over SSH on 127.0.0.1.
#
# Why: the lab machine's kernel has no sch_netem, so delay, loss and the other impairments can
# only be checked on another kernel. Its /dev/kvm is PVM, which cannot run a stock kernel, and
# User-Mode Linux panics on this CPU (AMX: "ptrace set fp regs failed, errno = 14"). What is
# left is QEMU with TCG (software emulation) and Debian's linux-image-amd64: slow, but a real
# kernel with netem, ifb, htb, mirred, u32, veth, bridge and overlay as modules.
#
# How: there is no disk image. The guest's root file system is the host's / shared READ-ONLY
# over virtio-9p (QEMU `readonly=on`), so it runs the host's own sshd, dockerd, tc and ping.
#   qemu -M pc -nodefaults -kernel /boot/vmlinuz-V -initrd $QS_NETEM_DIR/initramfs.gz
#     initramfs (busybox-static + virtio/9p/overlay modules, lab/netem/initramfs-init.sh):
#       mounts the share, tmpfs on /run /tmp /root, overlays with RAM upper layers on /etc /var,
#       switch_root
#     guest PID 1 (lab/netem/guest-init.sh): modprobe, eth0 10.0.2.15/24 via 10.0.2.2, sshd
#       with the lab's config, dockerd on the guest's /var/run/docker.sock, tini
#   host 127.0.0.1:$QS_NETEM_PORT --QEMU user-net hostfwd--> guest :22
# No systemd and no udev run in the guest (udev coldplug was the slowest part of booting).
# QEMU user networking has `restrict=on`: the guest reaches nothing outside; the only way in is
# the forward on loopback. The host's Docker engine and its socket are never touched.
#
# Usage (as root): lab/netem-host.sh setup|up|down|status|check
#   setup   install the Debian packages this needs (apt; host daemons are kept from starting)
#   up      prepare keys, sshd config, busybox image tarball and initramfs in the work dir, boot
#           the guest, wait for ssh and the guest's Docker, import quayside-lab/busybox:latest,
#           write $QS_NETEM_DIR/env and $QS_NETEM_DIR/known_hosts, print timings. Idempotent: a
#           running guest is reused.
#   down    stop what `up` started (the QEMU process group); keeps the keys. Idempotent.
#   status  whether the guest runs, and the ssh command line
#   check   netem on a veth pair and on a container's veth in the guest, IFB + HTB + netem on
#           the upload path, Docker over an ssh-forwarded socket, guest writes never reaching
#           the host; PASS/FAIL per step, non-zero exit on any FAIL
# Tests use it with: . "$QS_NETEM_DIR/env"; ssh -i "$QS_NETEM_KEY" -p "$QS_NETEM_PORT"
#   -o UserKnownHostsFile="$QS_NETEM_KNOWN_HOSTS" "$QS_NETEM_USER@127.0.0.1" ...
# Knobs: QS_NETEM_PORT (10023), QS_NETEM_DIR (lab/run/netem), QS_NETEM_MEM (1536M),
#   QS_NETEM_SMP (2), QS_NETEM_MACHINE (pc; q35 also works, microvm hangs in timer calibration
#   under TCG), QS_NETEM_KERNEL (a release in /lib/modules; default the newest with a
#   /boot/vmlinuz and sch_netem), QS_NETEM_TIMEOUT (seconds to wait for ssh and for Docker, 300),
#   QS_NETEM_TB_MB (TCG translation cache, 256; QEMU's default of 1 GiB costs ~400 MiB RSS more).
# Needs: root; Debian packages qemu-system-x86 linux-image-amd64 openssh-server openssh-client
#   busybox-static docker.io iproute2 iptables iputils-ping (`setup` installs them).
# Measured on the 2-core lab machine with a cargo build beside it: ssh answers 14-25 s after
# `up` starts, the guest's Docker 20-49 s; QEMU RSS ~720-750 MiB; one `ssh ... true` 0.7-1.5 s.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
QS_NETEM_PORT=${QS_NETEM_PORT:-10023}
# The work dir must be where the guest sees the host's files: not under /tmp, /run or /root,
# which the guest covers with RAM of its own (/var is an overlay: the host's files show).
QS_NETEM_DIR=${QS_NETEM_DIR:-/var/lib/quayside-lab/netem}
QS_NETEM_MEM=${QS_NETEM_MEM:-1536M}
QS_NETEM_SMP=${QS_NETEM_SMP:-2}
QS_NETEM_MACHINE=${QS_NETEM_MACHINE:-pc}
QS_NETEM_TIMEOUT=${QS_NETEM_TIMEOUT:-300}
# Translated-code cache of TCG, in MiB (QEMU defaults to 1 GiB, most of it RSS after a while).
QS_NETEM_TB_MB=${QS_NETEM_TB_MB:-256}
case $QS_NETEM_PORT in ''|*[!0-9]*) echo "QS_NETEM_PORT must be a port number" >&2; exit 2 ;; esac
# The guest sees the host's paths (9p), but not the caller's working directory; the path also
# goes on the kernel command line, which splits at spaces.
QS_NETEM_DIR=$(realpath -m "$QS_NETEM_DIR")
case "$QS_NETEM_DIR$here" in *[[:space:]]*) echo "paths with spaces are not supported" >&2; exit 2 ;; esac
case "$QS_NETEM_DIR/" in
  /tmp/*|/run/*|/root/*)
    echo "QS_NETEM_DIR=$QS_NETEM_DIR is hidden inside the guest (its /tmp, /run and /root are its own): choose another, e.g. /var/lib/quayside-lab/netem" >&2
    exit 2 ;;
esac
image=quayside-lab/busybox:latest
name=qs-netem-$QS_NETEM_PORT

log() { echo "[netem-host $(date +%T)] $*" >&2; }
die() { log "error: $*"; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
secs_since() { local d=$(( $(now_ms) - $1 )); printf '%d.%01d s' $((d / 1000)) $((d % 1000 / 100)); }

ssh_args=(-F none -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=10 -o LogLevel=ERROR
          -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null
          -o "UserKnownHostsFile=$QS_NETEM_DIR/known_hosts" -i "$QS_NETEM_DIR/id_lab"
          -p "$QS_NETEM_PORT")
guest_ssh() { ssh "${ssh_args[@]}" root@127.0.0.1 "$@"; }
ssh_line="ssh -i $QS_NETEM_DIR/id_lab -p $QS_NETEM_PORT -o UserKnownHostsFile=$QS_NETEM_DIR/known_hosts root@127.0.0.1"

# The pid of the QEMU that `up` started from this work dir, when it still runs and its command
# line is the one `up` gave it (so a pid reused by an unrelated process is never taken for ours).
guest_pid() {
  local p cmd; p=$(cat "$QS_NETEM_DIR/qemu.pid" 2>/dev/null) && [ -n "$p" ] || return 1
  cmd=$({ tr '\0' ' ' < "/proc/$p/cmdline"; } 2>/dev/null) || return 1
  case $cmd in *"-name qs-netem-"*"qs_dir=$QS_NETEM_DIR "*) echo "$p" ;; *) return 1 ;; esac
}
# The port that guest forwards (from its -name), which may differ from QS_NETEM_PORT.
guest_port() {
  local p; p=$(guest_pid) || return 1
  tr '\0' '\n' < "/proc/$p/cmdline" | sed -n 's/^qs-netem-\([0-9]*\)$/\1/p' | head -1
}

# Replaces FILE with stdin only when the content differs: a running guest reads these files.
write_file() {
  local f=$1; cat > "$f.new"
  if cmp -s "$f.new" "$f"; then rm -f "$f.new"; else mv "$f.new" "$f"; fi
}

# ------------------------------------------------------------------------------- setup ---

# qemu-utils is not needed (no disk image). Note: bookworm's qemu-system-x86 (7.2) conflicts
# with a backports qemu-utils, which apt then removes.
packages=(qemu-system-x86 linux-image-amd64 openssh-server openssh-client
          busybox-static docker.io iproute2 iptables iputils-ping)

setup() {
  local missing=() p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then log "packages present"; return 0; fi
  log "installing: ${missing[*]}"
  apt-get update -qq
  # The postinst scripts of docker.io and openssh-server would start host daemons: a
  # policy-rc.d that says no keeps them from it (only if none is there; removed afterwards).
  local prc=/usr/sbin/policy-rc.d made=""
  if [ ! -e "$prc" ]; then printf '#!/bin/sh\nexit 101\n' > "$prc"; chmod +x "$prc"; made=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null || { [ -z "$made" ] || rm -f "$prc"; die "apt-get install failed"; }
  [ -z "$made" ] || rm -f "$prc"
}

# ------------------------------------------------------------------------ prepare (for up) ---

# The guest kernel: QS_NETEM_KERNEL, or the newest release with a vmlinuz and sch_netem.
pick_kernel() {
  local v best=""
  if [ -n "${QS_NETEM_KERNEL:-}" ]; then best=$QS_NETEM_KERNEL; else
    for v in $(ls /lib/modules 2>/dev/null | sort -V); do
      [ -f "/boot/vmlinuz-$v" ] && [ -n "$(find "/lib/modules/$v/kernel/net/sched" -name 'sch_netem.ko*' 2>/dev/null)" ] && best=$v
    done
  fi
  [ -n "$best" ] && [ -f "/boot/vmlinuz-$best" ] && [ -f "/lib/modules/$best/modules.dep" ] ||
    die "no guest kernel with netem found (install linux-image-amd64: $0 setup)"
  echo "$best"
}

need_tools() {
  local t
  for t in qemu-system-x86_64 ssh ssh-keygen busybox cpio gzip modprobe ss /usr/sbin/sshd dockerd docker; do
    command -v "$t" >/dev/null || die "$t is missing (run: $0 setup)"
  done
  [ -x /bin/busybox ] && /bin/busybox --list | grep -qx switch_root ||
    die "/bin/busybox is not busybox-static (run: $0 setup)"
}

# Keys, sshd config and the guest's settings; each key is made once and then reused.
prepare_ssh() {
  mkdir -p "$QS_NETEM_DIR"
  [ -f "$QS_NETEM_DIR/id_lab" ] ||
    ssh-keygen -q -t ed25519 -N '' -C quayside-lab-test -f "$QS_NETEM_DIR/id_lab"
  [ -f "$QS_NETEM_DIR/ssh_host_ed25519_key" ] ||
    ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$QS_NETEM_DIR/ssh_host_ed25519_key"
  write_file "$QS_NETEM_DIR/authorized_keys" < "$QS_NETEM_DIR/id_lab.pub"

  # The guest sees the host's /etc/shadow. sshd without PAM refuses a locked account ('!...'),
  # PAM does not; root's password stays unusable either way (PasswordAuthentication no).
  local pam=no
  case $(awk -F: '$1 == "root" {print $2}' /etc/shadow) in '!'*) pam=yes ;; esac

  # StrictModes is off because the key files sit in a checkout whose directory modes are not
  # the lab's to choose. Docker needs no DOCKER_HOST: the guest's dockerd answers on the
  # standard /var/run/docker.sock, which `docker -H ssh://` and socket forwarding expect.
  write_file "$QS_NETEM_DIR/sshd_config" <<EOF
# sshd of the Quayside lab's QEMU guest (written by lab/netem-host.sh)
Port 22
ListenAddress 0.0.0.0
HostKey $QS_NETEM_DIR/ssh_host_ed25519_key
PidFile /run/qs-netem/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile $QS_NETEM_DIR/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM $pam
AllowStreamLocalForwarding yes
AllowTcpForwarding yes
PrintMotd no
PrintLastLog no
UseDNS no
Subsystem sftp /usr/lib/openssh/sftp-server
EOF

  write_file "$QS_NETEM_DIR/guest.conf" <<EOF
# read by lab/netem/guest-init.sh at boot (written by lab/netem-host.sh)
QS_GUEST_ADDR=10.0.2.15/24
QS_GUEST_GW=10.0.2.2
QS_GUEST_HOSTNAME=$name
EOF

  # The guest's host key, pinned for 127.0.0.1:PORT, and what tests need to reach the guest.
  echo "[127.0.0.1]:$QS_NETEM_PORT $(cut -d' ' -f1,2 "$QS_NETEM_DIR/ssh_host_ed25519_key.pub")" |
    write_file "$QS_NETEM_DIR/known_hosts"
  write_file "$QS_NETEM_DIR/env" <<EOF
export QS_NETEM_PORT='$QS_NETEM_PORT'
export QS_NETEM_KEY='$QS_NETEM_DIR/id_lab'
export QS_NETEM_KNOWN_HOSTS='$QS_NETEM_DIR/known_hosts'
export QS_NETEM_USER='root'
EOF
}

# The lab image's root file system: static busybox with its applets, for `docker import`.
prepare_rootfs() {
  local tarball=$QS_NETEM_DIR/busybox-rootfs.tar
  [ -s "$tarball" ] && return 0
  local root=$QS_NETEM_DIR/rootfs.tmp a
  rm -rf "$root"
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,www,root}
  mkdir -m 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for a in $("$root/bin/busybox" --list-full); do
    [ -e "$root/$a" ] || [ -L "$root/$a" ] || ln -s /bin/busybox "$root/$a"
  done
  for a in httpd nc wget sh ping; do
    [ -L "$root/bin/$a" ] || [ -L "$root/sbin/$a" ] || [ -L "$root/usr/bin/$a" ] ||
      [ -L "$root/usr/sbin/$a" ] || die "busybox has no $a applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
    > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  echo 'quayside lab' > "$root/www/index.html"
  tar -C "$root" --numeric-owner --owner=0 --group=0 -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
  rm -rf "$root"
}

# The initramfs: static busybox, the modules that reach the 9p share (in dependency order, from
# modprobe --show-depends against the guest kernel) and lab/netem/initramfs-init.sh as /init.
# Rebuilt when the kernel or the init script changes.
prepare_initramfs() {
  local kver=$1 out=$QS_NETEM_DIR/initramfs.gz stamp want
  want="3 $kver $(sha256sum < "$here/netem/initramfs-init.sh" | cut -c1-16) $(sha256sum < /bin/busybox | cut -c1-16)"
  stamp=$(cat "$out.stamp" 2>/dev/null || true)
  [ -s "$out" ] && [ "$stamp" = "$want" ] && return 0
  local root=$QS_NETEM_DIR/initramfs.tmp ko m
  rm -rf "$root"
  mkdir -p "$root"/{bin,dev,proc,sys,newroot,lib/modules}
  cp /bin/busybox "$root/bin/busybox"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
  : > "$root/modules.list"
  for ko in $(modprobe -S "$kver" --show-depends -a virtio_pci 9pnet_virtio 9p overlay |
              awk '$1 == "insmod" && !seen[$2]++ {print $2}'); do
    case $ko in *.ko) ;; *) die "compressed module $ko: not supported by this script" ;; esac
    m=${ko##*/}
    cp "$ko" "$root/lib/modules/$m"
    echo "$m" >> "$root/modules.list"
  done
  install -m 755 "$here/netem/initramfs-init.sh" "$root/init"
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out.part"
  mv "$out.part" "$out"
  echo "$want" > "$out.stamp"
  rm -rf "$root"
  log "initramfs built ($(du -k "$out" | cut -f1) KiB, kernel $kver)"
}

# ---------------------------------------------------------------------------------- boot ---

port_taken() { ss -Hltn "sport = :$QS_NETEM_PORT" | grep -q .; }

boot() {
  local kver=$1
  # setsid: QEMU leads a process group of its own, which `down` ends. -name marks the process
  # as ours; qs_dir= on the kernel command line ties it to this work dir. No device exists but
  # the serial console (to a file), the 9p share and the NIC (no iPXE ROM: it only costs time).
  setsid qemu-system-x86_64 -name "$name" \
    -accel "tcg,thread=multi,tb-size=$QS_NETEM_TB_MB" -M "$QS_NETEM_MACHINE" -cpu max -smp "$QS_NETEM_SMP" \
    -m "$QS_NETEM_MEM" -nodefaults -no-user-config -display none -no-reboot \
    -serial "file:$QS_NETEM_DIR/console.log" -monitor none \
    -kernel "/boot/vmlinuz-$kver" -initrd "$QS_NETEM_DIR/initramfs.gz" \
    -append "console=ttyS0 quiet panic=-1 mitigations=off qs_dir=$QS_NETEM_DIR qs_init=$QS_NETEM_DIR/guest-init.sh rdinit=/init" \
    -fsdev "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap" \
    -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
    -netdev "user,id=net0,restrict=on,ipv6=off,hostfwd=tcp:127.0.0.1:$QS_NETEM_PORT-:22" \
    -device virtio-net-pci,netdev=net0,romfile= \
    </dev/null >"$QS_NETEM_DIR/qemu.log" 2>&1 &
  echo $! > "$QS_NETEM_DIR/qemu.pid"
}

wait_ssh() {
  local t0=$1 deadline=$(( $(now_ms) + QS_NETEM_TIMEOUT * 1000 ))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    guest_ssh true 2>/dev/null && { log "ssh ready after $(secs_since "$t0")"; return 0; }
    guest_pid >/dev/null || return 1
    sleep 1
  done
  log "ssh did not answer within $QS_NETEM_TIMEOUT s"
  return 1
}

guest_died() {
  log "the guest is not answering; end of $QS_NETEM_DIR/qemu.log and console.log:"
  tail -5 "$QS_NETEM_DIR/qemu.log" >&2 || true
  tail -30 "$QS_NETEM_DIR/console.log" >&2 || true
}

# Waits inside the guest for its dockerd, then imports the lab image when it is missing.
docker_ready() {
  local t0=$1
  guest_ssh sh -s -- "$QS_NETEM_TIMEOUT" <<'EOF' || return 1
end=$(( $(date +%s) + $1 ))
until docker version >/dev/null 2>&1; do
  if [ "$(date +%s)" -gt "$end" ] || ! pidof dockerd >/dev/null; then
    echo "dockerd did not answer (or exited); its log ends:"; tail -20 /run/qs-netem/dockerd.log; exit 1
  fi
  sleep 0.5
done
EOF
  log "docker ready after $(secs_since "$t0") (server $(guest_ssh \
    docker version --format '{{.Server.Version}}'))"
  guest_ssh sh -s -- "$QS_NETEM_DIR/busybox-rootfs.tar" "$image" <<'EOF'
set -e
docker image inspect "$2" >/dev/null 2>&1 && exit 0
docker import --change 'CMD ["/bin/sh"]' "$1" "$2" >/dev/null
echo "imported $2" >&2
EOF
  log "image $image ready after $(secs_since "$t0")"
}

report() {
  local pid rss i t times=() up_guest
  pid=$(guest_pid) || return 0
  rss=$(awk '/^VmRSS:/ {print int($2 / 1024)}' "/proc/$pid/status")
  up_guest=$(guest_ssh "echo uptime \$(cut -d' ' -f1 /proc/uptime) s, \$(free -m | awk '/^Mem:/ {print \$3}') MiB used")
  log "QEMU RSS on the host: ${rss} MiB; guest: $up_guest"
  # The cost of one command over ssh (a fresh connection each time, as a test would make).
  for i in 1 2 3 4 5; do
    t=$(now_ms); guest_ssh true; times+=($(( $(now_ms) - t )))
  done
  log "one 'ssh ... true': ${times[*]} ms"
}

# ------------------------------------------------------------------------------- commands ---

up() {
  local t0 kver; t0=$(now_ms)
  [ "$(id -u)" -eq 0 ] || die "run as root (QEMU must read the whole host root to share it)"
  need_tools
  # Before anything is written: the keys and files of a running guest must stay as they are.
  if guest_pid >/dev/null && [ "$(guest_port)" != "$QS_NETEM_PORT" ]; then
    die "a guest from $QS_NETEM_DIR already runs on port $(guest_port); run '$0 down' first"
  fi
  kver=$(pick_kernel)
  prepare_ssh
  prepare_rootfs
  prepare_initramfs "$kver"
  # The guest's PID 1 script is read by the guest from the work dir, which it can see; this
  # checkout may be in a place the guest cannot (e.g. under /tmp).
  install -m 755 "$here/netem/guest-init.sh" "$QS_NETEM_DIR/guest-init.sh"
  if guest_pid >/dev/null; then
    log "guest already running (pid $(guest_pid)); checking it"
  else
    down quiet   # leftovers of a guest that died are cleared first
    port_taken && die "port $QS_NETEM_PORT is taken by another program (set QS_NETEM_PORT)"
    log "booting the guest (kernel $kver, -M $QS_NETEM_MACHINE, -smp $QS_NETEM_SMP, mem $QS_NETEM_MEM, port $QS_NETEM_PORT)"
    boot "$kver"
  fi
  if ! wait_ssh "$t0"; then
    guest_died
    guest_pid >/dev/null && die "left running so it can be looked at; '$0 down' stops it"
    down quiet
    exit 1
  fi
  docker_ready "$t0" || { guest_died; die "the guest's Docker did not come up"; }
  grep -a 'qs-netem' "$QS_NETEM_DIR/console.log" | tr -d '\r' | sed 's/^/  console: /' >&2 || true
  report
  log "up in $(secs_since "$t0"): $ssh_line"
}

# Ends the process group that `up` started with setsid: TERM, then KILL.
end_group() {
  local pg=$1 i
  # QEMU is its group's leader (setsid); should it not be, the pid alone is ended.
  kill -TERM -- "-$pg" 2>/dev/null || { kill -TERM "$pg" 2>/dev/null || return 0; }
  for i in $(seq 1 50); do
    kill -0 -- "-$pg" 2>/dev/null || return 0
    sleep 0.2
  done
  kill -KILL -- "-$pg" 2>/dev/null || true
  sleep 0.2
}

down() {
  local quiet=${1:-} pg did=""
  if pg=$(guest_pid); then end_group "$pg"; did=1; fi
  rm -f "$QS_NETEM_DIR/qemu.pid"
  if [ -z "$quiet" ]; then
    if [ -n "$did" ]; then log "down"; else log "nothing was running"; fi
  fi
}

status() {
  if guest_pid >/dev/null; then
    echo "running: QEMU pid $(guest_pid), port 127.0.0.1:$(guest_port)"
    echo "$ssh_line"
    echo "env: $QS_NETEM_DIR/env"
  else
    echo "not running (start it with: $0 up)"
    return 3
  fi
}

check() {
  guest_pid >/dev/null || die "the guest is not running (run: $0 up)"
  [ "$(guest_port)" = "$QS_NETEM_PORT" ] || die "the guest runs on port $(guest_port), not $QS_NETEM_PORT"
  local rc=0 t0; t0=$(now_ms)
  guest_ssh sh -s -- "$image" < "$here/netem/guest-check.sh" || rc=$?

  # The path Quayside uses for Docker on a remote host: the default socket forwarded over ssh.
  local sock=$QS_NETEM_DIR/docker-fwd.sock fwd ver=""
  rm -f "$sock"
  ssh "${ssh_args[@]}" -N -o ExitOnForwardFailure=yes -o StreamLocalBindUnlink=yes \
    -L "$sock:/var/run/docker.sock" root@127.0.0.1 </dev/null &
  fwd=$!
  for _ in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.1; done
  ver=$(DOCKER_HOST=unix://$sock timeout 60 docker version --format '{{.Server.Version}}' \
    2>/dev/null) || ver=""
  kill "$fwd" 2>/dev/null || true
  wait "$fwd" 2>/dev/null || true
  rm -f "$sock"
  if [ -n "$ver" ]; then
    echo "PASS docker over ssh: the guest's /var/run/docker.sock forwarded to the host answers (server $ver)"
  else
    echo "FAIL docker over ssh: the forwarded /var/run/docker.sock did not answer"; rc=1
  fi

  # The host's files must never change: a write in the guest lands in its RAM only.
  local probe=/etc/qs-netem-write-probe
  if guest_ssh "touch $probe && test -f $probe && rm -f $probe" && [ ! -e "$probe" ] &&
     ! guest_ssh "touch /usr/qs-netem-write-probe" 2>/dev/null && [ ! -e /usr/qs-netem-write-probe ]; then
    echo "PASS host files untouched: /etc is a RAM overlay in the guest, /usr is read-only"
  else
    echo "FAIL host files: a write in the guest reached the host or /etc was not writable"; rc=1
  fi

  log "check took $(secs_since "$t0")"
  if [ "$rc" -eq 0 ]; then echo "check: PASS"; else echo "check: FAIL"; fi
  return "$rc"
}

case "${1:-}" in
  setup) setup ;;
  up) up ;;
  down) down ;;
  status) status ;;
  check) check ;;
  *) echo "usage: $0 setup|up|down|status|check   (env: QS_NETEM_PORT QS_NETEM_DIR QS_NETEM_MEM QS_NETEM_SMP QS_NETEM_MACHINE QS_NETEM_KERNEL QS_NETEM_TIMEOUT QS_NETEM_TB_MB)" >&2; exit 2 ;;
esac
