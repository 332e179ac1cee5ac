#!/usr/bin/env bash
# A netem-capable "remote host" for the Quayside test lab: a User-Mode Linux guest reached over
# SSH on loopback, with its own dockerd.
#
# Why: the lab machine's kernel has no sch_netem, so delay, loss and the other impairments can
# only be checked on another kernel. Its /dev/kvm cannot run a stock kernel either, so a QEMU
# guest would be emulated and slow. Debian's user-mode-linux kernel (6.1, ARCH=um) runs as an
# ordinary host process instead: it has netem, ifb, htb, mirred, u32, veth, bridge and overlay as
# modules, boots in a few seconds, and needs no image, because its root file system is the
# host's own / through hostfs, read-only (writes land in tmpfs and overlays inside the guest, see
# lab/uml/guest-init.sh). Quayside then talks to it exactly as to a production host: ssh as root
# with a key, Docker through the ssh connection, tc on the host side of a container's veth.
#
# How:
#   host 127.0.0.1:$QS_UML_PORT  --socat-->  netns qs-uml-$QS_UML_PORT: tap qsuml0
#        --UML vec0-->  guest 10.203.0.2:22 (sshd)  -->  guest dockerd, containers, tc
# The tap and every address behind it live in a network namespace of their own, so the only
# thing the host network sees is the forwarder on loopback. The guest's dockerd is its own
# (state on the guest's tmpfs); the host's Docker engine is never touched.
#
# Usage (as root): lab/uml-host.sh up|down|status|check
#   up      prepare keys, sshd config and the busybox image tarball in the work dir, boot the
#           guest, wait for ssh and the guest's Docker, load quayside-lab/busybox:latest, write
#           $QS_UML_DIR/env and $QS_UML_DIR/known_hosts. Idempotent: a running guest is reused.
#   down    stop what `up` started (guest, forwarder, netns); keeps the keys. Idempotent.
#   status  whether the guest runs, and how to reach it
#   check   netem on a veth pair and on a container's veth in the guest, measured; PASS/FAIL
# Tests use it with: eval "$(cat "$QS_UML_DIR/env")"; ssh -i "$QS_UML_KEY" -p "$QS_UML_PORT"
#   -o UserKnownHostsFile="$QS_UML_KNOWN_HOSTS" "$QS_UML_USER@127.0.0.1" ...
# Knobs: QS_UML_PORT (10023), QS_UML_DIR (lab/run/uml), QS_UML_MEM (1024M).
# Needs: root, /dev/net/tun, ptrace; Debian packages user-mode-linux socat openssh-server
# openssh-client busybox-static docker.io iproute2 iptables iputils-ping (lab/lab.sh setup).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
QS_UML_PORT=${QS_UML_PORT:-10023}
QS_UML_DIR=${QS_UML_DIR:-$here/run/uml}
QS_UML_MEM=${QS_UML_MEM:-1024M}
case $QS_UML_PORT in ''|*[!0-9]*) echo "QS_UML_PORT must be a port number" >&2; exit 2 ;; esac
# The guest sees the same paths as the host (hostfs), but not the caller's working directory.
QS_UML_DIR=$(realpath -m "$QS_UML_DIR")
image=quayside-lab/busybox:latest
netns=qs-uml-$QS_UML_PORT
tap=qsuml0
# Both ends of the tap: only ever seen inside $netns and the guest.
tap_addr=10.203.0.1/30
guest_ip=10.203.0.2
# The guest's Docker state, socket and logs (on its /run tmpfs).
guest_docker=/run/qs-docker

