"""Crash tests: the agent is killed (SIGKILL) at each step of a multi-step
storage operation, restarted, and the domain must hold either the whole
operation or nothing of it.

Each crash point is a `CrashPoint(...)` call in domains/file/ (listed in
base/crash_point.h); an agent started with SANPOOL_CRASH_POINT=<name> kills
itself there. Every test:

  1. prepares the domain with an unarmed agent (domain, base volume, ...);
  2. starts an agent armed at one point, makes the call and waits for the
     agent to die by SIGKILL, having logged that it reached the point;
  3. restarts an unarmed agent and opens the domain through a read verb
     (the domain registry runs RecoverDomain on first open);
  4. checks the tree: every volume complete (data + .meta + .lease), no
     orphan files, no _remove_me_ or temporary files, VOLTYPE INTERNAL
     exactly for volumes that have a child, the volume set equal to the one
     before or the one after the operation, and qemu-img happy with every
     data file that is left.

The repository lives under /var/tmp (file domains need O_DIRECT).
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import Agent

SD = "7c4e2a1b-3d5f-4a6b-8c7d-9e0f1a2b3c4d"
IMG = "2b3c4d5e-0000-4000-8000-000000000001"
BASE = "2b3c4d5e-0000-4000-8000-0000000000b1"
SNAP = "2b3c4d5e-0000-4000-8000-0000000000b2"
MiB = 1024 * 1024
CRASH_ENV = "SANPOOL_CRASH_POINT"


class Storage:
    """A scratch repository with one connection dir, and agents over it."""

    def __init__(self, repo, workdir, certs):
        self.repo = repo
        self.workdir = workdir
        self.certs = certs
        self.mount = os.path.join(repo, "mnt", "srv:_exp")
        self.domain = os.path.join(self.mount, SD)
        self.images = os.path.join(self.domain, "images")
        self.agent = None
        self.runs = 0
        os.makedirs(self.mount)

    # ---- agents --------------------------------------------------------

    def start(self, crash_point=None):
        """Starts an agent (armed at `crash_point` if given)."""
        assert self.agent is None
        self.runs += 1
        workdir = os.path.join(self.workdir, f"run{self.runs}")
        os.makedirs(workdir)
        saved = os.environ.pop(CRASH_ENV, None)
        if crash_point:
            os.environ[CRASH_ENV] = crash_point
        try:
            self.agent = Agent(workdir, self.certs, extra_sets=(
                f"storage.repository={self.repo}",
                f"storage.run_dir={os.path.join(self.repo, 'run')}"))
        finally:
            os.environ.pop(CRASH_ENV, None)
            if saved is not None:
                os.environ[CRASH_ENV] = saved

    def stop(self):
        rc = self.agent.terminate()
        log = self.agent.log_text()
        self.agent = None
        assert rc == 0, f"agent exit status {rc}:\n{log}"

    def wait_for_crash(self, point, timeout=60):
        """Waits for the armed agent to kill itself at `point`."""
        try:
            rc = self.agent.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.agent.proc.kill()
            self.agent.proc.wait()
            pytest.fail(f"agent did not crash at {point}:\n{self.agent.log_text()}")
        log = self.agent.log_text()
        self.agent.log.close()
        self.agent = None
        assert rc == -signal.SIGKILL, f"exit status {rc}:\n{log}"
        assert f"crash point {point} reached" in log, log

    def kill(self):
        if self.agent is not None:
            self.agent.proc.kill()
            self.agent.proc.wait()
            self.agent.log.close()
            self.agent = None

    # ---- calls ---------------------------------------------------------

    def call(self, method, **params):
        """Returns (result, error) of one call through the CLI."""
        r = self.agent.cli("call", "--json", method, json.dumps(params))
        assert r.returncode in (0, 1), (r.returncode, r.stdout, r.stderr)
        response = json.loads(r.stdout)
        return response.get("result"), response.get("error")

    def ok(self, method, **params):
        result, error = self.call(method, **params)
        assert error is None, f"{method}: {error}"
        return result

    def call_and_crash(self, point, method, **params):
        """Makes a call that the armed agent dies in (the reply, if any, is
        ignored: a synchronous verb gets no reply, an async one returns its
        task id and dies in the task)."""
        self.agent.cli("call", "--json", method, json.dumps(params))
        self.wait_for_crash(point)

    def wait_task(self, task_id, deadline_s=60):
        end = time.monotonic() + deadline_s
        while True:
            status = self.ok("Task.getStatus", taskID=task_id)
            if status["taskState"] == "finished":
                return status
            assert time.monotonic() < end, f"task {task_id} did not finish: {status}"
            time.sleep(0.05)

    def run_task(self, method, **params):
        status = self.wait_task(self.ok(method, **params))
        assert status["code"] == 0, (method, status)
        return status

    def create_domain(self):
        return self.ok("StorageDomain.create", storagedomainID=SD, domainType=1,
                       typeArgs="srv:/exp", name="crash test", domainClass=1)

    def create_volume_params(self, vol, fmt, parent=""):
        return dict(storagedomainID=SD, storagepoolID=SD, imageID=IMG, volumeID=vol,
                    size=str(MiB), volFormat=fmt, preallocate=2, diskType="DATA",
                    desc="crash test", srcImgUUID=IMG if parent else "",
                    srcVolUUID=parent)

    # ---- the tree ------------------------------------------------------

    def volumes(self):
        """{img: {vol: metadata dict}} after checking file completeness."""
        out = {}
        if not os.path.isdir(self.images):
            return out
        for img in sorted(os.listdir(self.images)):
            assert not img.startswith("_remove_me_"), f"leftover {img}"
            img_dir = os.path.join(self.images, img)
            names = os.listdir(img_dir)
            assert names, f"empty image dir {img}"
            temps = [n for n in names if n.startswith(".") and ".tmp." in n]
            assert not temps, f"temporary files left in {img}: {temps}"
            data = {n for n in names if "." not in n}
            meta = {n[:-5] for n in names if n.endswith(".meta")}
            lease = {n[:-6] for n in names if n.endswith(".lease")}
            assert data == meta == lease, (
                f"incomplete volumes in {img}: data={sorted(data)} "
                f"meta={sorted(meta)} lease={sorted(lease)}")
            vols = {}
            for vol in sorted(data):
                with open(os.path.join(img_dir, vol + ".meta")) as f:
                    md = dict(line.split("=", 1) for line in f.read().splitlines()
                              if "=" in line)
                vols[vol] = md
            out[img] = vols
        return out

    def check_consistent(self):
        """Roles and data of every volume left; returns volumes()."""
        tree = self.volumes()
        for img, vols in tree.items():
            children = {md["PUUID"] for md in vols.values()}
            for vol, md in vols.items():
                want = "INTERNAL" if vol in children else "LEAF"
                assert md["VOLTYPE"] == want, f"{img}/{vol}: {md['VOLTYPE']}, want {want}"
                path = os.path.join(self.images, img, vol)
                if md["FORMAT"] == "COW":
                    subprocess.run(["qemu-img", "check", "-U", "-f", "qcow2", path],
                                   check=True, capture_output=True, timeout=60)
                subprocess.run(["qemu-img", "info", "-U", "--backing-chain", path],
                               check=True, capture_output=True, timeout=60)
        return tree

    def files_of(self, vol):
        """Which of a volume's files exist: a subset of {"data", "meta", "lease"}."""
        base = os.path.join(self.images, IMG, vol)
        return {kind for kind, suffix in (("data", ""), ("meta", ".meta"),
                                          ("lease", ".lease"))
                if os.path.exists(base + suffix)}

    def open_domain(self):
        """First read through the registry: recovery runs here."""
        return self.ok("StorageDomain.getVolumes", storagedomainID=SD, imageID=IMG)


