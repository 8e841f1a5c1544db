from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REFERENCE = FIXTURES / "reference"
# The shared research folder (beside the checkout) holds reference files we may compare
# against but not redistribute (e.g. aai-540, which has no licence).
SHARED_REFERENCE = Path(os.environ.get("MMON_SHARED_REFERENCE", Path(__file__).parents[2] / "shared" / "reference"))


@pytest.fixture(scope="session")
def spark():
    """A local Spark session (Spark runs the same profiler as the local driver)."""
    from container.session import build_session

    env = {
        "MMON_SPARK_MASTER": "local[2]",
        "MMON_DRIVER_MEMORY": "1g",
        "MMON_SPARK_CONF": json.dumps({"spark.sql.shuffle.partitions": "2"}),
    }
    session = build_session(env)
    yield session
    session.stop()


@pytest.fixture
def job_env(tmp_path):
    """A relocatable /opt/ml for an in-process run of container.entrypoint.main (local driver)."""
    base = tmp_path / "opt_ml"
    (base / "processing" / "output").mkdir(parents=True)
    return {
        "SAGEMAKER_BASE_DIR": str(base),
        "output_path": str(base / "processing" / "output"),
    }


def read_json(path: Path):
    return json.loads(Path(path).read_text(encoding="utf-8"))