log() { echo "[uml-host $(date +%T)] $*" >&2; }
die() { log "error: $*"; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
secs_since() { local d=$(( $(now_ms) - $1 )); printf '%d.%01d s' $((d / 1000)) $((d % 1000 / 100)); }

ssh_args=(-F none -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=5 -o LogLevel=ERROR
          -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null
          -o "UserKnownHostsFile=$QS_UML_DIR/known_hosts" -i "$QS_UML_DIR/id_lab"
          -p "$QS_UML_PORT")
guest_ssh() { ssh "${ssh_args[@]}" root@127.0.0.1 "$@"; }

# live_pid FILE MARK: the pid in FILE, when that process still runs and its command line holds
# MARK (so a pid reused by an unrelated process after a reboot is never taken for ours).
live_pid() {
  local p; p=$(cat "$1" 2>/dev/null) && [ -n "$p" ] || return 1
  { tr '\0' ' ' < "/proc/$p/cmdline"; } 2>/dev/null | grep -qF -- "$2" && echo "$p"
}
guest_pid() { live_pid "$QS_UML_DIR/guest.pid" "umid=$netns "; }
forwarder_pid() { live_pid "$QS_UML_DIR/socat.pid" "TCP-LISTEN:$QS_UML_PORT,"; }

# Replaces FILE with stdin only when the content differs: a running guest reads these files.
write_file() {
  local f=$1; cat > "$f.new"
  if cmp -s "$f.new" "$f"; then rm -f "$f.new"; else mv "$f.new" "$f"; fi
}

# ------------------------------------------------------------------------ prepare (for up) ---

# Keys, sshd config and the guest's settings; each key is made once and then reused.
prepare_ssh() {
  mkdir -p "$QS_UML_DIR"
  [ -f "$QS_UML_DIR/id_lab" ] ||
    ssh-keygen -q -t ed25519 -N '' -C quayside-lab-test -f "$QS_UML_DIR/id_lab"
  [ -f "$QS_UML_DIR/ssh_host_ed25519_key" ] ||
    ssh-keygen -q -t ed25519 -N '' -C qs-uml-host -f "$QS_UML_DIR/ssh_host_ed25519_key"
  write_file "$QS_UML_DIR/authorized_keys" < "$QS_UML_DIR/id_lab.pub"

  # StrictModes is off because the key files sit in a checkout whose directory modes are not
  # the lab's to choose. DOCKER_HOST points sessions at the guest's own dockerd; the default
  # /var/run/docker.sock reaches the same daemon.
  write_file "$QS_UML_DIR/sshd_config" <<EOF
# sshd of the Quayside lab's UML guest (written by lab/uml-host.sh)
Port 22
ListenAddress 0.0.0.0
HostKey $QS_UML_DIR/ssh_host_ed25519_key
PidFile /run/qs-uml/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile $QS_UML_DIR/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowStreamLocalForwarding yes
AllowTcpForwarding yes
PrintMotd no
UseDNS no
Subsystem sftp /usr/lib/openssh/sftp-server
SetEnv DOCKER_HOST=unix://$guest_docker/docker.sock
EOF

  write_file "$QS_UML_DIR/guest.conf" <<EOF
# read by lab/uml/guest-init.sh at boot (written by lab/uml-host.sh)
QS_GUEST_ADDR=$guest_ip/30
QS_GUEST_HOSTNAME=qs-uml-$QS_UML_PORT
QS_GUEST_DOCKER_DIR=$guest_docker
EOF

  # The guest's host key, pinned for 127.0.0.1:PORT, and what tests need to reach the guest.
  echo "[127.0.0.1]:$QS_UML_PORT $(cut -d' ' -f1,2 "$QS_UML_DIR/ssh_host_ed25519_key.pub")" |
    write_file "$QS_UML_DIR/known_hosts"
  write_file "$QS_UML_DIR/env" <<EOF
export QS_UML_PORT='$QS_UML_PORT'
export QS_UML_KEY='$QS_UML_DIR/id_lab'
export QS_UML_KNOWN_HOSTS='$QS_UML_DIR/known_hosts'
export QS_UML_USER='root'
EOF
}

# The lab image's root file system: static busybox with its applets, for `docker import`.
prepare_rootfs() {
  local tarball=$QS_UML_DIR/busybox-rootfs.tar
  [ -s "$tarball" ] && return 0
  local root=$QS_UML_DIR/rootfs a
  rm -rf "$root"
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,www,root}
  mkdir -m 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for a in $("$root/bin/busybox" --list-full); do
    [ -e "$root/$a" ] || ln -s /bin/busybox "$root/$a"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
    > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  echo 'quayside lab' > "$root/www/index.html"
  tar -C "$root" --numeric-owner --owner=0 --group=0 -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
  rm -rf "$root"
}

# ---------------------------------------------------------------------------------- boot ---

port_taken() { ss -Hltn "sport = :$QS_UML_PORT" | grep -q .; }

