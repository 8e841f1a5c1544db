#!/usr/bin/env bash
# Prepare podman on a Debian host with no Docker engine (CI and development machines):
# install it, apply the two quirks of these machines, and serve the Docker-compatible API
# socket that testcontainers uses. Idempotent. Prints the DOCKER_HOST to export.
set -euo pipefail
SOCK=${PODMAN_SOCKET:-/tmp/podman.sock}

if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  echo "container-engine: installing podman, runc, debootstrap" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null
fi

conf=/etc/containers/containers.conf
if ! grep -q 'mmon-analyzer' "$conf" 2>/dev/null; then
  mkdir -p /etc/containers
  # crun refuses this kernel's hybrid cgroup layout (use runc); podman's default ulimits
  # exceed what these machines allow.
  cat >> "$conf" <<'CONF'
# mmon-analyzer: settings for hosts with a hybrid cgroup layout and low ulimits
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=8192:8192"]
[engine]
runtime = "runc"
CONF
fi

if ! curl -s --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; then
  rm -f "$SOCK"
  nohup podman system service --time=0 "unix://$SOCK" >/tmp/podman-service.log 2>&1 &
  for _ in $(seq 1 50); do
    curl -s --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1 && break
    sleep 0.2
  done
fi
curl -s --unix-socket "$SOCK" http://d/_ping >/dev/null || { echo "container-engine: podman socket did not start" >&2; exit 1; }
echo "unix://$SOCK"
