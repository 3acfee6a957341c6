#include "mailbox/spm_mailbox.h"

#include <algorithm>
#include <cassert>
#include <optional>
#include <utility>

#include "base/log.h"

namespace sanpool::mailbox {
namespace {

constexpr std::string_view kLog = "mailbox-spm";
constexpr size_t kEventBytes = kEventCode.size() + kEventTokenSize;

std::string_view SlotOf(std::string_view area, int slot) {
  return area.substr(static_cast<size_t>(slot) * kMessageSize, kMessageSize);
}

// The size field of a well-formed message, or nullopt.
std::optional<uint64_t> SizeOf(std::string_view message) {
  Result<ExtendMessage> decoded = DecodeExtend(message);
  if (!decoded.ok()) return std::nullopt;
  return decoded->size_mib;
}

}  // namespace

SpmMailbox::SpmMailbox(Env& env, Clock& clock, SpmMailboxOptions options,
                       ExtendFn extend, ActiveHostsFn active_hosts)
    : env_(env),
      clock_(clock),
      options_(std::move(options)),
      extend_(std::move(extend)),
      active_hosts_(std::move(active_hosts)) {
  assert(options_.max_host_id >= 1);
  assert(extend_ != nullptr);
}

SpmMailbox::~SpmMailbox() { Stop(); }

Status SpmMailbox::Start() {
  MutexLock lock(mu_);
  assert(!started_ && "SpmMailbox::Start called twice");
  ASSIGN_OR_RETURN(inbox_, MailboxFile::Open(env_, options_.inbox_path,
                                             DirectAccess::kReadOnly,
                                             options_.max_host_id));
  ASSIGN_OR_RETURN(outbox_, MailboxFile::Open(env_, options_.outbox_path,
                                              DirectAccess::kReadWrite,
                                              options_.max_host_id));
  // Forget every earlier SPM's replies: pending requests are served again.
  AlignedBuffer zeros(static_cast<size_t>(options_.max_host_id) *
                      kMailboxSize);
  RETURN_IF_ERROR(outbox_->WriteHosts(1, zeros));
  pool_ = std::make_unique<WorkerPool>(WorkerPoolOptions{
      .name = "mbox-extend",
      .threads = std::max(1, options_.extend_concurrency),
      .max_queued = static_cast<size_t>(options_.max_host_id) *
                    kMessagesPerMailbox});
  started_ = true;
  next_rescan_ = clock_.SteadyNow();  // the first step scans
  next_full_scan_ = next_rescan_;     // everything
  thread_ = std::thread([this] { Loop(); });
  log::Info(kLog, "started", {{"inbox", options_.inbox_path},
                              {"outbox", options_.outbox_path},
                              {"max_host_id", options_.max_host_id}});
  return Status::Ok();
}

void SpmMailbox::RequestStop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  waker_.Wake();
}

void SpmMailbox::Stop() {
  {
    MutexLock lock(mu_);
    if (joined_) return;
    joined_ = true;
    stopping_ = true;
  }
  waker_.Wake();
  if (thread_.joinable()) thread_.join();
  if (pool_ != nullptr) pool_->Shutdown();
  log::Info(kLog, "stopped");
}

bool SpmMailbox::Serving() const {
  return !options_.serving || options_.serving();
}

SpmMailboxStats SpmMailbox::stats() const {
  MutexLock lock(mu_);
  return stats_;
}

void SpmMailbox::Loop() {
  for (;;) {
    const Duration sleep = Step();
    {
      MutexLock lock(mu_);
      if (stopping_) return;
    }
    if (sleep > Duration::zero()) clock_.SleepFor(sleep, &waker_);
  }
}

