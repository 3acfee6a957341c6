// ExtendService: thin-volume extends for this host, wherever the SPM is
// (DESIGN.md "Mailbox", reference §4, §5.3). It connects the mailbox
// engines (mailbox/host_mailbox.h, mailbox/spm_mailbox.h) to the SPM role
// and to the storage operations (spm/extender.h).
//
//   ExtendService svc({.env = &env, .clock = &clock, .role = &spm,
//                      .extender = &extender, .refresher = &refresher,
//                      .locate = LocateMasterMailbox},
//                     {.spm_concurrency = 8});
//   RETURN_IF_ERROR(svc.Start());
//   // Spm's on_change -> svc.OnRoleChanged();
//   svc.Extend({sd, img, vol, 12 * kGiB}, [](const ExtendResult& r) {...});
//
// Where a request goes (decided when Extend is called):
//   * this host is the SPM (role.IsSpm()): directly to the ExtendBatcher
//     (the Extender, batched per VG), then the VolumeRefresher reloads the
//     local mapping and its size is checked against the target;
//   * otherwise: through this host's HostMailbox (started on first use over
//     the master domain's inbox/outbox that `locate` names); the SPM's reply
//     triggers the VolumeRefresher on a mailbox reload worker.
//   A local request whose batch is refused because the role was lost
//   meanwhile (654) is re-sent through the mailbox, keeping its queued time.
//
// The SPM side: while role.IsSpm(), the service runs an SpmMailbox over the
// same inbox/outbox serving every host (its own included, so requests this
// host sent before it became the SPM are served by itself) through the
// same ExtendBatcher. The service's control thread starts it when the role
// is gained and stops it as soon as the role is lost: at once when told
// through OnRoleChanged (which never blocks, so it is called from Spm's
// on_change callback), else within `role_poll_interval`. Whatever the
// notification's delay, the mailbox asks the role before every dispatch
// and outbox write, so a host that lost the role writes no reply, and an
// extend the batcher refuses (654) is left unanswered for the next SPM
// rather than answered with the failure size 0. A failed start (master
// unreachable) is retried every `retry_interval` while the role lasts. A
// new SPM re-serves every pending request and hosts resend unanswered ones:
// extends are absolute, so serving one twice is harmless.
//
// Completion: `done` runs exactly once per Extend, then `on_extended` (if
// set), on a service or mailbox thread, or inline for immediate errors.
// ExtendResult.status: OK when the refreshed size reached the target;
// kResourceExhausted when the VG is full (local) or the SPM answered size
// 0 (remote: its failure reply, VG full being the usual cause); the
// refresher's error; kFailedPrecondition when the refreshed size is below
// the target; kInvalidArgument for a bad request (inline); kUnavailable
// when the mailbox cannot be located/started or the service is stopped;
// kCancelled when Stop() comes first. `done` must not call Stop().
//
// Timings (steady clock; epoch when a step never happened):
//   queued    Extend called
//   sent      local: the Extender call began; remote: first inbox write
//   answered  local: the Extender returned; remote: SPM reply seen
//   extended  the LV was extended (local: = answered; remote: the reply is
//             the first this host learns of it, so = answered)
//   reloaded  the refresh finished (the request's end)
//
// Threads: one control thread on `clock` (FakeClock in tests), the
// batcher's `spm_concurrency` threads, `reload_threads` refresh workers,
// and the mailbox engines' threads. Thread-safety: every public method may
// be called from any thread.
#ifndef SANPOOL_SPM_EXTEND_SERVICE_H_
#define SANPOOL_SPM_EXTEND_SERVICE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <optional>
#include <memory>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/env.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "base/worker_pool.h"
#include "mailbox/host_mailbox.h"
#include "mailbox/spm_mailbox.h"
#include "spm/extend_batcher.h"
#include "spm/extender.h"
#include "spm/role.h"

