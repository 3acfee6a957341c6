#include "domains/sd_metadata.h"

#include <catch2/catch.hpp>

#include "domains/formats/domain_metadata_golden.h"
#include "domains/storage_errors.h"

namespace sanpool {
namespace {

using formats::testing::kGoldenV5;  // the reference's v5 example
using formats::testing::kSd;
using formats::testing::kSp;

DomainMetadata Example() {
  DomainMetadata md;
  md.sd_uuid = kSd;
  md.type = DomainType::kNfs;
  md.description = "nfs1";
  md.pool_uuids = {kSp};
  md.remote_path = "srv:/exp";
  return md;
}

std::string Reseal(formats::MetadataDict dict) {
  return formats::EncodeMetadataFile(dict).value();
}

formats::MetadataDict ExampleDict() { return ToDict(Example()).value(); }

TEST_CASE("typed domain metadata encodes to the golden v5 bytes") {
  auto bytes = EncodeDomainMetadataFile(Example());
  REQUIRE(bytes.ok());
  CHECK(*bytes == kGoldenV5);
  auto back = DecodeDomainMetadataFile(kGoldenV5);
  REQUIRE(back.ok());
  CHECK(*back == Example());
}

TEST_CASE("master domain round-trips its pool metadata") {
  DomainMetadata md = Example();
  md.role = DomainRole::kMaster;
  md.pool = PoolMetadata{.description = "dc1",
                         .domains = {{kSd, "Active"}},
                         .spm_id = 2,
                         .spm_lver = 7,
                         .master_version = 3};
  auto bytes = EncodeDomainMetadataFile(md);
  REQUIRE(bytes.ok());
  CHECK(bytes->find("POOL_DOMAINS=" + std::string(kSd) + ":Active\n") !=
        std::string::npos);
  CHECK(bytes->find("MASTER_VERSION=3\n") != std::string::npos);
  auto back = DecodeDomainMetadataFile(*bytes);
  REQUIRE(back.ok());
  CHECK(*back == md);
}

TEST_CASE("a version other than 5 is 'unsupported version'") {
  for (std::string v : {"4", "3", "0", "6", "five", ""}) {
    auto dict = ExampleDict();
    dict["VERSION"] = v;
    dict["LOGBLKSIZE"] = "512";  // a v4 key: the version wins
    auto md = DecodeDomainMetadataFile(Reseal(dict));
    REQUIRE_FALSE(md.ok());
    CHECK(md.status().storage_code() == storage_code::kUnsupportedDomainVersion);
  }
}

TEST_CASE("unknown keys, missing keys and bad values are specific errors") {
  auto dict = ExampleDict();
  dict["FOO"] = "bar";
  auto md = DecodeDomainMetadataFile(Reseal(dict));
  REQUIRE_FALSE(md.ok());
  CHECK(md.status().storage_code() == storage_code::kMetaDataValidationError);
  CHECK(md.status().message().find("FOO") != std::string_view::npos);

  dict = ExampleDict();
  dict.erase("SDUUID");
  md = DecodeDomainMetadataFile(Reseal(dict));
  REQUIRE_FALSE(md.ok());
  CHECK(md.status().storage_code() == storage_code::kMetaDataKeyNotFound);

  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"BLOCK_SIZE", "1024"}, {"ALIGNMENT", "2097152"},
           {"CLASS", "data"}, {"TYPE", "NFS4"}, {"ROLE", "master"},
           {"SDUUID", "../../etc"}, {"POOL_UUID", "x"},
           {"LEASETIMESEC", "6O"}, {"DESCRIPTION", std::string(51, 'd')}}) {
    dict = ExampleDict();
    dict[key] = value;
    md = DecodeDomainMetadataFile(Reseal(dict));
    INFO(key << "=" << value);
    REQUIRE_FALSE(md.ok());
    CHECK(md.status().code() == Code::kDataLoss);
  }
}

TEST_CASE("a broken seal or empty file is never accepted") {
  std::string bytes = kGoldenV5;
  bytes[bytes.find("nfs1")] = 'N';
  auto md = DecodeDomainMetadataFile(bytes);
  REQUIRE_FALSE(md.ok());
  CHECK(md.status().storage_code() == storage_code::kMetaDataSealIsBroken);
  md = DecodeDomainMetadataFile("");
  REQUIRE_FALSE(md.ok());
  CHECK(md.status().storage_code() ==
        storage_code::kStorageDomainMetadataNotFound);
}

TEST_CASE("description is limited to 50 code points") {
  DomainMetadata md = Example();
  md.description = std::string(50, 'x');
  CHECK(EncodeDomainMetadataFile(md).ok());
  // 50 two-byte characters are 100 bytes but 50 code points.
  md.description.clear();
  for (int i = 0; i < 50; ++i) md.description += "\xc3\xa9";
  CHECK(EncodeDomainMetadataFile(md).ok());
  md.description += "x";
  auto bytes = EncodeDomainMetadataFile(md);
  REQUIRE_FALSE(bytes.ok());
  CHECK(bytes.status().storage_code() ==
        storage_code::kStorageDomainDescriptionTooLong);
}

TEST_CASE("alignment follows block size and host count") {
  CHECK(AlignmentFor(512, 1).value() == kMiB);
  CHECK(AlignmentFor(512, 2000).value() == kMiB);
  CHECK(AlignmentFor(4096, 250).value() == kMiB);
  CHECK(AlignmentFor(4096, 251).value() == 2 * kMiB);
  CHECK(AlignmentFor(4096, 500).value() == 2 * kMiB);
  CHECK(AlignmentFor(4096, 1000).value() == 4 * kMiB);
  CHECK(AlignmentFor(4096, 1001).value() == 8 * kMiB);
  CHECK(AlignmentFor(4096, 2000).value() == 8 * kMiB);
  CHECK_FALSE(AlignmentFor(4096, 2001).ok());
  CHECK_FALSE(AlignmentFor(4096, 0).ok());
  CHECK_FALSE(AlignmentFor(1024, 10).ok());
}

TEST_CASE("wire ids map to domain types and classes") {
  CHECK(DomainTypeFromWire(4).value() == DomainType::kLocalFs);
  CHECK(DomainTypeFromWire(6).value() == DomainType::kPosixFs);
  CHECK_FALSE(DomainTypeFromWire(8).ok());
  CHECK(DomainClassFromWire(1).value() == DomainClass::kData);
  CHECK(DomainClassFromWire(9).status().storage_code() ==
        storage_code::kStorageDomainClassError);
}

}  // namespace
}  // namespace sanpool
