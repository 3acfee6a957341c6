#include "domains/dm/fake_device_mapper.h"

#include <catch2/catch.hpp>

namespace sanpool::dm {
namespace {

Table Sectors(uint64_t n) {
  return {{.start_sector = 0, .length_sectors = n, .device = "/dev/loop0"}};
}

TEST_CASE("the fake keeps tables and follows the contract") {
  FakeDeviceMapper dm;
  REQUIRE(dm.Create("vg-lv", "LVM-1", Sectors(8)).ok());
  CHECK(dm.Create("vg-lv", "", Sectors(8)).code() == Code::kAlreadyExists);
  CHECK(dm.Create("vg-lv2", "LVM-1", Sectors(8)).code() ==
        Code::kAlreadyExists);
  CHECK(dm.Create("vg-lv2", "", {}).code() == Code::kInvalidArgument);
  REQUIRE(dm.Reload("vg-lv", Sectors(16)).ok());
  CHECK(dm.TableOf("vg-lv") == Sectors(16));
  CHECK(dm.Info("vg-lv")->size_bytes == 16 * 512);
  CHECK(dm.Reload("x-y", Sectors(8)).code() == Code::kNotFound);
  dm.SetOpenCount("vg-lv", 1);
  CHECK(dm.Info("vg-lv")->open_count == 1);
  CHECK(dm.Remove("vg-lv", RemoveMode::kNormal).code() ==
        Code::kFailedPrecondition);
  CHECK(dm.Remove("vg-lv", RemoveMode::kForce).ok());
  CHECK(!dm.Info("vg-lv")->exists);
  CHECK(dm.List()->empty());
}

TEST_CASE("the fake fails the next call on request and records calls") {
  FakeDeviceMapper dm;
  dm.FailNext(UnavailableError("dmemu down"));
  CHECK(dm.Create("vg-lv", "", Sectors(8)).code() == Code::kUnavailable);
  CHECK(dm.Create("vg-lv", "", Sectors(8)).ok());
  CHECK(dm.Calls() ==
        std::vector<std::string>{"create vg-lv", "create vg-lv"});
  CHECK(dm.DevicePath("vg-lv") == "/dev/fake-dm/vg-lv");
}

}  // namespace
}  // namespace sanpool::dm
