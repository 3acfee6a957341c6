// The on-storage layout of a file storage domain (doc/formats/file-domain.md,
// reference §1.1): names, sizes and modes, and the one place paths are built.
//
//   <mount>/<sd>/dom_md/{metadata,ids,leases,xleases,inbox,outbox}
//   <mount>/<sd>/images/<img>/{<vol>,<vol>.meta,<vol>.lease}
//   <mount>/<sd>/images/_remove_me_<img>/      image being deleted
//
// Every function that takes an id validates it with ValidateUuid before it
// becomes part of a path, so "..", "/", NUL or a non-canonical UUID never
// reaches the file system: callers cannot build a path any other way.
//
// Thread-safety: immutable values.
#ifndef SANPOOL_DOMAINS_FILE_FILE_LAYOUT_H_
#define SANPOOL_DOMAINS_FILE_FILE_LAYOUT_H_

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sanpool::file_domain {

inline constexpr std::string_view kMetadataDirName = "dom_md";
inline constexpr std::string_view kImagesDirName = "images";
inline constexpr std::string_view kMetadataFileName = "metadata";
inline constexpr std::string_view kMetaSuffix = ".meta";
inline constexpr std::string_view kLeaseSuffix = ".lease";
inline constexpr std::string_view kRemovedImagePrefix = "_remove_me_";

inline constexpr mode_t kDirMode = 0775;          // dom_md, images, image dirs
inline constexpr mode_t kMetadataFileMode = 0660;  // metadata, special files
inline constexpr mode_t kVolumeFileMode = 0660;    // sc.FILE_VOLUME_PERMISSIONS

struct SpecialFile {
  std::string_view name;
  uint64_t size;  // created sparse (truncate) to this size
};
// fileSD.FILE_SPECIAL_VOLUME_SIZES_MIB; sanlock grows ids/leases/xleases.
inline constexpr std::array<SpecialFile, 5> kSpecialFiles = {{
    {"ids", 0},
    {"leases", 0},
    {"xleases", 0},
    {"inbox", 16 * 1024 * 1024},
    {"outbox", 16 * 1024 * 1024},
}};

// The three files of one volume.
struct VolumePaths {
  std::string data;
  std::string meta;
  std::string lease;
};

class FileDomainLayout {
 public:
  // `mount_dir` is the directory that holds domain directories (a mount
  // point); `sd_uuid` must be a canonical UUID (kInvalidArgument otherwise).
  static Result<FileDomainLayout> Make(std::string mount_dir,
                                       std::string_view sd_uuid);

  const std::string& mount_dir() const { return mount_dir_; }
  const std::string& sd_uuid() const { return sd_uuid_; }
  const std::string& domain_dir() const { return domain_dir_; }
  std::string metadata_dir() const;
  std::string metadata_file() const;
  std::string images_dir() const;
  // REQUIRES: `name` is one of kSpecialFiles (or kMetadataFileName).
  std::string special_file(std::string_view name) const;

  // Paths under images/; kInvalidArgument for a bad id.
  Result<std::string> ImageDir(std::string_view img_uuid) const;
  Result<std::string> RemovedImageDir(std::string_view img_uuid) const;
  Result<VolumePaths> Volume(std::string_view img_uuid,
                             std::string_view vol_uuid) const;

 private:
  FileDomainLayout(std::string mount_dir, std::string sd_uuid);

  std::string mount_dir_;
  std::string sd_uuid_;
  std::string domain_dir_;
};

// How a directory entry under images/<img>/ is to be read.
enum class VolumeEntryKind { kData, kMeta, kLease, kOther };
struct VolumeEntry {
  VolumeEntryKind kind = VolumeEntryKind::kOther;
  std::string vol_uuid;  // set unless kOther
};
// Classifies "<uuid>", "<uuid>.meta", "<uuid>.lease"; anything else
// (temporary files, foreign names) is kOther.
VolumeEntry ClassifyVolumeEntry(std::string_view name);

}  // namespace sanpool::file_domain

#endif  // SANPOOL_DOMAINS_FILE_FILE_LAYOUT_H_