Duration SpmMailbox::Step() {
  waker_.Reset();
  const SteadyTime now = clock_.SteadyNow();
  bool scan = false;
  bool periodic = false;
  bool full = false;
  bool evented = false;
  {
    MutexLock lock(mu_);
    if (stopping_) return Duration::zero();
    periodic = now >= next_rescan_;
    scan = rescan_needed_ || periodic;
    rescan_needed_ = false;
    if (periodic) next_rescan_ = now + options_.rescan_interval;
    full = periodic && now >= next_full_scan_;
    if (full) next_full_scan_ = now + options_.full_rescan_interval;
  }
  AlignedBuffer event(kMailboxSize);
  Status read = inbox_->ReadEventBlock(event);
  {
    MutexLock lock(mu_);
    ++stats_.event_reads;
    if (!read.ok()) {
      ++stats_.read_errors;
      if (read_error_streak_++ == 0) {
        log::Warning(kLog, "cannot read event block",
                     {{"error", read.ToString()}});
      }
    } else {
      std::string_view token = event.view().substr(0, kEventBytes);
      if (token != last_event_) {
        evented = !last_event_.empty();
        last_event_ = std::string(token);
        scan = true;
      }
    }
  }
  if (scan) {
    const bool explained =
        Scan(periodic ? ScanKind::kWithOutbox : ScanKind::kInbox, full);
    // Some host wrote its area, but none of the known ones changed: a
    // host not known yet (its first request). Read them all now.
    if (evented && !explained && !full && NarrowScans()) {
      Scan(ScanKind::kInbox, true);
    }
  }
  FlushOutboxes();

  MutexLock lock(mu_);
  if (stopping_ || rescan_needed_) return Duration::zero();
  Duration sleep = options_.event_interval;
  const bool unwritten = std::any_of(
      hosts_.begin(), hosts_.end(),
      [](const auto& entry) { return entry.second.outbox_dirty; });
  if (read_error_streak_ > 0 || unwritten) {
    sleep = std::max(sleep, options_.error_backoff);
  }
  const SteadyTime after = clock_.SteadyNow();
  return std::clamp(next_rescan_ - after, Duration::zero(), sleep);
}

bool SpmMailbox::NarrowScans() const {
  return !active_hosts_ && options_.full_rescan_interval > Duration::zero();
}

bool SpmMailbox::Scan(ScanKind kind, bool all) {
  std::vector<int> active;
  if (active_hosts_) {
    active = active_hosts_();
  } else if (all || !NarrowScans()) {
    for (int h = 1; h <= options_.max_host_id; ++h) active.push_back(h);
  } else {
    MutexLock lock(mu_);
    active.assign(known_.begin(), known_.end());
  }
  const bool full = !active_hosts_ && (all || !NarrowScans());
  std::erase_if(active, [this](int h) {
    return h < 1 || h > options_.max_host_id;
  });
  std::sort(active.begin(), active.end());
  active.erase(std::unique(active.begin(), active.end()), active.end());
  if (active.empty()) return false;
  const bool dispatch = Serving();
  const int first = active.front();
  const int count = active.back() - first + 1;
  AlignedBuffer areas(static_cast<size_t>(count) * kMailboxSize);
  Status read = inbox_->ReadHosts(first, count, areas);
  AlignedBuffer replies;
  Status outbox_read = Status::Ok();
  if (kind == ScanKind::kWithOutbox && read.ok()) {
    replies = AlignedBuffer(areas.size());
    outbox_read = outbox_->ReadHosts(first, count, replies);
  }

  MutexLock lock(mu_);
  ++stats_.scans;
  if (full) ++stats_.full_scans;
  if (kind == ScanKind::kWithOutbox && read.ok()) {
    if (outbox_read.ok()) {
      RepairOutboxes(active, first, replies.view());
    } else {
      ++stats_.read_errors;
      log::Warning(kLog, "cannot read outbox",
                   {{"error", outbox_read.ToString()}});
    }
  }
  if (!read.ok()) {
    ++stats_.read_errors;
    if (read_error_streak_++ == 0) {
      log::Warning(kLog, "cannot read inbox", {{"error", read.ToString()}});
    }
    return true;  // nothing learned: do not pile a full read on top
  }
  if (read_error_streak_ > 0) {
    log::Info(kLog, "inbox readable again",
              {{"failed_attempts", read_error_streak_}});
    read_error_streak_ = 0;
  }
  bool changed = false;
  for (int h : active) {
    const std::string_view area = areas.view().substr(
        static_cast<size_t>(h - first) * kMailboxSize, kMailboxSize);
    if (!known_.contains(h) &&
        area.find_first_not_of('\0') != std::string_view::npos) {
      known_.insert(h);
      changed = true;
    }
    auto it = hosts_.find(h);
    if (it != hosts_.end() && it->second.inbox != area) changed = true;
    ProcessHost(h, area, dispatch);
  }
  return changed;
}

