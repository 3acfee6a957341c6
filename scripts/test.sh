#!/usr/bin/env bash
# sanpool's one test command (README "Quick start", and what .ci/run calls).
#
#   1. installs every Debian package the project needs (idempotent),
#   2. unit suites in a debug build with ASan+UBSan        (build/asan),
#   3. system suites in a release build (real binaries)    (build/release),
#   4. clang -Wthread-safety over the annotated sources.
#
# Exits non-zero if any step fails; ends with one "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scripts/install-deps.sh

jobs=$(nproc)

setup() {  # setup DIR ARGS...: configure once, reconfigure when options change
  local dir=$1; shift
  if [[ -f $dir/build.ninja ]]; then
    meson configure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

echo "== unit suites (debug, ASan+UBSan)"
setup build/asan --buildtype=debug -Db_sanitize=address,undefined \
  -Db_lundef=false -Dsystem_tests=false
ninja -C build/asan -j "$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
set +e
meson test -C build/asan --suite unit --print-errorlogs --num-processes "$jobs"
unit_rc=$?
set -e

echo "== system suites (release, real parts)"
setup build/release --buildtype=release -Dsystem_tests=true
ninja -C build/release -j "$jobs"
set +e
meson test -C build/release --suite system --print-errorlogs --num-processes 1
system_rc=$?
set -e

echo "== clang -Wthread-safety"
set +e
scripts/check-thread-safety.sh
tsa_rc=$?
set -e

# One closing line over both test runs (meson's JSON test logs).
python3 - "$root/build/asan/meson-logs/testlog.json" \
  "$root/build/release/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"): passed += 1
        elif r == "SKIP": skipped += 1
        else: failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY

if (( unit_rc != 0 || system_rc != 0 || tsa_rc != 0 )); then
  echo "FAILED: unit=$unit_rc system=$system_rc thread-safety=$tsa_rc" >&2
  exit 1
fi
