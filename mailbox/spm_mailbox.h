// SpmMailbox: the SPM side of the storage mailbox (oVirt's SPM_MailMonitor).
//
// The SPM watches the event block (host 0's area of the inbox) every
// `event_interval` and, when its token changes, reads the inbox areas of the
// active hosts; it also rescans them every `rescan_interval` whatever the
// event block says (a lost or failed event write only delays a request).
// Each valid extend message is served by the `extend` callback on a bounded
// pool of workers; the reply goes into the same slot of the host's outbox
// area. CLEAN acknowledgements are echoed (doc/formats/mailbox.md).
//
//   SpmMailbox spm(env, clock, {.inbox_path = ..., .outbox_path = ...},
//                  extend, active_hosts);
//   RETURN_IF_ERROR(spm.Start());   // as the last step of becoming SPM
//   ...
//   spm.Stop();                     // before releasing the SDM lease
//
// Which messages are served: a slot holding a well-formed request is served
// when no extend for that slot is running and the outbox slot does not
// already hold its reply (same first 37 bytes, size = requested or 0). The
// SPM keeps no other memory of what it served, so a new SPM (Start zeroes
// the outbox, as oVirt does) re-serves every pending request: extends are
// absolute and idempotent. A reply is written only if the inbox slot still
// holds the request it answers (a host may have replaced it with a larger
// target meanwhile).
//
// The extend callback receives the absolute target and returns the size the
// volume has afterwards; it must be idempotent (a target already reached is
// success). Success is replied with the requested size; any error (VG full:
// kResourceExhausted) or a returned size below the target is replied with
// size 0, the protocol's failure, except kAborted: "not served here" (this
// host is no longer the SPM), which writes no reply, so the next SPM serves
// the request. Callbacks run on the pool's threads, at most
// `extend_concurrency` at once, one at a time per slot.
//
// Losing the role: `options.serving` is asked (an atomic load) before every
// dispatch and outbox write; once it says false nothing more is written or
// started. RequestStop() says the same for good without blocking (callable
// from a role-change callback); Stop() then joins the threads.
//
// Which host areas are read (no `active_hosts`): with full_rescan_interval
// zero, all of 1..max_host_id at every scan. Otherwise the SPM reads only
// the areas of the hosts it knows (hosts whose inbox area it ever saw
// non-zero), and all of them: at Start, every full_rescan_interval, and at
// once when an event-block change is not explained by a changed area of a
// known host (a host's first request: it becomes known). The idle cost is
// then the event poll plus the known hosts' areas at every rescan plus
// 2 x max_host_id x 4 KiB per full_rescan_interval.
//
// Every periodic rescan also reads the active hosts' outbox areas and
// rewrites any that differ from what this SPM wrote (a stray writer, a lost
// write), so a reply the host cannot see is repaired within one rescan.
//
// Faults: a host area with a bad checksum is skipped (logged once per
// distinct content) without stalling the other hosts; an undecodable slot
// (bad version, unknown opcode, bad UUID or size) is skipped and logged
// once per content; read errors are logged once per streak and retried at
// the next poll; failed outbox writes are retried until they succeed.
//
// Threads: one polling thread driven by `clock` (FakeClock in tests) plus
// the extend workers. Thread-safety: stats/Start/Stop from any thread.
#ifndef SANPOOL_MAILBOX_SPM_MAILBOX_H_
#define SANPOOL_MAILBOX_SPM_MAILBOX_H_

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "base/worker_pool.h"
#include "mailbox/format.h"
#include "mailbox/mailbox_io.h"

namespace sanpool::mailbox {

struct SpmExtendRequest {
  int host_id = 0;
  std::string domain_uuid;
  std::string volume_uuid;
  uint64_t target_bytes = 0;  // size_mib * 1 MiB
};

// Extends the volume to at least target_bytes (absolute, idempotent) and
// returns its size in bytes, or an error (VG full: kResourceExhausted).
using ExtendFn = std::function<Result<uint64_t>(const SpmExtendRequest&)>;
// The host ids to serve now (1..max_host_id; others are ignored). Called
// on the polling thread before every scan; must not block for long.
using ActiveHostsFn = std::function<std::vector<int>()>;

struct SpmMailboxOptions {
  std::string inbox_path;
  std::string outbox_path;
  int max_host_id = kDefaultMaxHostId;
  // Event block poll period: one 4 KiB read each. 5 ms = 200 reads/s,
  // 800 KiB/s while idle.
  Duration event_interval = std::chrono::milliseconds(5);
  // Full rescan of the active hosts' areas even without an event: one read
  // of the inbox host range and one of the outbox range (each at most
  // 250 x 4 KiB = 1000 KiB; 12 KiB for hosts 1..3).
  Duration rescan_interval = std::chrono::seconds(1);
  // Read every host id's area this often (and on unexplained events);
  // other scans read the known hosts only (above). Zero: every scan reads
  // every host id. Ignored when an ActiveHostsFn is given.
  Duration full_rescan_interval = Duration::zero();
  // Wait after a failed event read before the next one.
  Duration error_backoff = std::chrono::milliseconds(100);
  // Extend callbacks running at once.
  int extend_concurrency = 8;
  // Whether this host may still serve (the SPM role); null: always. Must
  // not block. While false no extend is dispatched and no outbox written.
  std::function<bool()> serving;
};

struct SpmMailboxStats {
  uint64_t event_reads = 0;
  uint64_t scans = 0;           // inbox range reads
  uint64_t full_scans = 0;      // of them, reads of every host id
  uint64_t read_errors = 0;
  uint64_t outbox_writes = 0;
  uint64_t write_errors = 0;
  uint64_t extends = 0;         // callbacks finished
  uint64_t failure_replies = 0; // replies with size 0
  uint64_t not_served = 0;      // extends refused with kAborted (no reply)
  uint64_t bad_mailboxes = 0;   // distinct bad-checksum contents seen
  uint64_t bad_messages = 0;    // distinct undecodable slots seen
  uint64_t cleans = 0;          // CLEAN acks echoed
  uint64_t outbox_repairs = 0;  // outbox areas found changed and rewritten
};

class SpmMailbox {
 public:
  // `env`, `clock` must outlive this object. REQUIRES: extend non-null;
  // active_hosts null means every host 1..max_host_id.
  SpmMailbox(Env& env, Clock& clock, SpmMailboxOptions options,
             ExtendFn extend, ActiveHostsFn active_hosts);
  // Stop().
  ~SpmMailbox();
  SpmMailbox(const SpmMailbox&) = delete;
  SpmMailbox& operator=(const SpmMailbox&) = delete;

