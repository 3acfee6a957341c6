// DomainRegistry: finds, opens and caches the file storage domains this host
// can see, by sdUUID, under the repository root (reference §1.1, as VDSM's
// sdCache over /rhev/data-center/mnt):
//
//   <repository>/mnt/<escaped connection>/<sdUUID>/dom_md/metadata
//   <repository>/mnt/glusterSD/<escaped connection>/<sdUUID>/...
//
// `<escaped connection>` is the connection's remote path escaped by
// EscapeMountPath() ("srv:/exp/a_b" -> "srv:_exp_a__b"; a LOCALFS path
// "/data/local" -> "_data_local", a symlink to the local directory).
// StoragePool.connectStorageServer mounts or links connections there with
// the same function. `mnt/blockSD` (block domains) is skipped.
//
// Each opened domain is one FileDomainBundle: the FileDomain and the
// FileVolumes / FileImages / ImageLocks that work on it, shared (shared_ptr)
// so a caller keeps using a bundle even if the registry drops it meanwhile.
//
// Lookup (Get): the sdUUID is validated before it reaches a path. A cached
// bundle whose domain directory vanished is dropped; a miss re-scans the
// mount dirs. The first time a domain is used while this host may write
// metadata (`is_spm()` true), FileDomain::RecoverDomain() runs once with the
// domain locked exclusively (00_storage.<sd>, try-lock: while operations hold
// the domain, recovery is postponed to a later lookup), and its report is
// logged; a recovery error is logged and the domain is still returned
// (recovery is retried on the next lookup). Domains first opened while not SPM are
// recovered on the first lookup after this host becomes SPM.
//
// Errors: kInvalidArgument for a non-canonical sdUUID; kNotFound with
// storage code 358 (StorageDomainDoesNotExist) when no mount dir holds the
// domain; FileDomain::Open's errors for a domain that is there but does not
// open (364 no metadata, 752 corrupt, 394 version).
//
// Blocking: directory scans, metadata reads, recovery, lock waits; call from
// worker threads. Thread-safety: all methods are thread-safe; lookups of
// cached domains do not wait for a scan or recovery of another domain
// longer than the scan itself.
#ifndef SANPOOL_DOMAINS_DOMAIN_REGISTRY_H_
#define SANPOOL_DOMAINS_DOMAIN_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/resource_locks.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "domains/file/file_domain.h"
#include "domains/file/file_image.h"
#include "domains/file/file_volume.h"
#include "domains/file/image_locks.h"
#include "domains/qemu_img.h"

namespace sanpool {

// oVirt's fileUtils.transformPath: '_' -> "__", then '/' -> '_'. The result
// is one directory name (no '/'). Pure; no validation.
std::string EscapeMountPath(std::string_view remote_path);

// `<mnt_root>/<EscapeMountPath(remote_path)>`, after checking the input:
// kInvalidArgument (1000) if `remote_path` is empty, holds NUL or a newline,
// or escapes to ".", ".." or a name longer than 255 bytes.
Result<std::string> MountDirFor(std::string_view mnt_root,
                                std::string_view remote_path);

// One opened file domain and its operation objects. Immutable after
// construction.
struct FileDomainBundle {
  std::unique_ptr<file_domain::FileDomain> domain;
  std::unique_ptr<file_domain::ImageLocks> locks;
  std::unique_ptr<file_domain::FileVolumes> volumes;
  std::unique_ptr<file_domain::FileImages> images;

  const std::string& sd_uuid() const { return domain->layout().sd_uuid(); }
  const std::string& mount_dir() const { return domain->layout().mount_dir(); }
};

struct DomainRegistryDeps {
  Env* env = nullptr;
  Clock* clock = nullptr;
  QemuImg* qemu_img = nullptr;
  ResourceManager* lock_manager = nullptr;
  // Whether this host may write metadata now (the SPM role). Empty = never.
  std::function<bool()> is_spm;
};

struct DomainRegistryOptions {
  std::string repository;  // AgentConfig.storage.repository
  std::string run_dir;     // AgentConfig.storage.run_dir (prepared images)
  // Bound on each image/domain lock wait (irs:prepare_image_timeout).
  Duration lock_timeout = std::chrono::minutes(10);
};

class DomainRegistry {
 public:
  // Every pointer in `deps` must be set and outlive the registry.
  DomainRegistry(DomainRegistryDeps deps, DomainRegistryOptions options);
  DomainRegistry(const DomainRegistry&) = delete;
  DomainRegistry& operator=(const DomainRegistry&) = delete;

  // `<repository>/mnt`.
  const std::string& mnt_root() const { return mnt_root_; }

  // The domain `sd_uuid` (errors in the file comment).
  Result<std::shared_ptr<FileDomainBundle>> Get(std::string_view sd_uuid)
      EXCLUDES(mu_, open_mu_);

  // StorageDomain.create: creates the domain in
  // MountDirFor(mnt_root(), params.remote_path), which must exist (the
  // connection is connected); FileDomain::Create's errors otherwise (351 for
  // a missing mount dir, 365 if the domain exists there). 365 too when a
  // directory of that sdUUID exists under any mount dir.
  Result<std::shared_ptr<FileDomainBundle>> Create(
      const file_domain::CreateDomainParams& params) EXCLUDES(mu_, open_mu_);

  // StorageDomain.format: removes the domain (FileDomain::Format: 391 while
  // attached) with 00_storage.<sd> held exclusively, so it waits for the
  // operations running on it, and drops it from the cache. Also finishes an
  // interrupted format (a domain dir without metadata). 358 if there is no
  // such domain dir.
  Status Format(std::string_view sd_uuid) EXCLUDES(mu_, open_mu_);

  // sdUUIDs of the cached domains (sorted); for tests and stats.
  std::vector<std::string> CachedDomains() const EXCLUDES(mu_);

 private:
  // kDomain: a domain dir with dom_md/metadata; kDirectory: any domain dir
  // (an interrupted create or format too).
  enum class FindMode { kDomain, kDirectory };
  // The mount dir that holds `sd_uuid`, or 358.
  Result<std::string> Find(const std::string& sd_uuid, FindMode mode)
      REQUIRES(open_mu_);
  std::shared_ptr<FileDomainBundle> MakeBundle(
      std::unique_ptr<file_domain::FileDomain> domain);
  void RecoverIfSpm(const FileDomainBundle& bundle) REQUIRES(open_mu_)
      EXCLUDES(mu_);
  // The cached bundle if its metadata file is still there (else dropped).
  std::shared_ptr<FileDomainBundle> Cached(const std::string& sd_uuid)
      EXCLUDES(mu_);
  bool NeedsRecovery(const std::string& sd_uuid) const EXCLUDES(mu_);

  DomainRegistryDeps deps_;
  DomainRegistryOptions options_;
  std::string mnt_root_;
  // Serializes scans, opens, recovery, create and format. Taken before mu_.
  Mutex open_mu_;
  mutable Mutex mu_;
  std::map<std::string, std::shared_ptr<FileDomainBundle>, std::less<>>
      cache_ GUARDED_BY(mu_);
  // sdUUIDs whose recovery ran.
  std::set<std::string, std::less<>> recovered_ GUARDED_BY(mu_);
};

}  // namespace sanpool

#endif  // SANPOOL_DOMAINS_DOMAIN_REGISTRY_H_
