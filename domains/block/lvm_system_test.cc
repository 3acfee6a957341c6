// System tests of Lvm and LvmCache against the real lvm2 on loop devices.
// Root only (suite 'system'). Each test case builds its own SAN: two sparse
// 1 GiB files under /var/tmp, attached with `losetup --find --show`, a VG
// with a unique name; the fixture's destructor removes the VG, detaches the
// loops and deletes the files whatever happened. Every lvm command filters
// on exactly these loop devices, so the host's other PVs/VGs (and other
// tests' loops) are never scanned, and the VG is created with
// --setautoactivation n so no host-side event activates it.
//
// 1 GiB devices with two 128 MiB PV metadata areas (start and end) give 5
// extents of 128 MiB per PV (pe_start 129 MiB), 10 in the VG: easy to fill.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "base/env.h"
#include "base/process.h"
#include "domains/file/file_test_util.h"
#include "domains/block/loop_fixture.h"
#include "domains/block/lvm.h"
#include "domains/block/lvm_cache.h"
#include "domains/block/lvm_test_printers.h"

namespace sanpool::lvm {
namespace {

constexpr uint64_t kDeviceBytes = 1024 * kMiB;
constexpr uint64_t kPeStart = 129 * kMiB;
// The second metadata copy sits at the end of the device.
constexpr uint64_t kExtentsPerPv =
    (kDeviceBytes - kPeStart - kPvMetadataSizeBytes) / kExtentSizeBytes;

class LoopSan {
 protected:
  LoopSan() {
    if (geteuid() != 0) {
      skip_ = "needs root (loop devices, lvm)";
      return;
    }
    host_.Create("sanpool-lvm", 2, kDeviceBytes);
    loops_ = host_.loops();
    vg_ = "sanpool_lvmtest_" + std::to_string(getpid()) + "_" +
          std::to_string(std::chrono::steady_clock::now()
                             .time_since_epoch()
                             .count() %
                         1000000007);
    host_.set_vg(vg_);
    cache_.SetDevices(loops_);
  }

  // pvcreate + pvchange + vgcreate the oVirt way.
  void CreateVg(std::vector<std::string> tags = {}) {
    REQUIRE(cache_.PvCreate({.devices = loops_}).ok());
    REQUIRE(cache_.PvChangeMetadataIgnore(loops_[0], MetadataIgnore::kNo)
                .ok());
    Status s = cache_.VgCreate({.name = vg_, .pvs = loops_, .tags = tags});
    INFO(s.ToString());
    REQUIRE(s.ok());
  }

  void CreateLv(const std::string& name, LvSize size,
                std::vector<std::string> tags = {}) {
    Status s = cache_.LvCreate(
        {.vg = vg_, .name = name, .size = size, .tags = std::move(tags)});
    INFO(s.ToString());
    REQUIRE(s.ok());
  }

  bool Skipped() {
    if (skip_.empty()) return false;
    WARN("skipped: " << skip_);
    return true;
  }

