#!/usr/bin/env bash
# Every Quayside test, against the real lab: installs what is missing, starts the lab, runs
# `cargo test`, and takes the lab down again (also on failure). Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."

bash lab/lab.sh setup
trap 'bash lab/lab.sh down' EXIT
bash lab/lab.sh up
eval "$(bash lab/lab.sh env)"

cargo test --locked --no-fail-fast "$@"