  // Opens both files, zeroes the outbox (host areas 1..max) and starts the
  // polling thread, whose first step scans every active host. Errors of MailboxFile::Open / the
  // outbox write (nothing is started then). REQUIRES: called once.
  Status Start() EXCLUDES(mu_);

  // Stops polling and waits for running extend callbacks; their replies are
  // not written (after Stop this host may no longer be the SPM). Blocks.
  // Idempotent.
  void Stop() EXCLUDES(mu_);
  // Never blocks: from now on nothing is dispatched or written (a write
  // already under way completes) and the polling thread ends. Stop() still
  // joins. Idempotent; may be called from any thread.
  void RequestStop() EXCLUDES(mu_);

  SpmMailboxStats stats() const EXCLUDES(mu_);

 private:
  struct HostState {
    std::string inbox;   // last valid read, "" before the first
    std::string outbox;  // what the outbox area should hold
    bool outbox_dirty = false;
    std::string logged_bad_area;  // last bad-checksum content logged
    std::array<std::string, kMessagesPerMailbox> in_flight;  // request bytes
    std::array<std::string, kMessagesPerMailbox> logged_bad_slot;
  };

  void Loop() EXCLUDES(mu_);
  Duration Step() EXCLUDES(mu_);
  enum class ScanKind { kInbox, kWithOutbox };
  // Reads the active hosts' inbox areas and dispatches what needs serving;
  // kWithOutbox also reads their outbox areas and rewrites any that differ
  // from what this SPM last wrote.
  // `all`: every host id (else the known ones). Returns whether any area
  // read differed from the last one read (or a host became known).
  bool Scan(ScanKind kind, bool all) EXCLUDES(mu_);
  void RepairOutboxes(const std::vector<int>& active, int first,
                      std::string_view stored) REQUIRES(mu_);
  void ProcessHost(int host_id, std::string_view area, bool dispatch)
      REQUIRES(mu_);
  bool Serving() const;  // options_.serving, true when unset
  bool NarrowScans() const;  // known hosts only between full scans
  void Serve(int host_id, int slot, std::string request,
             SpmExtendRequest extend_request) EXCLUDES(mu_);
  void FlushOutboxes() EXCLUDES(mu_);
  HostState& Host(int host_id) REQUIRES(mu_);

  Env& env_;
  Clock& clock_;
  const SpmMailboxOptions options_;
  const ExtendFn extend_;
  const ActiveHostsFn active_hosts_;

  std::unique_ptr<MailboxFile> inbox_;
  std::unique_ptr<MailboxFile> outbox_;
  std::unique_ptr<WorkerPool> pool_;
  std::thread thread_;
  Waker waker_;  // a reply to write, a rescan needed, or Stop

  mutable Mutex mu_;
  bool started_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool joined_ GUARDED_BY(mu_) = false;  // Stop() ran
  bool rescan_needed_ GUARDED_BY(mu_) = false;
  std::map<int, HostState> hosts_ GUARDED_BY(mu_);
  std::string last_event_ GUARDED_BY(mu_);
  SteadyTime next_rescan_ GUARDED_BY(mu_);
  SteadyTime next_full_scan_ GUARDED_BY(mu_);
  std::set<int> known_ GUARDED_BY(mu_);  // hosts seen with a non-zero area
  int read_error_streak_ GUARDED_BY(mu_) = 0;
  int write_error_streak_ GUARDED_BY(mu_) = 0;
  SpmMailboxStats stats_ GUARDED_BY(mu_);
};

}  // namespace sanpool::mailbox

#endif  // SANPOOL_MAILBOX_SPM_MAILBOX_H_
