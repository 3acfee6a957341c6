#!/usr/bin/env bash
# Compiles every source that uses the thread-safety annotations with clang
# -Wthread-safety (syntax only). g++ ignores the annotations; this is where
# GUARDED_BY / REQUIRES are actually checked.
set -euo pipefail
cd "$(dirname "$0")/.."
clang=${CLANGXX:-clang++-14}
mapfile -t files < <(grep -rl --include='*.cc' -E 'GUARDED_BY|REQUIRES\(|thread_annotations.h' \
  base lease mailbox domains spm agent tools 2>/dev/null | grep -v '_test\.cc$' | sort)
if ((${#files[@]} == 0)); then
  echo "check-thread-safety: no annotated sources"
  exit 0
fi
failed=0
for f in "${files[@]}"; do
  if ! "$clang" -std=c++20 -fsyntax-only -Wthread-safety -Wthread-safety-beta \
      -Werror=thread-safety -Wno-unknown-warning-option -I. "$f"; then
    failed=1
  fi
done
echo "check-thread-safety: ${#files[@]} files checked"
exit $failed
