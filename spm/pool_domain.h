// PoolDomain: what a storage pool needs of one of its domains, whatever the
// domain's kind (doc/spm.md "Domains of a pool"): its metadata (with the
// pool keys), the lease areas sanlock opens, the path the domain monitor
// reads, its space, and the master file system the SPM mounts when the
// domain is the pool's master.
//
//                      file domain                 block domain
//   metadata           dom_md/metadata             MDT_ VG tags
//   ids / leases       dom_md/ids, dom_md/leases   the mapped ids/leases LVs
//   monitor path       dom_md/metadata (sealed)    the mapped metadata LV
//   lease area new?    ids empty / leases short    no sanlock leader record
//   master fs          <domain>/master (dir)       `master` LV, ext3, mounted
//
// A block PoolDomain maps its special LVs (ids, leases, inbox, outbox,
// metadata, master; Activator, shared) in Map(), before sanlock or the
// monitor is given a path, and unmaps them (drops its references) when it
// is destroyed: StoragePool holds one per active member while connected,
// so the LVs are mapped on every connected host and released on
// disconnect. (Other holders, e.g. the registry's cached BlockDomain or
// the mailbox, keep their own references: a mapping goes away with the
// last one.) A file PoolDomain maps nothing.
//
// PoolDomains opens a domain by sdUUID: the file registry first, then,
// when the file registry does not know it (358) and block domains are
// configured, the block registry.
//
// Errors: the registries' (358 unknown domain, 364, 752...), the
// Activator's for a special LV that cannot be mapped, Env's for lease-area
// reads. Blocking: storage I/O, lvm and dm calls.
// Thread-safety: a PoolDomain may be used from several threads (its
// mappings are made under a lock); PoolDomains is thread-safe.
#ifndef SANPOOL_SPM_POOL_DOMAIN_H_
#define SANPOOL_SPM_POOL_DOMAIN_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/process.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "domains/block/block_layout.h"
#include "domains/block_registry.h"
#include "domains/domain_registry.h"
#include "domains/monitor/domain_monitor.h"
#include "spm/master_fs.h"
#include "spm/pool_metadata.h"

namespace sanpool::spm {

struct PoolDomainSpace {
  uint64_t disk_total = 0;  // bytes
  uint64_t disk_free = 0;
};

// What a master file system needs from the host (see MasterFs).
struct MasterFsContext {
  Env* env = nullptr;
  ProcessRunner* runner = nullptr;  // block: fsck, mount, umount
  // Block masters are mounted at <block_mount_root>/<sdUUID>/master.
  std::string block_mount_root;
  std::string mountinfo_path = "/proc/self/mountinfo";
};

// One domain, as the pool sees it. Its DomainMetadataStore side reads and
// replaces the common metadata (block: the other MDT_ keys are kept).
class PoolDomain : public DomainMetadataStore {
 public:
  ~PoolDomain() override = default;
  virtual const std::string& sd_uuid() const = 0;
  // Makes the lease areas and the monitor path usable (block: maps the
  // special LVs). Idempotent. The path getters below call it.
  virtual Status Map() = 0;
  // The lockspace (ids) and the SDM / volume leases area, as paths sanlock
  // opens.
  virtual Result<std::string> IdsPath() = 0;
  virtual Result<std::string> LeasesPath() = 0;
  // The path DomainMonitor::Add reads, and how it is read.
  struct MonitorTarget {
    std::string path;
    monitor::PathContent content = monitor::PathContent::kFileDomainMetadata;
  };
  virtual Result<MonitorTarget> Monitor() = 0;
  virtual Result<PoolDomainSpace> Space() = 0;
  // Whether the lockspace / the SDM lease (at 1 x alignment of leases)
  // still needs writing: StoragePool formats only new areas, never one in
  // use. `md` is this domain's metadata.
  virtual Result<bool> LockspaceIsNew(const DomainMetadata& md) = 0;
  virtual Result<bool> SdmIsNew(const DomainMetadata& md) = 0;
  // The master file system of this domain as a pool master. The object
  // keeps this PoolDomain (and so its mappings) alive.
  virtual Result<std::shared_ptr<MasterFs>> NewMasterFs(
      const MasterFsContext& context) = 0;
};

// Over a file domain of the DomainRegistry.
class FilePoolDomain final : public PoolDomain {
 public:
  FilePoolDomain(Env& env, std::shared_ptr<FileDomainBundle> bundle)
      : env_(env), bundle_(std::move(bundle)) {}
  Result<DomainMetadata> Read() override;
  Status Write(const DomainMetadata& md) override;
  const std::string& sd_uuid() const override { return bundle_->sd_uuid(); }
  Status Map() override { return Status::Ok(); }
  Result<std::string> IdsPath() override;
  Result<std::string> LeasesPath() override;
  Result<MonitorTarget> Monitor() override;
  Result<PoolDomainSpace> Space() override;
  Result<bool> LockspaceIsNew(const DomainMetadata& md) override;
  Result<bool> SdmIsNew(const DomainMetadata& md) override;
  Result<std::shared_ptr<MasterFs>> NewMasterFs(
      const MasterFsContext& context) override;

