#include "domains/block/lvm_report.h"

#include <catch2/catch.hpp>

#include "domains/block/lvm_test_printers.h"
#include "domains/block/lvm_testdata.h"

namespace sanpool::lvm {
namespace {

TEST_CASE("lvs report: segments per LV, sorted, with PV ranges") {
  Result<std::vector<Lv>> lvs = ParseLvsReport(testdata::kLvsJson);
  REQUIRE(lvs.ok());
  REQUIRE(lvs->size() == 3);
  const Lv& md = (*lvs)[0];
  CHECK(md.name == "metadata");
  CHECK(md.vg_name == "h4test");
  CHECK(md.uuid == "nZRojQ-4UxA-tBqk-TxSm-MqyT-exaK-38N1Ei");
  CHECK(md.size_bytes == 128 * kMiB);
  CHECK(md.extent_size_bytes == kExtentSizeBytes);
  CHECK(md.tags == std::vector<std::string>{"MD_1"});
  CHECK(md.segments == std::vector<Segment>{{0, 1, "/dev/loop0", 0}});

  const Lv& vol1 = (*lvs)[1];
  CHECK(vol1.name == "vol1");
  CHECK(vol1.ExtentCount() == 16);
  CHECK(vol1.tags == std::vector<std::string>{
                         "IU_x", "PU_00000000-0000-0000-0000-000000000000"});
  CHECK(vol1.segments == std::vector<Segment>{{0, 3, "/dev/loop0", 1},
                                              {3, 8, "/dev/loop0", 5},
                                              {11, 5, "/dev/loop1", 0}});
  CHECK_FALSE(vol1.ReadOnly());
  CHECK((*lvs)[2].tags.empty());
}

TEST_CASE("pvs report: PV in a VG and a PV in none") {
  Result<std::vector<Pv>> pvs = ParsePvsReport(testdata::kPvsJson);
  REQUIRE(pvs.ok());
  REQUIRE(pvs->size() == 3);
  const Pv& first = (*pvs)[0];
  CHECK(first.name == "/dev/loop0");
  CHECK(first.vg_name == "h4test");
  CHECK(first.pe_start_bytes == 129 * kMiB);
  CHECK(first.pe_count == 13);
  CHECK(first.pe_alloc_count == 13);
  CHECK(first.mda_count == 2);
  CHECK(first.mda_used_count == 2);
  CHECK(first.mda_size_bytes == 128 * kMiB);
  CHECK((*pvs)[1].mda_used_count == 0);
  const Pv& lone = (*pvs)[2];
  CHECK(lone.vg_name.empty());
  CHECK(lone.pe_count == 0);
  CHECK(lone.dev_size_bytes == 1024 * kMiB);
}

TEST_CASE("vgs report: one row per PV merges into one VG") {
  Result<std::vector<Vg>> vgs = ParseVgsReport(testdata::kVgsJson);
  REQUIRE(vgs.ok());
  REQUIRE(vgs->size() == 1);
  const Vg& vg = (*vgs)[0];
  CHECK(vg.name == "h4test");
  CHECK(vg.pv_names == std::vector<std::string>{"/dev/loop0", "/dev/loop1"});
  CHECK(vg.extent_size_bytes == kExtentSizeBytes);
  CHECK(vg.extent_count == 26);
  CHECK(vg.free_count == 8);
  CHECK(vg.free_bytes == 8 * kExtentSizeBytes);
  CHECK(vg.lv_count == 3);
  CHECK(vg.tags == std::vector<std::string>{"RHAT_storage_domain_UNREADY"});
  CHECK(vg.mda_size_bytes == 128 * kMiB);
}

TEST_CASE("empty reports (nothing matched) parse to empty lists") {
  constexpr std::string_view kEmpty = R"({"report": [{"lv": []}]})";
  Result<std::vector<Lv>> lvs = ParseLvsReport(kEmpty);
  REQUIRE(lvs.ok());
  CHECK(lvs->empty());
}

TEST_CASE("malformed reports are kDataLoss") {
  CHECK(ParseLvsReport("not json").status().code() == Code::kDataLoss);
  CHECK(ParseVgsReport(R"({"x": 1})").status().code() == Code::kDataLoss);
  // A number field that is not a number.
  CHECK(ParsePvsReport(R"({"report":[{"pv":[{"pv_name":"/dev/a",
      "pv_uuid":"u","vg_name":"","vg_uuid":"","pv_size":"12x"}]}]})")
            .status()
            .code() == Code::kDataLoss);
  // A missing field.
  CHECK(ParseVgsReport(R"({"report":[{"vg":[{"vg_uuid":"u"}]}]})")
            .status()
            .code() == Code::kDataLoss);
}

TEST_CASE("PE ranges") {
  Result<Segment> s = ParsePeRange("/dev/mapper/36001:5-12", 3, 8);
  REQUIRE(s.ok());
  CHECK(*s == Segment{3, 8, "/dev/mapper/36001", 5});
  CHECK(ParsePeRange("/dev/loop0:5-12", 3, 7).status().code() ==
        Code::kDataLoss);
  CHECK(ParsePeRange("/dev/loop0", 0, 1).status().code() == Code::kDataLoss);
  CHECK(ParsePeRange("/dev/loop0:3-1", 0, 1).status().code() ==
        Code::kDataLoss);
  CHECK(ParsePeRange("/dev/a:0-0 /dev/b:0-0", 0, 1).status().code() ==
        Code::kFailedPrecondition);
}

TEST_CASE("non-linear segments are refused") {
  constexpr std::string_view kStriped = R"({"report":[{"seg":[{
      "lv_uuid":"u","lv_name":"s","vg_name":"v","lv_attr":"-wi-------",
      "lv_size":"268435456","vg_extent_size":"134217728","lv_tags":"",
      "segtype":"striped","stripes":"2","seg_start_pe":"0","seg_size_pe":"2",
      "seg_pe_ranges":"/dev/a:0-0 /dev/b:0-0"}]}]})";
  CHECK(ParseLvsReport(kStriped).status().code() ==
        Code::kFailedPrecondition);
}

TEST_CASE("tags split on commas") {
  CHECK(SplitTags("").empty());
  CHECK(SplitTags("a") == std::vector<std::string>{"a"});
  CHECK(SplitTags("MD_3,PU_x,IU_y") ==
        std::vector<std::string>{"MD_3", "PU_x", "IU_y"});
}

}  // namespace
}  // namespace sanpool::lvm
