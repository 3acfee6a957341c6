// ResourceManager: the in-host lock manager of storage operations (VDSM's
// storage/resourceManager.py and guarded.py, reference §9). Operations on one
// host serialise on named resources in namespaces:
//
//   00_storage             pools and domains (HSM verbs: shared sdUUID; SPM
//                          pool ops: exclusive spUUID)
//   01_img_<sdUUID>        images (create/delete/extend: exclusive)
//   02_vol_<sdUUID>        volumes of an image chain
//   03_lvm_<sdUUID>        LV activation
//   04_lease_<sdUUID>, 05_external_lease_<id>   only for lock ordering
//
//   ResourceManager locks(clock);
//   ASSIGN_OR_RETURN(ResourceManager::LockSet held, locks.AcquireAll(
//       {{"00_storage", sd, LockMode::kShared},
//        {"01_img_" + sd, img, LockMode::kExclusive}},
//       std::chrono::minutes(2), cancel));
//   ... work; `held` releases in reverse order when it goes out of scope ...
//
// Modes: any number of kShared holders, or one kExclusive holder.
// Granting (no writer starvation): a request is granted at once only if the
// resource is free, or if it is shared, the holders are shared and nobody is
// queued; otherwise it queues, strict FIFO. When the last holder releases, the
// head of the queue is granted, and if it is shared, every shared request
// directly behind it too (up to the first exclusive one). A request leaving
// the queue (timeout, cancel) lets the ones behind it be granted if possible.
//
// Resources exist only while held or waited for: the entry is created on the
// first request and dropped when the last holder releases with no waiter, so
// the manager does not grow with the number of names ever locked.
//
// Locks are not reentrant: a thread asking again for a resource it holds
// exclusively (or exclusively for one it holds shared) waits for itself until
// its timeout. Taking several locks one by one in different orders in
// different threads can deadlock; AcquireAll() takes a set in the one global
// order (namespace, name), which cannot.
//
// Errors: kInvalidArgument for a bad namespace (must match ^[A-Za-z0-9_-]+$)
// or name (non-empty, no whitespace, no '.'), or a set naming one resource in
// both modes (VDSM's Deadlock); kDeadlineExceeded with storage_code 851
// (VDSM's ResourceTimeout) when the timeout elapses; kCancelled when the
// token is cancelled while waiting.
//
// Thread-safety: all methods are thread-safe; Lock and LockSet handles may be
// released on any thread. Ownership: the manager must outlive every handle
// (asserted in its destructor). Timeouts are measured on the Clock given at
// construction, so tests drive them with a FakeClock.
#ifndef SANPOOL_BASE_RESOURCE_LOCKS_H_
#define SANPOOL_BASE_RESOURCE_LOCKS_H_

#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/cancel.h"
#include "base/clock.h"
#include "base/status.h"
#include "base/thread_annotations.h"

namespace sanpool {

// VDSM's ResourceTimeout error code.
inline constexpr int kResourceTimeoutStorageCode = 851;

enum class LockMode { kShared, kExclusive };
// "shared" / "exclusive".
std::string_view LockModeName(LockMode mode);

struct LockRequest {
  std::string ns;
  std::string name;
  LockMode mode;
};

// A timeout meaning "wait until granted or cancelled".
inline constexpr Duration kWaitForever = Duration::max();

// VDSM's namespaces (reference §9); the full name of a resource is
// "<namespace>.<name>".
inline constexpr std::string_view kStorageLockNamespace = "00_storage";
inline std::string ImageLockNamespace(std::string_view sd_uuid) {
  return "01_img_" + std::string(sd_uuid);
}
inline std::string VolumeLockNamespace(std::string_view sd_uuid) {
  return "02_vol_" + std::string(sd_uuid);
}
inline std::string LvmLockNamespace(std::string_view sd_uuid) {
  return "03_lvm_" + std::string(sd_uuid);
}
inline std::string LeaseLockNamespace(std::string_view sd_uuid) {
  return "04_lease_" + std::string(sd_uuid);
}

// True for names VDSM accepts (see Errors above).
bool IsValidLockNamespace(std::string_view ns);
bool IsValidLockName(std::string_view name);

class ResourceManager {
 public:
  // One held lock; released by the destructor or Release(). Move-only.
  class [[nodiscard]] Lock {
   public:
    Lock(Lock&& other) noexcept;
    Lock& operator=(Lock&& other) noexcept;
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;
    ~Lock();