void SpmMailbox::RepairOutboxes(const std::vector<int>& active, int first,
                                std::string_view stored) {
  for (int h : active) {
    HostState& host = Host(h);
    if (host.outbox_dirty) continue;  // a write is on its way anyway
    const std::string_view area = stored.substr(
        static_cast<size_t>(h - first) * kMailboxSize, kMailboxSize);
    if (area == host.outbox) continue;
    // Someone else wrote there (a stray writer, a torn or lost write):
    // put back what the hosts must see.
    host.outbox_dirty = true;
    ++stats_.outbox_repairs;
    log::Warning(kLog, "outbox area differs from the SPM's; rewriting",
                 {{"host_id", h}});
  }
}

SpmMailbox::HostState& SpmMailbox::Host(int host_id) {
  auto [it, inserted] = hosts_.try_emplace(host_id);
  if (inserted) it->second.outbox.assign(kMailboxSize, '\0');
  return it->second;
}

void SpmMailbox::ProcessHost(int host_id, std::string_view area,
                             bool dispatch) {
  HostState& host = Host(host_id);
  Status valid = VerifyMailbox(area);
  if (!valid.ok()) {
    if (host.logged_bad_area != area) {
      host.logged_bad_area = std::string(area);
      ++stats_.bad_mailboxes;
      log::Warning(kLog, "skipping host mailbox",
                   {{"host_id", host_id}, {"error", valid.ToString()}});
    }
    return;
  }
  if (!host.logged_bad_area.empty()) {
    host.logged_bad_area.clear();
    log::Info(kLog, "host mailbox valid again", {{"host_id", host_id}});
  }
  host.inbox = std::string(area);
  for (int slot = 0; slot < kMessagesPerMailbox; ++slot) {
    const std::string_view message = SlotOf(area, slot);
    const std::string_view reply = SlotOf(host.outbox, slot);
    switch (ClassifySlot(message)) {
      case SlotKind::kEmpty:
        continue;
      case SlotKind::kClean:
        if (ClassifySlot(reply) != SlotKind::kClean) {
          host.outbox.replace(slot * kMessageSize, kMessageSize,
                              CleanMessage());
          host.outbox_dirty = true;
          ++stats_.cleans;
        }
        continue;
      case SlotKind::kMessage:
        break;
    }
    if (!host.in_flight[slot].empty() || !dispatch || stopping_) continue;
    if (IsReplyTo(message, reply)) {
      const std::optional<uint64_t> replied = SizeOf(reply);
      if (replied && (*replied == 0 || replied == SizeOf(message))) continue;
    }
    Result<ExtendMessage> decoded = DecodeExtend(message);
    if (!decoded.ok()) {
      if (host.logged_bad_slot[slot] != message) {
        host.logged_bad_slot[slot] = std::string(message);
        ++stats_.bad_messages;
        log::Warning(kLog, "skipping bad message",
                     {{"host_id", host_id}, {"slot", slot},
                      {"error", decoded.status().ToString()}});
      }
      continue;
    }
    SpmExtendRequest request{host_id, decoded->domain_uuid,
                             decoded->volume_uuid, decoded->size_mib * kMiB};
    host.in_flight[slot] = std::string(message);
    Status submitted =
        pool_->Submit([this, host_id, slot, msg = std::string(message),
                       request = std::move(request)]() mutable {
          Serve(host_id, slot, std::move(msg), std::move(request));
        });
    if (!submitted.ok()) {
      // Served at a later scan.
      host.in_flight[slot].clear();
      log::Warning(kLog, "cannot queue extend",
                   {{"host_id", host_id}, {"error", submitted.ToString()}});
    }
  }
}

