// BlockDomainRegistry: the block (iSCSI/FC) storage domains of this host,
// by sdUUID = VG name among the SAN devices the agent may touch
// (doc/block-domains.md "What a domain registry does for block domains").
//
// One LvmCache and one Activator per host (owned by the caller, shared by
// every block domain); each opened domain is one BlockDomainBundle: the
// BlockDomain with its ImageLocks, BlockVolumes and BlockImages, shared
// (shared_ptr) so a caller keeps using a bundle the registry drops.
//
// Lookup (Get): BlockDomain::Open on first use, cached afterwards. The first
// lookup while this host may write metadata (`is_spm()`) runs
// BlockVolumes::Recover() once with the domain locked exclusively
// (00_storage.<sd>, try-lock: postponed while operations hold the domain),
// as DomainRegistry does for file domains. Recovery errors are logged and
// retried on the next lookup.
//
// Errors: kInvalidArgument for a non-canonical sdUUID; kNotFound 358 when no
// VG of that name is on the devices (or no devices are configured);
// BlockDomain::Open's errors otherwise (364 for a VG that is not a domain).
//
// Blocking: lvm commands, dm calls, lock waits; call from worker threads.
// Thread-safety: all methods are thread-safe.
#ifndef SANPOOL_DOMAINS_BLOCK_REGISTRY_H_
#define SANPOOL_DOMAINS_BLOCK_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/process.h"
#include "base/resource_locks.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "domains/block/activation.h"
#include "domains/block/block_domain.h"
#include "domains/block/block_image.h"
#include "domains/block/block_volume.h"
#include "domains/block/lvm_cache.h"
#include "domains/file/image_locks.h"
#include "domains/qemu_img.h"
#include "lease/sanlock.h"

namespace sanpool {

// One opened block domain and its operation objects. Immutable after
// construction; members are destroyed in reverse order (images, volumes,
// locks, domain).
struct BlockDomainBundle {
  std::unique_ptr<block::BlockDomain> domain;
  std::unique_ptr<file_domain::ImageLocks> locks;
  std::unique_ptr<block::BlockVolumes> volumes;
  std::unique_ptr<block::BlockImages> images;

  const std::string& sd_uuid() const { return domain->sd_uuid(); }
};

struct BlockRegistryDeps {
  Env* env = nullptr;
  Clock* clock = nullptr;
  QemuImg* qemu_img = nullptr;
  ProcessRunner* runner = nullptr;  // blkdiscard
  ResourceManager* lock_manager = nullptr;
  lvm::LvmCache* lvm = nullptr;
  block::Activator* activator = nullptr;
  lease::Sanlock* sanlock = nullptr;  // volume leases; may be null
  // Whether this host may write metadata now (the SPM role). Empty = never.
  std::function<bool()> is_spm;
};

struct BlockRegistryOptions {
  std::string run_dir;  // AgentConfig.storage.run_dir (prepared images)
  Duration lock_timeout = std::chrono::minutes(10);
  // How long IsBlockDomain believes "this UUID is no VG" (the negative
  // cache that keeps file-domain calls free of lvm processes). A VG made by
  // another host is seen at the latest this long after it appeared here.
  Duration not_vg_ttl = std::chrono::seconds(30);
};

// Whether IsBlockDomain may answer "no VG" from its negative cache.
enum class VgLookup { kCached, kFresh };

class BlockDomainRegistry {
 public:
  // Every pointer in `deps` but sanlock must be set and outlive the registry.
  BlockDomainRegistry(BlockRegistryDeps deps, BlockRegistryOptions options);
  BlockDomainRegistry(const BlockDomainRegistry&) = delete;
  BlockDomainRegistry& operator=(const BlockDomainRegistry&) = delete;

  // The domain `sd_uuid` (errors in the file comment).
  Result<std::shared_ptr<BlockDomainBundle>> Get(std::string_view sd_uuid)
      EXCLUDES(mu_, open_mu_);

  // Whether `sd_uuid` names a VG on the configured devices (any VG: a
  // domain, or one made by CreateVolumeGroup). False when no devices are
  // configured or lvm fails. Blocking (a `vgs` on a cache miss).
  //
  // A "no" that lvm gave (the VG is not there) is remembered for
  // options.not_vg_ttl: until then kCached answers it again without any
  // lvm process (file domains, asked before every file-domain call). It
  // is forgotten by CreateVolumeGroup, Create, ForgetMissingVgs and by a
  // kFresh lookup, which always asks lvm (the dispatch uses it when the
  // file side does not know the domain either). lvm failures are not
  // remembered.
  bool IsBlockDomain(std::string_view sd_uuid,
                     VgLookup lookup = VgLookup::kCached) EXCLUDES(mu_);
  // Forgets every remembered "no VG" (an explicit refresh: new LUNs, a VG
  // made by another host).
  void ForgetMissingVgs() EXCLUDES(mu_);

  // LVMVolumeGroup.create: block::CreateVolumeGroup's contract. Every device
  // must be among the configured ones (kInvalidArgument 1000 otherwise: the
  // agent never touches a device outside lvm.devices).
  Result<std::string> CreateVolumeGroup(const std::string& vg_name,
                                        const lvm::DeviceList& devices,
                                        lvm::Force force);
  // StorageDomain.create on the VG made by CreateVolumeGroup.
  Result<std::shared_ptr<BlockDomainBundle>> Create(
      const block::CreateBlockDomainParams& params) EXCLUDES(mu_, open_mu_);
  // StorageDomain.extend: the device must be configured (1000).
  Status Extend(std::string_view sd_uuid, const std::string& device,
                lvm::Force force) EXCLUDES(mu_, open_mu_);
  // StorageDomain.format: drops the bundle (waiting for the operations on
  // the domain through 00_storage.<sd>), then BlockDomain::Format.
  Status Format(std::string_view sd_uuid) EXCLUDES(mu_, open_mu_);

  // The domain's BlockVolumes (spm::BlockVolumesLookup). The pointee lives
  // while the bundle is cached (Format drops it).
  Result<block::BlockVolumes*> Volumes(const std::string& sd_uuid)
      EXCLUDES(mu_, open_mu_);

  // Activator::RemoveStale over the domains (VGs with the domain tag) on
  // the configured devices; logs what it removed and kept. At agent start.
  Status RemoveStaleMappings();

  // Whether `device` is one of the configured devices.
  bool IsConfiguredDevice(const std::string& device) const;

  std::vector<std::string> CachedDomains() const EXCLUDES(mu_);

 private:
  std::shared_ptr<BlockDomainBundle> MakeBundle(
      std::unique_ptr<block::BlockDomain> domain);
  void RecoverIfSpm(const BlockDomainBundle& bundle) EXCLUDES(mu_);
  block::BlockDomainDeps DomainDeps() const;

  BlockRegistryDeps deps_;
  BlockRegistryOptions options_;
  // Serializes opens, create, extend and format. Taken before mu_.
  Mutex open_mu_;
  mutable Mutex mu_;
  std::map<std::string, std::shared_ptr<BlockDomainBundle>, std::less<>>
      cache_ GUARDED_BY(mu_);
  std::set<std::string, std::less<>> recovered_ GUARDED_BY(mu_);
  // sdUUID -> when lvm said it is no VG (IsBlockDomain's negative cache).
  std::map<std::string, SteadyTime, std::less<>> not_vgs_ GUARDED_BY(mu_);
};

}  // namespace sanpool

#endif  // SANPOOL_DOMAINS_BLOCK_REGISTRY_H_
