#!/usr/bin/env python3
"""Checks that doc/api.md is what `sanpool-agent --dump-api` prints.

Usage: check_api_doc.py AGENT_BINARY DOC_PATH
Exits 0 when equal; else prints a unified diff and how to refresh the doc:
  build/<dir>/agent/sanpool-agent --dump-api > doc/api.md
"""

import difflib
import subprocess
import sys


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    agent, doc = argv[1], argv[2]
    dumped = subprocess.run([agent, "--dump-api"], capture_output=True, text=True,
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
        fromfile=doc, tofile="sanpool-agent --dump-api"))
    print(f"\n{doc} is out of date; refresh it with:\n"
          f"  {agent} --dump-api > {doc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
