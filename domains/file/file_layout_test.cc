#include "domains/file/file_layout.h"

#include <catch2/catch.hpp>

namespace sanpool::file_domain {
namespace {

constexpr char kSd[] = "9d1b6a8f-1c2e-4a5b-8d3c-7e6f5a4b3c2d";
constexpr char kImg[] = "1a2b3c4d-0000-4000-8000-000000000001";
constexpr char kVol[] = "1a2b3c4d-0000-4000-8000-0000000000aa";

TEST_CASE("paths follow oVirt's file domain tree") {
  auto layout = FileDomainLayout::Make("/mnt/nfs", kSd);
  REQUIRE(layout.ok());
  std::string dom = std::string("/mnt/nfs/") + kSd;
  CHECK(layout->domain_dir() == dom);
  CHECK(layout->metadata_file() == dom + "/dom_md/metadata");
  CHECK(layout->special_file("inbox") == dom + "/dom_md/inbox");
  CHECK(layout->ImageDir(kImg).value() == dom + "/images/" + kImg);
  CHECK(layout->RemovedImageDir(kImg).value() ==
        dom + "/images/_remove_me_" + kImg);
  auto vol = layout->Volume(kImg, kVol);
  REQUIRE(vol.ok());
  CHECK(vol->data == dom + "/images/" + kImg + "/" + kVol);
  CHECK(vol->meta == vol->data + ".meta");
  CHECK(vol->lease == vol->data + ".lease");
}

TEST_CASE("no bad id ever becomes a path") {
  const char* bad[] = {"..", "../x", "a/b", "", "/",
                       "9d1b6a8f-1c2e-4a5b-8d3c-7e6f5a4b3c2d/..",
                       "{9d1b6a8f-1c2e-4a5b-8d3c-7e6f5a4b3c2d}",
                       "9d1b6a8f1c2e4a5b8d3c7e6f5a4b3c2d",
                       "9d1b6a8f-1c2e-4a5b-8d3c-7e6f5a4b3c2g"};
  for (const char* id : bad) {
    INFO(id);
    CHECK(FileDomainLayout::Make("/mnt", id).status().code() ==
          Code::kInvalidArgument);
    auto layout = FileDomainLayout::Make("/mnt", kSd).value();
    CHECK(layout.ImageDir(id).status().code() == Code::kInvalidArgument);
    CHECK(layout.RemovedImageDir(id).status().code() == Code::kInvalidArgument);
    CHECK(layout.Volume(kImg, id).status().code() == Code::kInvalidArgument);
    CHECK(layout.Volume(id, kVol).status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("image directory entries are classified by name") {
  CHECK(ClassifyVolumeEntry(kVol).kind == VolumeEntryKind::kData);
  CHECK(ClassifyVolumeEntry(std::string(kVol) + ".meta").kind ==
        VolumeEntryKind::kMeta);
  CHECK(ClassifyVolumeEntry(std::string(kVol) + ".lease").kind ==
        VolumeEntryKind::kLease);
  CHECK(ClassifyVolumeEntry(std::string(kVol) + ".meta.tmp.1").kind ==
        VolumeEntryKind::kOther);
  CHECK(ClassifyVolumeEntry("garbage").kind == VolumeEntryKind::kOther);
  CHECK(ClassifyVolumeEntry(kVol).vol_uuid == kVol);
}

}  // namespace
}  // namespace sanpool::file_domain
