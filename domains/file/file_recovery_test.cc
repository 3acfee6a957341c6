// Crash recovery: each test builds the exact on-storage state a crash at one
// step of the create/delete protocols leaves, then checks RecoverDomain().
#include <catch2/catch.hpp>

#include "domains/file/file_test_util.h"
#include "domains/file/fs_util.h"
#include "domains/storage_errors.h"

namespace sanpool::file_domain {
namespace {

using formats::Legality;
using formats::VolumeRole;
using testing::DomainFixture;
using testing::kImg;
using testing::kImg2;
using testing::kVol1;
using testing::kVol2;

std::string Path(const DomainFixture& f, const char* img, const char* vol,
                 const char* suffix = "") {
  return f.ImageDir(img) + "/" + vol + suffix;
}

TEST_CASE("recovery of a clean domain changes nothing") {
  DomainFixture f;
  REQUIRE(f.CreateBase(kImg, kVol1).ok());
  REQUIRE(f.CreateSnapshot(kImg, kVol2, kImg, kVol1).ok());
  auto before = f.Tree();
  auto report = f.domain_->RecoverDomain();
  REQUIRE(report.ok());
  CHECK(report->removed.empty());
  CHECK(report->repaired.empty());
  CHECK(report->problems.empty());
  CHECK(f.Tree() == before);
}

TEST_CASE("crash between data file and .meta: the data file is removed") {
  DomainFixture f;
  REQUIRE(f.CreateBase(kImg, kVol1).ok());
  auto before = f.Tree();
  // Crash inside the second create: data (and qemu-img's header) written,
  // .meta temp file half-written, no .meta.
  CreateVolumeParams p;
  p.img_uuid = kImg;
  p.vol_uuid = kVol2;
  p.capacity = 1 << 20;
  p.src_vol_uuid = kVol1;
  REQUIRE(f.volumes_->Create(p).ok());
  REQUIRE(f.posix_->RemoveFile(Path(f, kImg, kVol2, ".meta")).ok());
  REQUIRE(f.posix_->RemoveFile(Path(f, kImg, kVol2, ".lease")).ok());
  REQUIRE(f.posix_->WriteFile(f.ImageDir(kImg) + "/." + kVol2 +
                                  ".meta.tmp.1.2.3", "CAP=", {}).ok());
  // The parent was not yet marked INTERNAL in a real crash at this point.
  auto parent = f.volumes_->GetMetadata(kImg, kVol1).value();
  parent.role = VolumeRole::kLeaf;
  REQUIRE(WriteVolumeMeta(*f.posix_, Path(f, kImg, kVol1, ".meta"), parent).ok());

  auto report = f.domain_->RecoverDomain();
  REQUIRE(report.ok());
  CHECK(report->removed.size() == 2);
  CHECK(f.Tree() == before);
  CHECK(f.domain_->GetVolumes(kImg).value() == std::vector<std::string>{kVol1});
}

TEST_CASE("a create whose commit and rollback both fail is cleaned up") {
  DomainFixture f;
  REQUIRE(f.CreateBase(kImg, kVol1).ok());
  auto before = f.Tree();
  // The .meta rename fails (storage gone) and so does every removal after
  // it: the state a crash between the data file and the .meta leaves.
  f.fault_env_.AddFault({.op = Op::kRename, .path_substring = ".meta",
                         .error = EIO});
  f.fault_env_.AddFault({.op = Op::kRemoveFile, .times = -1, .error = EIO});
  f.fault_env_.AddFault({.op = Op::kRemoveDir, .times = -1, .error = EIO});
  CHECK_FALSE(f.CreateBase(kImg2, kVol2, formats::VolumeFormat::kCow).ok());
  f.fault_env_.ClearFaults();
  CHECK(f.posix_->Stat(Path(f, kImg2, kVol2)).ok());  // the leftover
  CHECK(f.domain_->GetVolumes(kImg2).value().empty());  // not a volume

  auto report = f.domain_->RecoverDomain();
  REQUIRE(report.ok());
  CHECK_FALSE(report->removed.empty());
  CHECK(f.Tree() == before);
}

TEST_CASE("crash after the commit: lease recreated, parent marked INTERNAL") {
  DomainFixture f;
  REQUIRE(f.CreateBase(kImg, kVol1).ok());
  REQUIRE(f.CreateSnapshot(kImg, kVol2, kImg, kVol1).ok());
  auto after = f.Tree();
  REQUIRE(f.posix_->RemoveFile(Path(f, kImg, kVol2, ".lease")).ok());
  auto parent = f.volumes_->GetMetadata(kImg, kVol1).value();
  parent.role = VolumeRole::kLeaf;
  REQUIRE(WriteVolumeMeta(*f.posix_, Path(f, kImg, kVol1, ".meta"), parent).ok());

  auto report = f.domain_->RecoverDomain();
  REQUIRE(report.ok());
  CHECK(report->repaired.size() == 2);
  CHECK(f.Tree() == after);
}

TEST_CASE("crash in delete after the data went: the ILLEGAL .meta goes") {
  DomainFixture f;
  REQUIRE(f.CreateBase(kImg, kVol1).ok());
  auto before = f.Tree();
  REQUIRE(f.CreateSnapshot(kImg, kVol2, kImg, kVol1).ok());
  REQUIRE(f.volumes_->SetLegality(kImg, kVol2, Legality::kIllegal).ok());
  auto md = f.volumes_->GetMetadata(kImg, kVol2).value();
  md.parent = std::string(formats::kBlankUuid);
  REQUIRE(WriteVolumeMeta(*f.posix_, Path(f, kImg, kVol2, ".meta"), md).ok());
  REQUIRE(f.posix_->RemoveFile(Path(f, kImg, kVol2)).ok());

  auto report = f.domain_->RecoverDomain();
  REQUIRE(report.ok());
  // .meta removed, .lease with it, parent back to LEAF.
  CHECK(f.Tree() == before);
}

TEST_CASE("a LEGAL volume without data is reported, never deleted") {
  DomainFixture f;
  REQUIRE(f.CreateBase(kImg, kVol1).ok());
  REQUIRE(f.posix_->RemoveFile(Path(f, kImg, kVol1)).ok());
  auto before = f.Tree();
  auto report = f.domain_->RecoverDomain();
  REQUIRE(report.ok());
  REQUIRE(report->problems.size() == 1);
  CHECK(report->problems[0].find("data file missing") != std::string::npos);
  CHECK(f.Tree() == before);
}

TEST_CASE("interrupted image delete: _remove_me_ dirs are purged") {
  DomainFixture f;
  REQUIRE(f.CreateBase(kImg, kVol1).ok());
  auto before = f.Tree();
  REQUIRE(f.CreateBase(kImg2, kVol2).ok());
  REQUIRE(f.posix_->Rename(f.ImageDir(kImg2),
                           f.DomainDir() + "/images/_remove_me_" + kImg2)
              .ok());
  CHECK(f.domain_->GetImages().value() == std::vector<std::string>{kImg});
  auto report = f.domain_->RecoverDomain();
  REQUIRE(report.ok());
  CHECK(f.Tree() == before);
}

TEST_CASE("a crash during image delete's purge is finished by recovery") {
  DomainFixture f;
  REQUIRE(f.CreateBase(kImg, kVol1).ok());
  auto before = f.Tree();
  REQUIRE(f.CreateBase(kImg2, kVol2).ok());
  f.fault_env_.AddFault({.op = Op::kRemoveFile, .path_substring = "_remove_me_",
                         .skip = 1, .error = EIO});
  CHECK(f.images_->Delete(kImg2).storage_code() ==
        storage_code::kImageDeleteError);
  f.fault_env_.ClearFaults();
  CHECK(f.domain_->GetImages().value() == std::vector<std::string>{kImg});
  REQUIRE(f.domain_->RecoverDomain().ok());
  CHECK(f.Tree() == before);
}

}  // namespace
}  // namespace sanpool::file_domain
