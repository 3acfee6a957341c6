// System test of sanpool-dmemu (root, FUSE, loop devices): real daemons,
// real loop "PVs" over sparse files, I/O through the mapped loop devices.
// SANPOOL_DMEMU names the binary. Every fixture kills its daemons, unmounts
// and detaches its loops even when a check fails.
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <thread>

#include <catch2/catch.hpp>

#include "base/env.h"
#include "domains/dm/user_dm.h"
#include "tools/dmemu/daemon_fixture.h"
#include "tools/dmemu/loop_device.h"
#include "tools/dmemu/test_util.h"

namespace sanpool::dmemu {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

constexpr uint64_t kMiB = 1 << 20;

// Loop devices whose backing file lies under `prefix`.
std::vector<std::string> LoopsBackedUnder(const std::string& prefix) {
  std::vector<std::string> loops;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/block")) {
    std::ifstream in(entry.path() / "loop" / "backing_file");
    std::string backing;
    if (std::getline(in, backing) && backing.rfind(prefix, 0) == 0) {
      loops.push_back("/dev/" + entry.path().filename().string());
    }
  }
  return loops;
}

std::string Pattern(size_t size, uint32_t seed) {
  std::string out(size, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < size; ++i) {
    x = x * 1103515245u + 12345u;
    out[i] = static_cast<char>(x >> 16);
  }
  return out;
}

// O_DIRECT I/O on a block device; returns bytes or -errno.
ssize_t DirectWrite(const std::string& dev, uint64_t offset,
                    const std::string& data) {
  int fd = ::open(dev.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
  if (fd < 0) return -errno;
  AlignedBuffer buf(data.size());
  buf.CopyIn(0, data);
  ssize_t n = ::pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(offset));
  if (n < 0) n = -errno;
  ::close(fd);
  return n;
}

Result<std::string> DirectRead(const std::string& dev, uint64_t offset,
                               size_t size) {
  int fd = ::open(dev.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, "open " + dev);
  AlignedBuffer buf(size);
  ssize_t n = ::pread(fd, buf.data(), size, static_cast<off_t>(offset));
  int err = errno;
  ::close(fd);
  if (n < 0) return ErrnoToStatus(err, "pread " + dev);
  return std::string(buf.data(), static_cast<size_t>(n));
}

