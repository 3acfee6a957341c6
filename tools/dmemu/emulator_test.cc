#include "tools/dmemu/emulator.h"

#include <unistd.h>

#include <catch2/catch.hpp>

#include "tools/dmemu/test_util.h"

namespace sanpool::dmemu {
namespace {

// Loop devices without the kernel: records calls, reports a settable
// open count.
class FakeLoopManager : public LoopManager {
 public:
  Result<LoopHandle> Attach(const std::string& file) override {
    if (!attach_error.ok()) return attach_error;
    attached.push_back(file);
    LoopHandle loop;
    loop.path = "/dev/loop" + std::to_string(100 + attached.size());
    return loop;
  }
  Status Refresh(const LoopHandle& loop, const std::string&) override {
    refreshed.push_back(loop.path);
    return Status::Ok();
  }
  Result<int> OpenCount(const LoopHandle&) override { return open_count; }
  Status Flush(const LoopHandle&) override { return Status::Ok(); }
  Status Detach(LoopHandle& loop) override {
    detached.push_back(loop.path);
    return Status::Ok();
  }

  Status attach_error;
  int open_count = 0;
  std::vector<std::string> attached, refreshed, detached;
};

struct Fixture {
  TempDir dir;
  std::string pv0 = dir.MakeFile("pv0", 1 << 20);
  std::string pv1 = dir.MakeFile("pv1", 1 << 20);
  FakeLoopManager loops;
  Emulator emulator{{.mount_dir = dir.path() + "/mnt",
                     .run_dir = dir.path(),
                     .io_mode = IoMode::kBuffered},
                    loops};

  dm::Table Table(uint64_t sectors) const {
    return {{.start_sector = 0, .length_sectors = sectors, .device = pv0,
             .device_offset_sector = 0},
            {.start_sector = sectors, .length_sectors = sectors,
             .device = pv1, .device_offset_sector = 64}};
  }
  dm::DmemuResponse Do(dm::DmemuRequest request) {
    return emulator.Handle(request);
  }
  Status Create(const std::string& name, uint64_t sectors,
                const std::string& uuid = "") {
    return Do({.op = dm::DmemuOp::kCreate, .name = name, .uuid = uuid,
               .table = Table(sectors)})
        .status;
  }
};

TEST_CASE("create publishes the device, a loop and a symlink") {
  Fixture f;
  REQUIRE(f.Create("vg-lv", 8).ok());
  CHECK(f.loops.attached == std::vector<std::string>{f.dir.path() + "/mnt/vg-lv"});
  char target[64] = {};
  REQUIRE(::readlink((f.dir.path() + "/dev/vg-lv").c_str(), target,
                     sizeof(target) - 1) > 0);
  CHECK(std::string(target) == "/dev/loop101");
  auto info = f.Do({.op = dm::DmemuOp::kInfo, .name = "vg-lv"});
  REQUIRE(info.status.ok());
  CHECK(info.info.exists);
  CHECK(info.info.size_bytes == 16 * 512);
  CHECK(info.device == "/dev/loop101");
  CHECK(f.Do({.op = dm::DmemuOp::kList}).names ==
        std::vector<std::string>{"vg-lv"});
  REQUIRE(f.emulator.Find("vg-lv") != nullptr);
}

TEST_CASE("names and uuids are unique") {
  Fixture f;
  REQUIRE(f.Create("a-b", 8, "LVM-1").ok());
  CHECK(f.Create("a-b", 8).code() == Code::kAlreadyExists);
  CHECK(f.Create("c-d", 8, "LVM-1").code() == Code::kAlreadyExists);
  CHECK(f.Create("bad/name", 8).code() == Code::kInvalidArgument);
}

TEST_CASE("a failed loop attach leaves nothing behind") {
  Fixture f;
  f.loops.attach_error = UnavailableError("no loops");
  CHECK(f.Create("vg-lv", 8).code() == Code::kUnavailable);
  CHECK(f.emulator.Names().empty());
  CHECK(f.Do({.op = dm::DmemuOp::kList}).names.empty());
}

TEST_CASE("reload swaps the table and refreshes the loop") {
  Fixture f;
  REQUIRE(f.Create("vg-lv", 8).ok());
  REQUIRE(f.Do({.op = dm::DmemuOp::kReload, .name = "vg-lv",
                .table = f.Table(16)})
              .status.ok());
  CHECK(f.loops.refreshed == std::vector<std::string>{"/dev/loop101"});
  CHECK(f.emulator.Find("vg-lv")->SizeBytes() == 32 * 512);
  CHECK(f.Do({.op = dm::DmemuOp::kReload, .name = "x-y", .table = f.Table(8)})
            .status.code() == Code::kNotFound);
}

TEST_CASE("remove refuses while open unless forced") {
  Fixture f;
  REQUIRE(f.Create("vg-lv", 8).ok());
  auto device = f.emulator.Find("vg-lv");
  f.loops.open_count = 1;
  CHECK(f.Do({.op = dm::DmemuOp::kRemove, .name = "vg-lv"}).status.code() ==
        Code::kFailedPrecondition);
  CHECK(f.emulator.Find("vg-lv") != nullptr);
  REQUIRE(f.Do({.op = dm::DmemuOp::kRemove, .name = "vg-lv",
                .remove_mode = dm::RemoveMode::kForce})
              .status.ok());
  CHECK(f.loops.detached == std::vector<std::string>{"/dev/loop101"});
  CHECK(f.emulator.Find("vg-lv") == nullptr);
  CHECK(::access((f.dir.path() + "/dev/vg-lv").c_str(), F_OK) != 0);
  // An opener still holding the file gets EIO.
  char buf[512];
  CHECK(device->Read(buf, 512, 0) == -EIO);
  CHECK(f.Do({.op = dm::DmemuOp::kRemove, .name = "vg-lv"}).status.code() ==
        Code::kNotFound);
  CHECK(!f.Do({.op = dm::DmemuOp::kInfo, .name = "vg-lv"}).info.exists);
}

TEST_CASE("a hung device is not removed without force") {
  Fixture f;
  REQUIRE(f.Create("vg-lv", 8).ok());
  REQUIRE(f.Do({.op = dm::DmemuOp::kFault, .name = "vg-lv",
                .faults = {.hang = true}})
              .status.ok());
  CHECK(f.Do({.op = dm::DmemuOp::kRemove, .name = "vg-lv"}).status.code() ==
        Code::kFailedPrecondition);
  REQUIRE(f.Do({.op = dm::DmemuOp::kClear, .name = "vg-lv"}).status.ok());
  CHECK(f.emulator.Find("vg-lv")->Faults() == dm::FaultSpec{});
  CHECK(f.Do({.op = dm::DmemuOp::kRemove, .name = "vg-lv"}).status.ok());
  CHECK(f.Do({.op = dm::DmemuOp::kFault, .name = "vg-lv"}).status.code() ==
        Code::kNotFound);
}

TEST_CASE("shutdown removes every device") {
  Fixture f;
  REQUIRE(f.Create("a-b", 8).ok());
  REQUIRE(f.Create("c-d", 8).ok());
  f.loops.open_count = 3;
  f.emulator.Shutdown();
  CHECK(f.emulator.Names().empty());
  CHECK(f.loops.detached.size() == 2);
}

}  // namespace
}  // namespace sanpool::dmemu
