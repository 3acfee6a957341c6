"""System test of `sanpool rig` (doc/rig.md): a 3-host cluster on this machine.

Needs root (loop devices, FUSE, sanlock). SANPOOL_CLI names the `sanpool`
binary; the rig finds the agent, dm emulator and sanlock shim through
SANPOOL_AGENT, SANPOOL_DMEMU and SANPOOL_SANLOCK_SHIM (tools/rig/meson.build).

Bounded: every wait has a limit (at most WAIT_S), and the fixture always runs
`rig down` and then checks that no process of the rig is left and the SAN's
loops are detached, also when a test failed.
"""

import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

CLI = os.environ.get("SANPOOL_CLI", "")
WAIT_S = 60
# After a host crash sanlock lets others take its leases at HostDead
# (76 s at io_timeout 2) and at most PaxosAcquireHeldMax (90 s) + back-off.
HOST_CRASH_WAIT_S = 150
POOL = "5a5a5a5a-0000-4000-8000-000000000001"
MASTER = "5a5a5a5a-0000-4000-8000-0000000000d1"


class Rig:
    def __init__(self, directory):
        self.dir = directory

    def run(self, *args, check=True, timeout=180):
        r = subprocess.run([CLI, "rig", *args, "--dir", self.dir], capture_output=True,
                           text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"sanpool rig {' '.join(args)}: exit {r.returncode}\n"
                                 f"{r.stdout}\n{r.stderr}\n{self.logs()}")
        return r

    def status(self):
        return json.loads(self.run("status", "--json").stdout)

    def host(self, index):
        return self.status()["hosts"][index - 1]

    def call(self, index, method, params=None):
        args = ["call", str(index), method]
        if params is not None:
            args.append(json.dumps(params))
        r = self.run(*args, check=False, timeout=120)
        if r.returncode != 0:
            raise AssertionError(f"host {index} {method}: {r.stderr}\n{self.logs()}")
        return json.loads(r.stdout)

    def call_error(self, index, method, params):
        """The JSON-RPC error code of a call that must fail."""
        r = self.run("call", str(index), method, json.dumps(params), check=False, timeout=120)
        assert r.returncode == 1, f"host {index} {method} did not fail: {r.stdout}"
        assert r.stderr.startswith("error "), r.stderr
        return int(r.stderr.split()[1].rstrip(":"))

    def call_direct(self, index, method, params):
        """One JSON-RPC call straight to the agent's Unix socket, without the
        rig command (rig commands on one rig serialise on D/rig.lock, so two
        `rig call`s never run at the same moment). The JSON-RPC reply."""
        conn = _UnixHttp(os.path.join(self.dir, "hosts", str(index), "agent.sock"), 120)
        try:
            body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                               "params": params})
            conn.request("POST", "/rpc", body, {"Content-Type": "application/json"})
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def wait_task(self, index, task_id, wait_s=WAIT_S):
        """Polls Task.getStatus on host `index` until finished; the status."""
        deadline = time.monotonic() + wait_s
        while True:
            status = self.call(index, "Task.getStatus", {"taskID": task_id})
            if status["taskState"] == "finished":
                return status
            assert time.monotonic() < deadline, f"task {task_id} on host {index}: {status}"
            time.sleep(0.2)

    def spm_status(self, index):
        return self.call(index, "StoragePool.getSpmStatus", {"storagepoolID": POOL})

    def wait_for_spm(self, hosts, wait_s=WAIT_S):
        """Polls `hosts` until one reports SPM; returns its index."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            for h in hosts:
                if self.spm_status(h)["spmStatus"] == "SPM":
                    return h
            time.sleep(0.2)
        raise AssertionError(f"no SPM among hosts {hosts} in {wait_s} s\n{self.logs()}")

    def logs(self):
        out = []
        for h in ("1", "2", "3"):
            for name in ("agent.log", "sanlock.log"):
                path = os.path.join(self.dir, "hosts", h, name)
                if os.path.exists(path):
                    with open(path, errors="replace") as f:
                        out.append(f"--- host {h} {name}\n" + f.read()[-1500:])
        return "\n".join(out)

    def keep_logs(self, into):
        """Copies every host's logs to `into` (kept after the rig is gone)."""
        hosts = os.path.join(self.dir, "hosts")
        for h in sorted(os.listdir(hosts)) if os.path.isdir(hosts) else []:
            for name in ("agent.log", "sanlock.log", "dmemu.log"):
                path = os.path.join(hosts, h, name)
                if os.path.exists(path):
                    os.makedirs(into, exist_ok=True)
                    shutil.copy(path, os.path.join(into, f"host{h}-{name}"))


