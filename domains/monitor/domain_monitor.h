// DomainMonitor: this host's periodic health check of the storage domains it
// uses (oVirt's storage/monitor.py + check.py, reference §8).
//
//   DomainMonitor monitor(env, clock, {.interval = std::chrono::seconds(10)},
//                         [&](const DomainStatus& s) { Publish(s); });
//   RETURN_IF_ERROR(monitor.Add(sd_uuid, mnt + "/" + sd_uuid + "/dom_md/metadata",
//                               PathContent::kFileDomainMetadata));
//   for (const DomainStatus& s : monitor.Stats()) ...   // repoStats
//
// What a check is: one O_DIRECT read from offset 0 of the domain's monitoring
// path (file domain: `dom_md/metadata`; block domain: the `metadata` LV),
// through Env::OpenDirect into an AlignedBuffer, 4096-byte aligned, timed
// with the Clock (the "read delay"). For kFileDomainMetadata the whole file
// is read (at most formats::kMaxDomainMetadataBytes) and must decode as
// version-5 domain metadata with a valid seal and the monitored SDUUID; the
// version is reported. For kOpaque one 4096-byte block must be readable.
// A domain is valid when its last check succeeded.
//
// Scheduling: the first check of a domain starts as soon as it is added, the
// following ones every `interval` on a shared tick. Every domain has its own
// checker thread, so a read hung on dead storage holds only that domain's
// thread: the others keep their schedule. If a domain's check is still
// running at a tick, the domain is reported invalid with "read timeout" (code
// 2001, as oVirt does when its `dd` is still running) and no second check is
// started; when the hung read returns, its result (with its long delay) is
// reported as usual. Checks never overlap for one domain.
//
// State changes: `on_change` is called once when a domain's first result
// arrives (`actual` becomes true) and whenever `valid` flips afterwards, with
// the new status. Calls are serialized (never two at once), on a checker or
// the scheduler thread, without the monitor's lock held. The callback must be
// quick; it may call any method (none blocks) except WaitFor*() and the
// destructor.
//
// Thread-safety: all public methods are thread-safe and, except the
// destructor, non-blocking (no storage I/O on the caller's thread).
// Destruction stops the scheduler and joins every checker thread: it blocks
// until hung reads return (like an unkillable `dd`); a removed domain's
// checker is joined there too.
#ifndef SANPOOL_DOMAINS_MONITOR_DOMAIN_MONITOR_H_
#define SANPOOL_DOMAINS_MONITOR_DOMAIN_MONITOR_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/status.h"
#include "base/thread_annotations.h"

namespace sanpool::monitor {

// The shortest allowed check interval.
inline constexpr Duration kMinInterval = std::chrono::seconds(1);
inline constexpr Duration kDefaultInterval = std::chrono::seconds(10);
// The bytes a kOpaque check reads (oVirt: dd bs=4096 count=1).
inline constexpr size_t kCheckReadBytes = 4096;
// oVirt's MiscFileReadException: a failed or timed-out path read.
inline constexpr int kReadErrorCode = 2001;
inline constexpr std::string_view kReadTimeoutMessage = "read timeout";

// What the monitoring path holds.
enum class PathContent {
  kFileDomainMetadata,  // a file domain's sealed dom_md/metadata
  kOpaque,              // anything readable (block domain metadata LV)
};

// One domain's status as repoStats reports it.
struct DomainStatus {
  std::string sd_uuid;
  // False until the first check has finished (oVirt's initial fake status).
  bool actual = false;
  bool valid = false;
  // 0 when valid, else a storage error code (2001 read error or timeout,
  // 752 broken seal, 394 unsupported version, ...).
  int code = 0;
  std::string error;  // empty when valid
  // Seconds the last read took; while a check is hung, how long it has run.
  double read_delay_s = 0;
  // Seconds since the last status report (a finished check or a timeout);
  // since Add() before the first one. Computed when the snapshot is taken.
  double last_check_age_s = 0;
  int version = -1;  // domain format version, -1 unknown
  // Whether this host holds its host id in the domain's sanlock lockspace.
  // Set by the lease layer through SetAcquired(); false until then.
  bool acquired = false;
  uint64_t checks = 0;  // finished checks (not counting timeouts)
};

struct DomainMonitorOptions {
  // Time between checks; REQUIRES: >= kMinInterval.
  Duration interval = kDefaultInterval;
};

class DomainMonitor {
 public:
  using StateCallback = std::function<void(const DomainStatus& status)>;