@pytest.fixture
def storage(tmp_path, certs):
    repo = tempfile.mkdtemp(prefix="sanpool-crash-", dir="/var/tmp")
    s = Storage(repo, str(tmp_path), certs)
    try:
        yield s
    finally:
        s.kill()
        shutil.rmtree(repo, ignore_errors=True)


def prepare_base(storage):
    storage.start()
    storage.create_domain()
    storage.run_task("Volume.create", **storage.create_volume_params(BASE, 5))
    storage.stop()


def prepare_chain(storage):
    storage.start()
    storage.create_domain()
    storage.run_task("Volume.create", **storage.create_volume_params(BASE, 5))
    storage.run_task("Volume.create", **storage.create_volume_params(SNAP, 4, BASE))
    storage.stop()


# ---- Volume.create ----------------------------------------------------------

# Crashing before the commit point (.meta) rolls back; after it, forward.
# (point, outcome, the new volume's files the crash leaves)
CREATE_POINTS = [
    ("file.volume.create.after_data", "nothing", {"data"}),
    ("file.volume.create.after_qemu_img", "nothing", {"data"}),
    ("file.volume.create.after_meta", "all", {"data", "meta"}),
    ("file.volume.create.after_lease", "all", {"data", "meta", "lease"}),
    ("file.volume.create.before_parent_internal", "all", {"data", "meta", "lease"}),
]