  std::string skip_;
  DeviceList loops_;
  std::string vg_;
  PosixProcessRunner runner_;
  Lvm lvm_{runner_, {.timeout = std::chrono::seconds(60)}};
  block::LoopDevices host_{runner_};  // Destroyed before runner_.
  LvmCache cache_{lvm_, {.max_concurrent_commands = 4}};
};

TEST_CASE_METHOD(LoopSan, "PVs and a VG as oVirt creates them", "[system]") {
  if (Skipped()) return;
  CreateVg({"RHAT_storage_domain_UNREADY", "MDT_VERSION=5"});

  Result<std::vector<Pv>> pvs = cache_.GetPvs();
  REQUIRE(pvs.ok());
  REQUIRE(pvs->size() == 2);
  for (const Pv& pv : *pvs) {
    CHECK(pv.vg_name == vg_);
    CHECK(pv.pe_start_bytes == kPeStart);
    CHECK(pv.pe_count == kExtentsPerPv);
    CHECK(pv.mda_count == 2);
    CHECK(pv.mda_size_bytes == kPvMetadataSizeBytes);
    CHECK(pv.dev_size_bytes == kDeviceBytes);
  }
  // Only the first PV holds live VG metadata.
  CHECK(((*pvs)[0].name == loops_[0] ? (*pvs)[0] : (*pvs)[1])
            .mda_used_count == 2);
  CHECK(((*pvs)[0].name == loops_[1] ? (*pvs)[0] : (*pvs)[1])
            .mda_used_count == 0);

  Result<Vg> vg = cache_.GetVg(vg_);
  REQUIRE(vg.ok());
  CHECK(vg->extent_size_bytes == kExtentSizeBytes);
  CHECK(vg->extent_count == 2 * kExtentsPerPv);
  CHECK(vg->free_count == 2 * kExtentsPerPv);
  CHECK(vg->pv_count == 2);
  CHECK(vg->pv_names.size() == 2);
  CHECK(vg->tags == std::vector<std::string>{"MDT_VERSION=5",
                                             "RHAT_storage_domain_UNREADY"});

  // Domain ready: swap the tag as oVirt does, in one vgchange.
  REQUIRE(cache_.VgChangeTags(vg_, {.add = {"RHAT_storage_domain"},
                                    .del = {"RHAT_storage_domain_UNREADY"}})
              .ok());
  vg = cache_.GetVg(vg_);
  REQUIRE(vg.ok());
  CHECK(vg->tags ==
        std::vector<std::string>{"MDT_VERSION=5", "RHAT_storage_domain"});
}

TEST_CASE_METHOD(LoopSan, "LVs with tags, segments and a linear table",
                 "[system]") {
  if (Skipped()) return;
  CreateVg();
  // `metadata` first, on the VG-metadata PV, so it starts at extent 0.
  Status md = cache_.LvCreate({.vg = vg_,
                               .name = "metadata",
                               .size = LvSize::MiB(128),
                               .tags = {"RHAT_special"},
                               .contiguous = Contiguous::kYes,
                               .pv = loops_[0]});
  INFO(md.ToString());
  REQUIRE(md.ok());
  CreateLv("vol1", LvSize::Extents(2),
           {"IU_img", "PU_00000000-0000-0000-0000-000000000000", "MD_1"});
  CreateLv("vol2", LvSize::MiB(100));  // Rounded up to one extent.

  Result<Lv> vol1 = cache_.GetLv(vg_, "vol1");
  REQUIRE(vol1.ok());
  CHECK(vol1->size_bytes == 2 * kExtentSizeBytes);
  CHECK(vol1->tags == std::vector<std::string>{
                          "IU_img", "MD_1",
                          "PU_00000000-0000-0000-0000-000000000000"});
  CHECK(vol1->segments == std::vector<Segment>{{0, 2, loops_[0], 1}});
  Result<Lv> meta = cache_.GetLv(vg_, "metadata");
  REQUIRE(meta.ok());
  CHECK(meta->segments == std::vector<Segment>{{0, 1, loops_[0], 0}});
  Result<Lv> vol2 = cache_.GetLv(vg_, "vol2");
  REQUIRE(vol2.ok());
  CHECK(vol2->size_bytes == kExtentSizeBytes);
  CHECK(vol2->segments == std::vector<Segment>{{0, 1, loops_[0], 3}});

  // Extend vol1 past the end of the first PV: one more extent fills loop0
  // (extent 4), the last two come from loop1.
  Status ext = cache_.LvExtend(vg_, "vol1", LvSize::Extents(5));
  INFO(ext.ToString());
  REQUIRE(ext.ok());
  vol1 = cache_.GetLv(vg_, "vol1");
  REQUIRE(vol1.ok());
  CHECK(vol1->size_bytes == 5 * kExtentSizeBytes);
  CHECK(vol1->segments == std::vector<Segment>{{0, 2, loops_[0], 1},
                                               {2, 1, loops_[0], 4},
                                               {3, 2, loops_[1], 0}});
  Result<Vg> vg = cache_.GetVg(vg_);
  REQUIRE(vg.ok());
  CHECK(vg->free_count == 2 * kExtentsPerPv - 1 - 5 - 1);

  Result<std::vector<LinearTarget>> table = cache_.GetLinearTable(vg_, "vol1");
  REQUIRE(table.ok());
  constexpr uint64_t kSpe = kExtentSizeBytes / kSectorBytes;
  constexpr uint64_t kStart = kPeStart / kSectorBytes;
  CHECK(*table == std::vector<LinearTarget>{
                      {0, 2 * kSpe, loops_[0], kStart + 1 * kSpe},
                      {2 * kSpe, kSpe, loops_[0], kStart + 4 * kSpe},
                      {3 * kSpe, 2 * kSpe, loops_[1], kStart}});

  Result<std::vector<Lv>> all = cache_.GetAllLvs(vg_);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].name == "metadata");
}