boot() {
  port_taken && die "127.0.0.1:$QS_UML_PORT is taken by another program (set QS_UML_PORT)"
  [ -c /dev/net/tun ] || die "/dev/net/tun is missing"

  ip netns add "$netns"
  ip -n "$netns" link set lo up
  ip -n "$netns" tuntap add dev "$tap" mode tap
  ip -n "$netns" addr add "$tap_addr" dev "$tap"
  ip -n "$netns" link set "$tap" up

  # setsid makes the UML kernel (and every host process it forks) one process group of its
  # own, so `down` can end exactly that group. The guest's RAM is an unlinked file in TMPDIR:
  # /dev/shm keeps it in memory. umid/uml_dir keep UML's pid file and mconsole socket in the
  # work dir instead of ~/.uml. Anything after `--` is init's argv.
  mkdir -p "$QS_UML_DIR/uml"
  TMPDIR=/dev/shm setsid ip netns exec "$netns" linux.uml \
    mem="$QS_UML_MEM" umid="$netns" uml_dir="$QS_UML_DIR/uml" \
    root=/dev/root rootfstype=hostfs rootflags=/ ro \
    "vec0:transport=tap,ifname=$tap" con0=null,fd:1 con=null ssl=null noreboot quiet \
    QS_UML_DIR="$QS_UML_DIR" init=/bin/sh -- "$here/uml/guest-init.sh" \
    </dev/null >"$QS_UML_DIR/guest.log" 2>&1 &
  echo $! > "$QS_UML_DIR/guest.pid"

  # One forwarder: each connection to 127.0.0.1:PORT gets a socat inside the netns that
  # dials the guest's sshd.
  setsid socat -lf "$QS_UML_DIR/socat.log" \
    "TCP-LISTEN:$QS_UML_PORT,bind=127.0.0.1,reuseaddr,fork" \
    "EXEC:ip netns exec $netns socat STDIO TCP\:$guest_ip\:22" </dev/null >/dev/null 2>&1 &
  echo $! > "$QS_UML_DIR/socat.pid"
}

wait_ssh() {
  local t0=$1 deadline=$(( $(now_ms) + 120000 ))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    guest_ssh true 2>/dev/null && { log "ssh ready after $(secs_since "$t0")"; return 0; }
    guest_pid >/dev/null || return 1
    sleep 0.2
  done
  log "ssh did not answer within 120 s; end of $QS_UML_DIR/guest.log:"
  tail -20 "$QS_UML_DIR/guest.log" >&2
  return 1
}

# Says why the guest died, from its console log. Exit status 4 marks a host where this UML
# kernel cannot run at all, so a caller can tell that apart from a broken lab.
guest_died() {
  local glog=$QS_UML_DIR/guest.log
  if grep -q 'ptrace set fp regs failed' "$glog" 2>/dev/null; then
    # The host kernel only accepts a whole XSAVE area through PTRACE_SETREGSET; on CPUs with
    # AMX that area is about 11 KB, larger than the buffer this UML kernel (6.1) uses, so the
    # guest's first process dies before init runs.
    log "the guest died: this UML kernel ($(linux.uml --version 2>/dev/null)) cannot run" \
      "on this host CPU: 'ptrace set fp regs failed, errno = 14'. The host's XSAVE area" \
      "(AMX: $(grep -qw amx_tile /proc/cpuinfo && echo yes || echo no)) is larger than UML's" \
      "FP buffer. A UML kernel that sizes it at run time, or a CPU without AMX, is needed."
    return 4
  fi
  log "the guest died; end of $glog:"; tail -20 "$glog" >&2
  return 1
}

# Waits inside the guest for its dockerd, then imports the lab image when it is missing.
docker_ready() {
  local t0=$1
  guest_ssh sh -s -- "$guest_docker" <<'EOF' || return 1
i=0
until docker version >/dev/null 2>&1; do
  i=$((i + 1))
  if [ $i -gt 600 ]; then echo "dockerd did not answer in 120 s; its log ends:"; tail -20 "$1/dockerd.log"; exit 1; fi
  sleep 0.2
done
EOF
  log "docker ready after $(secs_since "$t0") (server $(guest_ssh \
    docker version --format '{{.Server.Version}}'))"
  guest_ssh sh -s -- "$QS_UML_DIR/busybox-rootfs.tar" "$image" <<'EOF'
set -e
docker image inspect "$2" >/dev/null 2>&1 && exit 0
docker import --change 'CMD ["/bin/sh"]' "$1" "$2" >/dev/null
echo "imported $2"
EOF
  # Clients that ignore DOCKER_HOST use the default socket: it must reach the same daemon.
  guest_ssh 'env -u DOCKER_HOST docker version --format "{{.Server.Version}}"' >/dev/null ||
    die "the guest's /var/run/docker.sock does not answer"
  log "image $image ready after $(secs_since "$t0")"
}

# Host memory of the guest: RSS of the UML kernel process, and the PSS summed over its whole
# process group (one host process per guest address space; the guest's RAM is shared memory).
report_memory() {
  local pg rss pss n=0 p
  pg=$(guest_pid) || return 0
  rss=$(awk '/^VmRSS:/ {print int($2 / 1024)}' "/proc/$pg/status")
  pss=0
  for p in $(pgrep -g "$pg"); do
    pss=$(( pss + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0) ))
    n=$((n + 1))
  done
  log "guest memory: kernel process RSS ${rss} MiB; $n host processes, PSS $((pss / 1024)) MiB"
}

