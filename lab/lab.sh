#!/usr/bin/env bash
# The Quayside test lab on one Debian 12 machine, as root.
#
#   lab/lab.sh setup   install the Debian packages the tests need (idempotent)
#   lab/lab.sh up      start dockerd when none answers, build the lab image with `docker import`,
#                      start the SSH hosts (lab/ssh-hosts.sh) and the netem host (lab/netem-host.sh)
#   lab/lab.sh down    remove lab containers, stop only what `up` started
#   lab/lab.sh env     print the variables the tests read (source it: eval "$(lab/lab.sh env)")
#
# Everything the lab starts is recorded under $QS_LAB_DIR (default lab/run) by pid, and `down`
# ends only those pids. Images cannot be pulled here, so the lab image is a root filesystem
# holding static busybox (httpd, wget, nc, sh), imported with `docker import`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
QS_LAB_DIR=${QS_LAB_DIR:-$here/run}
QS_LAB_IMAGE=${QS_LAB_IMAGE:-quayside-lab/busybox:latest}
QS_LAB_LABEL=quayside.lab=1
QS_NETEM_DIR=${QS_NETEM_DIR:-/var/lib/quayside-lab/netem}
# The engine's TLS endpoint, when the lab starts dockerd.
QS_DOCKER_TLS_PORT=${QS_DOCKER_TLS_PORT:-22376}
# A user in the docker group with no sudo rule: the tests run Quayside as this user to check
# that a sudo that wants a password fails fast with a hint.
QS_LAB_USER=${QS_LAB_USER:-qs-lab-nopw}

log() { echo "[lab $(date +%T)] $*" >&2; }

packages=(docker.io busybox-static iproute2 iputils-ping procps socat bc
          xvfb xauth imagemagick x11-utils xdotool
          openssh-server openssh-client user-mode-linux sudo
          pkg-config libssl-dev gcc)

setup() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  bash "$here/netem-host.sh" setup
  if [ ${#missing[@]} -eq 0 ]; then log "packages present"; return 0; fi
  log "installing: ${missing[*]}"
  apt-get update -qq
  # The postinst scripts of docker.io and openssh-server would start host daemons on a machine
  # without systemd: a policy-rc.d that says no keeps them from it (only if none is there).
  local prc=/usr/sbin/policy-rc.d made=""
  if [ ! -e "$prc" ]; then printf '#!/bin/sh\nexit 101\n' > "$prc"; chmod +x "$prc"; made=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -z "$made" ] || rm -f "$prc"
}

docker_answers() { timeout 5 docker version >/dev/null 2>&1; }

# Certificates for the engine's TLS endpoint: a CA, a server certificate for 127.0.0.1 and a
# client certificate, as `docker --tlsverify` uses them.
make_tls() {
  local d=$QS_LAB_DIR/tls
  [ -f "$d/client.pem" ] && return 0
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=quayside-lab-ca -keyout ca.key -out ca.pem
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
    openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile server.ext -out server.pem
    printf 'extendedKeyUsage=clientAuth\n' > client.ext
    openssl req -newkey rsa:2048 -nodes -subj /CN=quayside-lab-client -keyout client.key -out client.csr
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile client.ext -out client.pem
  ) >/dev/null 2>&1
}

start_dockerd() {
  if docker_answers; then log "dockerd answers already"; return 0; fi
  mkdir -p "$QS_LAB_DIR"
  make_tls
  log "starting dockerd (also on tcp://127.0.0.1:$QS_DOCKER_TLS_PORT with TLS)"
  local t=$QS_LAB_DIR/tls
  setsid dockerd --host unix:///var/run/docker.sock --host "tcp://127.0.0.1:$QS_DOCKER_TLS_PORT" \
    --tlsverify --tlscacert "$t/ca.pem" --tlscert "$t/server.pem" --tlskey "$t/server.key" \
    >"$QS_LAB_DIR/dockerd.log" 2>&1 </dev/null &
  echo $! > "$QS_LAB_DIR/dockerd.pid"
  for _ in $(seq 1 120); do
    docker_answers && { log "dockerd ready"; return 0; }
    kill -0 "$(cat "$QS_LAB_DIR/dockerd.pid")" 2>/dev/null || break
    sleep 0.5
  done
  log "dockerd did not come up:"; tail -20 "$QS_LAB_DIR/dockerd.log" >&2; return 1
}

