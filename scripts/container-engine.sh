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

# Our settings go into a drop-in file of our own, written whole (podman 4 reads
# containers.conf.d/*.conf after containers.conf, see containers.conf(5)); the system's
# containers.conf is never edited. crun refuses this kernel's hybrid cgroup layout (use runc);
# podman's default ulimits exceed what these machines allow.
etc=${MMON_CONTAINERS_ETC:-/etc/containers}  # another root for tests
dropin="$etc/containers.conf.d/50-mmon-analyzer.conf"
want='# Written by mmon-analyzer scripts/container-engine.sh: settings for hosts with a hybrid
# cgroup layout and low ulimits. Delete this file to undo them.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=8192:8192"]

[engine]
runtime = "runc"'
if [ "$(cat "$dropin" 2>/dev/null)" != "$want" ]; then
  mkdir -p "$(dirname "$dropin")"
  printf '%s\n' "$want" >"$dropin.tmp.$$" && mv "$dropin.tmp.$$" "$dropin"
  echo "container-engine: wrote $dropin" >&2
fi
# Earlier versions of this script appended these five lines to containers.conf, which breaks
# podman on a host whose file already has [containers] or [engine]: take exactly them out.
conf="$etc/containers.conf"
old='# mmon-analyzer: settings for hosts with a hybrid cgroup layout and low ulimits
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=8192:8192"]
[engine]
runtime = "runc"'
if [ -f "$conf" ] && grep -qxF '# mmon-analyzer: settings for hosts with a hybrid cgroup layout and low ulimits' "$conf"; then
  OLD="$old" python3 - "$conf" <<'PY'
import os, sys
path, old = sys.argv[1], os.environ["OLD"] + "\n"
text = open(path, encoding="utf-8").read()
if old in text:
    tmp = f"{path}.mmon.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text.replace(old, "", 1))
    os.chmod(tmp, os.stat(path).st_mode & 0o7777)
    os.replace(tmp, path)
    print(f"container-engine: removed the block an earlier version appended to {path}", file=sys.stderr)
PY
fi

# A service whose working folder has been deleted since (it was started from a checkout that is
# gone) still answers pings but can no longer start containers ("write child: broken pipe"):
# stop it; ours is started from / below.
for pid in $(pgrep -f "podman system service --time=0 unix://$SOCK" || true); do
  if readlink "/proc/$pid/cwd" 2>/dev/null | grep -q ' (deleted)$'; then
    echo "container-engine: restarting the podman service $pid (its working folder was deleted)" >&2
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
done
if ! curl -s --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; then
  rm -f "$SOCK"
  # From /, and with none of this script's descriptors: the caller reads our stdout through a
  # command substitution, which waits until every holder of that pipe has closed it.
  (cd / && exec nohup podman system service --time=0 "unix://$SOCK") </dev/null >/tmp/podman-service.log 2>&1 &
  for _ in $(seq 1 50); do
    curl -s --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1 && break
    sleep 0.2
  done
fi
curl -s --unix-socket "$SOCK" http://d/_ping >/dev/null || { echo "container-engine: podman socket did not start" >&2; exit 1; }
echo "unix://$SOCK"
