#!/usr/bin/env bash
# Quick start: set up, then baseline the bundled sample dataset into ./out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/mmon baseline sample/housing.csv --output out/
ls -l out/
