"""Domain monitoring through the real agent: Host.startMonitoringDomain,
Host.getStorageRepoStats, StorageDomain.stateChanged and the domain gauges
on GET /metrics, with monitor.interval_s = 1 s.

Waits poll with a deadline (real storage, real time); nothing asserts on a
duration.
"""

import json
import os
import shutil
import tempfile
import time

import pytest

from conftest import Agent

SD = "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d"
MISSING = "6a5b4c3d-2e1f-4a0b-9c8d-000000000000"


@pytest.fixture
def monitored(tmp_path, certs):
    repo = tempfile.mkdtemp(prefix="sanpool-mon-", dir="/var/tmp")
    os.makedirs(os.path.join(repo, "mnt", "srv:_exp"))
    agent = Agent(str(tmp_path), certs, extra_sets=(
        f"storage.repository={repo}",
        f"storage.run_dir={os.path.join(repo, 'run')}",
        "monitor.interval_s=1"))
    try:
        yield agent, os.path.join(repo, "mnt", "srv:_exp", SD)
    finally:
        rc = agent.terminate()
        shutil.rmtree(repo, ignore_errors=True)
        assert rc == 0, agent.log_text()


def call(agent, method, **params):
    r = agent.cli("call", "--json", method, json.dumps(params))
    assert r.returncode in (0, 1), r.stderr
    response = json.loads(r.stdout)
    return response.get("result"), response.get("error")


def ok(agent, method, **params):
    result, error = call(agent, method, **params)
    assert error is None, f"{method}: {error}"
    return result


def wait_for(predicate, what, deadline_s=30):
    end = time.monotonic() + deadline_s
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.1)


def repo_stats(agent):
    return ok(agent, "Host.getStorageRepoStats")


def test_monitoring_reports_validity_changes(monitored):
    agent, domain = monitored
    ok(agent, "StorageDomain.create", storagedomainID=SD, domainType=1,
       typeArgs="srv:/exp", name="monitor test", domainClass=1)
    ws = agent.websocket()
    try:
        assert ok(agent, "Host.startMonitoringDomain", sdUUID=SD) is True
        stats = wait_for(lambda: repo_stats(agent).get(SD, {}).get("actual") and
                         repo_stats(agent)[SD], "the first check")
        assert stats["valid"] is True
        assert stats["code"] == 0
        assert stats["version"] == 5
        assert stats["acquired"] is False
        float(stats["delay"])
        float(stats["lastCheck"])

        # Broken storage: the metadata loses its seal.
        metadata = os.path.join(domain, "dom_md", "metadata")
        good = open(metadata).read()
        with open(metadata, "w") as f:
            f.write(good.replace("monitor test", "MONITOR TEST"))
        bad = wait_for(lambda: not repo_stats(agent)[SD]["valid"] and
                       repo_stats(agent)[SD], "the domain to turn invalid")
        assert bad["code"] == 752
        with open(metadata, "w") as f:
            f.write(good)
        wait_for(lambda: repo_stats(agent)[SD]["valid"], "the domain to recover")

        # Each change was published: up, down, up.
        changes = []
        while len(changes) < 3:
            msg = json.loads(ws.recv())
            if msg.get("method") == "StorageDomain.stateChanged":
                assert msg["params"]["sdUUID"] == SD
                changes.append(msg["params"]["valid"])
        assert changes == [True, False, True]
    finally:
        ws.close()

    conn = agent.https()
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    assert f'sanpool_domain_valid{{sd="{SD}"}} 1.000000' in text
    assert f'sanpool_domain_read_delay_seconds{{sd="{SD}"}}' in text
    assert f'sanpool_domain_last_check_age_seconds{{sd="{SD}"}}' in text

    assert ok(agent, "Host.stopMonitoringDomain", sdUUID=SD) is True
    assert SD not in repo_stats(agent)


def test_unknown_domains_are_errors(monitored):
    agent, _ = monitored
    _, error = call(agent, "Host.startMonitoringDomain", sdUUID=MISSING)
    assert error is not None and error["code"] == 358, error
    _, error = call(agent, "Host.stopMonitoringDomain", sdUUID=MISSING)
    assert error is not None and error["code"] == 358, error
    assert repo_stats(agent) == {}