 private:
  Env& env_;
  std::shared_ptr<FileDomainBundle> bundle_;
};

// Over a block domain of the BlockDomainRegistry. Unmaps what it mapped
// when destroyed (failures logged).
class BlockPoolDomain final
    : public PoolDomain,
      public std::enable_shared_from_this<BlockPoolDomain> {
 public:
  // The special LVs a pool member maps.
  static constexpr block::SpecialLv kMapped[] = {
      block::SpecialLv::kMetadata, block::SpecialLv::kIds,
      block::SpecialLv::kLeases,   block::SpecialLv::kInbox,
      block::SpecialLv::kOutbox,   block::SpecialLv::kMaster};

  explicit BlockPoolDomain(std::shared_ptr<BlockDomainBundle> bundle)
      : bundle_(std::move(bundle)) {}
  ~BlockPoolDomain() override;
  Result<DomainMetadata> Read() override;
  Status Write(const DomainMetadata& md) override;
  const std::string& sd_uuid() const override { return bundle_->sd_uuid(); }
  Status Map() override EXCLUDES(mu_);
  Result<std::string> IdsPath() override;
  Result<std::string> LeasesPath() override;
  Result<MonitorTarget> Monitor() override;
  Result<PoolDomainSpace> Space() override;
  Result<bool> LockspaceIsNew(const DomainMetadata& md) override;
  Result<bool> SdmIsNew(const DomainMetadata& md) override;
  Result<std::shared_ptr<MasterFs>> NewMasterFs(
      const MasterFsContext& context) override;

  // The device path of a mapped special LV (Map() first).
  Result<std::string> PathOf(block::SpecialLv lv) EXCLUDES(mu_);

 private:
  Env& env() const { return *bundle_->domain->deps().env; }

  std::shared_ptr<BlockDomainBundle> bundle_;
  Mutex mu_;
  std::map<block::SpecialLv, std::string> mapped_ GUARDED_BY(mu_);
};

// Whether the sanlock leader record in the first 512 bytes of `sector` is
// one of `space_name` (a lockspace's delta lease: `resource_name` empty; a
// resource's paxos leader: the resource name). Pure; exposed for tests.
bool IsSanlockLeader(std::string_view sector, bool delta,
                     std::string_view space_name,
                     std::string_view resource_name);

struct PoolDomainsDeps {
  Env* env = nullptr;                      // required
  DomainRegistry* files = nullptr;         // required
  BlockDomainRegistry* blocks = nullptr;   // may be null: file domains only
};

class PoolDomains {
 public:
  explicit PoolDomains(PoolDomainsDeps deps) : deps_(deps) {}
  // The domain `sd_uuid` (errors in the file comment).
  Result<std::shared_ptr<PoolDomain>> Open(std::string_view sd_uuid);

 private:
  PoolDomainsDeps deps_;
};

}  // namespace sanpool::spm

#endif  // SANPOOL_SPM_POOL_DOMAIN_H_