void SpmMailbox::Serve(int host_id, int slot, std::string request,
                       SpmExtendRequest extend_request) {
  {
    MutexLock lock(mu_);
    if (stopping_) {  // queued before Stop: left to the next SPM
      Host(host_id).in_flight[slot].clear();
      return;
    }
  }
  Result<uint64_t> size = extend_(extend_request);
  if (!size.ok() && size.status().code() == Code::kAborted) {
    // Not served here (the role is gone): no reply, the next SPM serves it.
    // Not rescanned at once either: only a later scan, if still serving.
    MutexLock lock(mu_);
    ++stats_.extends;
    ++stats_.not_served;
    Host(host_id).in_flight[slot].clear();
    log::Info(kLog, "extend not served here",
              {{"host_id", host_id},
               {"volume", extend_request.volume_uuid},
               {"error", size.status().ToString()}});
    return;
  }
  const uint64_t target_mib = extend_request.target_bytes / kMiB;
  uint64_t reply_mib = target_mib;
  if (!size.ok()) {
    reply_mib = 0;
    log::Warning(kLog, "extend failed",
                 {{"host_id", host_id},
                  {"volume", extend_request.volume_uuid},
                  {"error", size.status().ToString()}});
  } else if (*size < extend_request.target_bytes) {
    reply_mib = 0;
    log::Warning(kLog, "extend fell short",
                 {{"host_id", host_id},
                  {"volume", extend_request.volume_uuid},
                  {"size", *size},
                  {"target", extend_request.target_bytes}});
  }
  MutexLock lock(mu_);
  ++stats_.extends;
  HostState& host = Host(host_id);
  host.in_flight[slot].clear();
  if (stopping_) return;
  if (host.inbox.empty() || SlotOf(host.inbox, slot) != request) {
    // The host replaced the request meanwhile: serve the new one.
    rescan_needed_ = true;
  } else {
    host.outbox.replace(slot * kMessageSize, kMessageSize,
                        EncodeReply(request, reply_mib));
    host.outbox_dirty = true;
    if (reply_mib == 0) ++stats_.failure_replies;
  }
  waker_.Wake();
}

void SpmMailbox::FlushOutboxes() {
  std::vector<std::pair<int, AlignedBuffer>> writes;
  // Checked before taking anything: a host that lost the role writes
  // nothing more (what stays dirty is dropped with this object).
  if (!Serving()) return;
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    for (auto& [host_id, host] : hosts_) {
      if (!host.outbox_dirty) continue;
      AlignedBuffer area(kMailboxSize);
      area.CopyIn(0, host.outbox);
      host.outbox_dirty = false;
      writes.emplace_back(host_id, std::move(area));
    }
  }
  // Only this thread writes the outbox, so writes of one area never race.
  for (auto& [host_id, area] : writes) {
    Status s = outbox_->WriteHost(host_id, area);
    MutexLock lock(mu_);
    if (s.ok()) {
      ++stats_.outbox_writes;
      if (write_error_streak_ > 0) {
        log::Info(kLog, "outbox writable again",
                  {{"failed_attempts", write_error_streak_}});
        write_error_streak_ = 0;
      }
      continue;
    }
    ++stats_.write_errors;
    Host(host_id).outbox_dirty = true;
    if (write_error_streak_++ == 0) {
      log::Warning(kLog, "cannot write outbox",
                   {{"host_id", host_id}, {"error", s.ToString()}});
    }
  }
}

}  // namespace sanpool::mailbox
