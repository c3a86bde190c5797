#!/usr/bin/env bash
# Set up a development environment from a clean clone: system tools, a virtualenv
# at .venv with every stax distribution installed editable, and the test extras.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real peers the tests run: gcc builds workloads, perf is compared against, debuginfod
# serves debug files, node writes jitdump/perf maps, systemd-analyze checks unit files,
# strace lists staxd's system calls against its unit's filter, libc6-dbg gives libc's separate
# debug file. clang, ld64.lld, dsymutil and llvm-symbolizer / llvm-objdump build and check real
# Mach-O files (lld 19: lld 14 leaves Mach-O __eh_frame unrelocated). The aarch64 cross gcc and
# binutils build and check the aarch64 annotate tests. go runs `go tool pprof`, the consumer the
# pprof export is checked against. chromium is the browser the web UI tests drive through playwright
# (its Python package is in the dev extra; `playwright install` is never run: no browser download).
need_apt=()
for pair in gcc:gcc perf:linux-perf addr2line:binutils setpriv:util-linux script:util-linux \
            debuginfod:debuginfod eu-readelf:elfutils node:nodejs systemd-analyze:systemd strace:strace \
            clang:clang ld64.lld-19:lld-19 dsymutil:llvm llvm-symbolizer:llvm llvm-objdump:llvm \
            aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu \
            aarch64-linux-gnu-objdump:binutils-aarch64-linux-gnu go:golang-go chromium:chromium; do
    command -v "${pair%%:*}" >/dev/null || need_apt+=("${pair##*:}")
done
dpkg-query -W -f='${Status}' libc6-dbg 2>/dev/null | grep -q "ok installed" || need_apt+=(libc6-dbg)
if ((${#need_apt[@]})); then
    if [ "$(id -u)" = 0 ]; then
        echo "bootstrap: installing ${need_apt[*]} with apt-get" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            $(printf '%s\n' "${need_apt[@]}" | sort -u) >/dev/null
    else
        echo "bootstrap: missing ${need_apt[*]}; install them with: sudo apt-get install ${need_apt[*]}" >&2
    fi
fi

# Prefer the distribution's interpreter: the unprivileged tests run stax as uid 65534,
# which must be able to execute the venv's python (a pyenv under /root is not reachable).
if [ -z "${PYTHON:-}" ] && [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import sys, venv, ensurepip; assert sys.version_info >= (3, 11)" 2>/dev/null; then
    PY=/usr/bin/python3
else
    PY=${PYTHON:-python3}
fi
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
stamp=.venv/.stax-installed
if [ ! -f "$stamp" ] || [ -n "$(find . -name pyproject.toml -newer "$stamp" -not -path './.venv/*' -not -path './tests/*' | head -1)" ]; then
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q \
        -e ./stax-core -e ./stax-binfmt -e ./stax-symbols -e ./stax-render -e ./stax-web \
        -e ./stax-backend-linux -e ./stax-backend-macos \
        -e ./staxd/staxd-linux -e ./staxd/staxd-macos \
        -e '.[linux,dev]'
    touch "$stamp"
fi