TEST_CASE_METHOD(LoopSan, "lvm failures are specific statuses", "[system]") {
  if (Skipped()) return;
  CreateVg();
  CreateLv("vol1", LvSize::MiB(128));

  Status exists = cache_.LvCreate(
      {.vg = vg_, .name = "vol1", .size = LvSize::MiB(128)});
  CHECK(exists.code() == Code::kAlreadyExists);
  CHECK(exists.storage_code() == lvm_code::kLogicalVolumeAlreadyExists);

  Status full = cache_.LvExtend(vg_, "vol1", LvSize::MiB(100 * 1024));
  CHECK(full.code() == Code::kResourceExhausted);
  CHECK(full.storage_code() == lvm_code::kVolumeGroupSizeError);
  Status full_create = cache_.LvCreate(
      {.vg = vg_, .name = "big", .size = LvSize::Extents(2 * kExtentsPerPv)});
  CHECK(full_create.code() == Code::kResourceExhausted);
  CHECK(full_create.storage_code() == lvm_code::kVolumeGroupSizeError);
  bool has_stderr = false;
  for (const StatusDetail& d : full_create.details()) {
    if (d.key == "stderr" && d.value.find("insufficient") != std::string::npos) {
      has_stderr = true;
    }
  }
  CHECK(has_stderr);

  Result<Lv> missing = cache_.GetLv(vg_, "nope");
  CHECK(missing.status().code() == Code::kNotFound);
  CHECK(missing.status().storage_code() == lvm_code::kLogicalVolumeDoesNotExist);
  Status rm_missing = cache_.LvRemove(vg_, {"nope"});
  CHECK(rm_missing.code() == Code::kNotFound);
  Result<Vg> no_vg = cache_.GetVg(vg_ + "_x");
  CHECK(no_vg.status().code() == Code::kNotFound);
  CHECK(no_vg.status().storage_code() == lvm_code::kVolumeGroupDoesNotExist);
  Status ext_missing = cache_.LvExtend(vg_, "nope", LvSize::MiB(256));
  CHECK(ext_missing.code() == Code::kNotFound);
  Status not_larger = lvm_.LvExtend(loops_, vg_, "vol1", LvSize::MiB(128));
  CHECK(not_larger.code() == Code::kFailedPrecondition);
  // Through the cache an extend that is already done succeeds (idempotent).
  CHECK(cache_.LvExtend(vg_, "vol1", LvSize::MiB(128)).ok());
  CHECK(cache_.LvExtend(vg_, "vol1", LvSize::MiB(64)).ok());

  // A device outside the filter is invisible to lvm.
  Status filtered = lvm_.PvCreate({loops_[0]}, {.devices = {loops_[1]}});
  CHECK(filtered.code() == Code::kNotFound);
  // A PV already in a VG is in use.
  Status in_use = lvm_.PvCreate(loops_, {.devices = {loops_[0]}});
  CHECK(in_use.code() == Code::kFailedPrecondition);
  // Nothing above changed the VG.
  Result<Vg> vg = cache_.GetVg(vg_);
  REQUIRE(vg.ok());
  CHECK(vg->lv_count == 1);
}

TEST_CASE_METHOD(LoopSan, "tags, permission, rename, reduce, remove",
                 "[system]") {
  if (Skipped()) return;
  CreateVg();
  CreateLv("vol", LvSize::Extents(3), {"OVIRT_VOL_INITIALIZING"});

  REQUIRE(cache_.LvChangeTags(vg_, "vol",
                              {.add = {"MD_7", "IU_i", "PU_p"},
                               .del = {"OVIRT_VOL_INITIALIZING"}})
              .ok());
  Result<Lv> lv = cache_.GetLv(vg_, "vol");
  REQUIRE(lv.ok());
  CHECK(lv->tags == std::vector<std::string>{"IU_i", "MD_7", "PU_p"});

  REQUIRE(cache_.LvChangePermission(vg_, "vol", Permission::kReadOnly).ok());
  lv = cache_.GetLv(vg_, "vol");
  REQUIRE(lv.ok());
  CHECK(lv->ReadOnly());
  REQUIRE(cache_.LvChangePermission(vg_, "vol", Permission::kReadWrite).ok());

  REQUIRE(cache_.LvRename(vg_, "vol", "vol_renamed").ok());
  CHECK(cache_.GetLv(vg_, "vol").status().code() == Code::kNotFound);
  lv = cache_.GetLv(vg_, "vol_renamed");
  REQUIRE(lv.ok());
  CHECK(lv->tags == std::vector<std::string>{"IU_i", "MD_7", "PU_p"});

  REQUIRE(cache_.LvReduce(vg_, "vol_renamed", LvSize::Extents(1)).ok());
  lv = cache_.GetLv(vg_, "vol_renamed");
  REQUIRE(lv.ok());
  CHECK(lv->ExtentCount() == 1);

  REQUIRE(cache_.LvRemove(vg_, {"vol_renamed"}).ok());
  CHECK(cache_.GetLv(vg_, "vol_renamed").status().code() == Code::kNotFound);
  Result<std::vector<Lv>> all = cache_.GetAllLvs(vg_);
  REQUIRE(all.ok());
  CHECK(all->empty());
  Result<Vg> vg = cache_.GetVg(vg_);
  REQUIRE(vg.ok());
  CHECK(vg->free_count == vg->extent_count);
}

