#include "tools/dmemu/mapped_device.h"

#include <cerrno>
#include <future>
#include <thread>

#include <catch2/catch.hpp>

#include "tools/dmemu/test_util.h"

namespace sanpool::dmemu {
namespace {

struct Fixture {
  TempDir dir;
  std::string pv = dir.MakeFile("pv", 1 << 20);
  dm::Table table = {{.start_sector = 0, .length_sectors = 16, .device = pv}};
  MappedDevice device{"vg-lv", "LVM-u", OpenBuffered(table)};
  std::string block = std::string(512, 'b');
  char buf[512];
};

TEST_CASE("without faults requests pass through") {
  Fixture f;
  CHECK(f.device.SizeBytes() == 16 * 512);
  CHECK(f.device.Write(f.block.data(), 512, 0) == 512);
  CHECK(f.device.Read(f.buf, 512, 0) == 512);
  CHECK(std::string(f.buf, 512) == f.block);
}

TEST_CASE("error faults fail reads and writes separately until cleared") {
  Fixture f;
  f.device.SetFaults({.write_error = true});
  CHECK(f.device.Write(f.block.data(), 512, 0) == -EIO);
  CHECK(f.device.Read(f.buf, 512, 0) == 512);
  f.device.SetFaults({.read_error = true});
  CHECK(f.device.Read(f.buf, 512, 0) == -EIO);
  CHECK(f.device.Write(f.block.data(), 512, 0) == 512);
  f.device.SetFaults({});
  CHECK(f.device.Read(f.buf, 512, 0) == 512);
}

TEST_CASE("a hang blocks requests until the faults are cleared") {
  Fixture f;
  f.device.SetFaults({.hang = true});
  auto pending = std::async(std::launch::async, [&f] {
    return f.device.Write(f.block.data(), 512, 512);
  });
  while (f.device.HungRequests() == 0) std::this_thread::yield();
  CHECK(pending.wait_for(std::chrono::seconds(0)) ==
        std::future_status::timeout);
  f.device.SetFaults({});
  CHECK(pending.get() == 512);
  CHECK(f.device.Read(f.buf, 512, 512) == 512);
  CHECK(std::string(f.buf, 512) == f.block);
}

TEST_CASE("retiring a device releases hung requests with EIO") {
  Fixture f;
  f.device.SetFaults({.hang = true});
  auto pending = std::async(std::launch::async,
                            [&f] { return f.device.Read(f.buf, 512, 0); });
  while (f.device.HungRequests() == 0) std::this_thread::yield();
  f.device.Retire();
  CHECK(pending.get() == -EIO);
  CHECK(f.device.Write(f.block.data(), 512, 0) == -EIO);
}

TEST_CASE("a swapped table serves the next request") {
  Fixture f;
  dm::Table bigger = {{.start_sector = 0, .length_sectors = 32,
                       .device = f.pv}};
  CHECK(f.device.Write(f.block.data(), 512, 16 * 512) == -ENOSPC);
  f.device.SwapIo(OpenBuffered(bigger));
  CHECK(f.device.SizeBytes() == 32 * 512);
  CHECK(f.device.Write(f.block.data(), 512, 16 * 512) == 512);
}

}  // namespace
}  // namespace sanpool::dmemu
