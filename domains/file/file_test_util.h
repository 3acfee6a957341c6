// Test helpers for the file-domain tests: a scratch directory on a file
// system that supports O_DIRECT (/var/tmp, not tmpfs), a snapshot of a
// directory tree for "nothing changed" assertions, and a fixture that
// creates a domain with the real Env, the real qemu-img and a FakeClock.
#ifndef SANPOOL_DOMAINS_FILE_FILE_TEST_UTIL_H_
#define SANPOOL_DOMAINS_FILE_FILE_TEST_UTIL_H_

#include <stdlib.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "base/env.h"
#include "base/fake_clock.h"
#include "base/fault_env.h"
#include "base/process.h"
#include "domains/file/file_domain.h"
#include "domains/file/file_image.h"
#include "domains/file/file_volume.h"
#include "domains/file/image_locks.h"
#include "domains/qemu_img.h"

namespace sanpool::file_domain::testing {

inline constexpr char kSd[] = "9d1b6a8f-1c2e-4a5b-8d3c-7e6f5a4b3c2d";
inline constexpr char kImg[] = "1a2b3c4d-0000-4000-8000-000000000001";
inline constexpr char kImg2[] = "1a2b3c4d-0000-4000-8000-000000000002";
inline constexpr char kVol1[] = "1a2b3c4d-0000-4000-8000-0000000000a1";
inline constexpr char kVol2[] = "1a2b3c4d-0000-4000-8000-0000000000a2";
inline constexpr char kVol3[] = "1a2b3c4d-0000-4000-8000-0000000000a3";

class ScratchDir {
 public:
  ScratchDir() {
    std::string templ = "/var/tmp/sanpool-fd-XXXXXX";
    REQUIRE(mkdtemp(templ.data()) != nullptr);
    path_ = templ;
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// path (relative) -> "type size [content]" for every entry under `root`;
// contents of files under 64 KiB are included byte for byte, symlink targets
// too, so two equal snapshots mean an identical tree.
inline std::map<std::string, std::string> SnapshotTree(
    const std::string& root) {
  std::map<std::string, std::string> out;
  if (!std::filesystem::exists(root)) return out;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(root)) {
    std::string rel = entry.path().string().substr(root.size());
    struct stat st;
    REQUIRE(lstat(entry.path().c_str(), &st) == 0);
    std::ostringstream desc;
    if (S_ISDIR(st.st_mode)) {
      desc << "dir";
    } else if (S_ISLNK(st.st_mode)) {
      desc << "link " << std::filesystem::read_symlink(entry.path()).string();
    } else {
      desc << "file " << st.st_size << " nlink=" << st.st_nlink;
      if (st.st_size < 64 * 1024) {
        std::ifstream in(entry.path(), std::ios::binary);
        desc << " " << std::string(std::istreambuf_iterator<char>(in), {});
      }
    }
    out[rel] = desc.str();
  }
  return out;
}

inline bool QemuImgAvailable() {
  return std::filesystem::exists("/usr/bin/qemu-img");
}

// A domain under a scratch mount dir, with every dependency real except the
// clock; `fault_env` wraps the real Env so tests can inject failures.
class DomainFixture {
 public:
  DomainFixture()
      : posix_(NewPosixEnv()),
        fault_env_(*posix_),
        qemu_img_(runner_),
        mount_(JoinPath(scratch_.path(), "mnt")),
        run_dir_(JoinPath(scratch_.path(), "run")) {
    REQUIRE(posix_->CreateDir(mount_, 0755).ok());
    CreateDomainParams params;
    params.sd_uuid = kSd;
    params.type = DomainType::kLocalFs;
    params.description = "test domain";
    params.remote_path = mount_;
    auto domain = FileDomain::Create(fault_env_, clock_, mount_, params);
    REQUIRE(domain.ok());
    domain_ = std::move(*domain);
    volumes_ = std::make_unique<FileVolumes>(*domain_, qemu_img_, locks_);
    images_ = std::make_unique<FileImages>(*domain_, locks_, run_dir_);
  }

  std::string DomainDir() const { return JoinPath(mount_, kSd); }
  std::string ImageDir(const char* img) const {
    return DomainDir() + "/images/" + img;
  }
  std::map<std::string, std::string> Tree() const {
    return SnapshotTree(DomainDir());
  }

  Status CreateBase(const char* img, const char* vol,
                    formats::VolumeFormat format = formats::VolumeFormat::kRaw,
                    int64_t capacity = 1 << 20) {
    CreateVolumeParams p;
    p.img_uuid = img;
    p.vol_uuid = vol;
    p.capacity = capacity;
    p.format = format;
    p.allocation = formats::Allocation::kSparse;
    return volumes_->Create(p);
  }
  Status CreateSnapshot(const char* img, const char* vol,
                        const char* parent_img, const char* parent_vol,
                        int64_t capacity = 1 << 20) {
    CreateVolumeParams p;
    p.img_uuid = img;
    p.vol_uuid = vol;
    p.capacity = capacity;
    p.format = formats::VolumeFormat::kCow;
    p.src_img_uuid = parent_img;
    p.src_vol_uuid = parent_vol;
    return volumes_->Create(p);
  }

  std::unique_ptr<Env> posix_;
  FaultEnv fault_env_;
  FakeClock clock_;
  PosixProcessRunner runner_;
  QemuImg qemu_img_;
  ScratchDir scratch_;
  std::string mount_;
  std::string run_dir_;
  ResourceManager lock_manager_{clock_};
  ImageLocks locks_{lock_manager_, kSd};
  std::unique_ptr<FileDomain> domain_;
  std::unique_ptr<FileVolumes> volumes_;
  std::unique_ptr<FileImages> images_;
};

}  // namespace sanpool::file_domain::testing

#endif  // SANPOOL_DOMAINS_FILE_FILE_TEST_UTIL_H_