# The cost of one command over ssh (a fresh connection each time, as a test would make).
report_ssh_cost() {
  local i t times=()
  for i in 1 2 3 4 5; do
    t=$(now_ms); guest_ssh true; times+=($(( $(now_ms) - t )))
  done
  log "one 'ssh ... true': ${times[*]} ms"
}

# ------------------------------------------------------------------------------- commands ---

up() {
  local t0; t0=$(now_ms)
  prepare_ssh
  prepare_rootfs
  if guest_pid >/dev/null && forwarder_pid >/dev/null; then
    log "guest already running (pid $(guest_pid)); checking it"
  else
    down quiet   # a half-started lab (one part died) is cleared first
    log "booting the guest (mem $QS_UML_MEM, port $QS_UML_PORT)"
    boot
  fi
  if ! wait_ssh "$t0"; then
    guest_pid >/dev/null && exit 1   # left running, to look at it
    local rc=0; guest_died || rc=$?
    down quiet
    exit "$rc"
  fi
  docker_ready "$t0"
  report_memory
  report_ssh_cost
  log "up in $(secs_since "$t0"): ssh -i $QS_UML_DIR/id_lab -p $QS_UML_PORT" \
    "-o UserKnownHostsFile=$QS_UML_DIR/known_hosts root@127.0.0.1"
}

# Ends a process group that this script started with setsid: TERM, then KILL.
end_group() {
  local pg=$1 i
  kill -TERM -- "-$pg" 2>/dev/null || return 0
  for i in $(seq 1 25); do
    pgrep -g "$pg" >/dev/null || return 0
    sleep 0.2
  done
  kill -KILL -- "-$pg" 2>/dev/null || true
  sleep 0.2
}

down() {
  local quiet=${1:-} pg did=""
  if pg=$(forwarder_pid); then end_group "$pg"; did=1; fi
  rm -f "$QS_UML_DIR/socat.pid"
  if pg=$(guest_pid); then end_group "$pg"; did=1; fi
  rm -f "$QS_UML_DIR/guest.pid"
  if ip netns list | grep -qx "$netns\( (id: [0-9]*)\)\?"; then
    # Anything still inside our own netns was started by us (the guest without its pid file).
    local p; for p in $(ip netns pids "$netns"); do kill -KILL "$p" 2>/dev/null || true; done
    ip netns del "$netns"
    did=1
  fi
  rm -rf "$QS_UML_DIR/uml/$netns"
  if [ -z "$quiet" ]; then
    if [ -n "$did" ]; then log "down"; else log "nothing was running"; fi
  fi
}

status() {
  if guest_pid >/dev/null; then
    echo "running: guest pid $(guest_pid), forwarder pid $(forwarder_pid || echo 'NOT RUNNING'), netns $netns"
    echo "ssh -i $QS_UML_DIR/id_lab -p $QS_UML_PORT -o UserKnownHostsFile=$QS_UML_DIR/known_hosts root@127.0.0.1"
    echo "env: $QS_UML_DIR/env"
  else
    echo "not running (start it with: $0 up)"
    return 3
  fi
}

check() {
  guest_pid >/dev/null || die "the guest is not running (run: $0 up)"
  local rc=0
  guest_ssh "sh $(printf %q "$here/uml/guest-check.sh") $(printf %q "$image")" || rc=$?

  # The path Quayside uses for Docker on a remote host: the default socket forwarded over ssh.
  local sock=$QS_UML_DIR/docker-fwd.sock fwd ver=""
  rm -f "$sock"
  ssh "${ssh_args[@]}" -N -o ExitOnForwardFailure=yes -o StreamLocalBindUnlink=yes \
    -L "$sock:/var/run/docker.sock" root@127.0.0.1 </dev/null &
  fwd=$!
  for _ in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done
  ver=$(DOCKER_HOST=unix://$sock timeout 20 docker version --format '{{.Server.Version}}' \
    2>/dev/null) || ver=""
  kill "$fwd" 2>/dev/null || true
  wait "$fwd" 2>/dev/null || true
  rm -f "$sock"
  if [ -n "$ver" ]; then
    echo "PASS docker over ssh: /var/run/docker.sock forwarded to the host answers (server $ver)"
  else
    echo "FAIL docker over ssh: the forwarded /var/run/docker.sock did not answer"; rc=1
  fi

  if [ "$rc" -eq 0 ]; then echo "check: PASS"; else echo "check: FAIL"; fi
  return "$rc"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  check) check ;;
  *) echo "usage: $0 up|down|status|check   (env: QS_UML_PORT QS_UML_DIR QS_UML_MEM)" >&2; exit 2 ;;
esac
