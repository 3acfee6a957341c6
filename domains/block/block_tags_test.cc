#include "domains/block/block_tags.h"

#include <catch2/catch.hpp>

#include "domains/storage_errors.h"

namespace sanpool::block {
namespace {

constexpr char kImg[] = "5c7e1b9a-0d3f-4e6a-9b2c-1f2e3d4c5b6a";
constexpr char kParent[] = "0f1e2d3c-4b5a-4968-8776-655443322110";
constexpr char kBlank[] = "00000000-0000-0000-0000-000000000000";

VolumeLvTags Ready(int slot = 7) {
  return {LvState::kReady, kImg, kParent, slot};
}

Status ParseError(std::vector<std::string> tags) {
  auto parsed = ParseVolumeLvTags(tags);
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.status().code() == Code::kDataLoss);
  return parsed.status();
}

void ExpectCorrupt(std::vector<std::string> tags) {
  Status s = ParseError(std::move(tags));
  CHECK(s.storage_code() == storage_code::kMetaDataValidationError);
}

TEST_CASE("a ready volume carries MD_, PU_ and IU_ in oVirt's order") {
  auto tags = BuildVolumeLvTags(Ready());
  REQUIRE(tags.ok());
  CHECK(*tags == std::vector<std::string>{
                     "MD_7", "PU_0f1e2d3c-4b5a-4968-8776-655443322110",
                     "IU_5c7e1b9a-0d3f-4e6a-9b2c-1f2e3d4c5b6a"});
}

TEST_CASE("a creating volume carries only the initializing tag") {
  auto tags = BuildVolumeLvTags({LvState::kInitializing, "", "", 0});
  REQUIRE(tags.ok());
  CHECK(*tags == std::vector<std::string>{"OVIRT_VOL_INITIALIZING"});
  auto parsed = ParseVolumeLvTags(*tags);
  REQUIRE(parsed.ok());
  CHECK(parsed->state == LvState::kInitializing);
}

TEST_CASE("tags parse back in any order") {
  auto parsed = ParseVolumeLvTags(
      {std::string("IU_") + kImg, "MD_1947", std::string("PU_") + kBlank});
  REQUIRE(parsed.ok());
  CHECK(*parsed == VolumeLvTags{LvState::kReady, kImg, kBlank, 1947});
}

TEST_CASE("removal prefixes parse to their states") {
  auto removing = ParseVolumeLvTags(
      {"MD_3", std::string("PU_") + kParent,
       std::string("IU__remove_me_") + kImg});
  REQUIRE(removing.ok());
  CHECK(removing->state == LvState::kRemoving);
  CHECK(removing->image == kImg);
  auto zeroing = ParseVolumeLvTags(
      {"MD_3", std::string("PU_") + kParent,
       std::string("IU__remove_me_ZERO_") + kImg});
  REQUIRE(zeroing.ok());
  CHECK(zeroing->state == LvState::kZeroing);
  CHECK(zeroing->image == kImg);
  CHECK(ImageTag(kImg, LvState::kZeroing) ==
        std::string("IU__remove_me_ZERO_") + kImg);
}

TEST_CASE("building refuses bad uuids and slots") {
  VolumeLvTags bad = Ready();
  bad.image = "not-a-uuid";
  CHECK_FALSE(BuildVolumeLvTags(bad).ok());
  for (int slot : {0, -1, 1948}) {
    auto tags = BuildVolumeLvTags(Ready(slot));
    REQUIRE_FALSE(tags.ok());
    CHECK(tags.status().storage_code() == storage_code::kInvalidParameter);
  }
}

TEST_CASE("a missing tag is reported by name") {
  Status s = ParseError({std::string("PU_") + kParent,
                         std::string("IU_") + kImg});
  CHECK(s.storage_code() == storage_code::kMetaDataKeyNotFound);
  CHECK(s.message().find("MD_") != std::string_view::npos);
  s = ParseError({"MD_2", std::string("IU_") + kImg});
  CHECK(s.message().find("PU_") != std::string_view::npos);
  s = ParseError({});
  CHECK(s.storage_code() == storage_code::kMetaDataKeyNotFound);
}

TEST_CASE("duplicate tags are corruption") {
  Status s = ParseError({"MD_2", "MD_3", std::string("PU_") + kParent,
                         std::string("IU_") + kImg});
  CHECK(s.storage_code() == storage_code::kMetaDataValidationError);
  CHECK(s.message().find("duplicate") != std::string_view::npos);
  ExpectCorrupt({"MD_2", std::string("PU_") + kParent, std::string("PU_") + kBlank,
              std::string("IU_") + kImg});
  ExpectCorrupt({"MD_2", std::string("PU_") + kParent, std::string("IU_") + kImg,
              std::string("IU__remove_me_") + kImg});
  ExpectCorrupt({"OVIRT_VOL_INITIALIZING", "OVIRT_VOL_INITIALIZING"});
}

TEST_CASE("unknown and garbled tags are corruption") {
  const std::string pu = std::string("PU_") + kParent;
  const std::string iu = std::string("IU_") + kImg;
  for (std::string md : {"MD_0", "MD_01", "MD_1948", "MD_x", "MD_", "MD_-1",
                         "MD_+3", "MD_99999"}) {
    Status s = ParseError({md, pu, iu});
    CHECK(s.storage_code() == storage_code::kMetaDataValidationError);
  }
  ExpectCorrupt({"MD_1", "PU_", iu});
  ExpectCorrupt({"MD_1", pu, "IU_not-a-uuid"});
  ExpectCorrupt({"MD_1", pu, "IU__remove_me_"});
  ExpectCorrupt({"MD_1", pu, iu, "RHAT_storage_domain"});
  ExpectCorrupt({"md_1", pu, iu});
}

TEST_CASE("an initializing LV with volume tags is corruption") {
  Status s = ParseError({"OVIRT_VOL_INITIALIZING", "MD_1"});
  CHECK(s.storage_code() == storage_code::kMetaDataValidationError);
}

TEST_CASE("finishing a creation swaps the initializing tag for three") {
  auto change = FinishCreationChange(Ready(4));
  REQUIRE(change.ok());
  CHECK(change->remove == std::vector<std::string>{"OVIRT_VOL_INITIALIZING"});
  CHECK(change->add == *BuildVolumeLvTags(Ready(4)));
  VolumeLvTags removing = Ready();
  removing.state = LvState::kRemoving;
  CHECK_FALSE(FinishCreationChange(removing).ok());
}

TEST_CASE("marking for removal retags only IU_") {
  auto change = MarkForRemovalChange(Ready(), LvState::kRemoving);
  REQUIRE(change.ok());
  CHECK(change->remove == std::vector<std::string>{std::string("IU_") + kImg});
  CHECK(change->add ==
        std::vector<std::string>{std::string("IU__remove_me_") + kImg});
  auto zero = MarkForRemovalChange(Ready(), LvState::kZeroing);
  REQUIRE(zero.ok());
  CHECK(zero->add ==
        std::vector<std::string>{std::string("IU__remove_me_ZERO_") + kImg});
  CHECK_FALSE(MarkForRemovalChange(Ready(), LvState::kReady).ok());
  VolumeLvTags removing = Ready();
  removing.state = LvState::kRemoving;
  auto again = MarkForRemovalChange(removing, LvState::kZeroing);
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().code() == Code::kFailedPrecondition);
}

TEST_CASE("a stale PU_ tag is replaced") {
  auto change = ReparentChange(Ready(), kBlank);
  REQUIRE(change.ok());
  CHECK(change->remove == std::vector<std::string>{std::string("PU_") + kParent});
  CHECK(change->add == std::vector<std::string>{std::string("PU_") + kBlank});
  CHECK_FALSE(ReparentChange(Ready(), "nope").ok());
}

TEST_CASE("occupied slots come from non-special LVs with an MD_ tag") {
  std::vector<LvTagList> lvs = {
      {"metadata", {"MD_1"}},  // special: never a volume
      {"a", {"MD_3", "PU_x", "IU_y"}},
      {"b", {"OVIRT_VOL_INITIALIZING"}},
      {"c", {"IU_z", "MD_1"}},
  };
  auto slots = OccupiedSlots(lvs);
  REQUIRE(slots.ok());
  CHECK(*slots == std::vector<int>{3, 1});
  lvs.push_back({"d", {"MD_zz"}});
  auto bad = OccupiedSlots(lvs);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().storage_code() == storage_code::kMetaDataValidationError);
}

}  // namespace
}  // namespace sanpool::block
