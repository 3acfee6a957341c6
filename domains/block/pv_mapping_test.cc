#include "domains/block/pv_mapping.h"

#include <catch2/catch.hpp>

#include "domains/storage_errors.h"

namespace sanpool::block {
namespace {

TEST_CASE("PV keys are PV<n> in canonical decimal") {
  CHECK(PvKeyIndex("PV0") == 0u);
  CHECK(PvKeyIndex("PV12") == 12u);
  CHECK_FALSE(PvKeyIndex("PV01").has_value());
  CHECK_FALSE(PvKeyIndex("PV").has_value());
  CHECK_FALSE(PvKeyIndex("PV-1").has_value());
  CHECK_FALSE(PvKeyIndex("PVx").has_value());
  CHECK_FALSE(PvKeyIndex("POOL_UUID").has_value());
  CHECK(PvKey(3) == "PV3");
}

TEST_CASE("PV entries encode as oVirt's encodePVInfo") {
  PvMapping pv{"36001405a1b2", "Xa2b3c-dE4f", 0, 77, 0};
  CHECK(*EncodePvMapping(pv) ==
        "pv:36001405a1b2,uuid:Xa2b3c-dE4f,pestart:0,pecount:77,mapoffset:0");
  pv.guid = "a,b";
  auto bad = EncodePvMapping(pv);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().storage_code() == storage_code::kInvalidParameter);
  pv.guid = "";
  CHECK_FALSE(EncodePvMapping(pv).ok());
}

TEST_CASE("PV entries decode in any order, the guid may hold ':'") {
  auto pv = DecodePvMapping(
      "mapoffset:5,pecount:7,pestart:0,uuid:U,pv:my:name");
  REQUIRE(pv.ok());
  CHECK(*pv == PvMapping{"my:name", "U", 0, 7, 5});
  CHECK(*EncodePvMapping(*pv) ==
        "pv:my:name,uuid:U,pestart:0,pecount:7,mapoffset:5");
}

TEST_CASE("damaged PV entries are corruption") {
  for (const char* bad :
       {"", "pv:a,uuid:b,pestart:0,pecount:1",  // no mapoffset
        "pv:a,uuid:b,pestart:0,pecount:1,mapoffset:0,extra:1",
        "pv:a,pv:b,pestart:0,pecount:1,mapoffset:0",
        "pv:a,uuid:b,pestart:0,pecount:x,mapoffset:0",
        "pv:a,uuid:b,pestart:0,pecount:01,mapoffset:0",
        "pv:a,uuid:b,pestart:0,pecount:-1,mapoffset:0",
        "pv:a,uuid:b,pestart:0,pecount:99999999999999999999,mapoffset:0",
        "pv:,uuid:b,pestart:0,pecount:1,mapoffset:0",
        "pv:a,uuid:b,pestart:0,pecount:1,mapoffset:0,",
        "pv:a;uuid:b,pestart:0,pecount:1,mapoffset:0"}) {
    auto parsed = DecodePvMapping(bad);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().code() == Code::kDataLoss);
    CHECK(parsed.status().storage_code() ==
          storage_code::kMetaDataValidationError);
  }
}

TEST_CASE("a new domain maps its PVs back to back, PV0 first") {
  PvMappings m = UpdatePvMappings({}, {{"a", "ua", 77}, {"b", "ub", 157}});
  REQUIRE(m.size() == 2);
  CHECK(m.at(0) == PvMapping{"a", "ua", 0, 77, 0});
  CHECK(m.at(1) == PvMapping{"b", "ub", 0, 157, 77});
}

TEST_CASE("extending keeps old entries and appends after the last") {
  PvMappings m = UpdatePvMappings({}, {{"a", "ua", 77}, {"b", "ub", 157}});
  // "a" was resized: its entry is kept as written, like oVirt.
  PvMappings extended =
      UpdatePvMappings(m, {{"a", "ua", 99}, {"b", "ub", 157}, {"c", "uc", 8}});
  REQUIRE(extended.size() == 3);
  CHECK(extended.at(0).pe_count == 77);
  CHECK(extended.at(2) == PvMapping{"c", "uc", 0, 8, 234});
}

TEST_CASE("a device that left the VG leaves a gap, never a reused number") {
  PvMappings m = UpdatePvMappings(
      {}, {{"a", "ua", 10}, {"b", "ub", 20}, {"c", "uc", 30}});
  PvMappings reduced = UpdatePvMappings(m, {{"a", "ua", 10}, {"c", "uc", 30}});
  REQUIRE(reduced.size() == 2);
  CHECK(reduced.contains(0));
  CHECK(reduced.contains(2));
  PvMappings again = UpdatePvMappings(
      reduced, {{"a", "ua", 10}, {"c", "uc", 30}, {"d", "ud", 5}});
  REQUIRE(again.size() == 3);
  CHECK(again.at(2).guid == "c");
  CHECK(again.at(3) == PvMapping{"d", "ud", 0, 5, 60});
}

}  // namespace
}  // namespace sanpool::block
