// System test of StorageServer against the real mount(8): an ext4 file
// system on a loop device is connected as POSIXFS, a file domain with a
// volume is created on it, then it is disconnected; and a LOCALFS link.
// Root only (suite 'system'). The fixture's destructor unmounts (lazy),
// detaches the loop and removes the scratch directory whatever happened;
// every tool run is bounded by a timeout.
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/fake_clock.h"
#include "base/process.h"
#include "base/resource_locks.h"
#include "domains/domain_registry.h"
#include "domains/file/file_domain.h"
#include "domains/file/file_volume.h"
#include "domains/file/image_locks.h"
#include "domains/mount_info.h"
#include "domains/qemu_img.h"
#include "domains/storage_server.h"

namespace sanpool {
namespace {

namespace fs = std::filesystem;

constexpr char kSd[] = "5f0c8d1e-2b3a-4c5d-8e7f-1a2b3c4d5e6f";
constexpr char kImg[] = "5f0c8d1e-0000-4000-8000-000000000001";
constexpr char kVol[] = "5f0c8d1e-0000-4000-8000-0000000000a1";

class LoopFs {
 public:
  LoopFs() {
    if (geteuid() != 0) return;
    char tmpl[] = "/var/tmp/sanpool-ss-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    image_ = dir_ + "/disk.img";
    REQUIRE(Tool({"truncate", "-s", "64M", image_}).Succeeded());
    ProcessResult loop = Tool({"losetup", "--find", "--show", image_});
    REQUIRE(loop.Succeeded());
    loop_ = loop.stdout_data.substr(0, loop.stdout_data.find('\n'));
    REQUIRE(Tool({"mkfs.ext4", "-q", "-F", loop_}).Succeeded());
  }
  ~LoopFs() {
    if (dir_.empty()) return;
    // Anything still mounted from our loop (a failed test) goes first.
    auto text = env_->ReadFile("/proc/self/mountinfo", 16 << 20);
    if (text.ok()) {
      auto mounts = ParseMountInfo(*text);
      if (mounts.ok()) {
        for (const MountEntry& m : *mounts) {
          if (m.mount_point.rfind(dir_, 0) == 0) {
            Tool({"umount", "-l", m.mount_point});
          }
        }
      }
    }
    if (!loop_.empty()) Tool({"losetup", "-d", loop_});
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  bool skipped() const { return dir_.empty(); }

  ProcessResult Tool(std::vector<std::string> argv) {
    ProcessSpec spec;
    spec.argv = std::move(argv);
    spec.timeout = std::chrono::seconds(60);
    Result<ProcessResult> r = runner_.Run(spec);
    REQUIRE(r.ok());
    return *r;
  }

  bool Mounted(const std::string& dir) {
    auto text = env_->ReadFile("/proc/self/mountinfo", 16 << 20);
    REQUIRE(text.ok());
    auto mounts = ParseMountInfo(*text);
    REQUIRE(mounts.ok());
    return FindMount(*mounts, dir).has_value();
  }

  std::unique_ptr<Env> env_ = NewPosixEnv();
  PosixProcessRunner runner_;
  std::string dir_;
  std::string image_;
  std::string loop_;
};

TEST_CASE("POSIXFS: mount an ext4 loop, make a domain on it, unmount",
          "[storage_server_system]") {
  LoopFs host;
  if (host.skipped()) {
    WARN("skipped: needs root (loop devices, mount)");
    return;
  }
  StorageServer server(*host.env_, host.runner_,
                       {.mnt_root = host.dir_ + "/repo/mnt"});
  ConnectionParams con{.id = "c1", .connection = host.loop_,
                       .vfs_type = "ext4", .mnt_options = "noatime"};
  auto st = server.Connect(ConnectionType::kPosixFs, {con});
  INFO(st[0].error.ToString());
  REQUIRE(st[0].status == 0);
  auto mount_dir = MountDirFor(host.dir_ + "/repo/mnt", host.loop_);
  REQUIRE(mount_dir.ok());
  CHECK(host.Mounted(*mount_dir));

  // A file domain with one volume on the mounted file system.
  FakeClock clock;
  file_domain::CreateDomainParams params;
  params.sd_uuid = kSd;
  params.type = DomainType::kPosixFs;
  params.description = "on loop";
  params.remote_path = host.loop_;
  auto domain =
      file_domain::FileDomain::Create(*host.env_, clock, *mount_dir, params);
  INFO(domain.status().ToString());
  REQUIRE(domain.ok());
  {
    QemuImg qemu(host.runner_);
    ResourceManager resources(clock);
    file_domain::ImageLocks locks(resources, kSd);
    file_domain::FileVolumes volumes(**domain, qemu, locks);
    file_domain::CreateVolumeParams vol;
    vol.img_uuid = kImg;
    vol.vol_uuid = kVol;
    vol.capacity = 8 << 20;
    vol.format = formats::VolumeFormat::kCow;
    REQUIRE(volumes.Create(vol).ok());
  }
  domain->reset();

  // Reconnecting finds it mounted: no second mount on top.
  st = server.Connect(ConnectionType::kPosixFs, {con});
  CHECK(st[0].status == 0);

  st = server.Disconnect(ConnectionType::kPosixFs, {con});
  INFO(st[0].error.ToString());
  CHECK(st[0].status == 0);
  CHECK_FALSE(host.Mounted(*mount_dir));
  CHECK_FALSE(fs::exists(*mount_dir));
  CHECK(server.Connections().empty());

  // The data stayed on the file system: mount it again and find it.
  st = server.Connect(ConnectionType::kPosixFs, {con});
  REQUIRE(st[0].status == 0);
  CHECK(fs::exists(*mount_dir + "/" + kSd + "/images/" + kImg + "/" + kVol +
                   ".meta"));
  CHECK(server.Disconnect(ConnectionType::kPosixFs, {con})[0].status == 0);
}

TEST_CASE("A mount that fails leaves nothing behind",
          "[storage_server_system]") {
  LoopFs host;
  if (host.skipped()) {
    WARN("skipped: needs root");
    return;
  }
  StorageServer server(*host.env_, host.runner_,
                       {.mnt_root = host.dir_ + "/repo/mnt"});
  ConnectionParams con{.id = "c1", .connection = host.loop_,
                       .vfs_type = "xfs"};  // wrong type: mount fails
  auto st = server.Connect(ConnectionType::kPosixFs, {con});
  CHECK(st[0].status == 477);
  auto mount_dir = MountDirFor(host.dir_ + "/repo/mnt", host.loop_);
  REQUIRE(mount_dir.ok());
  CHECK_FALSE(fs::exists(*mount_dir));
}

TEST_CASE("LOCALFS: link and unlink a local directory",
          "[storage_server_system]") {
  LoopFs host;
  if (host.skipped()) {
    WARN("skipped: needs root");
    return;
  }
  std::string data = host.dir_ + "/local";
  fs::create_directory(data);
  StorageServer server(*host.env_, host.runner_,
                       {.mnt_root = host.dir_ + "/repo/mnt"});
  auto st = server.Connect(ConnectionType::kLocalFs,
                           {{.id = "l", .connection = data}});
  REQUIRE(st[0].status == 0);
  std::string link = host.dir_ + "/repo/mnt/" + EscapeMountPath(data);
  CHECK(fs::is_symlink(link));
  CHECK(fs::equivalent(link, data));
  CHECK(server.Disconnect(ConnectionType::kLocalFs,
                          {{.id = "l", .connection = data}})[0]
            .status == 0);
  CHECK_FALSE(fs::exists(link));
}

}  // namespace
}  // namespace sanpool
