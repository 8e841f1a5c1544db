"""The driver JVM's class-data archive: built by a training run, then mapped by later jobs."""
import json
import os
import subprocess
import sys

import pytest

from container import jvm_archive
from container.session import spark_settings


def _driver_options(env):
    return spark_settings(env)[1]["spark.driver.extraJavaOptions"].split()


def test_options_follow_the_archive_file(tmp_path):
    archive = tmp_path / "a.jsa"
    env = {"MMON_JVM_ARCHIVE": str(archive)}
    assert not [o for o in _driver_options(env) if "Archive" in o]  # no file yet: nothing to map
    archive.write_bytes(b"x")
    assert f"-XX:SharedArchiveFile={archive}" in _driver_options(env)
    assert not [o for o in _driver_options({"MMON_JVM_ARCHIVE": "off"}) if "Archive" in o]
    dump = {jvm_archive.DUMP_VARIABLE: str(tmp_path / "dump.jsa"), **env}
    assert _driver_options(dump)[-1] == f"-XX:ArchiveClassesAtExit={tmp_path / 'dump.jsa'}"


def test_training_run_builds_an_archive_that_spark_loads_classes_from(tmp_path):
    # A folder with a space: the dump and map options must reach the JVM as one argument each.
    archive = jvm_archive.build(tmp_path / "with space" / "spark.jsa")
    assert archive.stat().st_size > 10 << 20
    assert jvm_archive.is_current(archive)

    log = tmp_path / "classes.log"
    options = f"-Xlog:class+load=info:file={log}"  # appended to the job's own options
    script = (
        "from container.session import build_session; import os; "
        "s = build_session(os.environ); print(s.range(10).count())"
    )
    env = {**os.environ, "MMON_JVM_ARCHIVE": str(archive),
           "MMON_SPARK_CONF": json.dumps({"spark.driver.extraJavaOptions": options})}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("10")
    loaded = [line for line in log.read_text().splitlines() if "org.apache.spark.SparkContext " in line]
    assert loaded and "shared objects file (top)" in loaded[0], loaded  # (top): the dynamic archive


@pytest.mark.parametrize("content", ["{}", '{"java": "other", "pyspark": "0"}'])
def test_a_stale_stamp_asks_for_a_rebuild(tmp_path, content):
    archive = tmp_path / "spark.jsa"
    archive.write_bytes(b"x")
    (tmp_path / "spark.jsa.stamp").write_text(content)
    assert not jvm_archive.is_current(archive)


def test_user_java_options_are_appended_to_ours():
    env = {"MMON_SPARK_CONF": json.dumps({"spark.driver.extraJavaOptions": "-Dmy.flag=1", "spark.sql.shuffle.partitions": "7"})}
    master, conf = spark_settings(env)
    options = conf["spark.driver.extraJavaOptions"].split()
    assert options[-1] == "-Dmy.flag=1" and "-XX:-DontCompileHugeMethods" in options
    assert conf["spark.sql.shuffle.partitions"] == "7"
