// System test of block domains (root, suite 'system'): the SAN is three loop
// devices over 6 GiB sparse files under /var/tmp (two for the VG, one to
// extend it), LVM is the real lvm2
// (filtered to exactly those loops), mappings go through real
// sanpool-dmemu daemons (SANPOOL_DMEMU names the binary; one per "host"),
// qcow2 is written by qemu-img and qemu-io. The fixture's destructor stops
// the daemons (SIGTERM), removes the VG, detaches the loops and deletes the
// files, whatever happened.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/process.h"
#include "base/resource_locks.h"
#include "domains/block/activation.h"
#include "domains/block/block_domain.h"
#include "domains/block/block_image.h"
#include "domains/block/block_volume.h"
#include "domains/block/loop_fixture.h"
#include "domains/block/lvm.h"
#include "domains/block/lvm_cache.h"
#include "domains/dm/dm_names.h"
#include "domains/qemu_img.h"
#include "lease/fake_sanlock.h"
#include "tools/dmemu/daemon_fixture.h"

namespace sanpool::block {
namespace {

using formats::Allocation;
using formats::VolumeFormat;
using formats::VolumeRole;

constexpr uint64_t kDeviceBytes = 6ULL * 1024 * kMiB;

std::string NewUuid() {
  static std::mt19937_64 rng(std::random_device{}());
  char buf[37];
  uint64_t a = rng(), b = rng();
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff),
                static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

// The loops (VG, files) and the dm daemons. Members are destroyed in
// reverse: the daemons first (SIGTERM: dmemu removes its mappings), then
// `san` removes the VG and detaches the loops, whatever happened.
struct HostResources {
  explicit HostResources(ProcessRunner& runner) : san(runner) {}
  LoopDevices san;
  std::vector<std::unique_ptr<dmemu::Daemon>> daemons;
};

class BlockSan {
 protected:
  BlockSan() {
    if (geteuid() != 0) {
      skip_ = true;
      return;
    }
    host_.san.Create("sanpool-block", 3, kDeviceBytes);
    sd_ = NewUuid();
    locks_ = std::make_unique<ImageLocks>(manager_, sd_);
    host_.san.set_vg(sd_);
    cache_.SetDevices(host_.san.loops());
    host_.daemons.push_back(
        std::make_unique<dmemu::Daemon>(host_.san.dir(), "hostA"));
    host_.daemons.push_back(
        std::make_unique<dmemu::Daemon>(host_.san.dir(), "hostB"));
    activator_a_ = std::make_unique<Activator>(cache_, host_.daemons[0]->dm());
    activator_b_ = std::make_unique<Activator>(cache_, host_.daemons[1]->dm());
    deps_ = {.env = env_.get(),
             .clock = &clock_,
             .lvm = &cache_,
             .activator = activator_a_.get()};
  }
  ~BlockSan() {
    images_.reset();
    volumes_.reset();
    domain_.reset();
  }

  void CreateDomain() {
    // The third device is left for Extend.
    Result<std::string> vg_uuid = CreateVolumeGroup(
        cache_, sd_, {host_.san.loops()[0], host_.san.loops()[1]});
    INFO(vg_uuid.status().ToString());
    REQUIRE(vg_uuid.ok());
    auto domain = BlockDomain::Create(
        deps_, {.sd_uuid = sd_, .description = "block system test"});
    INFO(domain.status().ToString());
    REQUIRE(domain.ok());
    domain_ = *std::move(domain);
    volumes_ = std::make_unique<BlockVolumes>(
        *domain_, qemu_img_, *locks_, runner_,
        BlockVolumesOptions{.sanlock = &sanlock_});
    images_ = std::make_unique<BlockImages>(*domain_, *volumes_, *locks_,
                                            host_.san.dir() + "/run");
  }

