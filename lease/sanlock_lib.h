// SanlockLib: the Sanlock interface on libsanlock (the real daemon).
//
// Talks to the sanlock daemon whose run directory SANLOCK_RUN_DIR names in
// this process's environment (default /run/sanlock); libsanlock reads the
// variable at every connect, so set it before the first call and never
// change it afterwards: the registration made on first use stays bound to
// that daemon. One SanlockLib per process (the daemon tracks leases per
// registered process); to act as several hosts, use several processes
// (lease/lease_system_test.cc forks one child per host).
//
// Registration: the first Register/Acquire/Release/Inquire opens the
// process's registered connection (sanlock_register) and keeps it until
// destruction. Destroying the object closes it, and the daemon then releases
// every lease this process holds.
//
// No daemon: when the daemon's socket (<SANLOCK_RUN_DIR>/sanlock.sock) does
// not exist, every call fails with kUnavailable and sanlock_error
// -ECONNREFUSED (libsanlock's own -ENOENT would read as "not joined").
//
// Lost connection: if the daemon closes the connection (it restarted; -EPIPE
// or -ECONNRESET), a SanlockLib that holds no lease re-registers and retries
// once (oVirt's clusterlock does the same); one that holds leases returns
// kAborted "registration lost while holding leases" and stays unregistered
// until the next call: the leases are gone and the caller must act as after
// a lease loss (the SPM stops being SPM).
//
// Blocking: every method blocks on the daemon, and the daemon on storage
// (see lease/sanlock.h). Calls on the registered connection are serialised
// (libsanlock requires it): a slow Acquire delays Release/Inquire from other
// threads. Lockspace and read calls use their own connections and run
// concurrently.
//
// Thread-safety: thread-safe.
#ifndef SANPOOL_LEASE_SANLOCK_LIB_H_
#define SANPOOL_LEASE_SANLOCK_LIB_H_

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/thread_annotations.h"
#include "lease/sanlock.h"

namespace sanpool::lease {

class SanlockLib final : public Sanlock {
 public:
  SanlockLib() = default;
  // Closes the registered connection: the daemon releases this process's
  // leases.
  ~SanlockLib() override;
  SanlockLib(const SanlockLib&) = delete;
  SanlockLib& operator=(const SanlockLib&) = delete;

  Status Register() override EXCLUDES(mu_);
  Status WriteLockspace(const LockspaceSpec& spec,
                        uint32_t io_timeout_s) override;
  Status WriteResource(const ResourceSpec& spec) override;
  Status AddLockspace(const LockspaceSpec& spec,
                      uint32_t io_timeout_s) override;
  Result<LockspaceState> InquireLockspace(const LockspaceSpec& spec) override;
  Status RemoveLockspace(const LockspaceSpec& spec, RemoveMode mode) override;
  Result<uint64_t> Acquire(const ResourceSpec& spec,
                           const AcquireOptions& options) override
      EXCLUDES(mu_);
  Status Release(const ResourceSpec& spec) override EXCLUDES(mu_);
  Result<std::vector<HeldResource>> Inquire() override EXCLUDES(mu_);
  Result<ResourceOwners> ReadResourceOwners(const ResourceSpec& spec) override;
  Result<std::vector<HostStatus>> GetHosts(std::string_view lockspace,
                                           uint64_t host_id) override;

 private:
  using LeaseKey = std::pair<std::string, std::string>;  // lockspace, name

  Status EnsureRegisteredLocked() REQUIRES(mu_);
  // After a call on the registered fd failed with `rv`: true when the
  // connection is gone (fd closed and forgotten).
  bool DropIfDisconnectedLocked(int rv) REQUIRES(mu_);
  Result<std::vector<HeldResource>> InquireLocked() REQUIRES(mu_);

  Mutex mu_;  // serialises libsanlock calls on fd_
  int fd_ GUARDED_BY(mu_) = -1;
  std::set<LeaseKey> held_ GUARDED_BY(mu_);
};

}  // namespace sanpool::lease

#endif  // SANPOOL_LEASE_SANLOCK_LIB_H_
