"""Fixtures for tests that run the built image (podman's or Docker's API, via testcontainers).

In CI (CI=true) the engine and the image must be there: a missing one fails the run. Elsewhere
these tests are skipped with the reason when no engine or no image is available.
"""
from __future__ import annotations

import os
import shutil

import pytest

IMAGE = os.environ.get("MMON_IMAGE", "mmon-analyzer:test")


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"container tests cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_client():
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception as exc:  # no engine socket
        _unavailable(f"no container engine API ({exc.__class__.__name__}); run scripts/container-engine.sh and export DOCKER_HOST")
    try:
        client.images.get(IMAGE)
    except Exception:
        _unavailable(f"image {IMAGE} not built (IMAGE={IMAGE} scripts/build-image.sh)")
    return client


@pytest.fixture(scope="session")
def engine_cli():
    """The docker-compatible command line (docker, or podman where there is no Docker engine)."""
    name = os.environ.get("MMON_CONTAINER_ENGINE") or ("podman" if shutil.which("podman") else "docker")
    if not shutil.which(name):
        _unavailable(f"no {name} command")
    return name