  void CreateVolume(const std::string& img, const std::string& vol,
                    const std::string& parent = "",
                    std::optional<int64_t> initial = 64 * kMiB) {
    Status s = volumes_->Create({.img_uuid = img,
                                 .vol_uuid = vol,
                                 .capacity = 1024 * kMiB,
                                 .format = VolumeFormat::kCow,
                                 .allocation = Allocation::kSparse,
                                 .description = "vol",
                                 .src_img_uuid = parent.empty() ? "" : img,
                                 .src_vol_uuid = parent,
                                 .initial_size = initial});
    INFO(s.ToString());
    REQUIRE(s.ok());
  }

  // qemu-io on `path`; returns its stdout + stderr.
  std::string QemuIo(const std::string& path, const std::string& command) {
    Result<ProcessResult> r = RunTool(
        runner_, {"qemu-io", "-f", "qcow2", "-c", command, path});
    REQUIRE(r.ok());
    return r->stdout_data + r->stderr_data;
  }

  uint64_t DeviceSize(const std::string& dev) {
    auto file = env_->OpenDirect(dev, {.block_size = 512});
    REQUIRE(file.ok());
    auto size = (*file)->Size();
    REQUIRE(size.ok());
    return *size;
  }

  std::string ReadDirect(const std::string& dev, uint64_t offset,
                         size_t size) {
    auto file = env_->OpenDirect(dev, {.block_size = 512});
    REQUIRE(file.ok());
    AlignedBuffer buf(size);
    REQUIRE((*file)->PRead(offset, buf).ok());
    return std::string(buf.view());
  }

  void WriteDirect(const std::string& dev, uint64_t offset,
                   const std::string& data) {
    auto file = env_->OpenDirect(
        dev, {.access = DirectAccess::kReadWrite, .block_size = 512});
    REQUIRE(file.ok());
    AlignedBuffer buf(data.size());
    buf.CopyIn(0, data);
    REQUIRE((*file)->PWrite(offset, buf).ok());
    REQUIRE((*file)->Fsync().ok());
  }

