#!/usr/bin/env bash
# Build the processing image. IMAGE (default mmon-analyzer:latest), ENGINE (podman|docker),
# CA_BUNDLE (a CA file for TLS-intercepting proxies; default: the host's bundle when present),
# extra arguments go to the build (e.g. --build-arg BASE_IMAGE=...).
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINE=${ENGINE:-$(command -v podman >/dev/null 2>&1 && echo podman || echo docker)}
IMAGE=${IMAGE:-mmon-analyzer:latest}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
secret=()
if [ -f "$CA_BUNDLE" ]; then secret=(--secret "id=ca_bundle,src=$CA_BUNDLE"); fi
if [ "$ENGINE" = docker ]; then export DOCKER_BUILDKIT=1; fi
"$ENGINE" build "${secret[@]}" -t "$IMAGE" "$@" .
"$ENGINE" image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "image size: %.0f MB\n", $1/1e6}' >&2
