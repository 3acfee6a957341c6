#include "domains/formats/volume_metadata.h"

#include <catch2/catch.hpp>

#include "domains/storage_errors.h"

namespace sanpool::formats {
namespace {

VolumeMetadata Example() {
  VolumeMetadata md;
  md.capacity = 10737418240;
  md.ctime = 1700000000;
  md.description = R"({"DiskAlias":"vm1_Disk1","DiskDescription":""})";
  md.domain = "9d1b6a8f-1c2e-4a5b-8d3c-7e6f5a4b3c2d";
  md.format = VolumeFormat::kCow;
  md.image = "c0ffee00-1111-4222-8333-444455556666";
  md.allocation = Allocation::kSparse;
  return md;
}

// Golden bytes in oVirt's v5 order (sorted keys, EOF line).
constexpr char kGoldenV5[] =
    "CAP=10737418240\n"
    "CTIME=1700000000\n"
    "DESCRIPTION={\"DiskAlias\":\"vm1_Disk1\",\"DiskDescription\":\"\"}\n"
    "DISKTYPE=DATA\n"
    "DOMAIN=9d1b6a8f-1c2e-4a5b-8d3c-7e6f5a4b3c2d\n"
    "FORMAT=COW\n"
    "GEN=0\n"
    "IMAGE=c0ffee00-1111-4222-8333-444455556666\n"
    "LEGALITY=LEGAL\n"
    "PUUID=00000000-0000-0000-0000-000000000000\n"
    "SEQ=0\n"
    "TYPE=SPARSE\n"
    "VOLTYPE=LEAF\n"
    "EOF\n";

TEST_CASE("volume metadata encodes to the v5 golden bytes") {
  auto text = EncodeVolumeMetadata(Example());
  REQUIRE(text.ok());
  CHECK(*text == kGoldenV5);
}

TEST_CASE("v4 encoding uses SIZE in sectors and MTIME=0") {
  auto text = EncodeVolumeMetadata(Example(), MetadataVersion::kV4);
  REQUIRE(text.ok());
  CHECK(text->find("SIZE=20971520\n") != std::string::npos);
  CHECK(text->find("MTIME=0\n") != std::string::npos);
  CHECK(text->find("CAP=") == std::string::npos);
  auto back = DecodeVolumeMetadata(*text);
  REQUIRE(back.ok());
  CHECK(back->capacity == Example().capacity);
}

TEST_CASE("volume metadata round-trips, also from a NUL-padded slot") {
  std::string slot = kGoldenV5;
  slot.resize(kVolumeMetadataSize, '\0');
  auto md = DecodeVolumeMetadata(slot);
  REQUIRE(md.ok());
  CHECK(*md == Example());
}

TEST_CASE("parsing is tolerant the way oVirt's is") {
  std::string text =
      "CAP = 1024\n"
      "junk line without equals\n"
      "CTIME=1\nDESCRIPTION=\nDISKTYPE=DATA\n"
      "DOMAIN=d\nFORMAT=RAW\nIMAGE=i\nLEGALITY=ILLEGAL\n"
      "PUUID=p\nTYPE=PREALLOCATED\nVOLTYPE=INTERNAL\n"
      "EOF\nanything after EOF=is ignored\n";
  auto md = DecodeVolumeMetadata(text);
  REQUIRE(md.ok());
  CHECK(md->capacity == 1024);
  CHECK(md->generation == 0);  // missing GEN defaults to 0
  CHECK(md->sequence == 0);    // missing SEQ defaults to 0
  CHECK(md->legality == Legality::kIllegal);
  CHECK(md->role == VolumeRole::kInternal);
}

TEST_CASE("the description is truncated to 210 characters, not bytes") {
  VolumeMetadata md = Example();
  md.description.clear();
  for (int i = 0; i < 300; ++i) md.description += "\xc3\xa9";  // é
  // 210 × 2 bytes of description overflow 512 bytes together with the rest.
  auto text = EncodeVolumeMetadata(md);
  REQUIRE_FALSE(text.ok());
  CHECK(text.status().storage_code() == storage_code::kMetadataOverflow);
  md.description = std::string(300, 'x');
  text = EncodeVolumeMetadata(md);
  REQUIRE(text.ok());
  CHECK(text->find("DESCRIPTION=" + std::string(210, 'x') + "\n") != std::string::npos);
}

TEST_CASE("corrupt or foreign volume metadata is reported") {
  auto expect_corrupt = [](std::string text, std::string_view needle) {
    auto r = DecodeVolumeMetadata(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kDataLoss);
    CHECK(std::string(r.status().message()).find(needle) != std::string::npos);
  };
  std::string golden = kGoldenV5;
  SECTION("torn: no EOF line") { expect_corrupt(golden.substr(0, 100), "no EOF"); }
  SECTION("cleared marker") { expect_corrupt("NONE=######\nEOF\n", "cleared"); }
  SECTION("unknown key") { expect_corrupt("FOO=1\n" + golden, "unknown key FOO"); }
  SECTION("bad enum") {
    std::string s = golden;
    s.replace(s.find("FORMAT=COW"), 10, "FORMAT=XYZ");
    expect_corrupt(s, "FORMAT=XYZ");
  }
  SECTION("bad number") {
    std::string s = golden;
    s.replace(s.find("CAP=1"), 5, "CAP=x");
    expect_corrupt(s, "CAP=x");
  }
  SECTION("generation out of range") {
    std::string s = golden;
    s.replace(s.find("GEN=0"), 5, "GEN=1000");
    expect_corrupt(s, "GEN=1000");
  }
  SECTION("missing key") {
    std::string s = golden;
    s.erase(s.find("IMAGE="), s.find("LEGALITY") - s.find("IMAGE="));
    auto r = DecodeVolumeMetadata(s);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().storage_code() == storage_code::kMetaDataKeyNotFound);
  }
}

TEST_CASE("values that would break the line format are refused on encode") {
  VolumeMetadata md = Example();
  md.description = "a\nCAP=1";
  CHECK(EncodeVolumeMetadata(md).status().code() == Code::kInvalidArgument);
}

TEST_CASE("wire ids follow oVirt") {
  CHECK(WireId(VolumeFormat::kCow) == 4);
  CHECK(WireId(VolumeFormat::kRaw) == 5);
  CHECK(*VolumeFormatFromWire(4) == VolumeFormat::kCow);
  CHECK(VolumeFormatFromWire(3).status().storage_code() == storage_code::kInvalidParameter);
  CHECK(*AllocationFromWire(1) == Allocation::kPreallocated);
  CHECK_FALSE(AllocationFromWire(0).ok());
  CHECK(NextGeneration(999) == 0);
  CHECK(NextGeneration(5) == 6);
}

}  // namespace
}  // namespace sanpool::formats
