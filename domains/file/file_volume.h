// FileVolumes: the volume operations of one file domain (reference §1.3):
// create (base volumes and COW snapshots), info, size, description,
// legality, virtual-size extend and delete.
//
// Creation protocol (crash-safe; RecoverDomain() in file_domain.h undoes or
// finishes an interrupted one):
//   1. checks: ids, size/format rules (volume_rules.h), the parent;
//   2. the image dir is created if missing; a template parent from another
//      image is hard-linked in (data, .lease, then .meta);
//   3. the data file is created O_EXCL (kAlreadyExists 212 if it exists);
//   4. qemu-img create (backing = parent's bare UUID, relative), fallocate
//      for PREALLOCATED, fsync of the data file;
//   5. `<vol>.meta` written atomically: the COMMIT POINT. Before it the
//      volume does not exist; after it, it does;
//   6. `<vol>.lease` created (size 0), directory synced;
//   7. a parent in the same image is marked INTERNAL.
// A failure in 2-6 removes what this call created (in reverse order), so a
// failing call leaves the tree as it found it.
//
// Deletion order (oVirt's FileVolume.delete): refuse with children (204) or
// shared templates in use (223); mark ILLEGAL; remove the data file, then
// `.lease`, then `.meta`; then the parent in the same image is re-checked and
// becomes LEAF when it has no other child.
//
// Every id is validated before it becomes part of a path. SPM gating is the
// caller's (one check at the API boundary).
//
// Blocking: file I/O, qemu-img runs, lock waits. Thread-safety: thread-safe;
// calls on one image are serialized by its image lock (image_locks.h),
// calls on different images run in parallel.
#ifndef SANPOOL_DOMAINS_FILE_FILE_VOLUME_H_
#define SANPOOL_DOMAINS_FILE_FILE_VOLUME_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/resource_locks.h"
#include "domains/file/file_domain.h"
#include "domains/file/image_locks.h"
#include "domains/formats/volume_metadata.h"
#include "domains/qemu_img.h"

namespace sanpool::file_domain {

struct CreateVolumeParams {
  std::string img_uuid;
  std::string vol_uuid;
  // Signed so that a negative wire value reaches the size check.
  int64_t capacity = 0;
  formats::VolumeFormat format = formats::VolumeFormat::kCow;
  formats::Allocation allocation = formats::Allocation::kSparse;
  std::string disk_type = "DATA";
  std::string description;
  // Parent (snapshot): srcImgUUID/srcVolUUID; blank or empty = none. A parent
  // in another image must be a template (VOLTYPE SHARED).
  std::string src_img_uuid;
  std::string src_vol_uuid;
  std::optional<int64_t> initial_size;
  formats::Legality legality = formats::Legality::kLegal;
  uint32_t sequence = 0;
};

// Volume.getInfo (oVirt's field names in comments).
struct VolumeInfo {
  formats::VolumeMetadata metadata;
  std::string uuid;
  uint64_t apparent_size = 0;  // apparentsize: st_size
  uint64_t true_size = 0;      // truesize: allocated bytes
  std::string status;          // "OK" / "ILLEGAL" / "INVALID"
  std::vector<std::string> children;  // in the same image
  std::string lease_path;             // lease {path, offset 0}
};

struct VolumeSize {
  uint64_t apparent_size = 0;
  uint64_t true_size = 0;
};

class FileVolumes {
 public:
  // `domain`, `qemu_img` and `locks` (of the same domain) must outlive this
  // object. Each call takes the image lock itself: exclusive for changes
  // (and shared on a template's image for a template child), shared for
  // reads; kDeadlineExceeded 851 if it cannot within the locks' timeout.
  FileVolumes(FileDomain& domain, QemuImg& qemu_img, ImageLocks& locks);

  Status Create(const CreateVolumeParams& params);

  // Reads `.meta` and stats the data file. kNotFound 201 if no `.meta`.
  Result<VolumeInfo> GetInfo(std::string_view img, std::string_view vol);
  Result<VolumeSize> GetSize(std::string_view img, std::string_view vol);
  Result<formats::VolumeMetadata> GetMetadata(std::string_view img,
                                              std::string_view vol);

  // Volume.getQemuImageInfo: qemu-img info of the data file, format from
  // `.meta` (never probed).
  Result<QemuImgInfo> GetQemuImageInfo(std::string_view img,
                                       std::string_view vol);
  // Volume.measure: the size the volume needs as `dest_format`.
  Result<QemuImgMeasure> Measure(std::string_view img, std::string_view vol,
                                 formats::VolumeFormat dest_format);

  // Description truncated to 210 characters as oVirt does.
  Status SetDescription(std::string_view img, std::string_view vol,
                        std::string_view description);
  Status SetLegality(std::string_view img, std::string_view vol,
                     formats::Legality legality);

  // Grows the virtual capacity to `new_capacity` (rounded up to 4 KiB):
  // qemu-img resize, then CAP in `.meta`. A smaller size is kInvalidArgument
  // 232; an equal one does nothing. Only LEAF volumes.
  Status ExtendSize(std::string_view img, std::string_view vol,
                    int64_t new_capacity);

  // Deletes a volume (order in the header comment).
  Status Delete(std::string_view img, std::string_view vol);

  // Volume UUIDs in `img` whose parent is `vol`.
  Result<std::vector<std::string>> Children(std::string_view img,
                                            std::string_view vol);

 private:
  struct Parent;
  Result<ResourceManager::LockSet> LockImage(std::string_view img,
                                             LockMode mode);
  Status CreateUnlocked(const CreateVolumeParams& params);
  Result<VolumeInfo> GetInfoUnlocked(std::string_view img,
                                     std::string_view vol);
  Result<VolumeSize> GetSizeUnlocked(std::string_view img,
                                     std::string_view vol);
  Result<formats::VolumeMetadata> GetMetadataUnlocked(std::string_view img,
                                                      std::string_view vol);
  Status SetDescriptionUnlocked(std::string_view img, std::string_view vol,
                                std::string_view description);
  Status SetLegalityUnlocked(std::string_view img, std::string_view vol,
                             formats::Legality legality);
  Status ExtendSizeUnlocked(std::string_view img, std::string_view vol,
                            int64_t new_capacity);
  Status DeleteUnlocked(std::string_view img, std::string_view vol);
  Result<std::vector<std::string>> ChildrenUnlocked(std::string_view img,
                                                    std::string_view vol);
  Result<Parent> CheckParent(const CreateVolumeParams& params);
  Status CreateFiles(const CreateVolumeParams& params, const Parent* parent,
                     uint64_t capacity, const VolumePaths& paths);

  FileDomain& domain_;
  QemuImg& qemu_img_;
  ImageLocks& locks_;
};

}  // namespace sanpool::file_domain

#endif  // SANPOOL_DOMAINS_FILE_FILE_VOLUME_H_
