// Volume.extend (thin block volumes grown on demand, reference §5.3) and the
// Volume.extended notification, over spm::ExtendService.
//
//   Volume.extend  storagedomainID, storagepoolID?, imageID, volumeID,
//                  newSize (bytes, absolute: the LV size wanted)
//                  -> {newSize, path, timings}
// Any host may call it: on the SPM the LV is extended directly, elsewhere
// the request goes through the pool's storage mailbox (spm/extend_service.h).
// The call waits (on a worker) until the LV is extended and this host's
// mapping reloaded, or until `timeout`: then kDeadlineExceeded, while the
// request goes on and its Volume.extended notification still comes.
// Errors: those of ExtendService (kResourceExhausted: VG full; kUnavailable:
// no pool / mailbox, or the service is not started).
//
// `timings` (both in the result and in the notification): milliseconds from
// `queued` to `sent`, `answered`, `extended`, `reloaded`; null for a step
// that never happened; and `queuedAt`, the request's time on this host's
// monotonic clock in ms (as notify_time; see Volume.lvExtended below).
//
//   Volume.extended {storagedomainID, imageID, volumeID, requestedSize,
//                    newSize, path, ok, code?, message?, timings}
// published on every completion, success or not.
//
// Thread-safety: handlers may run concurrently on any thread.
#ifndef SANPOOL_AGENT_EXTEND_METHODS_H_
#define SANPOOL_AGENT_EXTEND_METHODS_H_

#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <string>

#include "agent/method_registry.h"
#include "agent/notifications.h"
#include "base/env.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "spm/extend_service.h"
#include "spm/spm.h"

namespace sanpool::agent {

inline constexpr char kVolumeExtendedEvent[] = "Volume.extended";
inline constexpr char kVolumeLvExtendedEvent[] = "Volume.lvExtended";

struct ExtendMethodsDeps {
  // Set by main.cc once the service exists; null: kUnavailable. Must
  // outlive the calls in flight.
  spm::ExtendService* service = nullptr;
  std::chrono::milliseconds timeout{60000};  // mailbox.extend_timeout_s
};

// Registers Volume.extend. `deps` must outlive the registry.
Status RegisterExtendMethods(MethodRegistry& registry,
                             const ExtendMethodsDeps* deps);

// {newSize, path, timings} (+ ids, ok, code, message for the notification).
boost::json::object ExtendResultJson(const spm::ExtendResult& result);

// An ExtendService on_extended callback publishing Volume.extended on `hub`
// (which must outlive the service).
spm::ExtendCallback ExtendedPublisher(NotificationHub& hub);

// An ExtendService on_batched callback publishing, on the SPM, every extend
// it ran (its own requests and those of the mailbox):
//   Volume.lvExtended {storagedomainID, volumeID, requestedSize, newSize,
//                      ok, code?, message?, submittedAt, startedAt,
//                      finishedAt}
// The *At times are this host's monotonic clock in ms (the clock of every
// notification's notify_time and of `queuedAt` in Volume.extend's timings):
// when the SPM queued the extend, and when its lvextend began and returned.
// On one machine (the rig) they compare with other hosts' times, which
// splits a mailbox round trip into waiting, lvextend and reply.
spm::BatchObserver LvExtendedPublisher(NotificationHub& hub);

// The inbox and outbox of master domain `sd` (block: its LVs' mapped
// devices; file: dom_md/inbox, dom_md/outbox).
struct MailboxFiles {
  std::string inbox;
  std::string outbox;
};
using MailboxFilesFn =
    std::function<Result<MailboxFiles>(const std::string& sd_uuid)>;

// ExtendService's locate: the pool this host is connected to, as the local
// pool state (`state_file`, spm/local_state.h) records it (master domain,
// host id), and `files` of its master. kFailedPrecondition (309) when not
// connected; the state file's and `files`' errors. `env` must outlive it.
spm::LocateMailboxFn PoolMailboxLocator(Env& env, std::string state_file,
                                        MailboxFilesFn files);

// Tells the extend service about the Spm's role changes (SpmDeps::on_change)
// although main.cc makes the service after the Spm:
//
//   ExtendRoleForwarder forward;                  // outlives the Spm
//   SpmDeps{.on_change = forward.Wrap(SpmChangePublisher(hub))};
//   ...
//   ExtendRoleForwarder::Attachment a = forward.Attach(&extend_service);
//
// Each change first calls service->OnRoleChanged() (the service stops or
// starts serving the mailbox at once; never blocks), then `next`. Attach's
// result detaches when destroyed, so declare it after the service.
// Thread-safety: thread-safe; Wrap's callback may run on any thread.
class ExtendRoleForwarder {
 public:
  using OnChange = std::function<void(const std::string& pool_uuid,
                                      const spm::SpmStatus& status)>;
  class [[nodiscard]] Attachment {
   public:
    explicit Attachment(ExtendRoleForwarder* owner) : owner_(owner) {}
    ~Attachment() { owner_->Set(nullptr); }
    Attachment(const Attachment&) = delete;
    Attachment& operator=(const Attachment&) = delete;

   private:
    ExtendRoleForwarder* owner_;
  };

  // The callback for SpmDeps::on_change. `next` may be null.
  OnChange Wrap(OnChange next);
  // Forwards to `service` until the result is destroyed (after which no
  // call reaches the service). REQUIRES: nothing attached.
  Attachment Attach(spm::ExtendService* service) EXCLUDES(mu_);

  // Tells the attached service, if any.
  void Notify() EXCLUDES(mu_);

 private:
  void Set(spm::ExtendService* service) EXCLUDES(mu_);

  Mutex mu_;  // held while notifying, so detaching waits for a call
  spm::ExtendService* service_ GUARDED_BY(mu_) = nullptr;
};

// File domains: dom_md/inbox and dom_md/outbox next to the metadata that
// FindFileDomainMetadata finds under <repository>/mnt.
MailboxFilesFn FileDomainMailboxFiles(Env& env, std::string repository);

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_EXTEND_METHODS_H_
