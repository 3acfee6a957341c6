"""System tests of the storage verbs through the real agent and `sanpool call`.

One agent serves the module with its storage repository in a scratch
directory under /var/tmp (the file domain needs O_DIRECT, which tmpfs lacks).
The connection "srv:/exp" is "connected" by making its mount dir
<repository>/mnt/srv:_exp (oVirt's escaping), as connectStorageServer would.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import Agent

SD = "9d1b6a8f-1c2e-4a5b-8d3c-7e6f5a4b3c2d"
IMG = "1a2b3c4d-0000-4000-8000-000000000001"
IMG_SNAP = "1a2b3c4d-0000-4000-8000-000000000002"
IMG_TMPL = "1a2b3c4d-0000-4000-8000-000000000003"
IMG_CHILD = "1a2b3c4d-0000-4000-8000-000000000004"
BASE = "1a2b3c4d-0000-4000-8000-0000000000a1"
SNAP = "1a2b3c4d-0000-4000-8000-0000000000a2"
TMPL = "1a2b3c4d-0000-4000-8000-0000000000a3"
CHILD = "1a2b3c4d-0000-4000-8000-0000000000a4"
OTHER = "1a2b3c4d-0000-4000-8000-0000000000a5"
MiB = 1024 * 1024


class Storage:
    def __init__(self, agent, repo):
        self.agent = agent
        self.repo = repo
        self.mount = os.path.join(repo, "mnt", "srv:_exp")
        self.domain = os.path.join(self.mount, SD)

    def call(self, method, **params):
        """Returns (result, error) of one call through the CLI."""
        r = self.agent.cli("call", "--json", method, json.dumps(params))
        assert r.returncode in (0, 1), r.stderr
        response = json.loads(r.stdout)
        return response.get("result"), response.get("error")

    def ok(self, method, **params):
        result, error = self.call(method, **params)
        assert error is None, f"{method}: {error}"
        return result

    def wait(self, task_id, deadline_s=60):
        end = time.monotonic() + deadline_s
        while True:
            status = self.ok("Task.getStatus", taskID=task_id)
            if status["taskState"] == "finished":
                return status
            assert time.monotonic() < end, f"task {task_id} did not finish: {status}"
            time.sleep(0.05)

    def create_volume(self, img, vol, size=str(MiB), fmt=5, src_img="", src_vol=""):
        task = self.ok("Volume.create", storagedomainID=SD, storagepoolID=SD,
                       imageID=img, volumeID=vol, size=size, volFormat=fmt,
                       preallocate=2, diskType="DATA", desc="system test",
                       srcImgUUID=src_img, srcVolUUID=src_vol)
        return self.wait(task)

    def tree(self):
        out = {}
        for root, dirs, files in os.walk(self.domain):
            for name in dirs + files:
                path = os.path.join(root, name)
                st = os.lstat(path)
                out[os.path.relpath(path, self.domain)] = (st.st_mode, st.st_size)
        return out


@pytest.fixture(scope="module")
def storage(tmp_path_factory, certs):
    repo = tempfile.mkdtemp(prefix="sanpool-sys-", dir="/var/tmp")
    try:
        os.makedirs(os.path.join(repo, "mnt", "srv:_exp"))
        agent = Agent(str(tmp_path_factory.mktemp("storage-agent")), certs,
                      extra_sets=(f"storage.repository={repo}",
                                  f"storage.run_dir={os.path.join(repo, 'run')}"))
        try:
            s = Storage(agent, repo)
            s.ok("StorageDomain.create", storagedomainID=SD, domainType=1,
                 typeArgs="srv:/exp", name="system test", domainClass=1)
            yield s
        finally:
            rc = agent.terminate()
            assert rc == 0, f"agent exit status {rc}:\n{agent.log_text()}"
    finally:
        shutil.rmtree(repo, ignore_errors=True)


def test_domain_is_created_in_the_connection_mount_dir(storage):
    assert os.path.isfile(os.path.join(storage.domain, "dom_md", "metadata"))
    info = storage.ok("StorageDomain.getInfo", storagedomainID=SD)
    assert info["type"] == "NFS"
    assert info["remotePath"] == "srv:/exp"
    assert info["version"] == "5"
    assert storage.ok("StorageDomain.validate", storagedomainID=SD) is None
    stats = storage.ok("StorageDomain.getStats", storagedomainID=SD)
    assert int(stats["disktotal"]) > 0


def test_base_and_snapshot_volumes(storage):
    status = storage.create_volume(IMG, BASE)
    assert (status["taskResult"], status["code"]) == ("success", 0)
    status = storage.create_volume(IMG, SNAP, fmt="COW", src_img=IMG, src_vol=BASE)
    assert status["code"] == 0, status
    vols = storage.ok("StorageDomain.getVolumes", storagedomainID=SD, imageID=IMG)
    assert vols == [BASE, SNAP]
    info = storage.ok("Volume.getInfo", storagedomainID=SD, imageID=IMG, volumeID=SNAP)
    assert (info["format"], info["voltype"], info["parent"]) == ("COW", "LEAF", BASE)
    assert info["capacity"] == str(MiB)
    base = storage.ok("Volume.getInfo", storagedomainID=SD, imageID=IMG, volumeID=BASE)
    assert base["voltype"] == "INTERNAL" and base["children"] == [SNAP]
    assert IMG in storage.ok("StorageDomain.getImages", storagedomainID=SD)


def test_template_child_in_another_image(storage):
    assert storage.create_volume(IMG_TMPL, TMPL)["code"] == 0
    # What Volume.share / template creation leaves: VOLTYPE=SHARED.
    meta = os.path.join(storage.domain, "images", IMG_TMPL, TMPL + ".meta")
    with open(meta) as f:
        text = f.read()
    with open(meta, "w") as f:
        f.write(text.replace("VOLTYPE=LEAF", "VOLTYPE=SHARED"))
    status = storage.create_volume(IMG_CHILD, CHILD, fmt=4, src_img=IMG_TMPL, src_vol=TMPL)
    assert status["code"] == 0, status
    linked = os.path.join(storage.domain, "images", IMG_CHILD, TMPL)
    assert os.stat(linked).st_nlink == 2  # hard link of the template
    # The template cannot go while a child image uses it.
    task = storage.ok("Volume.delete", storagedomainID=SD, imageID=IMG_TMPL, volumeID=TMPL)
    assert storage.wait(task)["code"] == 223


def test_prepare_returns_a_path_qemu_img_reads_and_teardown_removes_it(storage):
    prepared = storage.ok("Image.prepare", storagedomainID=SD, imageID=IMG, volumeID=SNAP)
    path = prepared["path"]
    chain = [v["volumeID"] for v in prepared["imgVolumesInfo"]]
    assert chain == [SNAP, BASE]
    assert all(v["leasePath"].endswith(".lease") for v in prepared["imgVolumesInfo"])
    out = subprocess.run(["qemu-img", "info", "--output", "json", "-U",
                          "--backing-chain", path],
                         capture_output=True, text=True, timeout=60, check=True)
    infos = json.loads(out.stdout)
    assert [i["format"] for i in infos] == ["qcow2", "raw"]
    assert storage.ok("Image.teardown", storagedomainID=SD, imageID=IMG) is None
    assert not os.path.exists(path)


def test_delete_with_children_is_refused_then_image_delete(storage):
    task = storage.ok("Volume.delete", storagedomainID=SD, imageID=IMG, volumeID=BASE)
    status = storage.wait(task)
    assert (status["taskResult"], status["code"]) == ("cleanSuccess", 204)
    assert os.path.exists(os.path.join(storage.domain, "images", IMG, BASE))
    task = storage.ok("Image.delete", storagedomainID=SD, imageID=IMG, postZero="false")
    assert storage.wait(task)["code"] == 0
    assert IMG not in storage.ok("StorageDomain.getImages", storagedomainID=SD)
    assert not os.path.exists(os.path.join(storage.domain, "images", IMG))
    task = storage.ok("Image.delete", storagedomainID=SD, imageID=IMG)
    assert storage.wait(task)["code"] == 268


@pytest.mark.parametrize("size,code", [
    ("0", 229),
    (0, 229),
    ("1000", 1000),                  # not a multiple of 512
    ("9223372036854775296", 1000),   # above 8 EiB after rounding
    ("9223372036854775808", 1000),   # 2^63: not an int64
    ("99999999999999999999", 1000),
    ("1e9", 1000),
])
def test_bad_sizes_fail_the_call_and_leave_nothing(storage, size, code):
    before = storage.tree()
    tasks_before = storage.ok("Host.getAllTasksStatuses")
    result, error = storage.call("Volume.create", storagedomainID=SD, imageID=IMG_SNAP,
                                 volumeID=OTHER, size=size, volFormat=5, preallocate=2)
    assert result is None and error["code"] == code, error
    assert storage.tree() == before
    assert storage.ok("Host.getAllTasksStatuses") == tasks_before


@pytest.mark.parametrize("field,value", [
    ("volumeID", "1A2B3C4D00004000800000000000000A5"),   # no dashes
    ("volumeID", "{1a2b3c4d-0000-4000-8000-0000000000a5}"),
    ("imageID", ".."),
    ("imageID", "../" + IMG_SNAP),
    ("storagedomainID", "../../etc"),
    ("srcVolUUID", ".."),
])
def test_bad_ids_are_invalid_params_and_leave_nothing(storage, field, value):
    before = storage.tree()
    params = dict(storagedomainID=SD, imageID=IMG_SNAP, volumeID=OTHER, size=str(MiB),
                  volFormat=5, preallocate=2)
    params[field] = value
    result, error = storage.call("Volume.create", **params)
    assert result is None and error["code"] == -32602, error
    assert storage.tree() == before


def test_unknown_domain_is_358(storage):
    _, error = storage.call("StorageDomain.getInfo",
                            storagedomainID="00000000-0000-4000-8000-00000000dead")
    assert error["code"] == 358


def test_task_stop_clear_and_unknown(storage):
    status = storage.create_volume(IMG_SNAP, OTHER)
    task = status["taskID"]
    info = storage.ok("Task.getInfo", taskID=task)
    assert (info["verb"], info["state"], info["tags"]) == ("Volume.create", "finished", ["spm"])
    assert task in storage.ok("Host.getAllTasksInfo")
    _, error = storage.call("Task.stop", taskID=task)
    assert error["code"] == 410
    assert storage.ok("Task.clear", taskID=task) is None
    _, error = storage.call("Task.getStatus", taskID=task)
    assert error["code"] == 401


def test_image_copy_collapses_a_template_child_into_a_new_image(storage):
    dst_img = "1a2b3c4d-0000-4000-8000-000000000005"
    dst_vol = "1a2b3c4d-0000-4000-8000-0000000000a6"
    task = storage.ok("Image.copy", storagedomainID=SD, imageID=IMG_CHILD,
                      dstSdUUID=SD, dstImgUUID=dst_img, collapse=True,
                      dstVolUUID=dst_vol, volFormat="RAW", preallocate="SPARSE")
    status = storage.wait(task)
    assert (status["code"], status["progress"]) == (0, 100), status
    assert storage.ok("StorageDomain.getVolumes", storagedomainID=SD,
                      imageID=dst_img) == [dst_vol]
    info = storage.ok("Volume.getInfo", storagedomainID=SD, imageID=dst_img,
                      volumeID=dst_vol)
    assert (info["format"], info["parent"], info["legality"]) == (
        "RAW", "00000000-0000-0000-0000-000000000000", "LEGAL")
