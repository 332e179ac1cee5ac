#!/usr/bin/env bash
# SSH "hosts" for the Quayside lab: several sshd instances on 127.0.0.1, each with its own port
# and host key, all reaching this machine's Docker engine and kernel. What differs between them
# is the path: each is a separate SSH server, and the last one refuses Unix-socket forwarding,
# so that clients must fall back to `docker system dial-stdio`.
#
#   lab/ssh-hosts.sh up      start the hosts (idempotent)
#   lab/ssh-hosts.sh down    stop the sshd processes `up` started, by pid
#   lab/ssh-hosts.sh env     print the variables the tests read
#
# Logins: user $QS_SSH_USER (shell /bin/sh, group docker, NOPASSWD sudo for tc, ip and nsenter)
# and user $QS_LAB_USER (no sudo rule), both with the lab's test key. known_hosts is written by
# the lab, one `[127.0.0.1]:PORT` line per host.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
QS_LAB_DIR=${QS_LAB_DIR:-$here/run}
QS_SSH_DIR=${QS_SSH_DIR:-$QS_LAB_DIR/ssh}
QS_SSH_BASE_PORT=${QS_SSH_BASE_PORT:-22410}
QS_SSH_HOSTS=${QS_SSH_HOSTS:-3}
QS_SSH_USER=${QS_SSH_USER:-qs-lab}
QS_LAB_USER=${QS_LAB_USER:-qs-lab-nopw}

log() { echo "[ssh-hosts $(date +%T)] $*" >&2; }

make_user() {
  local user=$1 sudo_rule=$2
  if ! id "$user" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/sh --groups docker "$user"
    touch "$QS_SSH_DIR/made-user-$user"
  fi
  # sshd without PAM refuses locked accounts: `*` is "no password", not "locked".
  usermod -p '*' "$user"
  local home; home=$(getent passwd "$user" | cut -d: -f6)
  if [ "$sudo_rule" = yes ]; then
    printf '%s ALL=(root) NOPASSWD: /usr/sbin/tc, /usr/sbin/ip, /usr/bin/nsenter, /sbin/tc, /sbin/ip\n' "$user" \
      > "/etc/sudoers.d/quayside-lab-$user"
    chmod 440 "/etc/sudoers.d/quayside-lab-$user"
  fi
  : "$home"
}

up() {
  mkdir -p "$QS_SSH_DIR" /run/sshd
  chmod 755 /run/sshd
  [ -f "$QS_SSH_DIR/id_lab" ] || ssh-keygen -q -t ed25519 -N '' -C quayside-lab -f "$QS_SSH_DIR/id_lab"
  cp "$QS_SSH_DIR/id_lab.pub" "$QS_SSH_DIR/authorized_keys"
  chmod 644 "$QS_SSH_DIR/authorized_keys"
  chmod 755 "$QS_SSH_DIR"
  make_user "$QS_SSH_USER" yes
  getent group docker >/dev/null && id "$QS_LAB_USER" >/dev/null 2>&1 && usermod -p '*' -s /bin/sh "$QS_LAB_USER"

  : > "$QS_SSH_DIR/known_hosts.new"
  local i
  for i in $(seq 1 "$QS_SSH_HOSTS"); do
    local port=$((QS_SSH_BASE_PORT + i - 1)) dir="$QS_SSH_DIR/host$i"
    mkdir -p "$dir"
    [ -f "$dir/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "lab-host-$i" -f "$dir/host_ed25519"
    local forwarding=yes
    [ "$i" -eq "$QS_SSH_HOSTS" ] && [ "$QS_SSH_HOSTS" -gt 1 ] && forwarding=no
    # sshd keeps one permission set for local TCP and Unix-socket forwards.
    local forwarding_tcp=local
    [ "$forwarding" = no ] && forwarding_tcp=no
    cat > "$dir/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $QS_SSH_DIR/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UsePAM no
StrictModes no
AllowStreamLocalForwarding $forwarding
AllowTcpForwarding $forwarding_tcp
X11Forwarding no
PrintMotd no
MaxSessions 64
MaxStartups 64:30:128
ClientAliveInterval 15
CONF
    echo "[127.0.0.1]:$port $(cut -d' ' -f1-2 "$dir/host_ed25519.pub")" >> "$QS_SSH_DIR/known_hosts.new"
    if [ -f "$dir/sshd.pid" ] && kill -0 "$(cat "$dir/sshd.pid")" 2>/dev/null; then
      continue
    fi
    if ss -Hltn "sport = :$port" | grep -q .; then
      log "port $port is taken by something else: set QS_SSH_BASE_PORT"; return 1
    fi
    /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
    log "host $i on 127.0.0.1:$port (socket forwarding $forwarding)"
  done
  mv "$QS_SSH_DIR/known_hosts.new" "$QS_SSH_DIR/known_hosts"

  # Ready when every host answers with a command over SSH.
  for i in $(seq 1 "$QS_SSH_HOSTS"); do
    local port=$((QS_SSH_BASE_PORT + i - 1)) tries=0
    until ssh -q -o BatchMode=yes -o UserKnownHostsFile="$QS_SSH_DIR/known_hosts" -o StrictHostKeyChecking=yes \
        -i "$QS_SSH_DIR/id_lab" -p "$port" "$QS_SSH_USER@127.0.0.1" true 2>/dev/null; do
      tries=$((tries + 1)); [ $tries -gt 50 ] && { log "host $i does not answer"; tail -5 "$QS_SSH_DIR/host$i/sshd.log" >&2; return 1; }
      sleep 0.1
    done
  done
}

down() {
  local i
  for i in $(seq 1 "$QS_SSH_HOSTS"); do
    local pidfile="$QS_SSH_DIR/host$i/sshd.pid"
    if [ -f "$pidfile" ]; then
      kill "$(cat "$pidfile")" 2>/dev/null || true
      rm -f "$pidfile"
    fi
  done
  for made in "$QS_SSH_DIR"/made-user-*; do
    [ -e "$made" ] || continue
    local user=${made##*/made-user-}
    userdel -r "$user" 2>/dev/null || true
    rm -f "/etc/sudoers.d/quayside-lab-$user" "$made"
  done
}

env_vars() {
  echo "export QS_SSH_DIR='$QS_SSH_DIR'"
  echo "export QS_SSH_BASE_PORT='$QS_SSH_BASE_PORT'"
  echo "export QS_SSH_HOSTS='$QS_SSH_HOSTS'"
  echo "export QS_SSH_USER='$QS_SSH_USER'"
  echo "export QS_SSH_KEY='$QS_SSH_DIR/id_lab'"
  echo "export QS_SSH_KNOWN_HOSTS='$QS_SSH_DIR/known_hosts'"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) env_vars ;;
  *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
