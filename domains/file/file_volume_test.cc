#include "domains/file/file_volume.h"

#include <catch2/catch.hpp>
#include <thread>

#include "domains/file/file_test_util.h"
#include "domains/file/fs_util.h"
#include "domains/storage_errors.h"

namespace sanpool::file_domain {
namespace {

using formats::Allocation;
using formats::Legality;
using formats::VolumeFormat;
using formats::VolumeRole;
using testing::DomainFixture;
using testing::kImg;
using testing::kImg2;
using testing::kVol1;
using testing::kVol2;
using testing::kVol3;

CreateVolumeParams Base(int64_t capacity = 1 << 20) {
  CreateVolumeParams p;
  p.img_uuid = kImg;
  p.vol_uuid = kVol1;
  p.capacity = capacity;
  p.format = VolumeFormat::kCow;
  p.allocation = Allocation::kSparse;
  return p;
}

TEST_CASE("every format/allocation combination creates a committed volume") {
  for (auto format : {VolumeFormat::kRaw, VolumeFormat::kCow}) {
    for (auto alloc : {Allocation::kSparse, Allocation::kPreallocated}) {
      DomainFixture f;
      CreateVolumeParams p = Base(5 << 20);
      p.format = format;
      p.allocation = alloc;
      p.description = "disk";
      REQUIRE(f.volumes_->Create(p).ok());
      auto info = f.volumes_->GetInfo(kImg, kVol1);
      REQUIRE(info.ok());
      CHECK(info->metadata.capacity == 5u << 20);
      CHECK(info->metadata.format == format);
      CHECK(info->metadata.allocation == alloc);
      CHECK(info->metadata.role == VolumeRole::kLeaf);
      CHECK(info->metadata.domain == testing::kSd);
      CHECK(info->status == "OK");
      auto q = f.qemu_img_.Info(f.ImageDir(kImg) + "/" + kVol1, format);
      REQUIRE(q.ok());
      CHECK(q->virtual_size == 5u << 20);
      if (format == VolumeFormat::kCow) CHECK(q->compat == "1.1");
      if (alloc == Allocation::kPreallocated) {
        CHECK(info->true_size >= 5u << 20);
      } else {
        CHECK(info->true_size < 5u << 20);
      }
      auto lease = f.posix_->Stat(f.ImageDir(kImg) + "/" + kVol1 + ".lease");
      REQUIRE(lease.ok());
      CHECK(lease->size == 0);
    }
  }
}

TEST_CASE("a created volume has its capacity rounded up to 4 KiB") {
  DomainFixture f;
  REQUIRE(f.volumes_->Create(Base(4096 + 512)).ok());
  CHECK(f.volumes_->GetMetadata(kImg, kVol1)->capacity == 8192);
}

TEST_CASE("snapshot chain: relative backing files, roles, qemu-img chain") {
  DomainFixture f;
  REQUIRE(f.CreateBase(kImg, kVol1).ok());
  REQUIRE(f.CreateSnapshot(kImg, kVol2, kImg, kVol1).ok());
  REQUIRE(f.CreateSnapshot(kImg, kVol3, "", kVol2, 2 << 20).ok());
  CHECK(f.volumes_->GetMetadata(kImg, kVol1)->role == VolumeRole::kInternal);
  CHECK(f.volumes_->GetMetadata(kImg, kVol2)->role == VolumeRole::kInternal);
  CHECK(f.volumes_->GetMetadata(kImg, kVol3)->role == VolumeRole::kLeaf);
  CHECK(f.volumes_->GetMetadata(kImg, kVol3)->parent == kVol2);
  auto chain = f.qemu_img_.InfoChain(f.ImageDir(kImg) + "/" + kVol3,
                                     VolumeFormat::kCow);
  REQUIRE(chain.ok());
  REQUIRE(chain->size() == 3);
  CHECK((*chain)[0].backing_filename == std::string(kVol2));  // bare UUID
  CHECK((*chain)[0].backing_format == "qcow2");
  CHECK((*chain)[0].virtual_size == 2u << 20);
  CHECK((*chain)[1].backing_filename == std::string(kVol1));
  CHECK((*chain)[1].backing_format == "raw");
  CHECK((*chain)[2].format == "raw");
  CHECK_FALSE((*chain)[2].backing_filename.has_value());
  CHECK(f.volumes_->Children(kImg, kVol2).value() ==
        std::vector<std::string>{kVol3});
  CHECK(f.domain_->GetVolumes(kImg).value() ==
        std::vector<std::string>{kVol1, kVol2, kVol3});
}

TEST_CASE("a template in another image is hard-linked into the new image") {
  DomainFixture f;
  REQUIRE(f.CreateBase(kImg, kVol1).ok());
  // Mark the base as a template (what Volume.share / templates do).
  auto md = f.volumes_->GetMetadata(kImg, kVol1).value();
  md.role = VolumeRole::kShared;
  REQUIRE(WriteVolumeMeta(*f.posix_, f.ImageDir(kImg) + "/" + kVol1 + ".meta",
                          md)
              .ok());
  REQUIRE(f.CreateSnapshot(kImg2, kVol2, kImg, kVol1).ok());
  for (const char* suffix : {"", ".meta", ".lease"}) {
    auto st = f.posix_->Stat(f.ImageDir(kImg2) + "/" + kVol1 + suffix);
    REQUIRE(st.ok());
    CHECK(st->nlink == 2);
  }
  CHECK(f.volumes_->GetMetadata(kImg, kVol1)->role == VolumeRole::kShared);
  auto chain = f.qemu_img_.InfoChain(f.ImageDir(kImg2) + "/" + kVol2,
                                     VolumeFormat::kCow);
  REQUIRE(chain.ok());
  CHECK(chain->size() == 2);
  // The template cannot be deleted while another image links it.
  CHECK(f.volumes_->Delete(kImg, kVol1).storage_code() ==
        storage_code::kCannotDeleteSharedVolume);
  CHECK(f.volumes_->Delete(kImg2, kVol1).storage_code() ==
        storage_code::kCannotDeleteSharedVolume);
}

TEST_CASE("bad volume requests fail with clear errors and change nothing") {
  DomainFixture f;
  REQUIRE(f.CreateBase(kImg, kVol1).ok());
  REQUIRE(f.CreateSnapshot(kImg, kVol2, kImg, kVol1).ok());
  // A non-template base in another image.
  REQUIRE(f.CreateBase(kImg2, kVol3).ok());
  const auto before = f.Tree();

  struct Case {
    const char* name;
    std::function<void(CreateVolumeParams&)> edit;
    int storage_code;
  };
  const char* kBadIds[] = {"..", "../x", "a/b", "/", "",
                           "1A2B3C4D00004000800000000000000A",
                           "{1a2b3c4d-0000-4000-8000-0000000000a9}"};
  std::vector<Case> cases = {
      {"capacity 0", [](auto& p) { p.capacity = 0; },
       storage_code::kCreateVolumeSizeError},
      {"negative", [](auto& p) { p.capacity = -(1 << 20); },
       storage_code::kCreateVolumeSizeError},
      {"not 512-aligned", [](auto& p) { p.capacity = 1000; },
       storage_code::kInvalidParameter},
      {"above 8 EiB", [](auto& p) { p.capacity = INT64_MAX - 511; },
       storage_code::kInvalidParameter},
      {"RAW SPARSE initial size",
       [](auto& p) {
         p.format = VolumeFormat::kRaw;
         p.initial_size = 4096;
       },
       storage_code::kInvalidParameter},
      {"existing volume", [](auto& p) { p.vol_uuid = kVol2; },
       storage_code::kVolumeAlreadyExists},
      {"parent not a template in another image",
       [](auto& p) {
         p.img_uuid = "1a2b3c4d-0000-4000-8000-000000000009";
         p.vol_uuid = "1a2b3c4d-0000-4000-8000-0000000000a9";
         p.src_img_uuid = kImg2;
         p.src_vol_uuid = kVol3;
       },
       storage_code::kVolumeNonShareable},
      {"parent missing (or in another domain)",
       [](auto& p) { p.src_vol_uuid = "1a2b3c4d-0000-4000-8000-0000000000ff"; },
       storage_code::kVolumeDoesNotExist},
      {"parent is not a leaf", [](auto& p) { p.src_vol_uuid = kVol1; },
       storage_code::kVolumeImageHasChildren},
      {"RAW child", [](auto& p) {
         p.src_vol_uuid = kVol2;
         p.format = VolumeFormat::kRaw;
       },
       storage_code::kIncorrectFormat},
  };
  for (const char* id : kBadIds) {
    for (int field = 0; field < 4; ++field) {
      // An empty source id means "no parent" / "same image": valid.
      if (std::string_view(id).empty() && field >= 2) continue;
      cases.push_back({"bad id", [id, field](auto& p) {
                         std::string* target[] = {&p.img_uuid, &p.vol_uuid,
                                                  &p.src_img_uuid,
                                                  &p.src_vol_uuid};
                         *target[field] = id;
                         if (field == 2) p.src_vol_uuid = kVol2;
                       },
                       -1});
    }
  }
  for (const Case& c : cases) {
    CreateVolumeParams p = Base();
    p.vol_uuid = kVol3;
    c.edit(p);
    Status s = f.volumes_->Create(p);
    INFO(c.name << " img=" << p.img_uuid << " vol=" << p.vol_uuid
                << " src=" << p.src_img_uuid << "/" << p.src_vol_uuid);
    REQUIRE_FALSE(s.ok());
    if (c.storage_code >= 0) {
      CHECK(s.storage_code() == c.storage_code);
    } else {
      CHECK(s.code() == Code::kInvalidArgument);
    }
    CHECK(f.Tree() == before);
  }
}

TEST_CASE("ENOSPC at each step of volume create leaves no leftovers") {
  DomainFixture f;
  REQUIRE(f.CreateBase(kImg, kVol1).ok());
  const auto before = f.Tree();
  for (Op op : {Op::kCreateDir, Op::kWriteFile, Op::kFsync, Op::kRename,
                Op::kSyncDir, Op::kFallocate}) {
    for (int skip = 0; skip < 6; ++skip) {
      f.fault_env_.ClearFaults();
      f.fault_env_.AddFault({.op = op, .skip = skip, .error = ENOSPC});
      int injected_before = f.fault_env_.InjectedCount();
      CreateVolumeParams p = Base();
      p.img_uuid = kImg2;
      p.vol_uuid = kVol2;
      p.format = VolumeFormat::kRaw;
      p.allocation = Allocation::kPreallocated;
      Status s = f.volumes_->Create(p);
      f.fault_env_.ClearFaults();
      if (f.fault_env_.InjectedCount() == injected_before) {
        REQUIRE(s.ok());
        REQUIRE(f.images_->Delete(kImg2).ok());
        break;
      }
      INFO(OpName(op) << " #" << skip + 1 << ": " << s.ToString());
      CHECK_FALSE(s.ok());
      CHECK(f.Tree() == before);
    }
  }
}

TEST_CASE("a read-only mount refuses creates and deletes cleanly") {
  DomainFixture f;
  REQUIRE(f.CreateBase(kImg, kVol1).ok());
  const auto before = f.Tree();
  f.fault_env_.AddFault({.times = -1, .error = EROFS});  // every mutation
  Status created = f.CreateBase(kImg2, kVol2);
  CHECK(created.code() == Code::kPermissionDenied);
  CHECK(f.volumes_->Delete(kImg, kVol1).code() == Code::kPermissionDenied);
  CHECK(f.images_->Delete(kImg).code() == Code::kPermissionDenied);
  f.fault_env_.ClearFaults();
  CHECK(f.Tree() == before);
}

TEST_CASE("delete: children refused, order, parent becomes leaf again") {
  DomainFixture f;
  REQUIRE(f.CreateBase(kImg, kVol1).ok());
  REQUIRE(f.CreateSnapshot(kImg, kVol2, kImg, kVol1).ok());
  auto before = f.Tree();
  Status s = f.volumes_->Delete(kImg, kVol1);
  CHECK(s.storage_code() == storage_code::kVolumeImageHasChildren);
  CHECK(f.Tree() == before);

  REQUIRE(f.volumes_->Delete(kImg, kVol2).ok());
  CHECK(f.volumes_->GetMetadata(kImg, kVol1)->role == VolumeRole::kLeaf);
  for (const char* suffix : {"", ".meta", ".lease"}) {
    CHECK(f.posix_->Stat(f.ImageDir(kImg) + "/" + kVol2 + suffix)
              .status()
              .code() == Code::kNotFound);
  }
  CHECK(f.volumes_->Delete(kImg, kVol2).storage_code() ==
        storage_code::kVolumeDoesNotExist);
}

TEST_CASE("delete marks ILLEGAL before removing anything") {
  DomainFixture f;
  REQUIRE(f.CreateBase(kImg, kVol1).ok());
  // Fail the removal of the data file: the .meta must already say ILLEGAL.
  f.fault_env_.AddFault({.op = Op::kRemoveFile, .path_substring = kVol1,
                         .error = EIO});
  CHECK_FALSE(f.volumes_->Delete(kImg, kVol1).ok());
  f.fault_env_.ClearFaults();
  auto md = f.volumes_->GetMetadata(kImg, kVol1);
  REQUIRE(md.ok());
  CHECK(md->legality == Legality::kIllegal);
  CHECK(f.volumes_->GetInfo(kImg, kVol1)->status == "ILLEGAL");
}

TEST_CASE("description, legality, extend") {
  DomainFixture f;
  REQUIRE(f.volumes_->Create(Base()).ok());
  REQUIRE(f.volumes_->SetDescription(kImg, kVol1, std::string(300, 'd')).ok());
  CHECK(f.volumes_->GetMetadata(kImg, kVol1)->description.size() == 210);
  REQUIRE(f.volumes_->SetLegality(kImg, kVol1, Legality::kIllegal).ok());
  CHECK(f.volumes_->GetInfo(kImg, kVol1)->status == "ILLEGAL");
  REQUIRE(f.volumes_->SetLegality(kImg, kVol1, Legality::kLegal).ok());

  REQUIRE(f.volumes_->ExtendSize(kImg, kVol1, 3 << 20).ok());
  CHECK(f.volumes_->GetMetadata(kImg, kVol1)->capacity == 3u << 20);
  auto q = f.qemu_img_.Info(f.ImageDir(kImg) + "/" + kVol1, VolumeFormat::kCow);
  REQUIRE(q.ok());
  CHECK(q->virtual_size == 3u << 20);
  CHECK(f.volumes_->ExtendSize(kImg, kVol1, 1 << 20).storage_code() ==
        storage_code::kVolumeResizeValueError);
  CHECK(f.volumes_->ExtendSize(kImg, kVol1, 3 << 20).ok());

  auto qinfo = f.volumes_->GetQemuImageInfo(kImg, kVol1);
  REQUIRE(qinfo.ok());
  CHECK(qinfo->format == "qcow2");
  CHECK(qinfo->virtual_size == 3u << 20);
  auto measure = f.volumes_->Measure(kImg, kVol1, VolumeFormat::kRaw);
  REQUIRE(measure.ok());
  CHECK(measure->fully_allocated == 3u << 20);
  auto size = f.volumes_->GetSize(kImg, kVol1);
  REQUIRE(size.ok());
  CHECK(size->apparent_size > 0);
}

}  // namespace
}  // namespace sanpool::file_domain

namespace sanpool::file_domain {
namespace {

TEST_CASE("image locks: one image waits, another proceeds") {
  DomainFixture f;
  auto held = f.lock_manager_.Acquire(ImageLockNamespace(testing::kSd), kImg,
                                      LockMode::kExclusive, kWaitForever);
  REQUIRE(held.ok());
  // Another image is not blocked.
  REQUIRE(f.CreateBase(kImg2, kVol2).ok());
  // The held image is: the create queues behind the lock.
  Status created = InternalError("not run");
  std::thread t([&] { created = f.CreateBase(kImg, kVol1); });
  auto queued = [&] {
    for (const auto& r : f.lock_manager_.Inspect()) {
      if (r.name == kImg && r.queued > 0) return true;
    }
    return false;
  };
  while (!queued()) std::this_thread::yield();
  CHECK(f.posix_->Stat(f.ImageDir(kImg)).status().code() == Code::kNotFound);
  held->Release();
  t.join();
  CHECK(created.ok());
}

}  // namespace
}  // namespace sanpool::file_domain
