#include "domains/monitor/domain_monitor.h"

#include <algorithm>
#include <cassert>

#include "base/log.h"
#include "base/uuid.h"
#include "domains/formats/domain_metadata.h"
#include "domains/sd_metadata.h"
#include "domains/storage_errors.h"

namespace sanpool::monitor {
namespace {

double Seconds(Duration d) {
  return std::chrono::duration<double>(d).count();
}

size_t RoundUpToBlock(uint64_t n) {
  uint64_t blocks = (n + kCheckReadBytes - 1) / kCheckReadBytes;
  return static_cast<size_t>(std::max<uint64_t>(blocks, 1) * kCheckReadBytes);
}

}  // namespace

// Fields other than the constants are guarded by DomainMonitor::mu_.
struct DomainMonitor::Entry {
  Entry(std::string uuid, std::string p, PathContent c)
      : sd_uuid(std::move(uuid)), path(std::move(p)), content(c) {}

  const std::string sd_uuid;
  const std::string path;
  const PathContent content;

  DomainStatus status;
  SteadyTime last_report;
  bool check_requested = false;
  bool in_flight = false;
  SteadyTime check_started;
  bool removed = false;
  bool exited = false;  // the checker thread has left CheckerLoop
  // Finished checks whose on_change call (if any) has returned.
  uint64_t checks_delivered = 0;
  CondVar wake;         // check_requested, removed or stopping_
  std::thread thread;
};

struct DomainMonitor::CheckResult {
  bool timeout = false;
  SteadyTime started;  // of the check this result belongs to
  Status status;
  double delay_s = 0;
  int version = -1;
};

DomainMonitor::DomainMonitor(Env& env, Clock& clock,
                             DomainMonitorOptions options,
                             StateCallback on_change)
    : env_(env),
      clock_(clock),
      options_(options),
      on_change_(std::move(on_change)) {
  assert(options_.interval >= kMinInterval);
  scheduler_ = std::thread([this] { SchedulerLoop(); });
}

DomainMonitor::~DomainMonitor() {
  std::vector<std::shared_ptr<Entry>> entries;
  {
    MutexLock lock(mu_);
    stopping_ = true;
    for (auto& [uuid, entry] : domains_) {
      entry->wake.Signal();
      entries.push_back(entry);
    }
    entries.insert(entries.end(), retired_.begin(), retired_.end());
    domains_.clear();
    retired_.clear();
    changed_.SignalAll();
  }
  stop_.Wake();
  scheduler_.join();
  for (auto& entry : entries) {
    if (entry->thread.joinable()) entry->thread.join();
  }
}

Status DomainMonitor::Add(std::string_view sd_uuid, std::string path,
                          PathContent content) {
  RETURN_IF_ERROR(ValidateUuid(sd_uuid, "sdUUID"));
  if (path.empty()) return InvalidArgumentError("empty monitoring path");
  MutexLock lock(mu_);
  JoinExitedLocked();
  if (stopping_) return FailedPreconditionError("domain monitor is stopping");
  if (domains_.count(sd_uuid) != 0) {
    return AlreadyExistsError("domain " + std::string(sd_uuid) +
                              " is already monitored");
  }
  auto entry =
      std::make_shared<Entry>(std::string(sd_uuid), std::move(path), content);
  entry->status.sd_uuid = entry->sd_uuid;
  entry->last_report = clock_.SteadyNow();
  entry->check_requested = true;  // the first check runs at once
  entry->thread = std::thread([this, entry] { CheckerLoop(entry); });
  domains_.emplace(entry->sd_uuid, entry);
  log::Info("monitor", "monitoring domain",
            {{"sd", entry->sd_uuid}, {"path", entry->path}});
  return Status::Ok();
}

Status DomainMonitor::Remove(std::string_view sd_uuid) {
  MutexLock lock(mu_);
  auto it = domains_.find(sd_uuid);
  if (it == domains_.end()) {
    return NotFoundError("domain " + std::string(sd_uuid) +
                         " is not monitored");
  }
  std::shared_ptr<Entry> entry = it->second;
  domains_.erase(it);
  entry->removed = true;
  entry->wake.Signal();
  retired_.push_back(std::move(entry));
  JoinExitedLocked();
  changed_.SignalAll();
  log::Info("monitor", "stopped monitoring domain", {{"sd", sd_uuid}});
  return Status::Ok();
}

void DomainMonitor::JoinExitedLocked() {
  auto exited = std::stable_partition(
      retired_.begin(), retired_.end(),
      [](const std::shared_ptr<Entry>& e) { return !e->exited; });
  // An exited thread no longer needs mu_, so joining here cannot deadlock.
  for (auto it = exited; it != retired_.end(); ++it) (*it)->thread.join();
  retired_.erase(exited, retired_.end());
}

std::vector<DomainStatus> DomainMonitor::Stats() const {
  SteadyTime now = clock_.SteadyNow();
  MutexLock lock(mu_);
  std::vector<DomainStatus> out;
  out.reserve(domains_.size());
  for (const auto& [uuid, entry] : domains_) out.push_back(Snapshot(*entry, now));
  return out;
}

std::optional<DomainStatus> DomainMonitor::Get(std::string_view sd_uuid) const {
  SteadyTime now = clock_.SteadyNow();
  MutexLock lock(mu_);
  auto it = domains_.find(sd_uuid);
  if (it == domains_.end()) return std::nullopt;
  return Snapshot(*it->second, now);
}

bool DomainMonitor::IsMonitored(std::string_view sd_uuid) const {
  MutexLock lock(mu_);
  return domains_.find(sd_uuid) != domains_.end();
}

Status DomainMonitor::SetAcquired(std::string_view sd_uuid, bool acquired) {
  MutexLock lock(mu_);
  auto it = domains_.find(sd_uuid);
  if (it == domains_.end()) {
    return NotFoundError("domain " + std::string(sd_uuid) +
                         " is not monitored");
  }
  it->second->status.acquired = acquired;
  return Status::Ok();
}

uint64_t DomainMonitor::WaitForChecks(std::string_view sd_uuid,
                                      uint64_t checks) const {
  MutexLock lock(mu_);
  for (;;) {
    auto it = domains_.find(sd_uuid);
    if (it == domains_.end() || stopping_) return 0;
    if (it->second->checks_delivered >= checks) {
      return it->second->checks_delivered;
    }
    changed_.Wait(mu_);
  }
}

uint64_t DomainMonitor::Ticks() const {
  MutexLock lock(mu_);
  return ticks_;
}

void DomainMonitor::WaitForTicks(uint64_t n) const {
  MutexLock lock(mu_);
  while (ticks_ < n && !stopping_) changed_.Wait(mu_);
}

DomainStatus DomainMonitor::Snapshot(const Entry& entry, SteadyTime now) const {
  DomainStatus s = entry.status;
  s.last_check_age_s = std::max(0.0, Seconds(now - entry.last_report));
  return s;
}

void DomainMonitor::SchedulerLoop() {
  SteadyTime next = clock_.SteadyNow() + options_.interval;
  while (clock_.SleepUntil(next, &stop_) == SleepResult::kDeadline) {
    Tick();
    next += options_.interval;
    SteadyTime now = clock_.SteadyNow();
    if (next <= now) next = now + options_.interval;  // ticks were missed
  }
}

void DomainMonitor::Tick() {
  std::vector<CheckResult> timeouts;
  std::vector<std::shared_ptr<Entry>> hung;
  SteadyTime now = clock_.SteadyNow();
  {
    MutexLock lock(mu_);
    for (auto& [uuid, entry] : domains_) {
      if (entry->in_flight) {
        CheckResult r;
        r.timeout = true;
        r.started = entry->check_started;
        r.delay_s = Seconds(now - entry->check_started);
        r.status = Status(Code::kDeadlineExceeded,
                          std::string(kReadTimeoutMessage), kReadErrorCode);
        timeouts.push_back(std::move(r));
        hung.push_back(entry);
      } else {
        entry->check_requested = true;
        entry->wake.Signal();
      }
    }
  }
  for (size_t i = 0; i < hung.size(); ++i) {
    log::Warning("monitor", "domain check still running at the next tick",
                 {{"sd", hung[i]->sd_uuid},
                  {"running_s", timeouts[i].delay_s}});
    Report(*hung[i], timeouts[i]);
  }
  MutexLock lock(mu_);
  ++ticks_;
  changed_.SignalAll();
}

void DomainMonitor::CheckerLoop(std::shared_ptr<Entry> entry) {
  for (;;) {
    {
      MutexLock lock(mu_);
      while (!entry->check_requested && !entry->removed && !stopping_) {
        entry->wake.Wait(mu_);
      }
      if (entry->removed || stopping_) {
        entry->exited = true;
        return;
      }
      entry->check_requested = false;
      entry->in_flight = true;
      entry->check_started = clock_.SteadyNow();
    }
    CheckResult result = RunCheck(*entry);
    Report(*entry, result);
  }
}

DomainMonitor::CheckResult DomainMonitor::RunCheck(const Entry& entry) {
  CheckResult result;
  {
    MutexLock lock(mu_);
    result.started = entry.check_started;
  }
  auto read = [&]() -> Result<std::string> {
    ASSIGN_OR_RETURN(std::unique_ptr<DirectFile> file,
                     env_.OpenDirect(entry.path, DirectOptions{}));
    size_t length = kCheckReadBytes;
    uint64_t size = kCheckReadBytes;
    if (entry.content == PathContent::kFileDomainMetadata) {
      ASSIGN_OR_RETURN(size, file->Size());
      if (size > formats::kMaxDomainMetadataBytes) {
        return Status(Code::kDataLoss,
                      "metadata file is " + std::to_string(size) +
                          " bytes, more than a domain's metadata can be",
                      storage_code::kMetaDataValidationError);
      }
      length = RoundUpToBlock(size);
    }
    AlignedBuffer buf(length);
    Status s = file->PRead(0, buf);
    // The file ending inside the last block is expected for a metadata
    // file; for an opaque path a whole block must be there.
    if (!s.ok() && !(s.code() == Code::kOutOfRange &&
                     entry.content == PathContent::kFileDomainMetadata)) {
      return s;
    }
    return std::string(buf.view().substr(0, size));
  };
  Result<std::string> bytes = read();
  result.delay_s = Seconds(clock_.SteadyNow() - result.started);
  if (!bytes.ok()) {
    result.status = bytes.status();
    if (result.status.storage_code() == 0) {
      result.status = WithStorageCode(result.status, kReadErrorCode);
    }
    return result;
  }
  if (entry.content == PathContent::kOpaque) return result;
  Result<DomainMetadata> md = DecodeDomainMetadataFile(*bytes);
  if (!md.ok()) {
    result.status = md.status();
    if (result.status.storage_code() == 0) {
      result.status = WithStorageCode(result.status,
                                      storage_code::kMetaDataValidationError);
    }
    return result;
  }
  result.version = md->version;
  if (md->sd_uuid != entry.sd_uuid) {
    result.status = Status(Code::kDataLoss,
                           "metadata belongs to domain " + md->sd_uuid,
                           storage_code::kMetaDataValidationError);
  }
  return result;
}

void DomainMonitor::Report(Entry& entry, const CheckResult& result) {
  MutexLock report_lock(report_mu_);
  std::optional<DomainStatus> changed;
  {
    MutexLock lock(mu_);
    if (result.timeout) {
      // The check may have finished since the tick looked.
      if (!entry.in_flight || entry.check_started != result.started) return;
    } else {
      entry.in_flight = false;
      ++entry.status.checks;
    }
    if (entry.removed || stopping_) {
      if (!result.timeout) ++entry.checks_delivered;
      changed_.SignalAll();
      return;
    }
    DomainStatus& s = entry.status;
    const bool was_actual = s.actual;
    const bool was_valid = s.valid;
    s.actual = true;
    s.valid = result.status.ok();
    s.code = result.status.ok() ? 0 : result.status.storage_code();
    s.error = std::string(result.status.message());
    s.read_delay_s = result.delay_s;
    if (result.version >= 0) s.version = result.version;
    entry.last_report = clock_.SteadyNow();
    if (!was_actual || was_valid != s.valid) {
      changed = Snapshot(entry, entry.last_report);
    }
    changed_.SignalAll();
  }
  if (changed) {
    if (changed->valid) {
      log::Info("monitor", "domain is valid",
                {{"sd", changed->sd_uuid}, {"delay_s", changed->read_delay_s}});
    } else {
      log::Warning("monitor", "domain is invalid",
                   {{"sd", changed->sd_uuid},
                    {"code", changed->code},
                    {"error", changed->error}});
    }
    if (on_change_) on_change_(*changed);
  }
  if (!result.timeout) {
    MutexLock lock(mu_);
    ++entry.checks_delivered;
    changed_.SignalAll();
  }
}

}  // namespace sanpool::monitor
