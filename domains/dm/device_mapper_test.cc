#include "domains/dm/device_mapper.h"

#include <catch2/catch.hpp>

namespace sanpool::dm {
namespace {

Table TwoSegments() {
  return {{.start_sector = 0, .length_sectors = 2048, .device = "/dev/loop0",
           .device_offset_sector = 2048},
          {.start_sector = 2048, .length_sectors = 1024, .device = "/dev/loop1",
           .device_offset_sector = 0}};
}

TEST_CASE("device names follow the dm/LVM character set") {
  CHECK(ValidateDeviceName("vg-lv").ok());
  CHECK(ValidateDeviceName("a--b-c_1.2+x").ok());
  CHECK(ValidateDeviceName("").code() == Code::kInvalidArgument);
  CHECK(ValidateDeviceName(".").code() == Code::kInvalidArgument);
  CHECK(ValidateDeviceName("..").code() == Code::kInvalidArgument);
  CHECK(ValidateDeviceName("a/b").code() == Code::kInvalidArgument);
  CHECK(ValidateDeviceName("a b").code() == Code::kInvalidArgument);
  CHECK(ValidateDeviceName(std::string(127, 'x')).ok());
  CHECK(ValidateDeviceName(std::string(128, 'x')).code() ==
        Code::kInvalidArgument);
}

TEST_CASE("device uuids are printable without spaces or slashes") {
  CHECK(ValidateDeviceUuid("").ok());
  CHECK(ValidateDeviceUuid("LVM-abc").ok());
  CHECK(!ValidateDeviceUuid("a b").ok());
  CHECK(!ValidateDeviceUuid("a/b").ok());
  CHECK(!ValidateDeviceUuid(std::string(129, 'u')).ok());
}

TEST_CASE("a contiguous table is valid and its size is the sum") {
  Table table = TwoSegments();
  REQUIRE(ValidateTable(table).ok());
  CHECK(TableSizeSectors(table) == 3072);
}

TEST_CASE("tables with gaps, empty segments or bad paths are rejected") {
  CHECK(!ValidateTable({}).ok());
  Table gap = TwoSegments();
  gap[1].start_sector = 4096;
  CHECK(ValidateTable(gap).code() == Code::kInvalidArgument);
  CHECK(std::string(ValidateTable(gap).message()).find("segment 1") !=
        std::string::npos);
  Table empty = TwoSegments();
  empty[0].length_sectors = 0;
  CHECK(!ValidateTable(empty).ok());
  Table relative = TwoSegments();
  relative[0].device = "loop0";
  CHECK(!ValidateTable(relative).ok());
  Table spaced = TwoSegments();
  spaced[0].device = "/dev/loop 0";
  CHECK(!ValidateTable(spaced).ok());
  Table overflow = TwoSegments();
  overflow[1].device_offset_sector = ~uint64_t{0} - 10;
  CHECK(!ValidateTable(overflow).ok());
}

}  // namespace
}  // namespace sanpool::dm
