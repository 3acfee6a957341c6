// PoolDomain over block domains and BlockMasterFs, with fakes: lvm through a
// FakeProcessRunner answering from an in-memory VG (MDT_ tags, special LVs
// on /dev/loop0), a FakeDeviceMapper whose device paths are files in a
// scratch dir (so lease areas can be read), FakeSanlock; fsck/mount/umount
// scripted on the same runner, with a mountinfo file the fake mount edits.
#include "spm/pool_domain.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "base/fake_clock.h"
#include "base/fake_process.h"
#include "base/resource_locks.h"
#include "domains/block/block_metadata.h"
#include "domains/block/master_lv.h"
#include "domains/dm/dm_names.h"
#include "domains/dm/fake_device_mapper.h"
#include "domains/file/file_test_util.h"
#include "domains/qemu_img.h"
#include "lease/fake_sanlock.h"
#include "spm/master_fs.h"
#include "spm/spm.h"
#include "spm/storage_pool.h"
#include "spm/task_manager.h"

namespace sanpool::spm {
namespace {

namespace json = boost::json;
using block::SpecialLv;
constexpr auto kPrefix = FakeProcessRunner::Match::kPrefix;

constexpr char kSd[] = "5b5b5b5b-0000-4000-8000-0000000000b1";
constexpr char kPoolUuid[] = "5b5b5b5b-0000-4000-8000-000000000001";
constexpr char kVgUuid[] = "5o1RgC-BKKZ-qzn5-pSf5-QDs8-a0vY-wKXWAY";
constexpr char kPvUuid[] = "avdS97-deps-Mwqd-4iiT-InBd-PNAF-pG32g1";
constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kExtent = 128 * kMiB;

// Device paths are files: <dir>/<dm name>.
class FileDm : public dm::FakeDeviceMapper {
 public:
  explicit FileDm(std::string dir) : dir_(std::move(dir)) {}
  std::string DevicePath(std::string_view name) const override {
    return dir_ + "/" + std::string(name);
  }

