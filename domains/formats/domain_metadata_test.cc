#include "domains/formats/domain_metadata.h"

#include <catch2/catch.hpp>

#include "domains/formats/domain_metadata_golden.h"
#include "domains/formats/lvm_tag_codec.h"
#include "domains/storage_errors.h"

namespace sanpool::formats {
namespace {

using testing::kGoldenV5;
using testing::kSd;
using testing::kSp;

MetadataDict ExampleV5() {
  return {{"ALIGNMENT", "1048576"}, {"BLOCK_SIZE", "512"},
          {"CLASS", "Data"},        {"DESCRIPTION", "nfs1"},
          {"IOOPTIMEOUTSEC", "10"}, {"LEASERETRIES", "3"},
          {"LEASETIMESEC", "60"},   {"LOCKPOLICY", ""},
          {"LOCKRENEWALINTERVALSEC", "5"},
          {"POOL_UUID", kSp},       {"REMOTE_PATH", "srv:/exp"},
          {"ROLE", "Regular"},      {"SDUUID", kSd},
          {"TYPE", "NFS"},          {"VERSION", "5"}};
}

TEST_CASE("domain metadata encodes to oVirt's golden bytes") {
  auto bytes = EncodeMetadataFile(ExampleV5());
  REQUIRE(bytes.ok());
  CHECK(*bytes == kGoldenV5);
}

TEST_CASE("domain metadata decodes the golden bytes") {
  auto dict = DecodeMetadataFile(kGoldenV5);
  REQUIRE(dict.ok());
  CHECK(*dict == ExampleV5());
}

TEST_CASE("non-ASCII values are sealed as XML character references") {
  MetadataDict md = ExampleV5();
  md["DESCRIPTION"] = "donn\xc3\xa9" "es \xc3\xa9\xe2\x82\xac";  // "données é€"
  auto sum = MetadataChecksum(md);
  REQUIRE(sum.ok());
  CHECK(*sum == "38d9fdbb707ec26ce15a4b92feb171bba98e293b");
  auto bytes = EncodeMetadataFile(md);
  REQUIRE(bytes.ok());
  auto back = DecodeMetadataFile(*bytes);
  REQUIRE(back.ok());
  CHECK(*back == md);
}

TEST_CASE("trailing NULs from direct-I/O padding are ignored") {
  std::string padded = kGoldenV5;
  padded.append(4096 - padded.size(), '\0');
  CHECK(DecodeMetadataFile(padded).ok());
}

TEST_CASE("empty metadata is an empty dictionary") {
  auto dict = DecodeMetadataFile(std::string(512, '\0'));
  REQUIRE(dict.ok());
  CHECK(dict->empty());
}

TEST_CASE("corrupt domain metadata is reported, never repaired") {
  auto expect_broken = [](std::string_view bytes, std::string_view needle) {
    auto r = DecodeMetadataFile(bytes);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kDataLoss);
    CHECK(r.status().storage_code() == storage_code::kMetaDataSealIsBroken);
    CHECK(std::string(r.status().message()).find(needle) != std::string::npos);
  };
  std::string golden = kGoldenV5;

  SECTION("a changed value breaks the seal") {
    std::string s = golden;
    s.replace(s.find("nfs1"), 4, "nfs2");
    expect_broken(s, "checksum mismatch");
  }
  SECTION("a truncated file loses its seal") {
    expect_broken(golden.substr(0, golden.find("_SHA")), "no _SHA_CKSUM");
  }
  SECTION("a torn last line") {
    expect_broken(golden.substr(0, golden.size() - 5), "checksum mismatch");
  }
  SECTION("a line without '='") {
    expect_broken("garbage\n" + golden, "has no '='");
  }
  SECTION("duplicate keys") {
    expect_broken("ROLE=Master\n" + golden, "duplicate key ROLE");
  }
  SECTION("oversized") {
    expect_broken(std::string(kMaxDomainMetadataBytes + 1, 'A'), "more than");
  }
  SECTION("NUL in the middle") {
    std::string s = golden;
    s[10] = '\0';
    expect_broken(s, "NUL");
  }
  SECTION("invalid UTF-8 in a sealed value") {
    MetadataDict md = ExampleV5();
    std::string s = golden;
    s.replace(s.find("nfs1"), 4, "nf\xff\xfe");
    expect_broken(s, "UTF-8");
  }
}

TEST_CASE("keys and values that cannot be stored are rejected on encode") {
  MetadataDict md = ExampleV5();
  md["DESCRIPTION"] = "two\nlines";
  CHECK(EncodeMetadataFile(md).status().code() == Code::kInvalidArgument);
  md = ExampleV5();
  md["_SHA_CKSUM"] = "x";
  CHECK(EncodeMetadataFile(md).status().code() == Code::kInvalidArgument);
  md = ExampleV5();
  md["A=B"] = "x";
  CHECK(EncodeMetadataFile(md).status().code() == Code::kInvalidArgument);
}

TEST_CASE("LVM tag escaping matches oVirt's lvmTagEncode") {
  auto enc = LvmTagEncode("DESCRIPTION=my domain, \xc3\xa9");
  REQUIRE(enc.ok());
  CHECK(*enc == "DESCRIPTION=my&32&domain&44&&32&&233&");
  auto dec = LvmTagDecode(*enc);
  REQUIRE(dec.ok());
  CHECK(*dec == "DESCRIPTION=my domain, \xc3\xa9");
  CHECK(*LvmTagEncode("PV0=pv:36001405,uuid:abc-DEF") == "PV0=pv:36001405&44&uuid:abc-DEF");
  CHECK(*LvmTagDecode("a&b&&c") == "a&b&&c");  // not escapes: left alone
  CHECK_FALSE(LvmTagDecode("x&55296&").ok());  // a surrogate
}

}  // namespace
}  // namespace sanpool::formats