    // Releases now; idempotent.
    void Release();
    bool held() const { return manager_ != nullptr; }
    const std::string& ns() const { return ns_; }
    const std::string& name() const { return name_; }
    LockMode mode() const { return mode_; }

   private:
    friend class ResourceManager;
    Lock(ResourceManager* manager, std::string ns, std::string name,
         LockMode mode)
        : manager_(manager), ns_(std::move(ns)), name_(std::move(name)),
          mode_(mode) {}
    ResourceManager* manager_;
    std::string ns_;
    std::string name_;
    LockMode mode_;
  };

  // Locks taken together, released in reverse order of acquisition. Move-only.
  class [[nodiscard]] LockSet {
   public:
    LockSet() = default;
    LockSet(LockSet&&) noexcept = default;
    LockSet& operator=(LockSet&& other) noexcept;
    ~LockSet() { Release(); }

    void Release();
    // In acquisition order: sorted by (namespace, name).
    const std::vector<Lock>& locks() const { return locks_; }

   private:
    friend class ResourceManager;
    std::vector<Lock> locks_;
  };

  // What one resource looks like now, for status calls and debugging.
  struct ResourceInfo {
    std::string ns;
    std::string name;
    LockMode mode;      // Mode of the holders (meaningless when holders == 0).
    int holders;        // 0 only while the queue is being served.
    size_t queued;      // Requests waiting.
  };

  explicit ResourceManager(Clock& clock);
  // REQUIRES: no lock held and nobody waiting.
  ~ResourceManager();
  ResourceManager(const ResourceManager&) = delete;
  ResourceManager& operator=(const ResourceManager&) = delete;

  // Blocks until `ns.name` is granted in `mode`, `timeout` elapses or
  // `cancel` is cancelled (errors above). A zero timeout is a try-lock.
  Result<Lock> Acquire(std::string_view ns, std::string_view name,
                       LockMode mode, Duration timeout,
                       const CancellationToken& cancel = {}) EXCLUDES(mu_);

  // Acquires every request: duplicates merged, sorted by (ns, name), taken in
  // that order under one overall deadline. On any failure the ones already
  // taken are released (in reverse) and the error is returned.
  Result<LockSet> AcquireAll(std::vector<LockRequest> requests,
                             Duration timeout,
                             const CancellationToken& cancel = {})
      EXCLUDES(mu_);

  // Every resource currently held or waited for, sorted by (ns, name).
  std::vector<ResourceInfo> Inspect() const EXCLUDES(mu_);
  // Number of live resource entries (0 when idle: nothing leaks).
  size_t ResourceCount() const EXCLUDES(mu_);

 private:
  // One waiting request. Shared between the waiting thread and the queue.
  struct Request {
    explicit Request(LockMode m) : mode(m) {}
    const LockMode mode;
    bool granted = false;  // Guarded by the manager's mu_.
    Waker waker;           // Woken when granted.
  };
  struct Resource {
    LockMode mode = LockMode::kShared;
    int holders = 0;
    std::deque<std::shared_ptr<Request>> queue;
  };
  using Key = std::pair<std::string, std::string>;

  void Release(const Key& key) EXCLUDES(mu_);
  // Grants queued requests that can run now; drops the entry when idle.
  void ServeQueue(std::map<Key, Resource>::iterator it) REQUIRES(mu_);

  Clock& clock_;
  mutable Mutex mu_;
  std::map<Key, Resource> resources_ GUARDED_BY(mu_);
};

}  // namespace sanpool

#endif  // SANPOOL_BASE_RESOURCE_LOCKS_H_
