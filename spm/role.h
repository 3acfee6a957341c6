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
//     391); the per-volume verbs do not read POOL_UUID before asking the
//     role, so an unconnected host must not be pointed at a pool's domain.
//
// Implementations:
//   * Spm (spm/spm.h): the lease-backed role above (main.cc uses it).
//   * StandaloneRole: always the writer (tests and tools without a pool).
//   * FakeSpmRole (spm/fake_role.h): tests switch it between SPM and not.
//
// Thread-safety: implementations must be safe to call from any thread.
#ifndef SANPOOL_SPM_ROLE_H_
#define SANPOOL_SPM_ROLE_H_

#include "base/status.h"
#include "domains/storage_errors.h"

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
};

// The only writer: always SPM (see the file comment).
class StandaloneRole final : public SpmRole {
 public:
  Status RequireSpm() const override { return Status::Ok(); }
  bool IsSpm() const override { return true; }
};

}  // namespace sanpool::spm

#endif  // SANPOOL_SPM_ROLE_H_