TEST_CASE_METHOD(LoopSan, "concurrent changes and reads on one VG",
                 "[system]") {
  if (Skipped()) return;
  CreateVg();
  constexpr int kLvs = 4;
  for (int i = 0; i < kLvs; ++i) {
    CreateLv("lv" + std::to_string(i), LvSize::Extents(1));
  }
  // Each thread extends its own LV and reads it back; lvm's own locking
  // serialises the metadata writes, the cache bounds the processes.
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kLvs; ++i) {
    threads.emplace_back([&, i] {
      const std::string name = "lv" + std::to_string(i);
      if (!cache_.LvExtend(vg_, name, LvSize::Extents(2)).ok()) return;
      Result<Lv> lv = cache_.GetLv(vg_, name);
      if (lv.ok() && lv->ExtentCount() == 2) ++ok;
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(ok == kLvs);
  Result<Vg> vg = cache_.GetVg(vg_);
  REQUIRE(vg.ok());
  CHECK(vg->free_count == vg->extent_count - 2 * kLvs);

  // A host that never writes can read without locks.
  Lvm readonly(runner_, {.report_locking = ReportLocking::kReadOnly});
  Result<std::vector<Lv>> lvs = readonly.Lvs(loops_, vg_);
  REQUIRE(lvs.ok());
  CHECK(lvs->size() == kLvs);
}

TEST_CASE_METHOD(LoopSan, "the agent's private LVM_SYSTEM_DIR is what lvm reads",
                 "[system]") {
  if (Skipped()) return;
  CreateVg();
  file_domain::testing::ScratchDir scratch;
  const std::string system_dir = scratch.path() + "/lvm";
  const std::string host_dir = scratch.path() + "/etc-lvm";
  std::unique_ptr<Env> env = NewPosixEnv();
  // As /etc/lvm: lvm creates archive/ but not its parent.
  REQUIRE(env->CreateDirs(host_dir, 0755).ok());
  REQUIRE(WriteLvmSystemDir(*env, system_dir, host_dir).ok());
  // Written twice (an agent restart): replaced, still one complete file.
  REQUIRE(WriteLvmSystemDir(*env, system_dir, host_dir).ok());

  // lvm's own view of the settings under that directory.
  ProcessSpec config;
  config.argv = {"lvm", "config", "--type", "current", "global/use_aio",
                 "backup/archive_dir"};
  config.env_set = {{"LVM_SYSTEM_DIR", system_dir},
                    {"LVM_SUPPRESS_FD_WARNINGS", "1"}};
  Result<ProcessResult> shown = runner_.Run(config);
  REQUIRE(shown.ok());
  INFO(shown->stdout_data << shown->stderr_data);
  REQUIRE(shown->Succeeded());
  CHECK(shown->stdout_data.find("use_aio=0") != std::string::npos);
  CHECK(shown->stdout_data.find("archive_dir=\"" + host_dir + "/archive\"") !=
        std::string::npos);

  // Changes through an Lvm using it work, and vgremove archives the VG's
  // last metadata under host_dir (not /etc/lvm): the file was read.
  Lvm lvm(runner_, {.timeout = std::chrono::seconds(60),
                    .system_dir = system_dir});
  REQUIRE(lvm.LvCreate(loops_, {.vg = vg_, .name = "priv",
                                .size = LvSize::Extents(1)})
              .ok());
  REQUIRE(lvm.LvExtend(loops_, vg_, "priv", LvSize::Extents(2)).ok());
  Result<Lv> lv = lvm.GetLv(loops_, vg_, "priv");
  REQUIRE(lv.ok());
  CHECK(lv->ExtentCount() == 2);
  REQUIRE(lvm.VgRemove(loops_, vg_).ok());
  auto archives = [&](const std::string& dir) {
    int n = 0;
    if (!std::filesystem::exists(dir)) return n;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().filename().string().rfind(vg_ + "_", 0) == 0) ++n;
    }
    return n;
  };
  CHECK(archives(host_dir + "/archive") >= 1);
  CHECK(archives("/etc/lvm/archive") == 0);
}

}  // namespace
}  // namespace sanpool::lvm