  bool skip_ = false;
  PosixProcessRunner runner_;
  HostResources host_{runner_};
  std::unique_ptr<Env> env_ = NewPosixEnv();
  SystemClock clock_;
  ResourceManager manager_{clock_};
  std::string sd_;
  std::unique_ptr<ImageLocks> locks_;
  lvm::Lvm lvm_{runner_, {}};
  lvm::LvmCache cache_{lvm_, {}};
  QemuImg qemu_img_{runner_};
  lease::FakeSanlockCluster sanlock_cluster_{clock_};
  lease::FakeSanlock sanlock_{sanlock_cluster_};
  std::unique_ptr<Activator> activator_a_, activator_b_;
  BlockDomainDeps deps_;
  std::unique_ptr<BlockDomain> domain_;
  std::unique_ptr<BlockVolumes> volumes_;
  std::unique_ptr<BlockImages> images_;
};

TEST_CASE_METHOD(BlockSan, "block domain: create, thin volume, ENOSPC, extend, "
                           "snapshot, two hosts, zeroing delete, format",
                 "[system]") {
  if (skip_) {
    WARN("skipped: needs root (loop devices, lvm2, FUSE)");
    return;
  }
  CreateDomain();
  CHECK(domain_->Validate().ok());
  auto info = domain_->GetInfo();
  REQUIRE(info.ok());
  CHECK(info->uuid == sd_);
  CHECK(info->pv_devices.size() == 2);
  CHECK(info->alignment == kMiB);
  auto stats = domain_->GetStats();
  REQUIRE(stats.ok());
  CHECK(stats->disk_total > 10 * 1024 * kMiB);
  CHECK(stats->disk_free < stats->disk_total);
  CHECK(stats->mda_valid);
  CHECK(stats->mda_threshold);
  {
    auto reopened = BlockDomain::Open(deps_, sd_);
    INFO(reopened.status().ToString());
    REQUIRE(reopened.ok());
  }
  // StorageDomain.extend with the third device.
  Status extended = domain_->Extend(host_.san.loops()[2]);
  INFO(extended.ToString());
  REQUIRE(extended.ok());
  auto info3 = domain_->GetInfo();
  REQUIRE(info3.ok());
  CHECK(info3->pv_devices.size() == 3);
  auto stats3 = domain_->GetStats();
  REQUIRE(stats3.ok());
  CHECK(stats3->disk_total > stats->disk_total);
  CHECK(domain_->Validate().ok());
  // A device already in a VG is refused.
  Result<std::string> again = CreateVolumeGroup(cache_, NewUuid(), host_.san.loops());
  CHECK(again.status().code() == Code::kFailedPrecondition);

  const std::string img = NewUuid(), vol1 = NewUuid(), vol2 = NewUuid();
  CreateVolume(img, vol1);
  auto vinfo = volumes_->GetInfo(img, vol1);
  REQUIRE(vinfo.ok());
  CHECK(vinfo->apparent_size == 128 * kMiB);  // 64 MiB x 1.1 -> 1 extent
  CHECK(vinfo->slot == 1);
  CHECK(vinfo->lease.offset == 101 * kMiB);
  CHECK(vinfo->status == "OK");
  // The volume's sanlock resource was formatted at (100 + slot) x 1 MiB.
  CHECK(sanlock_cluster_.Peek({vinfo->lease.path, 101 * kMiB}).ok());

  auto prepared = images_->Prepare(img, vol1, IllegalVolumes::kRefuse);
  INFO(prepared.status().ToString());
  REQUIRE(prepared.ok());
  const std::string path = prepared->path;
  // The qcow2 grows past the 128 MiB LV: the write gets ENOSPC.
  std::string out = QemuIo(path, "write -P 0xab 0 200M");
  INFO(out);
  CHECK(out.find("No space left on device") != std::string::npos);

  // Host B has the LV mapped too (shared) before the extend.
  auto path_b = activator_b_->Activate(sd_, vol1, LockMode::kShared);
  REQUIRE(path_b.ok());
  CHECK(DeviceSize(*path_b) == 128 * kMiB);

  auto grown = volumes_->ExtendLv(vol1, 512);
  REQUIRE(grown.ok());
  CHECK(*grown == 512 * kMiB);
  auto same = volumes_->ExtendLv(vol1, 256);  // idempotent, no shrink
  REQUIRE(same.ok());
  CHECK(*same == 256 * kMiB);  // the target: the LV has at least that
  CHECK(DeviceSize(path) == 512 * kMiB);  // and still all of it
  out = QemuIo(path, "write -P 0xab 0 200M");
  INFO(out);
  CHECK(out.find("wrote") != std::string::npos);
  CHECK(out.find("No space") == std::string::npos);
  out = QemuIo(path, "read -P 0xab 0 200M");
  INFO(out);
  CHECK(out.find("Pattern verification failed") == std::string::npos);
  CHECK(out.find("read ") != std::string::npos);

  // Host A's mapping grew with the extend; host B's grows on refresh.
  CHECK(DeviceSize(prepared->chain.front().target) == 512 * kMiB);
  CHECK(DeviceSize(*path_b) == 128 * kMiB);
  REQUIRE(activator_b_->Refresh(sd_, vol1).ok());
  CHECK(DeviceSize(*path_b) == 512 * kMiB);
  // Host B maps the same LV through its own dmemu: same bytes both ways.
  const std::string dev_a = prepared->chain.front().target;
  CHECK(ReadDirect(dev_a, 0, kMiB) == ReadDirect(*path_b, 0, kMiB));
  std::string pattern(kMiB, '\0');
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = char(i * 7 + 3);
  WriteDirect(*path_b, 400 * kMiB, pattern);
  CHECK(ReadDirect(dev_a, 400 * kMiB, kMiB) == pattern);
  REQUIRE(activator_b_->Deactivate(sd_, vol1, LockMode::kShared).ok());
  REQUIRE(images_->Teardown(img).ok());
  CHECK_FALSE(activator_a_->IsActive(sd_, vol1));

  // Snapshot: the parent becomes INTERNAL, the chain prepares and reads
  // through the backing file.
  CreateVolume(img, vol2, vol1, std::nullopt);
  auto parent = volumes_->GetInfo(img, vol1);
  REQUIRE(parent.ok());
  CHECK(parent->metadata.role == VolumeRole::kInternal);
  CHECK(parent->children == std::vector<std::string>{vol2});
  auto chain = images_->Prepare(img, vol2, IllegalVolumes::kRefuse);
  INFO(chain.status().ToString());
  REQUIRE(chain.ok());
  REQUIRE(chain->chain.size() == 2);
  out = QemuIo(chain->path, "read -P 0xab 0 1M");
  INFO(out);
  CHECK(out.find("Pattern verification failed") == std::string::npos);
  CHECK(out.find("read ") != std::string::npos);
  REQUIRE(images_->Teardown(img).ok());
  CHECK(volumes_->Delete(img, vol1, PostZero::kNo).storage_code() == 204);

  // Delete with zeroing: the extents are zero before lvremove.
  auto lv2 = cache_.GetLv(sd_, vol2);
  REQUIRE(lv2.ok());
  auto pvs = cache_.GetPvs();
  REQUIRE(pvs.ok());
  const lvm::Segment seg = lv2->segments.front();
  uint64_t pe_start = 0;
  for (const lvm::Pv& pv : *pvs) {
    if (pv.name == seg.pv_device) pe_start = pv.pe_start_bytes;
  }
  const uint64_t at = pe_start + seg.pv_start_extent * lvm::kExtentSizeBytes;
  CHECK(ReadDirect(seg.pv_device, at, 4096) != std::string(4096, '\0'));
  REQUIRE(volumes_->Delete(img, vol2, PostZero::kYes).ok());
  volumes_->WaitForZeroing();
  CHECK(volumes_->LastZeroingError().ok());
  CHECK(cache_.GetLv(sd_, vol2).status().code() == Code::kNotFound);
  CHECK(ReadDirect(seg.pv_device, at, kMiB) == std::string(kMiB, '\0'));
  auto leaf = volumes_->GetInfo(img, vol1);
  REQUIRE(leaf.ok());
  CHECK(leaf->metadata.role == VolumeRole::kLeaf);

  REQUIRE(images_->Delete(img, PostZero::kNo).ok());
  auto images = domain_->GetImages();
  REQUIRE(images.ok());
  CHECK(images->empty());

  images_.reset();
  volumes_.reset();
  domain_.reset();
  Status formatted = BlockDomain::Format(deps_, sd_);
  INFO(formatted.ToString());
  CHECK(formatted.ok());
  CHECK(cache_.GetVg(sd_).status().code() == Code::kNotFound);
}

TEST_CASE_METHOD(BlockSan, "block domain: recovery of interrupted operations",
                 "[system]") {
  if (skip_) {
    WARN("skipped: needs root (loop devices, lvm2, FUSE)");
    return;
  }
  CreateDomain();
  const std::string img = NewUuid();
  // 1. lvcreate done, nothing else (crash before the commit tagging).
  const std::string initializing = NewUuid();
  REQUIRE(cache_.LvCreate({.vg = sd_,
                           .name = initializing,
                           .size = lvm::LvSize::MiB(128),
                           .tags = {std::string(kInitializingTag)}})
              .ok());
  // 2. Tagged but the slot never written (crash before the commit point).
  const std::string uncommitted = NewUuid();
  REQUIRE(cache_.LvCreate({.vg = sd_,
                           .name = uncommitted,
                           .size = lvm::LvSize::MiB(128),
                           .tags = {"MD_5", "PU_00000000-0000-0000-0000-000000000000",
                                    "IU_" + img}})
              .ok());
  // 3. A delete that crashed after the retag, and one while zeroing.
  const std::string removing = NewUuid(), zeroing = NewUuid();
  CreateVolume(img, removing);
  CreateVolume(NewUuid(), zeroing);
  auto removing_info = volumes_->GetInfo(img, removing);
  REQUIRE(removing_info.ok());
  const int removing_slot = removing_info->slot;
  REQUIRE(cache_.LvChangeTags(sd_, removing,
                              {.add = {"IU__remove_me_" + img},
                               .del = {"IU_" + img}})
              .ok());
  auto lvz = cache_.GetLv(sd_, zeroing);
  REQUIRE(lvz.ok());
  auto ztags = ParseVolumeLvTags(lvz->tags);
  REQUIRE(ztags.ok());
  REQUIRE(cache_.LvChangeTags(
                    sd_, zeroing,
                    {.add = {ImageTag(ztags->image, LvState::kZeroing)},
                     .del = {ImageTag(ztags->image, LvState::kReady)}})
              .ok());
  // 4. A stale slot nobody owns, and a parent left LEAF.
  formats::VolumeMetadata stale;
  stale.domain = sd_;
  stale.image = img;
  stale.capacity = kMiB;
  REQUIRE(domain_->WriteSlot(40, stale).ok());
  const std::string base = NewUuid(), top = NewUuid(), img2 = NewUuid();
  CreateVolume(img2, base);
  CreateVolume(img2, top, base, std::nullopt);
  REQUIRE(volumes_->SetRole(img2, base, VolumeRole::kLeaf).ok());
  // 5. A PU_ tag that disagrees with the slot (the slot wins).
  const std::string bogus = NewUuid();
  REQUIRE(cache_.LvChangeTags(sd_, top,
                              {.add = {"PU_" + bogus}, .del = {"PU_" + base}})
              .ok());

  auto report = volumes_->Recover();
  INFO(report.status().ToString());
  REQUIRE(report.ok());
  for (const std::string& line : *report) UNSCOPED_INFO(line);
  volumes_->WaitForZeroing();
  CHECK(volumes_->LastZeroingError().ok());
  for (const std::string& gone : {initializing, uncommitted, removing, zeroing}) {
    CHECK(cache_.GetLv(sd_, gone).status().code() == Code::kNotFound);
  }
  CHECK(domain_->ReadSlot(40).status().storage_code() == 757);
  CHECK(domain_->ReadSlot(removing_slot).status().storage_code() == 757);
  auto base_info = volumes_->GetInfo(img2, base);
  REQUIRE(base_info.ok());
  CHECK(base_info->metadata.role == VolumeRole::kInternal);
  auto top_lv = cache_.GetLv(sd_, top);
  REQUIRE(top_lv.ok());
  auto top_tags = ParseVolumeLvTags(top_lv->tags);
  REQUIRE(top_tags.ok());
  CHECK(top_tags->parent == base);
  // Nothing left to do the second time.
  auto again = volumes_->Recover();
  REQUIRE(again.ok());
  CHECK(again->empty());
}


TEST_CASE_METHOD(BlockSan, "block domain: bad input leaves no half-made volume",
                 "[system]") {
  if (skip_) {
    WARN("skipped: needs root (loop devices, lvm2, FUSE)");
    return;
  }
  CreateDomain();
  const std::string img = NewUuid();
  auto no_volume_lvs = [&] {
    auto lvs = domain_->ListVolumeLvs();
    REQUIRE(lvs.ok());
    auto all = cache_.GetAllLvs(sd_);
    REQUIRE(all.ok());
    CHECK(lvs->empty());
    CHECK(all->size() == 7);  // the special LVs only
  };
  // VG out of extents.
  Status full = volumes_->Create({.img_uuid = img,
                                  .vol_uuid = NewUuid(),
                                  .capacity = int64_t{100} << 30,
                                  .format = VolumeFormat::kRaw,
                                  .allocation = Allocation::kPreallocated});
  INFO(full.ToString());
  CHECK(full.code() == Code::kResourceExhausted);
  CHECK(full.storage_code() == 504);
  no_volume_lvs();
  // Refused by the rules before lvm runs.
  CHECK(volumes_->Create({.img_uuid = img,
                          .vol_uuid = NewUuid(),
                          .capacity = 1 << 30,
                          .format = VolumeFormat::kRaw,
                          .allocation = Allocation::kSparse})
            .storage_code() == 231);
  CHECK(volumes_->Create({.img_uuid = img,
                          .vol_uuid = NewUuid(),
                          .capacity = 1 << 30,
                          .src_vol_uuid = NewUuid()})
            .storage_code() == 201);
  CHECK(volumes_->ExtendLv(NewUuid(), 256).status().code() ==
        Code::kNotFound);
  no_volume_lvs();

  // The metadata LV's device fails writes mid-create (EIO from dmemu): the
  // LV is rolled back.
  auto meta_name = dm::LvDeviceName(sd_, "metadata");
  REQUIRE(meta_name.ok());
  dm::UserDeviceMapper& dm_a = host_.daemons[0]->dm();
  REQUIRE(dm_a.SetFaults(*meta_name, {.write_error = true}).ok());
  Status eio = volumes_->Create({.img_uuid = img,
                                 .vol_uuid = NewUuid(),
                                 .capacity = 1 << 30,
                                 .initial_size = 64 * kMiB});
  INFO(eio.ToString());
  CHECK_FALSE(eio.ok());
  REQUIRE(dm_a.ClearFaults(*meta_name).ok());
  no_volume_lvs();
  // The storage is back: the next create works and takes slot 1.
  const std::string vol = NewUuid();
  CreateVolume(img, vol);
  auto info = volumes_->GetInfo(img, vol);
  REQUIRE(info.ok());
  CHECK(info->slot == 1);
}

TEST_CASE_METHOD(BlockSan, "block domain: zeroing is cancellable and resumes",
                 "[system]") {
  if (skip_) {
    WARN("skipped: needs root (loop devices, lvm2, FUSE)");
    return;
  }
  CreateDomain();
  const std::string img = NewUuid(), vol = NewUuid();
  CreateVolume(img, vol);
  auto slot = volumes_->GetInfo(img, vol);
  REQUIRE(slot.ok());
  // Slow writes on the volume's mapping so the job is still running when it
  // is cancelled (a shared reference keeps the mapping and its faults).
  REQUIRE(activator_a_->Activate(sd_, vol, LockMode::kShared).ok());
  auto name = dm::LvDeviceName(sd_, vol);
  REQUIRE(name.ok());
  dm::UserDeviceMapper& dm_a = host_.daemons[0]->dm();
  REQUIRE(dm_a.SetFaults(*name, {.write_delay_ms = 20}).ok());
  REQUIRE(volumes_->Delete(img, vol, PostZero::kYes).ok());
  CHECK(volumes_->PendingZeroing() == std::vector<std::string>{vol});
  volumes_->CancelZeroing();
  volumes_->WaitForZeroing();
  // Cancelled while running, or dropped from the queue before it started.
  Status last = volumes_->LastZeroingError();
  CHECK((last.ok() || last.code() == Code::kCancelled));
  // Not zeroed: the LV keeps its extents and its ZERO mark.
  auto lv = cache_.GetLv(sd_, vol);
  REQUIRE(lv.ok());
  auto tags = ParseVolumeLvTags(lv->tags);
  REQUIRE(tags.ok());
  CHECK(tags->state == LvState::kZeroing);
  CHECK(domain_->GetImages()->empty());

  REQUIRE(dm_a.ClearFaults(*name).ok());
  REQUIRE(activator_a_->Deactivate(sd_, vol, LockMode::kShared).ok());
  // The next start (Recover on a fresh BlockVolumes) finishes it.
  volumes_.reset();
  volumes_ = std::make_unique<BlockVolumes>(*domain_, qemu_img_, *locks_,
                                            runner_);
  auto report = volumes_->Recover();
  REQUIRE(report.ok());
  volumes_->WaitForZeroing();
  CHECK(volumes_->LastZeroingError().ok());
  CHECK(cache_.GetLv(sd_, vol).status().code() == Code::kNotFound);
  CHECK(domain_->ReadSlot(slot->slot).status().storage_code() == 757);
}

}  // namespace
}  // namespace sanpool::block
