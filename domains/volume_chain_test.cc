#include "domains/volume_chain.h"

#include <catch2/catch.hpp>
#include <map>

namespace sanpool {
namespace {

using formats::Legality;
using formats::VolumeMetadata;
using formats::VolumeRole;

const std::string kA = "aaaaaaaa-0000-0000-0000-000000000000";
const std::string kB = "bbbbbbbb-0000-0000-0000-000000000000";
const std::string kC = "cccccccc-0000-0000-0000-000000000000";
const std::string kImg = "11111111-0000-0000-0000-000000000000";
const std::string kOther = "22222222-0000-0000-0000-000000000000";

VolumeMetadata Md(std::string parent, VolumeRole role = VolumeRole::kLeaf,
                  Legality legality = Legality::kLegal) {
  VolumeMetadata md;
  md.parent = parent.empty() ? std::string(formats::kBlankUuid) : parent;
  md.role = role;
  md.legality = legality;
  return md;
}

VolumeMetadataLookup LookupIn(std::map<std::string, VolumeMetadata> vols) {
  return [vols](const std::string& vol) -> Result<VolumeMetadata> {
    auto it = vols.find(vol);
    if (it == vols.end()) return Status(Code::kNotFound, "no " + vol, 201);
    return it->second;
  };
}

TEST_CASE("WalkChain follows parents down to the base") {
  auto lookup = LookupIn({{kA, Md("", VolumeRole::kInternal)},
                          {kB, Md(kA, VolumeRole::kInternal)},
                          {kC, Md(kB)}});
  auto chain = WalkChain(kImg, kC, lookup, IllegalVolumes::kRefuse);
  REQUIRE(chain.ok());
  REQUIRE(chain->size() == 3);
  CHECK((*chain)[0].vol_uuid == kC);
  CHECK((*chain)[2].vol_uuid == kA);
}

TEST_CASE("WalkChain errors: missing volume, missing parent, cycle, illegal") {
  auto missing_parent = LookupIn({{kC, Md(kB)}});
  CHECK(WalkChain(kImg, kA, missing_parent, IllegalVolumes::kRefuse)
            .status()
            .storage_code() == 201);
  CHECK(WalkChain(kImg, kC, missing_parent, IllegalVolumes::kRefuse)
            .status()
            .storage_code() == 262);
  auto cycle = LookupIn({{kA, Md(kB)}, {kB, Md(kA)}});
  CHECK(WalkChain(kImg, kA, cycle, IllegalVolumes::kRefuse)
            .status()
            .storage_code() == 262);
  auto illegal = LookupIn({{kA, Md("", VolumeRole::kLeaf, Legality::kIllegal)}});
  CHECK(WalkChain(kImg, kA, illegal, IllegalVolumes::kRefuse)
            .status()
            .storage_code() == 227);
  CHECK(WalkChain(kImg, kA, illegal, IllegalVolumes::kAllow).ok());
}

TEST_CASE("CheckSnapshotParent applies oVirt's parent rules") {
  VolumeMetadata leaf = Md("");
  SnapshotParent same{.md = &leaf, .parent_img = kImg, .parent_vol = kA,
                      .target_img = kImg, .target_has_volumes = nullptr};
  auto r = CheckSnapshotParent(same);
  REQUIRE(r.ok());
  CHECK_FALSE(*r);

  VolumeMetadata internal = Md("", VolumeRole::kInternal);
  same.md = &internal;
  CHECK(CheckSnapshotParent(same).status().storage_code() == 204);

  VolumeMetadata illegal = Md("", VolumeRole::kLeaf, Legality::kIllegal);
  same.md = &illegal;
  CHECK(CheckSnapshotParent(same).status().storage_code() == 226);

  SnapshotParent other{.md = &leaf, .parent_img = kOther, .parent_vol = kA,
                       .target_img = kImg,
                       .target_has_volumes = [] { return Result<bool>(false); }};
  CHECK(CheckSnapshotParent(other).status().storage_code() == 214);
  VolumeMetadata shared = Md("", VolumeRole::kShared);
  other.md = &shared;
  auto t = CheckSnapshotParent(other);
  REQUIRE(t.ok());
  CHECK(*t);
  other.target_has_volumes = [] { return Result<bool>(true); };
  CHECK(CheckSnapshotParent(other).status().storage_code() == 212);
}

TEST_CASE("CheckVolumeDeletable refuses children and shared templates") {
  VolumeMetadata leaf = Md("");
  CHECK(CheckVolumeDeletable({.vol = kA, .md = &leaf}).ok());
  Status children = CheckVolumeDeletable(
      {.vol = kA, .md = &leaf, .children = {kB}});
  CHECK(children.storage_code() == 204);
  VolumeMetadata shared = Md("", VolumeRole::kShared);
  CHECK(CheckVolumeDeletable(
            {.vol = kA, .md = &shared, .shared_elsewhere = true})
            .storage_code() == 223);
  CHECK(CheckVolumeDeletable({.vol = kA, .md = &shared}).ok());
}

TEST_CASE("ExpectedRoles: INTERNAL iff a parent, templates stay SHARED") {
  std::map<std::string, VolumeMetadata> vols = {
      {kA, Md("", VolumeRole::kLeaf)},
      {kB, Md(kA, VolumeRole::kInternal)},
      {kC, Md("", VolumeRole::kShared)}};
  auto roles = ExpectedRoles(vols);
  CHECK(roles.at(kA) == VolumeRole::kInternal);
  CHECK(roles.at(kB) == VolumeRole::kLeaf);
  CHECK(roles.at(kC) == VolumeRole::kShared);
}

}  // namespace
}  // namespace sanpool