build_image() {
  if docker image inspect "$QS_LAB_IMAGE" >/dev/null 2>&1; then log "image $QS_LAB_IMAGE present"; return 0; fi
  local root; root=$(mktemp -d)
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,tmp,proc,sys,dev,etc,www}
  cp /bin/busybox "$root/bin/busybox"
  local a
  for a in $("$root/bin/busybox" --list-full); do
    [ -e "$root/$a" ] || ln -s /bin/busybox "$root/$a"
  done
  echo 'root:x:0:0:root:/:/bin/sh' > "$root/etc/passwd"
  echo 'quayside lab' > "$root/www/index.html"
  tar -C "$root" -cf "$root.tar" .
  docker import --change 'CMD ["/bin/sh"]' "$root.tar" "$QS_LAB_IMAGE" >/dev/null
  rm -rf "$root" "$root.tar"
  log "image $QS_LAB_IMAGE built"
}

make_user() {
  if id "$QS_LAB_USER" >/dev/null 2>&1; then return 0; fi
  getent group docker >/dev/null || groupadd --system docker
  useradd --no-create-home --shell /usr/sbin/nologin --groups docker "$QS_LAB_USER"
  mkdir -p "$QS_LAB_DIR"; touch "$QS_LAB_DIR/user.made"
  log "user $QS_LAB_USER made (docker group, no sudo rule)"
}

up() {
  make_user
  start_dockerd
  build_image
  QS_LAB_DIR=$QS_LAB_DIR QS_LAB_USER=$QS_LAB_USER bash "$here/ssh-hosts.sh" up
  QS_NETEM_DIR=$QS_NETEM_DIR bash "$here/netem-host.sh" up
}

down() {
  QS_NETEM_DIR=$QS_NETEM_DIR bash "$here/netem-host.sh" down || true
  QS_LAB_DIR=$QS_LAB_DIR QS_LAB_USER=$QS_LAB_USER bash "$here/ssh-hosts.sh" down
  if docker_answers; then
    local ids; ids=$(docker ps -aq --filter "label=$QS_LAB_LABEL")
    [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
  fi
  if [ -f "$QS_LAB_DIR/dockerd.pid" ]; then
    local pid; pid=$(cat "$QS_LAB_DIR/dockerd.pid")
    log "stopping dockerd (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$QS_LAB_DIR/dockerd.pid"
  fi
  if [ -f "$QS_LAB_DIR/user.made" ]; then
    userdel "$QS_LAB_USER" 2>/dev/null || true
    rm -f "$QS_LAB_DIR/user.made"
  fi
}

env_vars() {
  echo "export QS_LAB_IMAGE='$QS_LAB_IMAGE'"
  echo "export QS_LAB_DIR='$QS_LAB_DIR'"
  echo "export QS_LAB_USER='$QS_LAB_USER'"
  # Remembered shaping of the lab's containers stays in the lab, not in the user's data folder.
  echo "export QUAYSIDE_STATE_DIR='$QS_LAB_DIR/state'"
  if [ -f "$QS_LAB_DIR/dockerd.pid" ] && [ -f "$QS_LAB_DIR/tls/client.pem" ]; then
    echo "export QS_DOCKER_TLS_URL='tcp://127.0.0.1:$QS_DOCKER_TLS_PORT'"
    echo "export QS_DOCKER_TLS_DIR='$QS_LAB_DIR/tls'"
  fi
  QS_LAB_DIR=$QS_LAB_DIR bash "$here/ssh-hosts.sh" env
  [ -f "$QS_NETEM_DIR/env" ] && cat "$QS_NETEM_DIR/env"
}

case "${1:-}" in
  setup) setup ;;
  up) up ;;
  down) down ;;
  env) env_vars ;;
  *) echo "usage: $0 setup|up|down|env" >&2; exit 2 ;;
esac