@pytest.mark.parametrize("point,outcome,debris", CREATE_POINTS)
def test_snapshot_create_crash(storage, point, outcome, debris):
    prepare_base(storage)
    storage.start(point)
    storage.call_and_crash(point, "Volume.create",
                           **storage.create_volume_params(SNAP, 4, BASE))
    assert storage.files_of(SNAP) == debris
    if point.endswith("before_parent_internal"):
        assert "VOLTYPE=LEAF" in open(os.path.join(storage.images, IMG, BASE + ".meta")).read()
    storage.start()
    listed = storage.open_domain()
    tree = storage.check_consistent()
    if outcome == "nothing":
        assert listed == [BASE]
        assert set(tree[IMG]) == {BASE}
    else:
        assert sorted(listed) == sorted([BASE, SNAP])
        assert set(tree[IMG]) == {BASE, SNAP}
        assert tree[IMG][SNAP]["PUUID"] == BASE
        assert tree[IMG][SNAP]["LEGALITY"] == "LEGAL"
        info = storage.ok("Volume.getInfo", storagedomainID=SD, imageID=IMG,
                          volumeID=SNAP)
        assert (info["voltype"], info["parent"]) == ("LEAF", BASE)
    base = storage.ok("Volume.getInfo", storagedomainID=SD, imageID=IMG, volumeID=BASE)
    assert base["voltype"] == ("LEAF" if outcome == "nothing" else "INTERNAL")
    # The operation can be done (again) after the recovery.
    if outcome == "nothing":
        storage.run_task("Volume.create", **storage.create_volume_params(SNAP, 4, BASE))
        assert set(storage.check_consistent()[IMG]) == {BASE, SNAP}
    storage.stop()


def test_base_create_crash_before_commit_leaves_no_image_dir(storage):
    point = "file.volume.create.after_qemu_img"
    storage.start()
    storage.create_domain()
    storage.stop()
    storage.start(point)
    storage.call_and_crash(point, "Volume.create", **storage.create_volume_params(BASE, 5))
    storage.start()
    assert storage.ok("StorageDomain.getImages", storagedomainID=SD) == []
    assert storage.check_consistent() == {}
    storage.stop()


# ---- Volume.delete ----------------------------------------------------------

@pytest.mark.parametrize("point,debris", [
    ("file.volume.delete.after_data", {"meta", "lease"}),
    ("file.volume.delete.after_lease", {"meta"}),
])
def test_volume_delete_crash_after_data_removed_rolls_forward(storage, point, debris):
    prepare_chain(storage)
    storage.start(point)
    storage.call_and_crash(point, "Volume.delete", storagedomainID=SD, imageID=IMG,
                           volumeID=SNAP)
    assert storage.files_of(SNAP) == debris
    storage.start()
    assert storage.open_domain() == [BASE]
    tree = storage.check_consistent()
    assert set(tree[IMG]) == {BASE}
    assert tree[IMG][BASE]["VOLTYPE"] == "LEAF"
    storage.stop()


