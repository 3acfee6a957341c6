// Pool metadata: the POOL_* keys and MASTER_VERSION that the pool's master
// domain carries in its domain metadata (reference §3.6, oVirt's
// StoragePoolDiskBackend), and the read-modify-write helpers the pool and the
// SPM use on them.
//
//   ROLE=Master                      the master domain (others: Regular)
//   POOL_UUID=<sp>                   every domain of the pool
//   POOL_DESCRIPTION=<name>          at most 50 characters
//   POOL_DOMAINS=<sd>:Active,<sd2>:Attached
//   POOL_SPM_ID=<host id>            -1 when no host is SPM
//   POOL_SPM_LVER=<lease version>    the SDM lease version of that SPM
//   MASTER_VERSION=<n>               bumped when the master moves
//
// The bytes (KEY=VALUE lines and the seal) are sd_metadata.h's; this file
// adds the pool's meaning. Every update replaces the whole metadata file
// atomically (FileDomain::WriteMetadata: temp + fsync + rename), so a reader
// sees the old or the new pool metadata, never a mix. Only the SPM writes
// pool metadata once the pool exists; StoragePool.create writes it first.
//
// DomainMetadataStore is the small seam between the pool code and a domain
// type: file domains implement it over FileDomain (below); block domains
// (VG tags) plug in later with their own implementation.
//
// Thread-safety: the functions are pure; a store serializes nothing itself
// (callers serialize pool metadata changes: the SPM's operation lock).
#ifndef SANPOOL_SPM_POOL_METADATA_H_
#define SANPOOL_SPM_POOL_METADATA_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "domains/file/file_domain.h"
#include "domains/sd_metadata.h"

namespace sanpool::spm {

// A domain's status in POOL_DOMAINS (oVirt sd.DOM_*_STATUS).
enum class PoolDomainStatus { kActive, kAttached };
std::string_view ToString(PoolDomainStatus status);  // "Active", "Attached"
// kInvalidArgument for any other text.
Result<PoolDomainStatus> PoolDomainStatusFromString(std::string_view text);

// Reads and replaces one domain's metadata.
class DomainMetadataStore {
 public:
  virtual ~DomainMetadataStore() = default;
  // Errors: the domain's own (358, 364, 752, EIO as kUnavailable...).
  virtual Result<DomainMetadata> Read() = 0;
  // Atomic replace; kInvalidArgument if `md` does not validate.
  virtual Status Write(const DomainMetadata& md) = 0;
};

// DomainMetadataStore over a file domain's dom_md/metadata.
class FileMetadataStore final : public DomainMetadataStore {
 public:
  // `domain` is shared so the store stays usable after a registry drop.
  explicit FileMetadataStore(
      std::shared_ptr<file_domain::FileDomain> domain)
      : domain_(std::move(domain)) {}
  Result<DomainMetadata> Read() override { return domain_->ReadMetadata(); }
  Status Write(const DomainMetadata& md) override {
    return domain_->WriteMetadata(md);
  }

 private:
  std::shared_ptr<file_domain::FileDomain> domain_;
};

// oVirt's connect-time validation of a master domain: it is ROLE=Master,
// lists `pool_uuid` in POOL_UUID and carries pool metadata, else
// kFailedPrecondition 324 (StoragePoolWrongMaster); when `master_version` is
// given, MASTER_VERSION must equal it (324 too).
Status CheckMaster(const DomainMetadata& md, std::string_view pool_uuid,
                   std::optional<int64_t> master_version);

// The status of `sd_uuid` in POOL_DOMAINS, or nullopt when not listed (or
// listed with a status this code does not know).
std::optional<PoolDomainStatus> DomainStatusIn(const PoolMetadata& pool,
                                               std::string_view sd_uuid);
// Adds `sd_uuid` at the end or changes its status in place.
void SetDomainStatus(PoolMetadata& pool, std::string_view sd_uuid,
                     PoolDomainStatus status);
// Removes `sd_uuid`; false when it was not listed.
bool RemoveDomain(PoolMetadata& pool, std::string_view sd_uuid);

// Reads the metadata, applies `change` and writes it back when `change`
// returned OK. Errors: the store's, or `change`'s (nothing written then).
Status UpdateDomainMetadata(
    DomainMetadataStore& store,
    const std::function<Status(DomainMetadata&)>& change);

// The same for the pool keys of a master domain: CheckMaster(md, pool_uuid,
// nullopt) first, then `change` on md.pool.
Status UpdatePoolMetadata(DomainMetadataStore& master,
                          std::string_view pool_uuid,
                          const std::function<Status(PoolMetadata&)>& change);

}  // namespace sanpool::spm

#endif  // SANPOOL_SPM_POOL_METADATA_H_
