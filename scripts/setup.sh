#!/usr/bin/env bash
# Prepare a machine to run the project: Java 17 (Spark's runtime) and a virtual environment
# with the package and its test dependencies. Idempotent; safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

need_java() {
  if ! command -v java >/dev/null 2>&1; then return 0; fi
  local v
  v=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ -z "$v" ] || [ "$v" -lt 17 ]
}

if need_java; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing OpenJDK 17 (apt)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  else
    echo "setup: Java 17 or newer is required (e.g. apt-get install openjdk-17-jre-headless)" >&2
    exit 1
  fi
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
# The driver JVM's class-data archive (Spark starts ~2 s sooner); rebuilt when Java or PySpark change.
.venv/bin/python -m container.jvm_archive --if-stale \
  || echo "setup: WARNING: no JVM class-data archive; jobs will start about 2 s slower" >&2
echo "setup: ready (.venv)" >&2
