#include "domains/block/block_metadata.h"

#include <catch2/catch.hpp>

#include "domains/formats/domain_metadata.h"
#include "domains/formats/lvm_tag_codec.h"
#include "domains/storage_errors.h"

namespace sanpool::block {
namespace {

constexpr char kSd[] = "9d1b6a8f-1c2e-4a5b-8d3c-7e6f5a4b3c2d";

BlockDomainMetadata Example() {
  BlockDomainMetadata md;
  md.common.sd_uuid = kSd;
  md.common.type = DomainType::kIscsi;
  md.common.description = "blk dom, \xc3\xa9";  // "blk dom, é"
  md.vg_uuid = "zZ9yX8-wV7u-T6sR-5qPo-4nMl-3kJi-2hGf1e";
  md.pvs = UpdatePvMappings({},
      {{"36001405a1b2c3d4e5f6", "Xa2b3c-dE4f-Gh5i-Jk6l-Mn7o-Pq8r-St9u0v", 77},
       {"36001405ffeeddccbbaa", "Ab1cDe-2fGh-3iJk-4lMn-5oPq-6rSt-7uVwXy",
        157}});
  return md;
}

// Golden tags: lines sorted and sealed, then escaped, computed with Python
// exactly as oVirt's persistent._calc_checksum and blockSD.lvmTagEncode do.
const std::vector<std::string> kGoldenTags = {
    "MDT_ALIGNMENT=1048576",
    "MDT_BLOCK_SIZE=512",
    "MDT_CLASS=Data",
    "MDT_DESCRIPTION=blk&32&dom&44&&32&&233&",
    "MDT_IOOPTIMEOUTSEC=10",
    "MDT_LEASERETRIES=3",
    "MDT_LEASETIMESEC=60",
    "MDT_LOCKPOLICY=",
    "MDT_LOCKRENEWALINTERVALSEC=5",
    "MDT_POOL_UUID=",
    "MDT_PV0=pv:36001405a1b2c3d4e5f6&44&uuid:Xa2b3c-dE4f-Gh5i-Jk6l-Mn7o-Pq8r-"
    "St9u0v&44&pestart:0&44&pecount:77&44&mapoffset:0",
    "MDT_PV1=pv:36001405ffeeddccbbaa&44&uuid:Ab1cDe-2fGh-3iJk-4lMn-5oPq-6rSt-"
    "7uVwXy&44&pestart:0&44&pecount:157&44&mapoffset:77",
    "MDT_ROLE=Regular",
    "MDT_SDUUID=9d1b6a8f-1c2e-4a5b-8d3c-7e6f5a4b3c2d",
    "MDT_TYPE=ISCSI",
    "MDT_VERSION=5",
    "MDT_VGUUID=zZ9yX8-wV7u-T6sR-5qPo-4nMl-3kJi-2hGf1e",
    "MDT__SHA_CKSUM=f8e24029152318511cbac5b5b5314148e7f28aa8",
};

// The golden dictionary, for corruption cases that must re-seal.
formats::MetadataDict GoldenDict() {
  std::vector<std::string> lines;
  for (const std::string& tag : kGoldenTags) {
    lines.push_back(*formats::LvmTagDecode(tag.substr(4)));
  }
  return *formats::DecodeMetadataLines(lines);
}

std::vector<std::string> Sealed(const formats::MetadataDict& dict) {
  std::vector<std::string> tags;
  auto lines = formats::EncodeMetadataLines(dict);
  REQUIRE(lines.ok());
  for (const std::string& line : *lines) {
    tags.push_back("MDT_" + *formats::LvmTagEncode(line));
  }
  return tags;
}

Status DecodeError(const std::vector<std::string>& tags) {
  auto md = DecodeDomainMetadataTags(tags);
  REQUIRE_FALSE(md.ok());
  return md.status();
}

TEST_CASE("block domain metadata encodes to the golden VG tags") {
  auto tags = EncodeDomainMetadataTags(Example());
  REQUIRE(tags.ok());
  CHECK(*tags == kGoldenTags);
}

TEST_CASE("golden VG tags decode, in any order, ignoring other tags") {
  std::vector<std::string> vg_tags(kGoldenTags.rbegin(), kGoldenTags.rend());
  vg_tags.push_back("RHAT_storage_domain");
  auto md = DecodeDomainMetadataTags(vg_tags);
  REQUIRE(md.ok());
  CHECK(*md == Example());
  CHECK(md->pvs[1].map_offset == 77);
}

TEST_CASE("legacy block size keys survive a round trip") {
  BlockDomainMetadata md = Example();
  md.logical_block_size = 512;
  md.physical_block_size = 4096;
  auto tags = EncodeDomainMetadataTags(md);
  REQUIRE(tags.ok());
  CHECK(std::count(tags->begin(), tags->end(), "MDT_LOGBLKSIZE=512") == 1);
  auto back = DecodeDomainMetadataTags(*tags);
  REQUIRE(back.ok());
  CHECK(*back == md);
}

TEST_CASE("an update touches only the changed lines and the seal") {
  BlockDomainMetadata md = Example();
  md.common.description = "renamed";
  std::vector<std::string> current = kGoldenTags;
  current.push_back("RHAT_storage_domain");
  TagChange change = MetadataTagChange(current, *EncodeDomainMetadataTags(md));
  REQUIRE(change.remove.size() == 2);
  CHECK(change.remove[0] == "MDT_DESCRIPTION=blk&32&dom&44&&32&&233&");
  CHECK(change.remove[1].starts_with("MDT__SHA_CKSUM="));
  REQUIRE(change.add.size() == 2);
  CHECK(change.add[0] == "MDT_DESCRIPTION=renamed");
  CHECK(MetadataTagChange(current, kGoldenTags) == TagChange{});
}

TEST_CASE("encoding refuses what cannot be stored") {
  BlockDomainMetadata md = Example();
  md.common.type = DomainType::kNfs;
  CHECK_FALSE(EncodeDomainMetadataTags(md).ok());
  md = Example();
  md.pvs.clear();
  CHECK_FALSE(EncodeDomainMetadataTags(md).ok());
  md = Example();
  md.pvs[0].guid = "a,b";
  CHECK_FALSE(EncodeDomainMetadataTags(md).ok());
  md = Example();
  md.common.pool = PoolMetadata{};
  md.common.role = DomainRole::kMaster;
  for (int i = 0; i < 40; ++i) {
    md.common.pool->domains.emplace_back(kSd, "Active");
  }
  auto tags = EncodeDomainMetadataTags(md);
  REQUIRE_FALSE(tags.ok());
  CHECK(tags.status().storage_code() == storage_code::kMetadataOverflow);
}

TEST_CASE("a VG without MDT_ tags is not a domain") {
  Status s = DecodeError({"RHAT_storage_domain_UNREADY"});
  CHECK(s.code() == Code::kNotFound);
  CHECK(s.storage_code() == storage_code::kStorageDomainMetadataNotFound);
}

TEST_CASE("a damaged tag breaks the seal") {
  std::vector<std::string> tags = kGoldenTags;
  tags[2] = "MDT_CLASS=Iso";
  CHECK(DecodeError(tags).storage_code() == storage_code::kMetaDataSealIsBroken);
  tags = kGoldenTags;
  tags.pop_back();  // seal lost
  CHECK(DecodeError(tags).storage_code() == storage_code::kMetaDataSealIsBroken);
  tags = kGoldenTags;
  tags.erase(tags.begin() + 11);  // PV1 lost
  CHECK(DecodeError(tags).storage_code() == storage_code::kMetaDataSealIsBroken);
  tags = kGoldenTags;
  tags[3] = "MDT_DESCRIPTION=&55296&";  // a surrogate is no character
  CHECK(DecodeError(tags).storage_code() == storage_code::kMetaDataSealIsBroken);
}

TEST_CASE("sealed but wrong content is refused with the right code") {
  formats::MetadataDict d = GoldenDict();
  d["VERSION"] = "4";
  CHECK(DecodeError(Sealed(d)).storage_code() ==
        storage_code::kUnsupportedDomainVersion);
  d = GoldenDict();
  d.erase("VGUUID");
  CHECK(DecodeError(Sealed(d)).storage_code() ==
        storage_code::kMetaDataKeyNotFound);
  d = GoldenDict();
  d.erase("PV0");  // PV1 without PV0
  CHECK(DecodeError(Sealed(d)).storage_code() ==
        storage_code::kMetaDataKeyNotFound);
  d = GoldenDict();
  d.erase("PV0");
  d.erase("PV1");
  CHECK(DecodeError(Sealed(d)).storage_code() ==
        storage_code::kMetaDataKeyNotFound);
  d = GoldenDict();
  d["PV01"] = d["PV1"];  // not a PV key: unknown to the common reader
  CHECK(DecodeError(Sealed(d)).storage_code() ==
        storage_code::kMetaDataValidationError);
  d = GoldenDict();
  d["TYPE"] = "NFS";
  d["REMOTE_PATH"] = "srv:/x";
  CHECK(DecodeError(Sealed(d)).storage_code() ==
        storage_code::kMetaDataValidationError);
  d = GoldenDict();
  d["REMOTE_PATH"] = "srv:/x";
  CHECK(DecodeError(Sealed(d)).storage_code() ==
        storage_code::kMetaDataValidationError);
  d = GoldenDict();
  d["LOGBLKSIZE"] = "big";
  CHECK(DecodeError(Sealed(d)).storage_code() ==
        storage_code::kMetaDataValidationError);
  d = GoldenDict();
  d["PV1"] = "pv:x,uuid:y,pestart:0,pecount:-1,mapoffset:77";
  CHECK(DecodeError(Sealed(d)).storage_code() ==
        storage_code::kMetaDataValidationError);
}

TEST_CASE("PV numbers may have gaps after a device left the VG") {
  formats::MetadataDict d = GoldenDict();
  d["PV2"] = d["PV1"];
  d.erase("PV1");
  auto md = DecodeDomainMetadataTags(Sealed(d));
  REQUIRE(md.ok());
  CHECK(md->pvs.size() == 2);
  CHECK(md->pvs.at(2).pe_count == 157);
  auto tags = EncodeDomainMetadataTags(*md);
  REQUIRE(tags.ok());
  CHECK(*tags == Sealed(d));
}

// Volume slots.

formats::VolumeMetadata ExampleVolume() {
  formats::VolumeMetadata md;
  md.capacity = 1073741824;
  md.ctime = 1700000000;
  md.domain = kSd;
  md.format = formats::VolumeFormat::kCow;
  md.image = "5c7e1b9a-0d3f-4e6a-9b2c-1f2e3d4c5b6a";
  return md;
}

constexpr char kGoldenSlotText[] =
    "CAP=1073741824\n"
    "CTIME=1700000000\n"
    "DESCRIPTION=\n"
    "DISKTYPE=DATA\n"
    "DOMAIN=9d1b6a8f-1c2e-4a5b-8d3c-7e6f5a4b3c2d\n"
    "FORMAT=COW\n"
    "GEN=0\n"
    "IMAGE=5c7e1b9a-0d3f-4e6a-9b2c-1f2e3d4c5b6a\n"
    "LEGALITY=LEGAL\n"
    "PUUID=00000000-0000-0000-0000-000000000000\n"
    "SEQ=0\n"
    "TYPE=SPARSE\n"
    "VOLTYPE=LEAF\n"
    "EOF\n";

std::string GoldenSlot() {
  std::string slot = kGoldenSlotText;
  slot.resize(512, '\0');
  return slot;
}

TEST_CASE("a slot is the V5 text padded with NULs to 512 bytes") {
  auto slot = EncodeVolumeSlot(ExampleVolume());
  REQUIRE(slot.ok());
  CHECK(slot->size() == 512);
  CHECK(*slot == GoldenSlot());
  auto back = DecodeVolumeSlot(GoldenSlot());
  REQUIRE(back.ok());
  CHECK(*back == ExampleVolume());
}

TEST_CASE("a cleared slot is reported as cleared in both modes") {
  CHECK(ClearedVolumeSlot() == std::string(512, '\0'));
  for (SlotParse mode : {SlotParse::kStrict, SlotParse::kTolerant}) {
    auto md = DecodeVolumeSlot(ClearedVolumeSlot(), mode);
    REQUIRE_FALSE(md.ok());
    CHECK(md.status().storage_code() == storage_code::kMetadataCleared);
  }
}

TEST_CASE("strict slots refuse junk after EOF, tolerant ones read on") {
  std::string slot = GoldenSlot();
  slot[400] = 'X';
  auto strict = DecodeVolumeSlot(slot);
  REQUIRE_FALSE(strict.ok());
  CHECK(strict.status().storage_code() == storage_code::kVolumeMetadataReadError);
  auto tolerant = DecodeVolumeSlot(slot, SlotParse::kTolerant);
  REQUIRE(tolerant.ok());
  CHECK(*tolerant == ExampleVolume());
}

TEST_CASE("strict slots must be exactly 512 bytes") {
  std::string slot = GoldenSlot();
  CHECK_FALSE(DecodeVolumeSlot(slot.substr(0, 511)).ok());
  CHECK_FALSE(DecodeVolumeSlot(slot + std::string(512, '\0')).ok());
  CHECK(DecodeVolumeSlot(slot + std::string(512, '\0'), SlotParse::kTolerant)
            .ok());
}

TEST_CASE("a torn slot without EOF is refused in both modes") {
  std::string slot = GoldenSlot();
  size_t eof = slot.find("EOF\n");
  std::fill(slot.begin() + static_cast<long>(eof), slot.end(), '\0');
  for (SlotParse mode : {SlotParse::kStrict, SlotParse::kTolerant}) {
    auto md = DecodeVolumeSlot(slot, mode);
    REQUIRE_FALSE(md.ok());
    CHECK(md.status().code() == Code::kDataLoss);
  }
}

TEST_CASE("a slot whose text would pass 512 bytes is not written") {
  formats::VolumeMetadata md = ExampleVolume();
  md.description.clear();
  for (int i = 0; i < 210; ++i) md.description += "\xc3\xa9";  // 420 bytes
  auto slot = EncodeVolumeSlot(md);
  REQUIRE_FALSE(slot.ok());
  CHECK(slot.status().storage_code() == storage_code::kMetadataOverflow);
}

}  // namespace
}  // namespace sanpool::block
