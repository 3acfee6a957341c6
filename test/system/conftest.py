"""Fixtures for the system suite: a real sanpool-agent with mutual TLS.

Paths come from the environment (test/meson.build sets them):
  SANPOOL_AGENT        build/<dir>/agent/sanpool-agent
  SANPOOL_CLI          build/<dir>/tools/sanpool
  SANPOOL_SOURCE_ROOT  the checkout (for doc/api.md)
"""

import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import time

import pytest

from wsclient import WebSocket

AGENT = os.environ.get("SANPOOL_AGENT", "")
CLI = os.environ.get("SANPOOL_CLI", "")
SOURCE_ROOT = os.environ.get("SANPOOL_SOURCE_ROOT", "")

# Small enough that the 413 test sends little.
MAX_REQUEST_BYTES = 65536


def require_binaries():
    for path in (AGENT, CLI):
        if not path or not os.access(path, os.X_OK):
            pytest.fail(f"binary not found: {path!r} (set SANPOOL_AGENT / SANPOOL_CLI)")


class Agent:
    """A running sanpool-agent: TLS on 127.0.0.1:<port> and a Unix socket."""

    def __init__(self, workdir, certs, extra_sets=()):
        self.workdir = workdir
        self.certs = certs
        self.socket_path = os.path.join(workdir, "agent.sock")
        self.port_file = os.path.join(workdir, "port")
        self.log_path = os.path.join(workdir, "agent.log")
        sets = {
            "rpc.host": "127.0.0.1",
            "rpc.port": "0",
            "rpc.tls": "true",
            "rpc.ca_file": certs["ca"],
            "rpc.cert_file": certs["host_cert"],
            "rpc.key_file": certs["host_key"],
            "rpc.unix_socket": self.socket_path,
            "rpc.max_request_bytes": str(MAX_REQUEST_BYTES),
        }
        sets.update(dict(s.split("=", 1) for s in extra_sets))
        argv = [AGENT, "--port-file", self.port_file]
        for key, value in sets.items():
            argv += ["--set", f"{key}={value}"]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.port = self._wait_for_port()

    def _wait_for_port(self):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"agent exited {self.proc.returncode}:\n{self.log_text()}")
            try:
                text = open(self.port_file).read().strip()
                if text and os.path.exists(self.socket_path):
                    return int(text)
            except (OSError, ValueError):
                pass
            time.sleep(0.02)
        raise RuntimeError(f"agent wrote no port file:\n{self.log_text()}")

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-4000:]

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}"

    def tls_context(self, with_cert=True):
        ctx = ssl.create_default_context(cafile=self.certs["ca"])
        if with_cert:
            ctx.load_cert_chain(self.certs["client_cert"], self.certs["client_key"])
        return ctx

    def https(self, with_cert=True):
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30,
                                           context=self.tls_context(with_cert))

    def post(self, conn, body, content_type="application/json"):
        """POST /rpc on `conn`; returns (status, body bytes)."""
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        conn.request("POST", "/rpc", body=body, headers={"Content-Type": content_type})
        res = conn.getresponse()
        return res.status, res.read()

    def websocket(self):
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        sock = self.tls_context().wrap_socket(raw, server_hostname="127.0.0.1")
        return WebSocket(sock, host=f"127.0.0.1:{self.port}")

    def cli(self, *args, tls=False, stdin=None):
        """Runs the sanpool CLI against this agent (Unix socket, or TLS URL)."""
        if tls:
            where = ["--url", self.url, "--ca", self.certs["ca"],
                     "--cert", self.certs["client_cert"], "--key", self.certs["client_key"]]
        else:
            where = ["--socket", self.socket_path]
        return subprocess.run([CLI, *args[:1], *where, *args[1:]], input=stdin,
                              capture_output=True, text=True, timeout=60)

    def terminate(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    require_binaries()
    d = tmp_path_factory.mktemp("pki")
    subprocess.run([CLI, "make-certs", str(d)], check=True, capture_output=True)
    return {
        "dir": str(d),
        "ca": str(d / "ca.pem"),
        "host_cert": str(d / "host.pem"),
        "host_key": str(d / "host.key"),
        "client_cert": str(d / "client.pem"),
        "client_key": str(d / "client.key"),
    }


@pytest.fixture(scope="module")
def agent(tmp_path_factory, certs):
    a = Agent(str(tmp_path_factory.mktemp("agent")), certs)
    yield a
    rc = a.terminate()
    assert rc == 0, f"agent exit status {rc}:\n{a.log_text()}"


@pytest.fixture
def fresh_agent(tmp_path, certs):
    """An agent of the test's own (for shutdown tests)."""
    a = Agent(str(tmp_path), certs)
    yield a
    a.terminate()