uint64_t DeviceSize(const std::string& dev) {
  int fd = ::open(dev.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  uint64_t size = 0;
  REQUIRE(::ioctl(fd, BLKGETSIZE64, &size) == 0);
  ::close(fd);
  return size;
}

// Two 64 MiB sparse PVs on loop devices, and daemons started on demand.
class Rig {
 public:
  Rig() {
    pv_files_[0] = dir_.MakeFile("pv0.img", 64 * kMiB);
    pv_files_[1] = dir_.MakeFile("pv1.img", 64 * kMiB);
    for (int i = 0; i < 2; ++i) {
      auto loop = loops_.Attach(pv_files_[i]);
      REQUIRE(loop.ok());
      pvs_[i] = *std::move(loop);
    }
  }
  ~Rig() {
    daemons_.clear();  // SIGTERM each, unmount leftovers.
    for (LoopHandle& pv : pvs_) {
      if (pv.fd) (void)loops_.Detach(pv);
    }
    // Whatever a failed test left attached under our directory.
    for (const std::string& loop : LoopsBackedUnder(dir_.path())) {
      int fd = ::open(loop.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        ::ioctl(fd, LOOP_CLR_FD, 0);
        ::close(fd);
      }
    }
  }

  Daemon& StartHost(const std::string& host) {
    daemons_.push_back(std::make_unique<Daemon>(dir_.path(), host));
    return *daemons_.back();
  }

  const std::string& pv(int i) const { return pvs_[i].path; }
  const std::string& root() const { return dir_.path(); }

  // 1 MiB of pv0 at 1 MiB, then 1 MiB of pv1 at 2 MiB.
  dm::Table TwoPvTable() const {
    return {{.start_sector = 0, .length_sectors = 2048, .device = pv(0),
             .device_offset_sector = 2048},
            {.start_sector = 2048, .length_sectors = 2048, .device = pv(1),
             .device_offset_sector = 4096}};
  }

 private:
  TempDir dir_;
  PosixLoopManager loops_;
  std::string pv_files_[2];
  LoopHandle pvs_[2];
  std::vector<std::unique_ptr<Daemon>> daemons_;
};

TEST_CASE("a mapping spans two PVs, ends with ENOSPC and grows on reload") {
  Rig rig;
  Daemon& host = rig.StartHost("host1");
  REQUIRE(host.dm().Create("vg-lv", "LVM-test1", rig.TwoPvTable()).ok());
  const std::string dev = host.dm().DevicePath("vg-lv");
  CHECK(DeviceSize(dev) == 2 * kMiB);
  auto info = host.dm().Info("vg-lv");
  REQUIRE(info.ok());
  CHECK(info->exists);
  CHECK(info->size_bytes == 2 * kMiB);

  const std::string data = Pattern(2 * kMiB, 1);
  REQUIRE(DirectWrite(dev, 0, data) == static_cast<ssize_t>(data.size()));
  auto on_pv0 = DirectRead(rig.pv(0), 1 * kMiB, kMiB);
  auto on_pv1 = DirectRead(rig.pv(1), 2 * kMiB, kMiB);
  REQUIRE(on_pv0.ok());
  REQUIRE(on_pv1.ok());
  CHECK(*on_pv0 == data.substr(0, kMiB));
  CHECK(*on_pv1 == data.substr(kMiB));
  auto back = DirectRead(dev, 512 * 1024, kMiB);
  REQUIRE(back.ok());
  CHECK(*back == data.substr(512 * 1024, kMiB));

  const std::string tail = Pattern(4096, 2);
  CHECK(DirectWrite(dev, 2 * kMiB, tail) == -ENOSPC);

  dm::Table bigger = rig.TwoPvTable();
  bigger.push_back({.start_sector = 4096, .length_sectors = 2048,
                    .device = rig.pv(0), .device_offset_sector = 8192});
  REQUIRE(host.dm().Reload("vg-lv", bigger).ok());
  CHECK(DeviceSize(dev) == 3 * kMiB);
  CHECK(host.dm().Info("vg-lv")->size_bytes == 3 * kMiB);
  CHECK(DirectWrite(dev, 2 * kMiB, tail) == 4096);
  CHECK(*DirectRead(rig.pv(0), 4 * kMiB, 4096) == tail);
  CHECK(*DirectRead(dev, 0, kMiB) == data.substr(0, kMiB));
  REQUIRE(host.dm().Remove("vg-lv", dm::RemoveMode::kNormal).ok());
}

TEST_CASE("injected errors, latency and hangs apply and clear") {
  Rig rig;
  Daemon& host = rig.StartHost("host1");
  REQUIRE(host.dm().Create("vg-lv", "", rig.TwoPvTable()).ok());
  const std::string dev = host.dm().DevicePath("vg-lv");
  const std::string block = Pattern(4096, 3);

  REQUIRE(host.dm().SetFaults("vg-lv", {.write_error = true}).ok());
  CHECK(DirectWrite(dev, 0, block) == -EIO);
  CHECK(DirectRead(dev, 0, 4096).ok());
  REQUIRE(host.dm().SetFaults("vg-lv", {.read_error = true}).ok());
  CHECK(DirectRead(dev, 0, 4096).status().code() == Code::kUnavailable);
  REQUIRE(host.dm().ClearFaults("vg-lv").ok());
  CHECK(DirectWrite(dev, 0, block) == 4096);
  CHECK(*DirectRead(dev, 0, 4096) == block);

  // Latency: a lower bound only (a sleep never ends early).
  REQUIRE(host.dm().SetFaults("vg-lv", {.read_delay_ms = 150}).ok());
  auto start = SteadyClock::now();
  CHECK(*DirectRead(dev, 0, 4096) == block);
  CHECK(SteadyClock::now() - start >= milliseconds(150));
  REQUIRE(host.dm().ClearFaults("vg-lv").ok());

  REQUIRE(host.dm().SetFaults("vg-lv", {.hang = true}).ok());
  auto pending = std::async(std::launch::async,
                            [&dev] { return DirectRead(dev, 0, 4096); });
  CHECK(pending.wait_for(milliseconds(300)) == std::future_status::timeout);
  REQUIRE(host.dm().ClearFaults("vg-lv").ok());
  if (pending.wait_for(seconds(20)) != std::future_status::ready) {
    FAIL_CHECK("read still hung after clear");
    host.Stop();  // Releases it, so the future can be destroyed.
  }
  auto read = pending.get();
  REQUIRE(read.ok());
  CHECK(*read == block);
}

TEST_CASE("remove refuses while the device is open") {
  Rig rig;
  Daemon& host = rig.StartHost("host1");
  REQUIRE(host.dm().Create("vg-lv", "", rig.TwoPvTable()).ok());
  const std::string dev = host.dm().DevicePath("vg-lv");
  int fd = ::open(dev.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  CHECK(host.dm().Info("vg-lv")->open_count >= 1);
  Status busy = host.dm().Remove("vg-lv", dm::RemoveMode::kNormal);
  CHECK(busy.code() == Code::kFailedPrecondition);
  ::close(fd);
  CHECK(host.dm().Info("vg-lv")->open_count == 0);
  REQUIRE(host.dm().Remove("vg-lv", dm::RemoveMode::kNormal).ok());
  CHECK(!host.dm().Info("vg-lv")->exists);
  CHECK(::access(dev.c_str(), F_OK) != 0);
  CHECK(host.dm().List()->empty());
}

TEST_CASE("two hosts mapping the same segments see the same bytes") {
  Rig rig;
  Daemon& a = rig.StartHost("hostA");
  Daemon& b = rig.StartHost("hostB");
  REQUIRE(a.dm().Create("vg-lv", "", rig.TwoPvTable()).ok());
  REQUIRE(b.dm().Create("vg-lv", "", rig.TwoPvTable()).ok());
  const std::string data = Pattern(2 * kMiB, 4);
  REQUIRE(DirectWrite(a.dm().DevicePath("vg-lv"), 0, data) ==
          static_cast<ssize_t>(data.size()));
  auto seen = DirectRead(b.dm().DevicePath("vg-lv"), 0, 2 * kMiB);
  REQUIRE(seen.ok());
  CHECK(*seen == data);
  const std::string update = Pattern(8192, 5);
  REQUIRE(DirectWrite(b.dm().DevicePath("vg-lv"), kMiB - 4096, update) == 8192);
  CHECK(*DirectRead(a.dm().DevicePath("vg-lv"), kMiB - 4096, 8192) == update);
}

TEST_CASE("mappings outlive the client; SIGTERM leaves nothing behind") {
  Rig rig;
  Daemon& host = rig.StartHost("host1");
  {
    dm::UserDeviceMapper first({.socket_path = host.socket(),
                                .run_dir = host.run_dir()});
    REQUIRE(first.Create("vg-lv1", "", rig.TwoPvTable()).ok());
    dm::Table other = {{.start_sector = 0, .length_sectors = 2048,
                        .device = rig.pv(1), .device_offset_sector = 16384}};
    REQUIRE(first.Create("vg-lv2", "", other).ok());
  }
  dm::UserDeviceMapper restarted({.socket_path = host.socket(),
                                  .run_dir = host.run_dir()});
  auto names = restarted.List();
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{"vg-lv1", "vg-lv2"});
  CHECK(restarted.Info("vg-lv2")->size_bytes == kMiB);
  CHECK(LoopsBackedUnder(host.mount()).size() == 2);

  int status = host.Stop();
  INFO(host.Log());
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(!Daemon::IsMounted(host.mount()));
  // Detaching completes when the loop's last user is gone.
  const auto deadline = SteadyClock::now() + seconds(10);
  while (!LoopsBackedUnder(host.mount()).empty() &&
         SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  CHECK(LoopsBackedUnder(host.mount()).empty());
  CHECK(::access(host.socket().c_str(), F_OK) != 0);
  CHECK(restarted.List().status().code() == Code::kUnavailable);
}

}  // namespace
}  // namespace sanpool::dmemu
