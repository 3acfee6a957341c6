#!/usr/bin/env bash
# Compiles every source that uses the thread-safety annotations with clang
# -Wthread-safety (syntax only). g++ ignores the annotations; this is where
# GUARDED_BY / REQUIRES are actually checked.
set -euo pipefail
cd "$(dirname "$0")/.."
clang=${CLANGXX:-clang++-14}
# A source is checked when it or its own header uses the annotations.
pattern='GUARDED_BY|REQUIRES\(|ACQUIRE\(|thread_annotations.h'
files=()
while IFS= read -r cc; do
  h=${cc%.cc}.h
  if grep -qE "$pattern" "$cc" || { [[ -f $h ]] && grep -qE "$pattern" "$h"; }; then
    files+=("$cc")
  fi
done < <(find base lease mailbox domains spm agent tools -name '*.cc' ! -name '*_test.cc' 2>/dev/null | sort)
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