class _UnixHttp(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


def rig_processes(directory):
    """Pids of sanlock/sanpool-agent/sanpool-dmemu processes naming the dir."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
            if exe not in ("sanlock", "sanpool-agent", "sanpool-dmemu"):
                continue
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            continue
        if directory.encode() + b"/" in cmdline + environ:
            found.append(int(pid))
    return found


def master_mounts(directory):
    """Mount points of block masters under the rig (storage/master/...)."""
    with open("/proc/mounts") as f:
        targets = [line.split()[1] for line in f]
    return [t for t in targets if t.startswith(directory + "/") and "/storage/master/" in t]


def loops_of(directory):
    r = subprocess.run(["losetup", "-a"], capture_output=True, text=True, check=True)
    return [line for line in r.stdout.splitlines() if directory + "/san/" in line]


@pytest.fixture
def rig(tmp_path):
    if not CLI or not os.access(CLI, os.X_OK):
        pytest.fail(f"sanpool CLI not found: {CLI!r}")
    # Short: sanlock's socket path under it must fit sockaddr_un.
    directory = tempfile.mkdtemp(prefix="rig-", dir="/var/tmp")
    r = Rig(directory)
    try:
        yield r
    finally:
        # A killed agent leaves its block master mounted (its next start
        # would clean it up): unmount those first, so nothing holds the
        # dm emulator's devices.
        for target in master_mounts(directory):
            subprocess.run(["umount", "-l", target], check=False, timeout=60)
        down = r.run("down", check=False)
        r.keep_logs(str(tmp_path / "logs"))
        left = rig_processes(directory)
        loops = loops_of(directory)
        shutil.rmtree(directory, ignore_errors=True)
        assert down.returncode == 0, down.stderr
        assert left == [], f"processes left behind: {left}"
        assert loops == [], f"loops left attached: {loops}"
        assert master_mounts(directory) == []


def alive(host):
    return {k: host[k]["alive"] for k in ("sanlock", "dmemu", "agent")}


ALL_UP = {"sanlock": True, "dmemu": True, "agent": True}


def test_hosts_die_and_come_back(rig):
    rig.run("up", "--hosts", "3", "--lun-size", "10G")
    status = rig.status()
    assert len(status["hosts"]) == 3
    assert len(status["luns"]) == 2
    for h in status["hosts"]:
        assert alive(h) == ALL_UP
        assert h["ping"] is True
        assert h["port"] > 0
    assert len(loops_of(rig.dir)) == 2

    rig.run("kill-agent", "2")
    h2 = rig.host(2)
    assert alive(h2) == {"sanlock": True, "dmemu": True, "agent": False}
    assert h2["ping"] is False
    rig.run("start-host", "2")
    assert alive(rig.host(2)) == ALL_UP
    assert rig.host(2)["ping"] is True

    rig.run("kill-host", "3")
    assert alive(rig.host(3)) == {"sanlock": False, "dmemu": False, "agent": False}
    rig.run("start-host", "3")
    assert alive(rig.host(3)) == ALL_UP
    assert rig.call(3, "Host.ping") is True
    # The other hosts never noticed.
    assert alive(rig.host(1)) == ALL_UP

    rig.run("down")
    assert rig_processes(rig.dir) == []
    assert loops_of(rig.dir) == []
    rig.run("down")  # idempotent


def make_pool(rig):
    """A file master domain on the NAS and a pool every host joins."""
    nas = os.path.join(rig.dir, "nas")
    for h in (1, 2, 3):
        res = rig.call(h, "StoragePool.connectStorageServer",
                       {"domainType": 4, "connectionParams": [{"id": "nas", "connection": nas}]})
        assert res[0]["status"] == 0
    rig.call(1, "StorageDomain.create",
             {"storagedomainID": MASTER, "domainType": 4, "typeArgs": nas,
              "name": "master", "domainClass": 1})
    rig.call(1, "StoragePool.create",
             {"storagepoolID": POOL, "name": "rig", "masterSdUUID": MASTER,
              "masterVersion": 1, "domainList": [MASTER]})
    for h in (1, 2, 3):
        rig.call(h, "StoragePool.connect",
                 {"storagepoolID": POOL, "hostID": h, "masterSdUUID": MASTER,
                  "masterVersion": 1})


def test_one_spm_and_failover_after_agent_crash(rig):
    rig.run("up", "--hosts", "3", "--lun-size", "10G")
    make_pool(rig)
    spm = rig.wait_for_spm([1, 2, 3])
    # A few contention rounds later still exactly one SPM, and all agree.
    time.sleep(3)
    states = {h: rig.spm_status(h) for h in (1, 2, 3)}
    assert [h for h, s in states.items() if s["spmStatus"] == "SPM"] == [spm]
    assert all(s["spmId"] == spm for s in states.values())
    status = rig.status()
    assert status["hosts"][spm - 1]["spm"][POOL]["spmStatus"] == "SPM"

    rig.run("kill-agent", str(spm))
    others = [h for h in (1, 2, 3) if h != spm]
    new_spm = rig.wait_for_spm(others)
    assert new_spm != spm
    assert rig.spm_status([h for h in others if h != new_spm][0])["spmStatus"] != "SPM"

    # The crashed host's agent comes back and rejoins without being SPM.
    rig.run("start-host", str(spm))
    assert rig.host(spm)["ping"] is True
    assert rig.spm_status(new_spm)["spmStatus"] == "SPM"

    # A non-SPM host "reboots": its processes die and its NAS link (the
    # LOCALFS connection) is gone. It makes the connection again from its
    # state file and rejoins without anyone calling connectStorageServer.
    victim = [h for h in (1, 2, 3) if h != new_spm][0]
    rig.run("kill-host", str(victim))
    links = nas_links(rig, victim)
    assert links, "no LOCALFS link to remove"
    for link in links:
        os.remove(link)
    rig.run("start-host", str(victim))
    assert alive(rig.host(victim)) == ALL_UP
    wait_rejoined(rig, victim)
    assert nas_links(rig, victim) == links
    assert rig.spm_status(new_spm)["spmStatus"] == "SPM"


def nas_links(rig, host):
    """The LOCALFS links of a host: `<repository>/mnt/<escaped path>`
    (domains/storage_server.h), repository = hosts/<i>/data-center."""
    mnt = os.path.join(rig.dir, "hosts", str(host), "data-center", "mnt")
    if not os.path.isdir(mnt):
        return []
    return sorted(os.path.join(mnt, n) for n in os.listdir(mnt)
                  if os.path.islink(os.path.join(mnt, n)))


def wait_rejoined(rig, host, wait_s=WAIT_S):
    """Polls `host` until it answers getSpmStatus for the pool (not as SPM)
    and its monitor reports the master valid."""
    deadline = time.monotonic() + wait_s
    while True:
        r = rig.run("call", str(host), "StoragePool.getSpmStatus",
                    json.dumps({"storagepoolID": POOL}), check=False)
        stats = rig.call(host, "Host.getStorageRepoStats") if r.returncode == 0 else {}
        if r.returncode == 0 and stats.get(MASTER, {}).get("valid") is True:
            assert json.loads(r.stdout)["spmStatus"] != "SPM"
            return
        assert time.monotonic() < deadline, \
            f"host {host} did not rejoin: {r.stderr} {stats}\n{rig.logs()}"
        time.sleep(0.5)


def test_failover_after_host_crash(rig):
    rig.run("up", "--hosts", "3", "--lun-size", "10G")
    make_pool(rig)
    spm = rig.wait_for_spm([1, 2, 3])
    rig.run("kill-host", str(spm))
    others = [h for h in (1, 2, 3) if h != spm]
    # Until HostDead the survivors must not take the lease; then one does.
    assert all(rig.spm_status(h)["spmStatus"] != "SPM" for h in others)
    new_spm = rig.wait_for_spm(others, wait_s=HOST_CRASH_WAIT_S)
    assert new_spm in others
    rig.run("start-host", str(spm))
    assert alive(rig.host(spm)) == ALL_UP
    # It rejoins the pool from its state file, as a non-SPM host.
    deadline = time.monotonic() + WAIT_S
    while True:
        r = rig.run("call", str(spm), "StoragePool.getSpmStatus",
                    json.dumps({"storagepoolID": POOL}), check=False)
        if r.returncode == 0:
            assert json.loads(r.stdout)["spmStatus"] != "SPM"
            break
        assert time.monotonic() < deadline, f"host {spm} did not rejoin: {r.stderr}"
        time.sleep(0.5)


def spm_hosts(rig, hosts=(1, 2, 3)):
    return [h for h in hosts if rig.spm_status(h)["spmStatus"] == "SPM"]


def test_concurrent_spm_start_gives_one_spm(rig):
    rig.run("up", "--hosts", "3", "--lun-size", "10G")
    make_pool(rig)
    spm = rig.wait_for_spm([1, 2, 3])
    a, b = [h for h in (1, 2, 3) if h != spm]
    # The SDM lease free, two hosts send spmStart at the same moment. The
    # hosts' automatic contention (spm.auto) may also try, on any host: the
    # rule under test holds for every mix of contenders.
    rig.call(spm, "StoragePool.spmStop", {"storagepoolID": POOL})
    barrier = threading.Barrier(2)
    replies = {}

    def start(host):
        barrier.wait()
        replies[host] = rig.call_direct(host, "StoragePool.spmStart",
                                        {"storagepoolID": POOL, "prevID": -1, "prevLver": -1})

    threads = [threading.Thread(target=start, args=(h,)) for h in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    assert set(replies) == {a, b}
    results = {}
    for h, reply in replies.items():
        if "result" in reply:
            results[h] = rig.wait_task(h, reply["result"])["taskResult"]
        else:  # scheduled too late: the host is SPM already (auto won there)
            assert reply["error"]["code"] != 0, reply
            results[h] = "refused"
    winner = rig.wait_for_spm([1, 2, 3])
    print(f"spmStart on hosts {a} and {b}: {results}; SPM: host {winner}")
    # Exactly one SPM, and every host names it.
    assert spm_hosts(rig) == [winner]
    assert all(rig.spm_status(h)["spmId"] == winner for h in (1, 2, 3))
    # At most one spmStart succeeded, and only the winner's.
    succeeded = [h for h, r in results.items() if r == "success"]
    assert succeeded in ([], [winner]), results
    # A few contention rounds later nothing changed.
    time.sleep(3)
    assert spm_hosts(rig) == [winner]


VOL_DOMAIN_DIR = "nas/" + MASTER + "/images"
IMAGES = ["5a5a5a5a-0000-4000-8000-0000000000a1", "5a5a5a5a-0000-4000-8000-0000000000a2"]
VOLUMES = ["5a5a5a5a-0000-4000-8000-0000000000b1", "5a5a5a5a-0000-4000-8000-0000000000b2"]


def test_volumes_of_one_spm_are_managed_by_the_next(rig):
    rig.run("up", "--hosts", "3", "--lun-size", "10G")
    make_pool(rig)
    spm = rig.wait_for_spm([1, 2, 3])
    for img, vol in zip(IMAGES, VOLUMES):
        task = rig.call(spm, "Volume.create",
                        {"storagedomainID": MASTER, "storagepoolID": POOL, "imageID": img,
                         "volumeID": vol, "size": "1048576", "volFormat": 5,
                         "preallocate": 2, "diskType": "DATA", "desc": f"by host {spm}",
                         "srcImgUUID": "", "srcVolUUID": ""})
        assert rig.wait_task(spm, task)["taskResult"] == "success"

    rig.run("kill-agent", str(spm))
    new_spm = rig.wait_for_spm([h for h in (1, 2, 3) if h != spm])
    for img, vol in zip(IMAGES, VOLUMES):
        where = {"storagedomainID": MASTER, "storagepoolID": POOL, "imageID": img}
        assert rig.call(new_spm, "StorageDomain.getVolumes", where) == [vol]
        info = rig.call(new_spm, "Volume.getInfo", {**where, "volumeID": vol})
        assert info["uuid"] == vol and info["image"] == img and info["domain"] == MASTER
        assert int(info["capacity"]) == 1048576
        assert info["description"] == f"by host {spm}"
        assert info["legality"] == "LEGAL"

    for img, vol in zip(IMAGES, VOLUMES):
        where = {"storagedomainID": MASTER, "storagepoolID": POOL, "imageID": img}
        task = rig.call(new_spm, "Volume.delete", {**where, "volumeID": vol})
        assert rig.wait_task(new_spm, task)["taskResult"] == "success"
        assert not os.path.exists(os.path.join(rig.dir, VOL_DOMAIN_DIR, img, vol))
        assert rig.call_error(new_spm, "Volume.getInfo", {**where, "volumeID": vol}) != 0


BLOCK_SD = "5a5a5a5a-0000-4000-8000-0000000000e1"
FILE_SD = "5a5a5a5a-0000-4000-8000-0000000000f1"
BLOCK_IMG = "5a5a5a5a-0000-4000-8000-0000000000c1"
BLOCK_VOL = "5a5a5a5a-0000-4000-8000-0000000000c2"
FILE_IMG = "5a5a5a5a-0000-4000-8000-0000000000c3"
FILE_VOL = "5a5a5a5a-0000-4000-8000-0000000000c4"


def master_mount(rig, host):
    """The fs type mounted at a host's block master dir (None if not)."""
    target = os.path.join(rig.dir, "hosts", str(host), "storage", "master", BLOCK_SD,
                          "master")
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[1] == target:
                return fields[2]
    return None


def wait_volume(rig, host, where, wait_s=WAIT_S):
    """Polls Volume.getInfo on `host` (its lvm view may lag); the info."""
    deadline = time.monotonic() + wait_s
    while True:
        r = rig.run("call", str(host), "Volume.getInfo", json.dumps(where), check=False)
        if r.returncode == 0:
            return json.loads(r.stdout)
        assert time.monotonic() < deadline, f"host {host} {where}: {r.stderr}\n{rig.logs()}"
        time.sleep(0.5)


def test_block_master_pool_failover(rig):
    rig.run("up", "--hosts", "3", "--lun-size", "10G")
    luns = rig.status()["luns"]
    assert len(luns) == 2
    nas = os.path.join(rig.dir, "nas")
    for h in (1, 2, 3):
        res = rig.call(h, "StoragePool.connectStorageServer",
                       {"domainType": 4, "connectionParams": [{"id": "nas", "connection": nas}]})
        assert res[0]["status"] == 0
    vg_uuid = rig.call(1, "LVMVolumeGroup.create", {"name": BLOCK_SD, "devlist": luns})
    rig.call(1, "StorageDomain.create",
             {"storagedomainID": BLOCK_SD, "domainType": 3, "typeArgs": vg_uuid,
              "name": "block master", "domainClass": 1})
    rig.call(1, "StorageDomain.create",
             {"storagedomainID": FILE_SD, "domainType": 4, "typeArgs": nas,
              "name": "file data", "domainClass": 1})
    rig.call(1, "StoragePool.create",
             {"storagepoolID": POOL, "name": "rig-block", "masterSdUUID": BLOCK_SD,
              "masterVersion": 1, "domainList": [BLOCK_SD, FILE_SD]})
    for h in (1, 2, 3):
        rig.call(h, "StoragePool.connect",
                 {"storagepoolID": POOL, "hostID": h, "masterSdUUID": BLOCK_SD,
                  "masterVersion": 1})
    spm = rig.wait_for_spm([1, 2, 3])
    assert spm_hosts(rig) == [spm]
    # The SPM holds the master file system (ext3 on the master LV).
    assert master_mount(rig, spm) == "ext3"
    assert [h for h in (1, 2, 3) if master_mount(rig, h)] == [spm]
    info = rig.call(spm, "StoragePool.getInfo", {"storagepoolID": POOL})["info"]
    assert info["type"] == "ISCSI" and info["spm_id"] == spm
    rig.call(spm, "StorageDomain.activate", {"storagedomainID": FILE_SD, "storagepoolID": POOL})

    # A thin (COW, sparse) volume on the block master, a volume on the file
    # domain, both made by SPM tasks.
    block_where = {"storagedomainID": BLOCK_SD, "storagepoolID": POOL, "imageID": BLOCK_IMG}
    file_where = {"storagedomainID": FILE_SD, "storagepoolID": POOL, "imageID": FILE_IMG}
    for where, vol, fmt in ((block_where, BLOCK_VOL, 4), (file_where, FILE_VOL, 5)):
        task = rig.call(spm, "Volume.create",
                        {**where, "volumeID": vol, "size": str(1 << 30), "volFormat": fmt,
                         "preallocate": 2, "diskType": "DATA", "desc": f"by host {spm}",
                         "srcImgUUID": "", "srcVolUUID": ""})
        assert rig.wait_task(spm, task)["taskResult"] == "success"

    rig.run("kill-agent", str(spm))
    others = [h for h in (1, 2, 3) if h != spm]
    new_spm = rig.wait_for_spm(others)
    assert spm_hosts(rig, others) == [new_spm]
    assert master_mount(rig, new_spm) == "ext3"
    for where, vol, fmt in ((block_where, BLOCK_VOL, "COW"), (file_where, FILE_VOL, "RAW")):
        got = wait_volume(rig, new_spm, {**where, "volumeID": vol})
        assert got["uuid"] == vol and got["format"] == fmt
        assert int(got["capacity"]) == 1 << 30
        assert got["description"] == f"by host {spm}"
    info = rig.call(new_spm, "StoragePool.getInfo", {"storagepoolID": POOL})["info"]
    assert info["spm_id"] == new_spm
