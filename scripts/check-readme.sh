#!/usr/bin/env bash
# Runs every code block of README.md and docs/*.md against the staged install and
# checks docs/c-api.md's result-code table against the header (make test-docs).
# Usage: scripts/check-readme.sh STAGE   (e.g. build/stage). See scripts/check_docs.py.
set -euo pipefail
exec python3 "$(dirname "$0")/check_docs.py" "$@"
