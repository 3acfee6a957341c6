// HostMailbox: the host side of the storage mailbox (oVirt's HSM_Mailbox).
//
// A host that is not the SPM asks the SPM to extend a thin block volume by
// writing an extend message into its 4 KiB area of the master domain's
// inbox, signalling the event block, and polling its outbox area until the
// SPM's reply appears; it then reloads its own mapping of the volume (the
// `reload` callback: dm table reload / lvchange --refresh) and completes the
// request once the mapped size reaches the target.
//
//   HostMailbox mb(env, clock, {.inbox_path = ..., .outbox_path = ...,
//                               .host_id = 3}, reload);
//   RETURN_IF_ERROR(mb.Start());
//   mb.RequestExtend({sd, img, vol, 12 * kGiB}, [](const ExtendOutcome& o) {
//     if (o.status.ok()) SetNextThreshold(o.size_bytes);
//   });
//   ...
//   mb.Stop();
//
// Protocol (reference §4.3, doc/formats/mailbox.md): requests take the
// first free of the 63 slots (more wait in a FIFO queue); the whole area is
// rewritten with its checksum, then the event block. A reply in the outbox
// slot (same first 37 bytes) answers the request: size 0 is the SPM's
// failure, otherwise the mapping is reloaded. Either way the host writes
// CLEAN into its inbox slot; when the SPM echoes CLEAN into the outbox the
// slot is zeroed and free again. The outbox is read only while some slot is
// busy. Unanswered requests are rewritten (area + event) every
// `resend_timeout`: extends are absolute, so a request served twice does no
// harm, and a new SPM re-serves pending requests anyway.
//
// Coalescing: a request for a volume that already has one pending (same
// domain and volume) joins it; the larger target wins (a message already
// written is rewritten with the larger size) and every caller completes.
//
// Completion: `done` is called exactly once per RequestExtend, with the
// status and the volume size the reload reported: OK when that size is >=
// the caller's target; kResourceExhausted when the SPM replied size 0
// (failure, e.g. VG full); the reload's error; kFailedPrecondition if the
// reloaded size is below the target the SPM confirmed; kInvalidArgument for
// a bad request (inline); kCancelled when Stop() comes first; kUnavailable
// after Stop() and kFailedPrecondition before Start() (both inline). The
// SPM's failure reply also fails callers that joined after the message was
// sent with a larger target. `done` runs on the mailbox's own threads (the
// reload workers or the polling thread), or inline in RequestExtend for
// immediate errors: keep it short, never call Stop() from it.
//
// Faults: an unreadable outbox (EIO) or a failed inbox write is logged (once
// per streak) and retried after `error_backoff`; a garbage outbox slot is
// ignored. Nothing storage holds can crash the host.
//
// Threads: one polling thread (driven by `clock`, so tests use FakeClock)
// and `reload_threads` workers for the reload callback.
// Thread-safety: RequestExtend, stats and Stop may be called from any thread.
#ifndef SANPOOL_MAILBOX_HOST_MAILBOX_H_
#define SANPOOL_MAILBOX_HOST_MAILBOX_H_

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/gate.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "base/worker_pool.h"
#include "mailbox/format.h"
#include "mailbox/mailbox_io.h"

namespace sanpool::mailbox {

struct ExtendRequest {
  std::string domain_uuid;
  std::string image_uuid;  // for the reload callback only (not on storage)
  std::string volume_uuid;
  uint64_t target_bytes = 0;  // absolute; sent rounded up to MiB
};

// Steady-clock instants of one request's life. `sent`/`answered` are
// unset (epoch) when the request never got that far.
struct ExtendTimings {
  SteadyTime queued;     // RequestExtend called
  SteadyTime sent;       // first inbox write carrying it succeeded
  SteadyTime answered;   // reply seen in the outbox
  SteadyTime completed;  // reload done / failure decided
};

struct ExtendOutcome {
  Status status;
  uint64_t size_bytes = 0;  // size the reload reported (0 if none)
  ExtendTimings timings;
};

using ExtendDone = std::function<void(const ExtendOutcome&)>;
// Refreshes this host's mapping of the volume and returns its size in
// bytes. Called on a reload worker; may block (dm reload, lvchange).
using ReloadFn = std::function<Result<uint64_t>(const ExtendRequest&)>;

struct HostMailboxOptions {
  std::string inbox_path;   // written by hosts, read by the SPM
  std::string outbox_path;  // written by the SPM, read by hosts
  int host_id = 0;          // 1..max_host_id
  int max_host_id = kDefaultMaxHostId;
  // Outbox poll period while a slot is busy. 5 ms costs one 4 KiB read
  // per 5 ms, only while requests are pending.
  Duration poll_interval = std::chrono::milliseconds(5);
  // A request unanswered this long is rewritten (area + event block).
  Duration resend_timeout = std::chrono::seconds(5);
  // Wait after a failed read or write before trying again.
  Duration error_backoff = std::chrono::milliseconds(100);
  // Concurrent reload callbacks.
  int reload_threads = 4;
};

struct HostMailboxStats {
  uint64_t inbox_writes = 0;   // successful area writes
  uint64_t event_writes = 0;
  uint64_t outbox_reads = 0;
  uint64_t read_errors = 0;
  uint64_t write_errors = 0;
  uint64_t resends = 0;
  uint64_t coalesced = 0;
  uint64_t replies = 0;
  uint64_t failure_replies = 0;  // size 0
};

class HostMailbox {
 public:
  // `env`, `clock` must outlive this object. REQUIRES: 1 <= host_id <=
  // max_host_id, reload non-null.
  HostMailbox(Env& env, Clock& clock, HostMailboxOptions options,
              ReloadFn reload);
  // Stop().
  ~HostMailbox();
  HostMailbox(const HostMailbox&) = delete;
  HostMailbox& operator=(const HostMailbox&) = delete;

