#!/usr/bin/env bash
# Set everything up, profile the shipped example workload, and print its top table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
mkdir -p build
gcc -O1 -g -fno-omit-frame-pointer -o build/hotspots examples/hotspots.c
.venv/bin/stax record -o build/hotspots.stax -- build/hotspots 2
.venv/bin/stax top build/hotspots.stax -n 10
