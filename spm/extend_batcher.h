// ExtendBatcher: the SPM's queue of LV extends, grouped per domain (VG).
//
// Every extend the SPM runs, whether asked locally (Volume.extend on the
// SPM) or through the mailbox, goes through here:
//
//   ExtendBatcher batcher(extender, role, clock, {.concurrency = 8});
//   batcher.Submit(request, [](const Result<uint64_t>& size,
//                              SteadyTime started, SteadyTime finished) {...});
//   Result<uint64_t> size = batcher.ExtendNow(request);  // blocks
//
// Scheduling: requests queue per domain (VG); `concurrency` threads make
// the Extender calls, at most `per_domain` of them for one domain at once.
// A call carries at most min(max_batch, extender.MaxBatch()) requests: a
// thread that picks a domain takes its share of what is queued there,
// ceil(queued / free slots), where the free slots are the domain's unused
// calls bounded by the idle threads. So with an Extender that makes one lvm
// call per batch, a burst of 60 requests and 8 idle threads becomes 8 calls
// of 7-8 volumes (8 lvm runs, not 60), and requests arriving while a
// domain's calls run form its next batches; with one that runs an lvm
// command per volume (MaxBatch 1) they are 60 calls, 8 at a time. With
// per_domain = 1 a domain's calls are strictly serial (lvm takes the VG
// lock for each change; only its start-up and device scan overlap).
// Requests for the same volume in one batch are coalesced: the largest
// target is asked, every caller gets the result.
//
// Role: each call is preceded by role.IsSpm(); when this host is no longer
// the SPM the whole batch fails with NotSpmError() (654) and nothing is
// extended, so a host that lost the role never runs lvm as the SPM.
//
// Completion: `done` runs exactly once per Submit, on a batcher thread (or
// inline with kUnavailable after Shutdown), with the size the Extender
// reported (>= the request's target) or the error; a size below the target
// becomes kInternal. `started`/`finished` bracket the Extender call (both
// the submit time when it never ran). `done` must not call Shutdown().
//
// Thread-safety: all methods may be called from any thread.
#ifndef SANPOOL_SPM_EXTEND_BATCHER_H_
#define SANPOOL_SPM_EXTEND_BATCHER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "mailbox/host_mailbox.h"
#include "spm/extender.h"
#include "spm/role.h"

namespace sanpool::spm {

// One request as a batch ran it (ExtendBatcherOptions::observer): when it
// was submitted, and when its Extender call began and returned (all on the
// batcher's clock).
struct BatchedExtend {
  mailbox::ExtendRequest request;
  Status status;            // of the request (not SPM: 654)
  uint64_t size_bytes = 0;  // when ok
  SteadyTime submitted;
  SteadyTime started;
  SteadyTime finished;
};
using BatchObserver = std::function<void(const BatchedExtend&)>;

struct ExtendBatcherOptions {
  int concurrency = 8;     // Extender calls at once (mailbox.spm_concurrency)
  int per_domain = 0;      // Extender calls at once per domain; 0: concurrency
  size_t max_batch = 64;   // requests per Extender call
  // Optional: called for every request a batch ran (or refused because
  // the role was gone), on the batcher thread, just before its `done`;
  // not for requests cancelled by Shutdown. Must be quick and must not
  // call into the batcher.
  BatchObserver observer;
};

struct ExtendBatcherStats {
  uint64_t requests = 0;   // completed Submits
  uint64_t batches = 0;    // Extender calls
  uint64_t volumes = 0;    // volumes passed to the Extender
  uint64_t coalesced = 0;  // requests that shared a volume with another
  uint64_t not_spm = 0;    // batches refused because the role was gone
  size_t largest_batch = 0;
};

using BatchDone = std::function<void(const Result<uint64_t>& size,
                                     SteadyTime started, SteadyTime finished)>;

class ExtendBatcher {
 public:
  // References must outlive the batcher. Starts `concurrency` threads.
  // REQUIRES: concurrency >= 1, max_batch >= 1.
  ExtendBatcher(Extender& extender, const SpmRole& role, Clock& clock,
                ExtendBatcherOptions options);
  // Shutdown().
  ~ExtendBatcher();
  ExtendBatcher(const ExtendBatcher&) = delete;
  ExtendBatcher& operator=(const ExtendBatcher&) = delete;

  // Queues an extend of request.volume_uuid in request.domain_uuid to
  // request.target_bytes. Never blocks on storage.
  void Submit(const mailbox::ExtendRequest& request, BatchDone done)
      EXCLUDES(mu_);
  // Submit and wait: the size reached or the error. Blocks.
  Result<uint64_t> ExtendNow(const mailbox::ExtendRequest& request)
      EXCLUDES(mu_);

  // Fails queued requests with kCancelled, waits for running calls, joins
  // the threads. Later Submits fail inline with kUnavailable. Idempotent
  // (a second call returns at once).
  void Shutdown() EXCLUDES(mu_);

  ExtendBatcherStats stats() const EXCLUDES(mu_);

 private:
  struct Item {
    mailbox::ExtendRequest request;
    BatchDone done;
    SteadyTime submitted;
  };
  struct DomainQueue {
    std::deque<Item> items;
    int running = 0;     // Extender calls in progress
    bool ready = false;  // listed in ready_
  };

  void Worker() EXCLUDES(mu_);
  // Runs one batch of `domain` (mu_ not held) and completes its items.
  void RunBatch(const std::string& domain, std::vector<Item> items)
      EXCLUDES(mu_);
  void MarkReady(const std::string& domain, DomainQueue& q) REQUIRES(mu_);

  Extender& extender_;
  const SpmRole& role_;
  Clock& clock_;
  const ExtendBatcherOptions options_;
  const int per_domain_;
  const size_t max_batch_;

  mutable Mutex mu_;
  CondVar work_;
  bool stopping_ GUARDED_BY(mu_) = false;
  int busy_ GUARDED_BY(mu_) = 0;  // threads in RunBatch
  std::map<std::string, DomainQueue> domains_ GUARDED_BY(mu_);
  std::deque<std::string> ready_ GUARDED_BY(mu_);  // round robin
  ExtendBatcherStats stats_ GUARDED_BY(mu_);
  std::vector<std::thread> threads_;  // set in the constructor only
};

}  // namespace sanpool::spm

#endif  // SANPOOL_SPM_EXTEND_BATCHER_H_
