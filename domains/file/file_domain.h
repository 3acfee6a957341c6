// FileDomain: one oVirt V5 file storage domain (NFS, POSIX, LOCALFS) in a
// local directory: creating its tree, reading its metadata, listing images
// and volumes, and cleaning up what an interrupted operation left behind.
// Volume and image operations live in file_volume.h and file_image.h.
//
//   ASSIGN_OR_RETURN(auto domain,
//                    FileDomain::Create(env, clock, "/rhev/.../mnt/srv:_exp",
//                                       params));
//   ASSIGN_OR_RETURN(std::vector<std::string> images, domain->GetImages());
//
// Crash safety: every metadata file is replaced by Env::WriteFileAtomic
// (temp + fsync + rename + fsync dir). Create writes `dom_md/metadata` last,
// so a domain directory without metadata is an interrupted create (Open
// reports kStorageDomainMetadataNotFound, 364). RecoverDomain() finishes or
// undoes interrupted volume and image operations (see its comment); only the
// host that writes metadata (the SPM) may call it.
//
// SPM gating is the caller's job: the metadata-changing calls here do not
// check the role.
//
// Thread-safety: GetInfo/GetStats/Validate/GetImages/GetVolumes may run
// concurrently with each other; callers serialize changes per image through
// the image locks (01_img_<sd>) held by the operation layer.
#ifndef SANPOOL_DOMAINS_FILE_FILE_DOMAIN_H_
#define SANPOOL_DOMAINS_FILE_FILE_DOMAIN_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/status.h"
#include "domains/file/file_layout.h"
#include "domains/sd_metadata.h"

namespace sanpool::file_domain {

struct CreateDomainParams {
  std::string sd_uuid;
  DomainType type = DomainType::kLocalFs;
  DomainClass domain_class = DomainClass::kData;
  std::string description;  // at most 50 characters
  std::string remote_path;  // "srv:/export" or the local path
  // 0 = probe with a direct-I/O write (oVirt's AUTO); else 512 or 4096,
  // which must match what the storage supports.
  uint32_t block_size = 0;
  int max_hosts = kMaxHosts;
};

struct DomainInfo {
  std::string uuid;
  DomainType type;
  DomainClass domain_class;
  std::string name;  // DESCRIPTION
  DomainRole role;
  std::vector<std::string> pool;
  int version = kDomainVersion;
  uint32_t block_size = 512;
  uint64_t alignment = 0;
  std::string remote_path;
};

struct DomainStats {
  uint64_t disk_total = 0;  // bytes
  uint64_t disk_free = 0;   // bytes available to the agent
  // Block-only fields, constant on file domains (as in oVirt).
  uint64_t mda_size = 0;
  uint64_t mda_free = 0;
  bool mda_valid = true;
};

// What RecoverDomain() found and did; paths relative to the domain dir.
struct RecoveryReport {
  std::vector<std::string> removed;   // files and dirs deleted
  std::vector<std::string> repaired;  // files rewritten or recreated
  std::vector<std::string> problems;  // damage reported, left alone
};

class FileDomain {
 public:
  // Creates the domain `<mount_dir>/<sd_uuid>` (reference §1.1):
  //   dom_md/ (0775) with ids, leases, xleases (size 0), inbox, outbox
  //   (16 MiB sparse), then images/, then dom_md/metadata written atomically
  //   last. Errors, all before anything is written unless stated:
  //   bad params -> kInvalidArgument (1000 / 387 / 386); `mount_dir` missing
  //   or not a directory -> kFailedPrecondition 351; the domain dir exists
  //   -> kAlreadyExists 365; no O_DIRECT or a requested block size the
  //   storage cannot do -> kFailedPrecondition 399. If a step after the
  //   domain dir was made fails (ENOSPC, EIO), everything created is removed
  //   and the step's error is returned with storage code 351.
  static Result<std::unique_ptr<FileDomain>> Create(
      Env& env, Clock& clock, std::string mount_dir,
      const CreateDomainParams& params);

  // Opens an existing domain: reads and checks its metadata (SDUUID must
  // match). kNotFound 358 if the directory does not exist; 364 if it has no
  // metadata; the decoder's errors for foreign or corrupt metadata.
  static Result<std::unique_ptr<FileDomain>> Open(Env& env, Clock& clock,
                                                  std::string mount_dir,
                                                  std::string_view sd_uuid);

  // StorageDomain.format: removes the domain `<mount_dir>/<sd_uuid>`.
  // Refused with kFailedPrecondition 391 while the domain is attached to a
  // pool (POOL_UUID not empty). The metadata file goes first, so an
  // interrupted format leaves a directory that no longer opens as a domain
  // (364) and that a second Format finishes. kNotFound 358 if there is no
  // such domain directory.
  static Status Format(Env& env, std::string mount_dir,
                       std::string_view sd_uuid);

  const FileDomainLayout& layout() const { return layout_; }
  Env& env() const { return env_; }
  Clock& clock() const { return clock_; }

  // Re-reads dom_md/metadata.
  Result<DomainMetadata> ReadMetadata() const;
  // Replaces dom_md/metadata atomically (validating `md`, SDUUID unchanged).
  Status WriteMetadata(const DomainMetadata& md);

  Result<DomainInfo> GetInfo() const;
  // statvfs of the domain's file system.
  Result<DomainStats> GetStats() const;
  // Checks the tree: metadata readable and sealed, dom_md special files and
  // images/ present. kFailedPrecondition 371 naming what is missing.
  Status Validate() const;

  // Image UUIDs under images/ (sorted), excluding `_remove_me_` dirs and
  // foreign names.
  Result<std::vector<std::string>> GetImages() const;
  // Volume UUIDs of an image: those with a `.meta` (the commit point), sorted;
  // including template volumes hard-linked into it. kNotFound 268 if the
  // image does not exist.
  Result<std::vector<std::string>> GetVolumes(std::string_view img_uuid) const;

  // Cleans up after interrupted operations (call at open on the SPM, with
  // no operation running on the domain):
  //  * `images/_remove_me_<img>` dirs (interrupted Image delete) are purged;
  //  * a volume data file without `.meta` (create interrupted before its
  //    commit point) is removed, with its `.lease`;
  //  * a `.meta` with LEGALITY=ILLEGAL and no data file (delete interrupted
  //    after the data was removed) is removed with its `.lease`;
  //  * a committed volume without `.lease` gets an empty one;
  //  * a volume whose child in the same image exists but is still LEAF
  //    (create interrupted before the parent was marked) becomes INTERNAL;
  //  * WriteFileAtomic temp files (".<name>.tmp.*") are removed;
  //  * image dirs left empty are removed.
  // A committed LEGAL volume without data is damage: reported, untouched.
  Result<RecoveryReport> RecoverDomain();

 private:
  FileDomain(Env& env, Clock& clock, FileDomainLayout layout);

  Env& env_;
  Clock& clock_;
  FileDomainLayout layout_;
};

}  // namespace sanpool::file_domain

#endif  // SANPOOL_DOMAINS_FILE_FILE_DOMAIN_H_
