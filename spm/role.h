// SpmRole: whether this host may change shared storage metadata now.
//
// In oVirt only the Storage Pool Manager (the host holding the pool's SDM
// lease) creates, extends and deletes volumes and images. Every RPC verb that
// changes metadata asks the role once, at the API boundary, before it parses
// anything expensive or touches storage:
//
//   RETURN_IF_ERROR(role.RequireSpm());
//
// Who may write metadata (the rule every implementation follows):
//   * A host connected to a pool (StoragePool.connect, or a saved membership
//     still being restored at start) writes metadata only while it is that
//     pool's SPM, i.e. holds the pool's SDM lease: every
//     domain it works on is reached through the pool, and a second writer
//     would corrupt shared metadata.
//   * A host connected to no pool has no SPM role. It may write the domains
//     it prepares before they join a pool (StorageDomain.create, volumes on
//     a fresh domain): such a domain has POOL_UUID empty and nobody else
//     writes it. Domains already in a pool are protected by the pool verbs
//     (create/attach refuse a domain that lists a pool; format refuses it,
//     391).
//   * Per domain (RequireSpmOf, what every SPM-only verb on one domain
//     asks, with the POOL_UUID the domain's metadata names): the SPM of
//     pool P writes only P's domains (another pool's or a pool-less domain:
//     353 StorageDomainNotInPool); a host in no pool writes only domains in
//     no pool (a pool's domain: 654, this host is not that pool's SPM).
//
// Implementations:
//   * Spm (spm/spm.h): the lease-backed role above (main.cc uses it).
//   * StandaloneRole: always the writer (tests and tools without a pool).
//   * FakeSpmRole (spm/fake_role.h): tests switch it between SPM and not.
//
// Thread-safety: implementations must be safe to call from any thread.
#ifndef SANPOOL_SPM_ROLE_H_
#define SANPOOL_SPM_ROLE_H_

#include <string>
#include <string_view>

#include "base/status.h"
#include "domains/storage_errors.h"
#include "spm/pool_errors.h"

namespace sanpool::spm {

// oVirt's SpmStatusError: kFailedPrecondition with storage code 654
// ("Not SPM"); retrying on the same host fails until it becomes SPM.
inline Status NotSpmError() {
  return Status(Code::kFailedPrecondition, "Not SPM",
                storage_code::kSpmStatusError);
}

class SpmRole {
 public:
  virtual ~SpmRole() = default;

  // OK when this host is the SPM now; NotSpmError() otherwise. Never blocks
  // on storage (a lease-backed role answers from its cached state).
  virtual Status RequireSpm() const = 0;
  // The same question as a bool (for logging and for deciding whether to
  // run domain recovery).
  virtual bool IsSpm() const = 0;
  // The pool this host is connected to, "" when none (the default: roles
  // that never join a pool). Never blocks.
  virtual std::string PoolUuid() const { return std::string(); }

  // RequireSpm() and then the per-domain rule of the file comment for the
  // domain `sd_uuid` whose metadata names `domain_pool` ("" = no pool):
  // 654 or 353 (kFailedPrecondition) when this host may not write it.
  Status RequireSpmOf(std::string_view sd_uuid,
                      std::string_view domain_pool) const {
    RETURN_IF_ERROR(RequireSpm());
    const std::string pool = PoolUuid();
    if (domain_pool == pool) return Status::Ok();
    if (pool.empty()) {
      return NotSpmError()
          .WithDetail("sdUUID", std::string(sd_uuid))
          .WithDetail("domain_pool", std::string(domain_pool));
    }
    return Status(Code::kFailedPrecondition,
                  "domain " + std::string(sd_uuid) + " is not in pool " +
                      pool,
                  pool_code::kStorageDomainNotInPool);
  }
};

// The only writer: always SPM (see the file comment).
class StandaloneRole final : public SpmRole {
 public:
  Status RequireSpm() const override { return Status::Ok(); }
  bool IsSpm() const override { return true; }
};

}  // namespace sanpool::spm

#endif  // SANPOOL_SPM_ROLE_H_