 private:
  std::string dir_;
};

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

// A sanlock leader record: magic, then space/resource names.
std::string Leader(uint32_t magic, std::string_view space,
                   std::string_view resource) {
  std::string s(4096, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((magic >> (8 * i)) & 0xff);
  std::memcpy(s.data() + 56, space.data(), space.size());
  std::memcpy(s.data() + 104, resource.data(), resource.size());
  return s;
}

// One block domain VG answered by a fake lvm, its LVs as files.
struct BlockWorld {
  BlockWorld()
      : env(NewPosixEnv()),
        lvm(runner, {}),
        cache(lvm, {}),
        dm(scratch.path() + "/dm"),
        activator(cache, dm),
        locks(clock),
        qemu_img(runner),
        registry(DomainRegistryDeps{.env = env.get(),
                                    .clock = &clock,
                                    .qemu_img = &qemu_img,
                                    .lock_manager = &locks},
                 DomainRegistryOptions{.repository = scratch.path() + "/repo",
                                       .run_dir = scratch.path() + "/run"}),
        blocks(BlockRegistryDeps{.env = env.get(),
                                 .clock = &clock,
                                 .qemu_img = &qemu_img,
                                 .runner = &runner,
                                 .lock_manager = &locks,
                                 .lvm = &cache,
                                 .activator = &activator},
               BlockRegistryOptions{.run_dir = scratch.path() + "/run"}) {
    std::filesystem::create_directories(scratch.path() + "/dm");
    std::filesystem::create_directories(scratch.path() + "/repo/mnt");
    cache.SetDevices({"/dev/loop0"});
    block::BlockDomainMetadata md;
    md.common.sd_uuid = kSd;
    md.common.type = DomainType::kIscsi;
    md.common.domain_class = DomainClass::kData;
    md.common.description = "block";
    md.common.block_size = 512;
    md.common.alignment = kMiB;
    md.vg_uuid = kVgUuid;
    md.pvs = block::UpdatePvMappings({}, {{"loop0", kPvUuid, 40}});
    auto encoded = block::EncodeDomainMetadataTags(md);
    REQUIRE(encoded.ok());
    tags.insert(encoded->begin(), encoded->end());
    tags.insert("RHAT_storage_domain");
    for (SpecialLv lv : {SpecialLv::kMetadata, SpecialLv::kIds,
                         SpecialLv::kLeases, SpecialLv::kInbox,
                         SpecialLv::kOutbox, SpecialLv::kXleases,
                         SpecialLv::kMaster}) {
      std::filesystem::path file = DevicePath(lv);
      std::ofstream(file).close();
      std::filesystem::resize_file(file, 4 * kMiB);
    }
    std::ofstream(MountInfo()).close();
    runner.ExpectHandler({"lvm"}, [this](const ProcessSpec& spec) {
      return Lvm(spec.argv);
    }, kPrefix);
  }

  std::string DevicePath(SpecialLv lv) const {
    auto name = dm::LvDeviceName(kSd, block::LvName(lv));
    REQUIRE(name.ok());
    return dm.DevicePath(*name);
  }
  std::string MountInfo() const { return scratch.path() + "/mountinfo"; }
  std::string MountRoot() const { return scratch.path() + "/master"; }
  bool Mapped(SpecialLv lv) const {
    auto name = dm::LvDeviceName(kSd, block::LvName(lv));
    return dm.TableOf(*name).has_value();
  }
  void WriteAt(SpecialLv lv, uint64_t offset, const std::string& bytes) {
    std::fstream f(DevicePath(lv), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  size_t Runs(std::string_view program, std::string_view arg1 = "") {
    size_t n = 0;
    for (const auto& argv : runner.CallArgvs()) {
      if (argv[0] == program && (arg1.empty() || argv[1] == arg1)) ++n;
    }
    return n;
  }

  // lvm: vgs / lvs / pvs from the state, vgchange edits the tags.
  Result<ProcessResult> Lvm(const std::vector<std::string>& argv) {
    ProcessResult r{.exit_code = 0};
    const std::string& cmd = argv.at(1);
    if (cmd == "vgchange") {
      for (size_t i = 2; i + 1 < argv.size(); ++i) {
        if (argv[i] == "--deltag") tags.erase(argv[i + 1]);
        if (argv[i] == "--addtag") tags.insert(argv[i + 1]);
      }
      ++vgchanges;
      return r;
    }
    json::object row;
    json::array rows;
    if (cmd == "vgs") {
      row = {{"vg_uuid", kVgUuid}, {"vg_name", kSd}, {"vg_attr", "wz--n-"},
             {"vg_size", std::to_string(40 * kExtent)},
             {"vg_free", std::to_string(10 * kExtent)},
             {"vg_extent_size", std::to_string(kExtent)},
             {"vg_extent_count", "40"}, {"vg_free_count", "10"},
             {"vg_tags", Join({tags.begin(), tags.end()})},
             {"vg_mda_size", std::to_string(kExtent)},
             {"vg_mda_free", std::to_string(kExtent / 2)},
             {"lv_count", "7"}, {"pv_count", "1"}, {"pv_name", "/dev/loop0"}};
      rows.push_back(row);
      r.stdout_data = json::serialize(json::object{
          {"report", json::array{json::object{{"vg", rows}}}}});
    } else if (cmd == "pvs") {
      row = {{"pv_uuid", kPvUuid}, {"pv_name", "/dev/loop0"},
             {"pv_size", std::to_string(40 * kExtent)}, {"vg_name", kSd},
             {"vg_uuid", kVgUuid}, {"pe_start", std::to_string(kExtent)},
             {"pv_pe_count", "40"}, {"pv_pe_alloc_count", "30"},
             {"pv_mda_count", "2"}, {"dev_size", std::to_string(41 * kExtent)},
             {"pv_mda_used_count", "2"}, {"pv_mda_size", std::to_string(kExtent)},
             {"pv_mda_free", std::to_string(kExtent / 2)}, {"pv_tags", ""}};
      rows.push_back(row);
      r.stdout_data = json::serialize(json::object{
          {"report", json::array{json::object{{"pv", rows}}}}});
    } else if (cmd == "lvs") {
      int pe = 0;
      for (SpecialLv lv : {SpecialLv::kMetadata, SpecialLv::kIds,
                           SpecialLv::kLeases, SpecialLv::kInbox,
                           SpecialLv::kOutbox, SpecialLv::kXleases,
                           SpecialLv::kMaster}) {
        std::string name(block::LvName(lv));
        rows.push_back(json::object{
            {"lv_uuid", "nZRojQ-4UxA-tBqk-TxSm-MqyT-exaK-38N1E" +
                            std::string(1, static_cast<char>('a' + pe))}, {"lv_name", name}, {"vg_name", kSd},
            {"lv_attr", "-wi-------"}, {"lv_size", std::to_string(kExtent)},
            {"vg_extent_size", std::to_string(kExtent)}, {"lv_tags", ""},
            {"segtype", "linear"}, {"stripes", "1"}, {"seg_start_pe", "0"},
            {"seg_size_pe", "1"},
            {"seg_pe_ranges", "/dev/loop0:" + std::to_string(pe) + "-" +
                                  std::to_string(pe)}});
        ++pe;
      }
      r.stdout_data = json::serialize(json::object{
          {"report", json::array{json::object{{"seg", rows}}}}});
    } else {
      return InternalError("unexpected lvm command " + cmd);
    }
    return r;
  }

  // fsck answers `fsck_exit`; mount/umount edit the mountinfo file.
  void ScriptMasterTools(int fsck_exit = 0) {
    runner.Expect({"fsck.ext3"}, {.exit_code = fsck_exit}, kPrefix);
    runner.ExpectHandler({"mount"}, [this](const ProcessSpec& spec) {
      std::ofstream(MountInfo(), std::ios::app)
          << "90 30 7:0 / " << spec.argv.at(4) << " rw - ext3 "
          << spec.argv.at(3) << " rw\n";
      return Result<ProcessResult>(ProcessResult{.exit_code = 0});
    }, kPrefix);
    runner.ExpectHandler({"umount"}, [this](const ProcessSpec& spec) {
      if (umount_busy && spec.argv.at(1) != "-l") {
        return Result<ProcessResult>(
            ProcessResult{.exit_code = 32, .stderr_data = "target is busy"});
      }
      std::ofstream(MountInfo(), std::ios::trunc).close();
      return Result<ProcessResult>(ProcessResult{.exit_code = 0});
    }, kPrefix);
  }

  file_domain::testing::ScratchDir scratch;
  std::unique_ptr<Env> env;
  FakeClock clock;
  FakeProcessRunner runner;
  lvm::Lvm lvm;
  lvm::LvmCache cache;
  FileDm dm;
  block::Activator activator;
  ResourceManager locks;
  QemuImg qemu_img;
  DomainRegistry registry;
  BlockDomainRegistry blocks;
  std::set<std::string> tags;
  int vgchanges = 0;
  bool umount_busy = false;
};

TEST_CASE("sanlock leader records are recognised by magic and names") {
  std::string delta = Leader(0x12212010, kSd, "host1");
  CHECK(IsSanlockLeader(delta, true, kSd, ""));
  CHECK_FALSE(IsSanlockLeader(delta, true, "other", ""));
  CHECK_FALSE(IsSanlockLeader(delta, false, kSd, "host1"));
  std::string paxos = Leader(0x06152010, kSd, "SDM");
  CHECK(IsSanlockLeader(paxos, false, kSd, "SDM"));
  CHECK_FALSE(IsSanlockLeader(paxos, false, kSd, "vol"));
  CHECK_FALSE(IsSanlockLeader(std::string(4096, '\0'), true, kSd, ""));
  CHECK_FALSE(IsSanlockLeader("short", true, kSd, ""));
}

TEST_CASE("PoolDomains opens a block domain after the file registry misses") {
  BlockWorld w;
  PoolDomains domains({.env = w.env.get(), .files = &w.registry,
                       .blocks = &w.blocks});
  auto d = domains.Open(kSd);
  INFO(d.status().ToString());
  REQUIRE(d.ok());
  CHECK(dynamic_cast<BlockPoolDomain*>(d->get()) != nullptr);
  CHECK((*d)->sd_uuid() == kSd);

  auto missing = domains.Open("5b5b5b5b-0000-4000-8000-0000000000ff");
  CHECK(missing.status().storage_code() == 358);
  PoolDomains files_only({.env = w.env.get(), .files = &w.registry});
  CHECK(files_only.Open(kSd).status().storage_code() == 358);
}

TEST_CASE("block pool domain: maps its special LVs, pool keys, lease areas") {
  BlockWorld w;
  PoolDomains domains({.env = w.env.get(), .files = &w.registry,
                       .blocks = &w.blocks});
  auto opened = domains.Open(kSd);
  REQUIRE(opened.ok());
  std::shared_ptr<PoolDomain> d = *std::move(opened);
  CHECK_FALSE(w.Mapped(SpecialLv::kIds));

  auto ids = d->IdsPath();  // maps every special LV a pool member needs
  REQUIRE(ids.ok());
  CHECK(*ids == w.DevicePath(SpecialLv::kIds));
  for (SpecialLv lv : BlockPoolDomain::kMapped) CHECK(w.Mapped(lv));
  CHECK_FALSE(w.Mapped(SpecialLv::kXleases));
  auto target = d->Monitor();
  REQUIRE(target.ok());
  CHECK(target->path == w.DevicePath(SpecialLv::kMetadata));
  CHECK(target->content == monitor::PathContent::kOpaque);

  // Pool keys go to the MDT_ tags; VGUUID and PV0 stay.
  auto md = d->Read();
  REQUIRE(md.ok());
  md->pool_uuids = {kPoolUuid};
  md->role = DomainRole::kMaster;
  md->pool = PoolMetadata{.description = "dc1", .master_version = 1};
  SetDomainStatus(*md->pool, kSd, PoolDomainStatus::kActive);
  REQUIRE(d->Write(*md).ok());
  CHECK(w.vgchanges == 1);
  auto back = d->Read();
  REQUIRE(back.ok());
  CHECK(back->role == DomainRole::kMaster);
  CHECK(CheckMaster(*back, kPoolUuid, 1).ok());
  CHECK(w.tags.count("MDT_VGUUID=" + std::string(kVgUuid)) == 1);

  // Lease areas: new until this domain's leaders are there.
  auto lockspace_new = d->LockspaceIsNew(*back);
  REQUIRE(lockspace_new.ok());
  CHECK(*lockspace_new);
  w.WriteAt(SpecialLv::kIds, 0, Leader(0x12212010, kSd, "host"));
  CHECK_FALSE(*d->LockspaceIsNew(*back));
  CHECK(*d->SdmIsNew(*back));
  w.WriteAt(SpecialLv::kLeases, kMiB, Leader(0x06152010, "other", "SDM"));
  CHECK(*d->SdmIsNew(*back));
  w.WriteAt(SpecialLv::kLeases, kMiB, Leader(0x06152010, kSd, "SDM"));
  CHECK_FALSE(*d->SdmIsNew(*back));

  SECTION("dropping it unmaps what it mapped") {
    d.reset();
    for (SpecialLv lv : BlockPoolDomain::kMapped) CHECK_FALSE(w.Mapped(lv));
  }
  SECTION("its master fs keeps the mappings") {
    auto fs = d->NewMasterFs({.env = w.env.get(), .runner = &w.runner,
                              .block_mount_root = w.MountRoot(),
                              .mountinfo_path = w.MountInfo()});
    REQUIRE(fs.ok());
    CHECK((*fs)->tasks_dir() ==
          w.MountRoot() + "/" + kSd + "/master/tasks");
    d.reset();
    CHECK(w.Mapped(SpecialLv::kMaster));
    fs->reset();
    CHECK_FALSE(w.Mapped(SpecialLv::kMaster));
  }
  SECTION("no runner: no block master") {
    auto fs = d->NewMasterFs({.env = w.env.get()});
    CHECK(fs.status().code() == Code::kFailedPrecondition);
  }
}

BlockMasterFs MakeFs(BlockWorld& w) {
  return BlockMasterFs(*w.env, w.runner,
                       {.device = "/dev/fake/master",
                        .mount_dir = w.MountRoot() + "/sd/master",
                        .mountinfo_path = w.MountInfo()});
}

TEST_CASE("block master fs: clean or corrected file systems are mounted") {
  int fsck_exit = GENERATE(0, 1, 2);
  BlockWorld w;
  const std::string dir = w.MountRoot() + "/sd/master";
  {
    w.ScriptMasterTools(fsck_exit);
    BlockMasterFs fs = MakeFs(w);
    Status s = fs.Prepare();
    INFO(s.ToString());
    REQUIRE(s.ok());
    auto calls = w.runner.CallArgvs();
    std::vector<std::vector<std::string>> tools;
    for (const auto& argv : calls) tools.push_back(argv);
    REQUIRE(tools.size() == 2);
    CHECK(tools[0] == std::vector<std::string>{"fsck.ext3", "-p",
                                               "/dev/fake/master"});
    CHECK(tools[1] == std::vector<std::string>{"mount", "-t", "ext3",
                                               "/dev/fake/master", dir});
    CHECK(std::filesystem::is_directory(dir + "/vms"));
    CHECK(std::filesystem::is_directory(dir + "/tasks"));
    CHECK(fs.tasks_dir() == dir + "/tasks");

    // Prepared again (e.g. a restarted start): no second fsck or mount.
    REQUIRE(fs.Prepare().ok());
    CHECK(w.Runs("fsck.ext3") == 1);
    CHECK(w.Runs("mount") == 1);

    REQUIRE(fs.Release().ok());
    CHECK(w.Runs("umount") == 1);
    CHECK(w.runner.CallArgvs().back() ==
          std::vector<std::string>{"umount", dir});
    REQUIRE(fs.Release().ok());  // not mounted: nothing to do
    CHECK(w.Runs("umount") == 1);
  }
}

TEST_CASE("the master LV's ext3 is made with oVirt's mkfs options") {
  FakeProcessRunner runner;
  runner.Expect({"mkfs.ext3"}, {}, kPrefix, 1);
  runner.Expect({"mkfs.ext3"}, {.exit_code = 1, .stderr_data = "no space"},
                kPrefix, 1);
  REQUIRE(block::MakeMasterFileSystem(runner, "/dev/x").ok());
  CHECK(runner.CallArgvs().at(0) ==
        std::vector<std::string>{"mkfs.ext3", "-q", "-j", "-E", "nodiscard",
                                 "-F", "/dev/x"});
  Status failed = block::MakeMasterFileSystem(runner, "/dev/x");
  CHECK_FALSE(failed.ok());
  CHECK(failed.ToString().find("no space") != std::string::npos);
}

TEST_CASE("block master fs: errors and stale mounts") {
  BlockWorld w;
  const std::string dir = w.MountRoot() + "/sd/master";
  SECTION("uncorrected errors fail the prepare before any mount") {
    w.ScriptMasterTools(4);
    BlockMasterFs fs = MakeFs(w);
    Status s = fs.Prepare();
    CHECK(s.code() == Code::kDataLoss);
    CHECK(w.Runs("mount") == 0);
  }
  SECTION("a busy master is detached lazily as the last resort") {
    w.ScriptMasterTools();
    w.umount_busy = true;
    BlockMasterFs fs = MakeFs(w);
    REQUIRE(fs.Prepare().ok());
    REQUIRE(fs.Release().ok());
    auto calls = w.runner.CallArgvs();
    REQUIRE(calls.size() == 4);
    CHECK(calls[2] == std::vector<std::string>{"umount", dir});
    CHECK(calls[3] == std::vector<std::string>{"umount", "-l", dir});
  }
  SECTION("both unmounts failing is an error") {
    w.runner.Expect({"fsck.ext3"}, {}, kPrefix);
    w.runner.ExpectHandler({"mount"}, [&w](const ProcessSpec& spec) {
      std::ofstream(w.MountInfo(), std::ios::app)
          << "90 30 7:0 / " << spec.argv.at(4) << " rw - ext3 "
          << spec.argv.at(3) << " rw\n";
      return Result<ProcessResult>(ProcessResult{.exit_code = 0});
    }, kPrefix);
    w.runner.Expect({"umount"}, {.exit_code = 32, .stderr_data = "busy"},
                    kPrefix);
    BlockMasterFs fs = MakeFs(w);
    REQUIRE(fs.Prepare().ok());
    CHECK_FALSE(fs.Release().ok());
  }
  SECTION("something else mounted there is refused") {
    std::ofstream(w.MountInfo())
        << "90 30 7:0 / " << dir << " rw - ext3 /dev/other rw\n";
    BlockMasterFs fs = MakeFs(w);
    CHECK(fs.Prepare().code() == Code::kFailedPrecondition);
    CHECK(w.runner.CallArgvs().empty());
  }
  SECTION("stale ext3 mounts under the root are detached at start") {
    std::ofstream(w.MountInfo())
        << "90 30 7:0 / " << dir << " rw - ext3 /dev/loop9 rw\n"
        << "91 30 0:5 / " << w.MountRoot() << "x/y rw - ext3 /dev/loop8 rw\n"
        << "92 30 0:6 / " << w.MountRoot() << "/fuse rw - fuse x rw\n";
    w.runner.Expect({"umount"}, {}, kPrefix);
    auto detached =
        CleanupMasterMounts(*w.env, w.runner, w.MountRoot(), w.MountInfo());
    REQUIRE(detached.ok());
    CHECK(*detached == std::vector<std::string>{dir});
    CHECK(w.runner.CallArgvs() ==
          std::vector<std::vector<std::string>>{{"umount", "-l", dir}});
  }
}

// The pool over a block master with fakes: create formats the lease
// areas, connect maps the LVs, spmStart mounts the master, spmStop
// unmounts it, disconnect unmaps.
TEST_CASE("storage pool with a block master: create, connect, SPM, stop") {
  BlockWorld w;
  lease::FakeSanlockCluster cluster(w.clock);
  lease::FakeSanlock sanlock(cluster, "h1");
  TaskManager tasks(w.clock, {.threads = 1});
  Spm spm(SpmDeps{.sanlock = &sanlock, .clock = &w.clock, .tasks = &tasks},
          SpmOptions{.io_timeout = lease::kRigIoTimeout,
                     .thread = ThreadMode::kManual});
  StoragePool pool(
      StoragePoolDeps{.env = w.env.get(), .clock = &w.clock,
                      .sanlock = &sanlock, .domains = &w.registry,
                      .block_domains = &w.blocks, .runner = &w.runner,
                      .spm = &spm},
      StoragePoolOptions{.master_mount_root = w.MountRoot(),
                         .mountinfo_path = w.MountInfo(),
                         .io_timeout = lease::kRigIoTimeout,
                         .thread = ThreadMode::kManual});
  w.ScriptMasterTools();
  Status s = pool.Create({.pool_uuid = kPoolUuid, .name = "dc1",
                          .master_sd = kSd, .domains = {kSd}});
  INFO(s.ToString());
  REQUIRE(s.ok());
  CHECK(sanlock.CallCount(lease::SanlockOp::kWriteLockspace) == 1);
  CHECK(sanlock.CallCount(lease::SanlockOp::kWriteResource) == 1);
  // Create's mappings are gone with its PoolDomain objects.
  CHECK_FALSE(w.Mapped(SpecialLv::kIds));

  REQUIRE(pool.Connect({kPoolUuid, 1, kSd, 1}).ok());
  for (SpecialLv lv : BlockPoolDomain::kMapped) CHECK(w.Mapped(lv));
  pool.Tick();
  w.clock.Advance(cluster.join_delay());
  pool.Tick();
  auto started = spm.Start({});
  INFO(started.status().ToString());
  REQUIRE(started.ok());
  const std::string master = w.MountRoot() + "/" + kSd + "/master";
  CHECK(w.Runs("fsck.ext3") == 1);
  CHECK(w.Runs("mount") == 1);
  CHECK(std::filesystem::is_directory(master + "/tasks"));
  auto info = pool.GetInfo(kPoolUuid);
  REQUIRE(info.ok());
  CHECK(info->spm_id == 1);
  CHECK(info->type == "ISCSI");
  CHECK(info->dominfo.at(kSd).disk_total == 40 * kExtent);

  REQUIRE(spm.Stop(StopMode::kNormal).ok());
  CHECK(w.Runs("umount") == 1);
  REQUIRE(pool.Disconnect(kPoolUuid, StopMode::kNormal).ok());
  for (SpecialLv lv : BlockPoolDomain::kMapped) CHECK_FALSE(w.Mapped(lv));
  tasks.Shutdown();
}

}  // namespace
}  // namespace sanpool::spm
