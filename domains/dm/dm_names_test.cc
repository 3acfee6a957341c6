#include "domains/dm/dm_names.h"

#include <catch2/catch.hpp>

namespace sanpool::dm {
namespace {

constexpr char kVgUuid[] = "Ji9bGd-Wl3X-3Iq8-SaBz-Xc1e-Sjc0-ZsqtTM";
constexpr char kLvUuid[] = "Mbb3Ea-Yd7k-nGP2-uBeZ-5G5E-Qe8r-y4BT1L";

TEST_CASE("LVM device names double the dashes of vg and lv") {
  CHECK(*LvDeviceName("vg", "lv") == "vg-lv");
  CHECK(*LvDeviceName("a-b", "c") == "a--b-c");
  CHECK(*LvDeviceName("5c7e1b9a-0d3f", "lv-x-") ==
        "5c7e1b9a--0d3f-lv--x--");
  CHECK(LvDeviceName("", "lv").status().code() == Code::kInvalidArgument);
  CHECK(LvDeviceName("vg", "").status().code() == Code::kInvalidArgument);
  CHECK(!LvDeviceName("vg", "a/b").ok());
}

TEST_CASE("LVM device names split back into vg and lv") {
  for (auto [vg, lv] : {std::pair{"vg", "lv"}, std::pair{"a-b", "c"},
                        std::pair{"x--y", "z-"}, std::pair{"u-", "v"}}) {
    auto name = LvDeviceName(vg, lv);
    REQUIRE(name.ok());
    auto split = SplitLvDeviceName(*name);
    REQUIRE(split.ok());
    CHECK(split->vg == vg);
    CHECK(split->lv == lv);
  }
  CHECK(!SplitLvDeviceName("novglv").ok());
  CHECK(!SplitLvDeviceName("vg-").ok());
  CHECK(!SplitLvDeviceName("vg-a-b").ok());
  CHECK(!SplitLvDeviceName("-lv").ok());
}

TEST_CASE("LVM device uuids concatenate both uuids without dashes") {
  auto uuid = LvDeviceUuid(kVgUuid, kLvUuid);
  REQUIRE(uuid.ok());
  CHECK(*uuid ==
        "LVM-Ji9bGdWl3X3Iq8SaBzXc1eSjc0ZsqtTMMbb3EaYd7knGP2uBeZ5G5EQe8ry4BT1L");
  CHECK(uuid->size() == 4 + 64);
  CHECK(!LvDeviceUuid("short", kLvUuid).ok());
  CHECK(!LvDeviceUuid(kVgUuid, "Mbb3Ea-Yd7k-nGP2-uBeZ-5G5E-Qe8r-y4BT1!").ok());
}

TEST_CASE("a linear table is built from LVM segments in extents") {
  // 4 MiB extents = 8192 sectors; PVs start their extents at 1 MiB.
  std::vector<LvExtentSegment> segments = {
      {.start_extent = 3, .extent_count = 2, .pv_device = "/dev/loop1",
       .pv_start_extent = 0, .pe_start_sectors = 2048},
      {.start_extent = 0, .extent_count = 3, .pv_device = "/dev/loop0",
       .pv_start_extent = 10, .pe_start_sectors = 2048},
  };
  auto table = BuildLinearTable(segments, 8192);
  REQUIRE(table.ok());
  REQUIRE(table->size() == 2);
  CHECK((*table)[0] == LinearSegment{.start_sector = 0,
                                     .length_sectors = 3 * 8192,
                                     .device = "/dev/loop0",
                                     .device_offset_sector = 2048 + 10 * 8192});
  CHECK((*table)[1] == LinearSegment{.start_sector = 3 * 8192,
                                     .length_sectors = 2 * 8192,
                                     .device = "/dev/loop1",
                                     .device_offset_sector = 2048});
  CHECK(TableSizeSectors(*table) == 5 * 8192);
}

TEST_CASE("LVM segments with gaps or overlaps or no extent size fail") {
  std::vector<LvExtentSegment> gap = {
      {.start_extent = 0, .extent_count = 1, .pv_device = "/dev/a"},
      {.start_extent = 2, .extent_count = 1, .pv_device = "/dev/b"}};
  CHECK(BuildLinearTable(gap, 8).status().code() == Code::kInvalidArgument);
  std::vector<LvExtentSegment> overlap = {
      {.start_extent = 0, .extent_count = 2, .pv_device = "/dev/a"},
      {.start_extent = 1, .extent_count = 1, .pv_device = "/dev/b"}};
  CHECK(!BuildLinearTable(overlap, 8).ok());
  CHECK(!BuildLinearTable({}, 8).ok());
  std::vector<LvExtentSegment> one = {
      {.start_extent = 0, .extent_count = 1, .pv_device = "/dev/a"}};
  CHECK(!BuildLinearTable(one, 0).ok());
  std::vector<LvExtentSegment> huge = {
      {.start_extent = 0, .extent_count = ~uint64_t{0} / 4,
       .pv_device = "/dev/a"}};
  CHECK(!BuildLinearTable(huge, 8192).ok());
}

TEST_CASE("tables render as dmsetup text and parse back") {
  Table table = {{.start_sector = 0, .length_sectors = 2048,
                  .device = "/dev/loop0", .device_offset_sector = 2048},
                 {.start_sector = 2048, .length_sectors = 4096,
                  .device = "/dev/loop1", .device_offset_sector = 0}};
  std::string text = RenderTable(table);
  CHECK(text ==
        "0 2048 linear /dev/loop0 2048\n2048 4096 linear /dev/loop1 0\n");
  CHECK(LinearParams(table[0]) == "/dev/loop0 2048");
  auto parsed = ParseTable(text);
  REQUIRE(parsed.ok());
  CHECK(*parsed == table);
  CHECK(ParseTable("\n  0 8 linear /dev/x 0  \n\n").ok());
}

TEST_CASE("table text that is not linear or malformed is rejected") {
  CHECK(!ParseTable("").ok());
  CHECK(!ParseTable("0 8 striped /dev/x 0\n").ok());
  CHECK(!ParseTable("0 8 linear /dev/x\n").ok());
  CHECK(!ParseTable("0 8x linear /dev/x 0\n").ok());
  CHECK(!ParseTable("0 -8 linear /dev/x 0\n").ok());
  CHECK(!ParseTable("8 8 linear /dev/x 0\n").ok());
}

}  // namespace
}  // namespace sanpool::dm
