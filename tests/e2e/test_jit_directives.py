"""The driver JVM's compiler directives: C2 stays off start-up and planning code, not off the scan."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from container.session import JIT_DIRECTIVES, java_options_value, spark_settings

# Classes whose methods run once per row or value in our jobs: C2 must still compile them.
HOT = [
    "org/apache/spark/sql/catalyst/expressions/GeneratedClass$GeneratedIteratorForCodegenStage1",
    "org/apache/spark/sql/catalyst/expressions/GeneratedClass$SpecificUnsafeProjection",
    "org/apache/spark/sql/catalyst/expressions/codegen/UnsafeRowWriter",
    "org/apache/spark/sql/catalyst/expressions/aggregate/KllSketchAggDouble",
    "org/apache/spark/sql/catalyst/expressions/aggregate/HllSketchAgg",
    "org/apache/spark/sql/catalyst/json/JacksonParser",
    "org/apache/spark/sql/catalyst/util/CollationSupport$Contains",
    "org/apache/spark/sql/execution/aggregate/ObjectAggregationIterator",
    "org/apache/spark/sql/execution/datasources/FileScanRDD$$anon$1",
    "org/apache/spark/unsafe/types/UTF8String",
    "org/apache/datasketches/kll/KllDoublesSketch",
    "org/apache/datasketches/hll/HllSketch",
    "com/fasterxml/jackson/core/json/UTF8StreamJsonParser",
    "org/apache/hadoop/util/LineReader",
    "java/lang/String",
    "java/util/HashMap",
    "java/util/DualPivotQuicksort",
    "scala/collection/Iterator",
]
# Start-up and planning code that C2 compiled for seconds of CPU before the directives.
PLANNING = [
    "org/antlr/v4/runtime/atn/ParserATNSimulator",
    "org/codehaus/janino/UnitCompiler",
    "org/apache/spark/sql/catalyst/optimizer/CollapseProject$",
    "org/apache/spark/sql/catalyst/trees/TreeNode",
    "org/apache/spark/sql/catalyst/analysis/Analyzer",
    "java/io/ObjectOutputStream",
    "org/apache/xbean/asm9/ClassReader",
]


def _matches(pattern: str, cls: str) -> bool:
    """HotSpot's class part of a method pattern: '*' only at the start or the end."""
    part = pattern.rsplit(".", 1)[0]
    if part.endswith("*"):
        return cls.startswith(part[:-1])
    if part.startswith("*"):
        return cls.endswith(part[1:])
    return cls == part


def _patterns() -> list[str]:
    directives = json.loads(JIT_DIRECTIVES.read_text())
    assert len(directives) == 1 and directives[0]["c2"] == {"Exclude": True}
    return directives[0]["match"]


def test_directives_exclude_planning_code_and_no_hot_code():
    patterns = _patterns()
    assert all(p.endswith(".*") for p in patterns)  # whole classes, every method
    for cls in HOT:
        assert not [p for p in patterns if _matches(p, cls)], cls
    for cls in PLANNING:
        assert [p for p in patterns if _matches(p, cls)], cls


def test_the_driver_options_load_the_directives():
    options = spark_settings({})[1]["spark.driver.extraJavaOptions"].split()
    assert f"-XX:CompilerDirectivesFile={JIT_DIRECTIVES}" in options
    assert options.index("-XX:+UnlockDiagnosticVMOptions") < options.index(f"-XX:CompilerDirectivesFile={JIT_DIRECTIVES}")
    assert java_options_value(["-Xa", "-XX:F=/a b/c.json", "-XX:F=/a/c.json"]) == '-Xa "-XX:F=/a b/c.json" -XX:F=/a/c.json'


_COMPILED = re.compile(r"^\s*\d+\s+\d+\s+[%sbn! ]*?([0-4])\s+([\w$./]+)::")


def test_the_jvm_keeps_c2_off_excluded_classes_and_on_the_others(tmp_path):
    """A real job's JVM (-XX:+PrintCompilation): no tier-4 (C2) method of an excluded class,
    while excluded classes are still compiled by C1 and other classes reach C2."""
    script = (
        "import sys; from container.cli import main; "
        f"sys.exit(main(['baseline', {str(Path('sample/housing.csv').resolve())!r}, '--output', {str(tmp_path / 'out')!r}]))"
    )
    env = {**os.environ, "MMON_SPARK_CONF": json.dumps({"spark.driver.extraJavaOptions": "-XX:+PrintCompilation"})}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    compiled = [(int(m.group(1)), m.group(2).replace(".", "/")) for m in map(_COMPILED.match, out.stdout.splitlines()) if m]
    patterns = _patterns()
    excluded = [(level, cls) for level, cls in compiled if any(_matches(p, cls) for p in patterns)]
    assert excluded, "no excluded class was compiled at all: the sample no longer exercises them"
    assert not [cls for level, cls in excluded if level == 4]
    assert [cls for level, cls in compiled if level == 4 and cls.startswith("org/apache/spark/")]
