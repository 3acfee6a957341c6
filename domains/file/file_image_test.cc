#include "domains/file/file_image.h"

#include <catch2/catch.hpp>

#include "domains/file/file_test_util.h"
#include "domains/storage_errors.h"

namespace sanpool::file_domain {
namespace {

using formats::Legality;
using testing::DomainFixture;
using testing::kImg;
using testing::kImg2;
using testing::kVol1;
using testing::kVol2;
using testing::kVol3;

TEST_CASE("prepare links the chain into the run dir and returns the leaf") {
  DomainFixture f;
  REQUIRE(f.CreateBase(kImg, kVol1).ok());
  REQUIRE(f.CreateSnapshot(kImg, kVol2, kImg, kVol1).ok());
  REQUIRE(f.CreateSnapshot(kImg, kVol3, kImg, kVol2).ok());
  auto prepared = f.images_->Prepare(kImg, kVol3, IllegalVolumes::kRefuse);
  REQUIRE(prepared.ok());
  std::string run = f.run_dir_ + "/" + testing::kSd + "/" + kImg;
  CHECK(prepared->path == run + "/" + kVol3);
  REQUIRE(prepared->chain.size() == 3);
  CHECK(prepared->chain[2].vol_uuid == kVol1);
  for (const PreparedVolume& v : prepared->chain) {
    CHECK(f.posix_->ReadLink(v.path).value() == v.target);
    CHECK(v.lease_path == v.target + ".lease");
  }
  // qemu-img follows the relative backing files through the links.
  auto chain = f.qemu_img_.InfoChain(prepared->path, formats::VolumeFormat::kCow);
  REQUIRE(chain.ok());
  CHECK(chain->size() == 3);
  // Preparing again is idempotent; teardown removes the run dir.
  REQUIRE(f.images_->Prepare(kImg, kVol3, IllegalVolumes::kRefuse).ok());
  REQUIRE(f.images_->Teardown(kImg).ok());
  CHECK(f.posix_->Stat(run).status().code() == Code::kNotFound);
  CHECK(f.images_->Teardown(kImg).ok());
}

TEST_CASE("prepare refuses illegal volumes and broken chains") {
  DomainFixture f;
  REQUIRE(f.CreateBase(kImg, kVol1).ok());
  REQUIRE(f.CreateSnapshot(kImg, kVol2, kImg, kVol1).ok());
  REQUIRE(f.volumes_->SetLegality(kImg, kVol1, Legality::kIllegal).ok());
  CHECK(f.images_->Prepare(kImg, kVol2, IllegalVolumes::kRefuse)
            .status()
            .storage_code() == storage_code::kPrepareIllegalVolume);
  CHECK(f.images_->Prepare(kImg, kVol2, IllegalVolumes::kAllow).ok());
  REQUIRE(f.posix_->RemoveFile(f.ImageDir(kImg) + "/" + kVol1 + ".meta").ok());
  CHECK(f.images_->Prepare(kImg, kVol2, IllegalVolumes::kAllow)
            .status()
            .storage_code() == storage_code::kImageIsNotLegalChain);
  CHECK(f.images_->Prepare(kImg, kVol3, IllegalVolumes::kAllow)
            .status()
            .storage_code() == storage_code::kVolumeDoesNotExist);
  CHECK(f.images_->Prepare("../etc", kVol3, IllegalVolumes::kAllow)
            .status()
            .code() == Code::kInvalidArgument);
}

TEST_CASE("image delete renames to _remove_me_ then purges") {
  DomainFixture f;
  REQUIRE(f.CreateBase(kImg, kVol1).ok());
  auto before = f.Tree();
  REQUIRE(f.CreateBase(kImg2, kVol2).ok());
  REQUIRE(f.CreateSnapshot(kImg2, kVol3, kImg2, kVol2).ok());
  f.fault_env_.ResetCounts();
  REQUIRE(f.images_->Delete(kImg2).ok());
  CHECK(f.fault_env_.Count(Op::kRename) == 1);
  CHECK(f.Tree() == before);
  CHECK(f.images_->Delete(kImg2).storage_code() ==
        storage_code::kImageDoesNotExistInSd);
}

}  // namespace
}  // namespace sanpool::file_domain
