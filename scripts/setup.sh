#!/usr/bin/env bash
# Prepare a machine to run the project: a virtual environment (.venv) with the package.
#   scripts/setup.sh          what a job needs (no Java: local jobs start no JVM)
#   scripts/setup.sh --test   also the test dependencies, Java 17 (the Spark tests) and Chromium (the report tests)
# Idempotent; safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

need_java() {
  if ! command -v java >/dev/null 2>&1; then return 0; fi
  local v
  v=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ -z "$v" ] || [ "$v" -lt 17 ]
}

extras=""
if [ "${1:-}" = "--test" ]; then
  extras="[test]"
  if need_java; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      echo "setup: installing OpenJDK 17 for the Spark tests (apt)" >&2
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
    else
      echo "setup: the Spark tests need Java 17 or newer (e.g. apt-get install openjdk-17-jre-headless)" >&2
      exit 1
    fi
  fi
  # The report's browser tests (tests/e2e/test_report_browser.py) load the page in Chromium.
  if [ ! -x /usr/bin/chromium ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      echo "setup: installing Chromium for the report's browser tests (apt)" >&2
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      echo "setup: the report's browser tests need Chromium (apt-get install chromium); they are skipped without it" >&2
    fi
  fi
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".$extras"
echo "setup: ready (.venv)" >&2
