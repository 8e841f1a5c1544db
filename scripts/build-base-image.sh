#!/usr/bin/env bash
# For hosts that reach no container registry: build the Dockerfile's base image
# (debian:bookworm-slim) from Debian packages with debootstrap and import it locally, so the
# build never pulls. Uses the apt mirror this host already uses. Skips work when the image exists.
# ENGINE=docker|podman (default: podman if present, else docker).
set -euo pipefail
ENGINE=${ENGINE:-$(command -v podman >/dev/null 2>&1 && echo podman || echo docker)}
IMAGE=${BASE_IMAGE_NAME:-docker.io/library/debian:bookworm-slim}

if "$ENGINE" image exists "$IMAGE" 2>/dev/null || "$ENGINE" image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "base image $IMAGE present" >&2
  exit 0
fi
MIRROR=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v security | head -1)
if [ -z "$MIRROR" ]; then
  MIRROR=$(sed -n 's/^deb[[:space:]]\+\(http[^[:space:]]*\)[[:space:]]\+bookworm[[:space:]].*/\1/p' /etc/apt/sources.list 2>/dev/null | head -1)
fi
[ -n "$MIRROR" ] || { echo "build-base-image: no Debian mirror found in apt sources" >&2; exit 1; }
ROOTFS=$(mktemp -d /tmp/rootfs.XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT
echo "build-base-image: debootstrap bookworm from $MIRROR" >&2
debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR" >/tmp/debootstrap.log 2>&1 || { tail -20 /tmp/debootstrap.log >&2; exit 1; }
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
tar -C "$ROOTFS" -c . | "$ENGINE" import - "$IMAGE" >/dev/null
echo "build-base-image: imported $IMAGE" >&2