namespace sanpool::spm {

struct ExtendTimings {
  SteadyTime queued;
  SteadyTime sent;
  SteadyTime answered;
  SteadyTime extended;
  SteadyTime reloaded;
};

enum class ExtendPath { kLocal, kMailbox };
std::string_view ToString(ExtendPath path);  // "local", "mailbox"

struct ExtendResult {
  mailbox::ExtendRequest request;
  Status status;
  uint64_t size_bytes = 0;  // size the refresh reported; 0 if none
  ExtendPath path = ExtendPath::kLocal;  // how it was finally served
  ExtendTimings timings;
};

using ExtendCallback = std::function<void(const ExtendResult&)>;

// Where the pool's mailbox is and who this host is in it.
struct MailboxLocation {
  std::string inbox_path;   // master domain's inbox (LV device or file)
  std::string outbox_path;
  int host_id = 0;
  int max_host_id = mailbox::kDefaultMaxHostId;
};
// kUnavailable / kFailedPrecondition when this host is in no pool or the
// master cannot be reached. May block briefly (activating the LVs).
using LocateMailboxFn = std::function<Result<MailboxLocation>()>;

struct ExtendServiceDeps {
  Env* env = nullptr;                   // required
  Clock* clock = nullptr;               // required
  const SpmRole* role = nullptr;        // required
  Extender* extender = nullptr;         // required
  VolumeRefresher* refresher = nullptr; // required
  LocateMailboxFn locate;               // required
  ExtendCallback on_extended;           // optional: every completion
  // Optional: every extend this host runs as the SPM (its own or from the
  // mailbox), when the Extender call returned, before the request's
  // completion or reply (ExtendBatcherOptions::observer: quick, on a
  // batcher thread).
  BatchObserver on_batched;
};

struct ExtendServiceOptions {
  // SPM: event block poll (mailbox.event_poll_ms).
  Duration event_interval = std::chrono::milliseconds(5);
  // SPM: full rescan of every host's area (mailbox.scan_interval_ms).
  Duration rescan_interval = std::chrono::seconds(1);
  // SPM: between rescans of every host id; the other rescans read only the
  // hosts known to use the mailbox (SpmMailboxOptions::full_rescan_interval).
  Duration full_rescan_interval = std::chrono::seconds(30);
  // Host: outbox poll while requests are pending (mailbox.host_poll_ms).
  Duration host_poll_interval = std::chrono::milliseconds(5);
  // Host: rewrite an unanswered request after (mailbox.resend_timeout_s).
  Duration resend_timeout = std::chrono::seconds(5);
  // Extender calls at once (mailbox.spm_concurrency), and per VG (0: no
  // other limit); see spm/extend_batcher.h.
  int spm_concurrency = 8;
  int spm_per_domain = 0;
  // Requests per Extender call.
  size_t max_batch = 64;
  // SpmMailbox callbacks waiting on the batcher at once: enough for bursts
  // to form batches (each is a thread blocked on a future).
  int mailbox_waiters = 64;
  int reload_threads = 16;
  // Between attempts to start the SPM mailbox while SPM.
  Duration retry_interval = std::chrono::seconds(1);
  // The control thread also looks at the role this often, so a role change
  // nobody reported through OnRoleChanged is noticed (an atomic load).
  Duration role_poll_interval = std::chrono::milliseconds(100);
};

struct ExtendServiceStats {
  uint64_t local = 0;      // completed on the direct path
  uint64_t remote = 0;     // completed through the mailbox
  uint64_t rerouted = 0;   // local requests re-sent through the mailbox
  uint64_t failed = 0;     // completed with an error
  uint64_t spm_starts = 0; // SpmMailbox started
  uint64_t spm_stops = 0;
  ExtendBatcherStats batcher;
};

class ExtendService {
 public:
  // Pointees of `deps` must outlive the service. REQUIRES: required deps
  // set, options' counts >= 1.
  ExtendService(ExtendServiceDeps deps, ExtendServiceOptions options);
  // Stop().
  ~ExtendService();
  ExtendService(const ExtendService&) = delete;
  ExtendService& operator=(const ExtendService&) = delete;

  // Starts the control thread, which starts the SPM mailbox if this host is
  // the SPM. Does no storage I/O itself. REQUIRES: called once.
  Status Start() EXCLUDES(mu_);
  // Stops the SPM mailbox, fails queued local requests (kCancelled), stops
  // the host mailbox (its pending requests: kCancelled), waits for running
  // refreshes. Blocks. Idempotent.
  void Stop() EXCLUDES(mu_);

  // The role may have changed (wire it to Spm's on_change). Never blocks.
  // If this host is not the SPM now, the SPM mailbox stops serving at once
  // (nothing more dispatched or written to the outbox) and the control
  // thread joins it; if it is, the control thread starts serving at once
  // (a new SpmMailbox zeroes the outbox and re-serves every pending
  // request of every host). Local requests still queued when the role went
  // are refused by the batcher (654) and re-sent through the mailbox.
  void OnRoleChanged() EXCLUDES(mu_);

  // Extends `request.volume_uuid` of `request.domain_uuid` to
  // request.target_bytes (absolute; > 0; UUIDs canonical). `done` runs
  // exactly once (see the file comment). May block on the first remote
  // request while the host mailbox starts (a few O_DIRECT I/Os).
  void Extend(const mailbox::ExtendRequest& request, ExtendCallback done)
      EXCLUDES(mu_);
  std::future<ExtendResult> Extend(const mailbox::ExtendRequest& request)
      EXCLUDES(mu_);

  // Whether the SPM mailbox is running now.
  bool ServingMailbox() const EXCLUDES(mu_);
  // Threads of this service (and its mailbox engines) that sleep on the
  // clock when idle: tests driving a FakeClock wait for this many sleepers.
  size_t ClockThreads() const EXCLUDES(mu_);
  ExtendServiceStats stats() const EXCLUDES(mu_);

 private:
  void Loop();
  // Starts or stops the SPM mailbox to match the role; returns when to look
  // again (a retry) or nullopt.
  std::optional<SteadyTime> Reconcile() EXCLUDES(mu_);
  void Local(const mailbox::ExtendRequest& request, SteadyTime queued,
             ExtendCallback done);
  void Remote(const mailbox::ExtendRequest& request, SteadyTime queued,
              ExtendCallback done) EXCLUDES(mu_);
  // The started host mailbox, starting it if needed.
  Result<mailbox::HostMailbox*> HostMailbox() EXCLUDES(mu_);
  void RefreshAndFinish(ExtendResult result, const ExtendCallback& done);
  void Finish(ExtendResult result, const ExtendCallback& done) EXCLUDES(mu_);

  const ExtendServiceDeps deps_;
  const ExtendServiceOptions options_;
  ExtendBatcher batcher_;
  WorkerPool reload_pool_;
  Waker waker_;
  std::thread thread_;

  Mutex host_mu_;  // serializes the host mailbox start; taken before mu_
  mutable Mutex mu_;
  bool started_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::unique_ptr<mailbox::HostMailbox> host_ GUARDED_BY(mu_);
  std::unique_ptr<mailbox::SpmMailbox> spm_ GUARDED_BY(mu_);
  int start_error_streak_ GUARDED_BY(mu_) = 0;
  // OnRoleChanged saw the role gone: the running SPM mailbox is replaced
  // even if the role is back by the time the control thread looks.
  bool role_lost_ GUARDED_BY(mu_) = false;
  ExtendServiceStats stats_ GUARDED_BY(mu_);
};

}  // namespace sanpool::spm

#endif  // SANPOOL_SPM_EXTEND_SERVICE_H_
