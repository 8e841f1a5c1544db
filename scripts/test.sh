#!/usr/bin/env bash
# The test command: set up, build the image for the container tests, run the whole suite.
# Extra arguments go to pytest. MMON_CONTAINER_TESTS=off skips preparing the engine and image
# (the container tests then skip themselves, except in CI where they fail).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test

engine_ok() {
  .venv/bin/python -c "import docker; docker.from_env().ping()" >/dev/null 2>&1
}

if [ "${MMON_CONTAINER_TESTS:-auto}" != off ]; then
  if ! engine_ok && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    DOCKER_HOST=$(timeout 1200 bash scripts/container-engine.sh)
    export DOCKER_HOST
  fi
  if engine_ok; then
    if command -v podman >/dev/null 2>&1 && [ "${DOCKER_HOST:-}" = "unix://${PODMAN_SOCKET:-/tmp/podman.sock}" ]; then
      export ENGINE=podman MMON_CONTAINER_ENGINE=podman
      bash scripts/build-base-image.sh
    fi
    export TESTCONTAINERS_RYUK_DISABLED=true
    export MMON_IMAGE=${MMON_IMAGE:-mmon-analyzer:test}
    IMAGE=$MMON_IMAGE bash scripts/build-image.sh >/tmp/mmon-image-build.log 2>&1 \
      || { tail -40 /tmp/mmon-image-build.log >&2; echo "test: image build failed" >&2; exit 1; }
    tail -1 /tmp/mmon-image-build.log >&2
  else
    echo "test: no container engine; container tests will skip (or fail in CI)" >&2
  fi
fi
exec .venv/bin/python -m pytest "$@"