  // Starts the scheduler thread. `env` and `clock` must outlive the monitor.
  // `on_change` may be empty. REQUIRES: options.interval >= kMinInterval.
  DomainMonitor(Env& env, Clock& clock, DomainMonitorOptions options,
                StateCallback on_change);
  // Stops and joins every thread (see the header comment: blocks on hung
  // reads).
  ~DomainMonitor();
  DomainMonitor(const DomainMonitor&) = delete;
  DomainMonitor& operator=(const DomainMonitor&) = delete;

  // Starts monitoring `sd_uuid` by reading `path`; the first check starts at
  // once on the domain's new checker thread. kInvalidArgument if sd_uuid is
  // not a UUID or path is empty; kAlreadyExists if it is monitored.
  Status Add(std::string_view sd_uuid, std::string path,
             PathContent content = PathContent::kFileDomainMetadata)
      EXCLUDES(mu_);
  // Stops monitoring; its status disappears at once. A check in progress is
  // abandoned (its thread ends when the read returns; its result is
  // dropped). kNotFound if not monitored.
  Status Remove(std::string_view sd_uuid) EXCLUDES(mu_);

  // Snapshot of every monitored domain, ordered by sd_uuid.
  std::vector<DomainStatus> Stats() const EXCLUDES(mu_);
  // One domain's status, or nullopt if not monitored.
  std::optional<DomainStatus> Get(std::string_view sd_uuid) const
      EXCLUDES(mu_);
  bool IsMonitored(std::string_view sd_uuid) const EXCLUDES(mu_);

  // For the lease layer: records whether the host id is held in the
  // domain's lockspace. kNotFound if not monitored.
  Status SetAcquired(std::string_view sd_uuid, bool acquired) EXCLUDES(mu_);

  // Blocks until `sd_uuid` has finished at least `checks` checks, and the
  // on_change calls they caused have returned, or is no longer monitored
  // (returns 0 then). For callers that need a fresh result (tests, a verb
  // that waits for the first check). Returns the checks finished.
  uint64_t WaitForChecks(std::string_view sd_uuid, uint64_t checks) const
      EXCLUDES(mu_);
  // Ticks the scheduler has run (each checks or times out every domain).
  uint64_t Ticks() const EXCLUDES(mu_);
  // Blocks until Ticks() >= n.
  void WaitForTicks(uint64_t n) const EXCLUDES(mu_);

  Duration interval() const { return options_.interval; }

 private:
  struct Entry;
  struct CheckResult;

  void SchedulerLoop();
  void Tick() EXCLUDES(mu_);
  void CheckerLoop(std::shared_ptr<Entry> entry);
  CheckResult RunCheck(const Entry& entry);
  // Applies a check result or a tick's timeout to `entry` (unless it was
  // removed) and fires on_change_ if validity changed.
  void Report(Entry& entry, const CheckResult& result) EXCLUDES(mu_);
  DomainStatus Snapshot(const Entry& entry, SteadyTime now) const
      REQUIRES(mu_);
  // Joins the retired checker threads that have exited.
  void JoinExitedLocked() REQUIRES(mu_);

  Env& env_;
  Clock& clock_;
  const DomainMonitorOptions options_;
  const StateCallback on_change_;

  Waker stop_;
  // Serializes Report() calls so callbacks arrive in the order of changes.
  Mutex report_mu_;  // taken before mu_
  mutable Mutex mu_;
  mutable CondVar changed_;  // a check finished, a tick, a removal, stop
  bool stopping_ GUARDED_BY(mu_) = false;
  uint64_t ticks_ GUARDED_BY(mu_) = 0;
  std::map<std::string, std::shared_ptr<Entry>, std::less<>> domains_
      GUARDED_BY(mu_);
  // Removed domains whose checker thread is not joined yet; joined once
  // it has exited (by Add/Remove) or by the destructor.
  std::vector<std::shared_ptr<Entry>> retired_ GUARDED_BY(mu_);
  std::thread scheduler_;
};

}  // namespace sanpool::monitor

#endif  // SANPOOL_DOMAINS_MONITOR_DOMAIN_MONITOR_H_
