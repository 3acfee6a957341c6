#!/usr/bin/env python3
"""Checks that a generated document is current: DOC_PATH must equal what
`AGENT_BINARY FLAG` prints (FLAG: --dump-api for doc/api.md,
--dump-config-doc for doc/config.md).

Usage: check_generated_doc.py AGENT_BINARY FLAG DOC_PATH
Exits 0 when equal; else prints a unified diff and how to refresh the doc.
"""

import difflib
import subprocess
import sys


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    agent, flag, doc = argv[1], argv[2], argv[3]
    dumped = subprocess.run([agent, flag], capture_output=True, text=True,
                            timeout=60, check=True).stdout
    try:
        committed = open(doc, encoding="utf-8").read()
    except OSError as e:
        committed = ""
        print(f"cannot read {doc}: {e}", file=sys.stderr)
    if dumped == committed:
        return 0
    sys.stdout.writelines(difflib.unified_diff(
        committed.splitlines(keepends=True), dumped.splitlines(keepends=True),
        fromfile=doc, tofile=f"sanpool-agent {flag}"))
    print(f"\n{doc} is out of date; refresh it with:\n"
          f"  {agent} {flag} > {doc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