def test_volume_delete_crash_after_illegal_mark_leaves_a_retryable_volume(storage):
    # The data is still there: recovery keeps the volume, ILLEGAL and
    # detached from its parent (oVirt's contract: an ILLEGAL volume is a
    # failed delete the caller retries), and the parent is a leaf again.
    point = "file.volume.delete.after_illegal"
    prepare_chain(storage)
    storage.start(point)
    storage.call_and_crash(point, "Volume.delete", storagedomainID=SD, imageID=IMG,
                           volumeID=SNAP)
    storage.start()
    storage.open_domain()
    tree = storage.check_consistent()
    assert set(tree[IMG]) == {BASE, SNAP}
    assert tree[IMG][SNAP]["LEGALITY"] == "ILLEGAL"
    assert tree[IMG][BASE]["VOLTYPE"] == "LEAF"
    # Nobody can start a VM on it by accident.
    _, error = storage.call("Image.prepare", storagedomainID=SD, imageID=IMG,
                            volumeID=SNAP)
    assert error is not None
    storage.run_task("Volume.delete", storagedomainID=SD, imageID=IMG, volumeID=SNAP)
    assert set(storage.check_consistent()[IMG]) == {BASE}
    storage.stop()


# ---- Image.delete -----------------------------------------------------------

def test_image_delete_crash_after_rename_rolls_forward(storage):
    point = "file.image.delete.after_rename"
    prepare_chain(storage)
    storage.start(point)
    storage.call_and_crash(point, "Image.delete", storagedomainID=SD,
                           storagepoolID=SD, imageID=IMG)
    assert os.path.isdir(os.path.join(storage.images, "_remove_me_" + IMG))
    storage.start()
    assert storage.ok("StorageDomain.getImages", storagedomainID=SD) == []
    assert storage.check_consistent() == {}
    assert os.listdir(storage.images) == []
    storage.stop()


# ---- StorageDomain.create ---------------------------------------------------

@pytest.mark.parametrize("point", [
    "file.domain.create.after_tree",
    "file.domain.create.before_metadata",
])
def test_domain_create_crash_is_not_a_domain_and_format_clears_it(storage, point):
    storage.start(point)
    storage.call_and_crash(point, "StorageDomain.create", storagedomainID=SD,
                           domainType=1, typeArgs="srv:/exp", name="crash test",
                           domainClass=1)
    assert os.path.isdir(storage.domain)
    assert not os.path.exists(os.path.join(storage.domain, "dom_md", "metadata"))
    storage.start()
    # Without its metadata (the commit point) the directory is no domain.
    _, error = storage.call("StorageDomain.getInfo", storagedomainID=SD)
    assert error is not None and error["code"] == 358, error
    # StorageDomain.format finishes an interrupted create; then it can be made.
    storage.ok("StorageDomain.format", storagedomainID=SD)
    assert not os.path.exists(storage.domain)
    storage.create_domain()
    assert storage.ok("StorageDomain.getInfo", storagedomainID=SD)["version"] == "5"
    storage.stop()


def test_every_crash_point_is_tested():
    header = os.path.join(os.environ.get("SANPOOL_SOURCE_ROOT", ""), "base",
                          "crash_point.h")
    with open(header) as f:
        text = f.read()
    import re
    declared = set(re.findall(r'"((?:file)\.[a-z_.]+)"', text))
    tested = {p for p, _, _ in CREATE_POINTS} | {
        "file.volume.delete.after_illegal", "file.volume.delete.after_data",
        "file.volume.delete.after_lease", "file.image.delete.after_rename",
        "file.domain.create.after_tree", "file.domain.create.before_metadata"}
    assert declared == tested
