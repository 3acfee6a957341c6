#include "domains/dm/kernel_dm.h"

#include <catch2/catch.hpp>

namespace sanpool::dm {
namespace {

KernelDeviceMapper WithoutDriver() {
  return KernelDeviceMapper(
      {.control_path = "/nonexistent/sanpool-test/mapper/control"});
}

Table OneSegment() {
  return {{.start_sector = 0, .length_sectors = 8, .device = "/dev/loop0",
           .device_offset_sector = 0}};
}

TEST_CASE("without a control node every call is unavailable") {
  KernelDeviceMapper dm = WithoutDriver();
  Status create = dm.Create("vg-lv", "", OneSegment());
  CHECK(create.code() == Code::kUnavailable);
  CHECK(create.message() == "device-mapper driver not available");
  CHECK(dm.Reload("vg-lv", OneSegment()).code() == Code::kUnavailable);
  CHECK(dm.Remove("vg-lv", RemoveMode::kForce).code() == Code::kUnavailable);
  CHECK(dm.Info("vg-lv").status().code() == Code::kUnavailable);
  CHECK(dm.List().status().code() == Code::kUnavailable);
}

TEST_CASE("a regular file is not a control node") {
  KernelDeviceMapper dm({.control_path = "/etc/hostname"});
  CHECK(dm.List().status().code() == Code::kUnavailable);
}

TEST_CASE("bad arguments are rejected before the driver is needed") {
  KernelDeviceMapper dm = WithoutDriver();
  CHECK(dm.Create("a/b", "", OneSegment()).code() == Code::kInvalidArgument);
  CHECK(dm.Create("vg-lv", "bad uuid", OneSegment()).code() ==
        Code::kInvalidArgument);
  CHECK(dm.Reload("vg-lv", {}).code() == Code::kInvalidArgument);
  CHECK(dm.Info("").status().code() == Code::kInvalidArgument);
}

TEST_CASE("device paths live under the dev dir") {
  CHECK(KernelDeviceMapper().DevicePath("vg-lv") == "/dev/mapper/vg-lv");
  KernelDeviceMapper custom({.dev_dir = "/run/x"});
  CHECK(custom.DevicePath("a--b-c") == "/run/x/a--b-c");
}

}  // namespace
}  // namespace sanpool::dm
