#!/usr/bin/env bash
# Set everything up and run the whole test suite (the command CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
    echo "scripts/test.sh: pytest collected no tests" >&2
    exit 1
fi
exit "$status"