  // Opens both files, reads this host's outbox area and writes an empty
  // inbox area, then starts the polling thread. A reply left in the outbox
  // by an earlier run is acknowledged (CLEAN) before its slot is reused.
  // Errors of MailboxFile::Open / I/O (storage unreachable: retry later).
  // REQUIRES: called once.
  Status Start() EXCLUDES(mu_);

  // Stops polling, waits for running reloads, completes everything else
  // with kCancelled and writes an empty inbox area (best effort). Blocks.
  // Idempotent.
  void Stop() EXCLUDES(mu_);

  // Queues a request; `done` runs exactly once (see the header comment).
  // Never blocks on storage.
  void RequestExtend(const ExtendRequest& request, ExtendDone done)
      EXCLUDES(mu_);
  std::future<ExtendOutcome> RequestExtend(const ExtendRequest& request)
      EXCLUDES(mu_);

  HostMailboxStats stats() const EXCLUDES(mu_);
  // Requests not yet completed (queued, in slots or reloading).
  size_t PendingCount() const EXCLUDES(mu_);

 private:
  struct Caller {
    uint64_t target_bytes;
    SteadyTime queued;
    ExtendDone done;
  };
  // One coalesced request for a volume.
  struct Pending {
    ExtendRequest request;    // target_bytes = largest caller target
    std::vector<Caller> callers;
    std::string message;      // the 64 bytes last put in a slot
    uint64_t sent_mib = 0;    // size in `message`
    int slot = -1;            // -1 when queued or reloading
    SteadyTime sent{};        // first successful write
    SteadyTime last_write{};  // last write (for resends)
    SteadyTime answered{};
  };
  enum class SlotState { kFree, kRequest, kAcking };
  struct Slot {
    SlotState state = SlotState::kFree;
    std::shared_ptr<Pending> pending;  // kRequest only
  };
  using Key = std::pair<std::string, std::string>;  // domain, volume
  using Completion = std::pair<ExtendDone, ExtendOutcome>;

  // Adds a request to the queue or coalesces it with a pending one.
  void Enqueue(const ExtendRequest& request, SteadyTime now, ExtendDone done)
      REQUIRES(mu_);
  void Loop() EXCLUDES(mu_);
  // One iteration; returns how long to sleep.
  Duration Step() EXCLUDES(mu_);
  void FillSlots() REQUIRES(mu_);
  void WriteInbox() EXCLUDES(mu_);
  void ReadOutbox(SteadyTime now, std::vector<Completion>& completions)
      EXCLUDES(mu_);
  void OnReply(int slot, uint64_t size_mib, SteadyTime now,
               std::vector<Completion>& completions) REQUIRES(mu_);
  void Reload(std::shared_ptr<Pending> pending) EXCLUDES(mu_);
  void FinishAll(const std::shared_ptr<Pending>& p, const Status& status,
                 uint64_t size, std::vector<Completion>& completions)
      REQUIRES(mu_);
  void SetSlot(int slot, std::string_view bytes) REQUIRES(mu_);
  std::string NewEventToken() REQUIRES(mu_);
  static void RunCompletions(std::vector<Completion>& completions);

  Env& env_;
  Clock& clock_;
  const HostMailboxOptions options_;
  const ReloadFn reload_;

  std::unique_ptr<MailboxFile> inbox_;
  std::unique_ptr<MailboxFile> outbox_;
  std::unique_ptr<WorkerPool> reload_pool_;
  std::thread thread_;
  Waker waker_;  // new work, a reload finished, or Stop
  Gate gate_;    // RequestExtend and reload tasks

  mutable Mutex mu_;
  bool started_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool stopped_ GUARDED_BY(mu_) = false;
  std::deque<std::shared_ptr<Pending>> queue_ GUARDED_BY(mu_);
  std::map<Key, std::shared_ptr<Pending>> by_volume_ GUARDED_BY(mu_);
  std::array<Slot, kMessagesPerMailbox> slots_ GUARDED_BY(mu_);
  // This host's inbox area as it should be on storage (checksum unset).
  std::string inbox_image_ GUARDED_BY(mu_);
  bool inbox_dirty_ GUARDED_BY(mu_) = false;
  // Slot content of the outbox we last logged as unexpected.
  std::array<std::string, kMessagesPerMailbox> logged_garbage_ GUARDED_BY(mu_);
  int read_error_streak_ GUARDED_BY(mu_) = 0;
  int write_error_streak_ GUARDED_BY(mu_) = 0;
  std::mt19937_64 rng_ GUARDED_BY(mu_);
  HostMailboxStats stats_ GUARDED_BY(mu_);
};

}  // namespace sanpool::mailbox

#endif  // SANPOOL_MAILBOX_HOST_MAILBOX_H_
