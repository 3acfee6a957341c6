"""The committed API reference matches the agent's generated one."""

import os
import subprocess
import sys

from conftest import AGENT, SOURCE_ROOT, require_binaries


def test_doc_api_md_is_current():
    require_binaries()
    script = os.path.join(SOURCE_ROOT, "test", "check_api_doc.py")
    r = subprocess.run([sys.executable, script, AGENT, os.path.join(SOURCE_ROOT, "doc", "api.md")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
