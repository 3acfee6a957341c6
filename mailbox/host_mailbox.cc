#include "mailbox/host_mailbox.h"

#include <algorithm>
#include <cassert>

#include "base/log.h"
#include "base/uuid.h"

namespace sanpool::mailbox {
namespace {

constexpr std::string_view kLog = "mailbox-host";
// How long the polling thread sleeps with nothing pending; any new request
// wakes it at once, so this only bounds a lost wake-up.
constexpr Duration kIdleSleep = std::chrono::hours(1);

uint64_t BytesToMiBCeil(uint64_t bytes) {
  return bytes / kMiB + (bytes % kMiB != 0 ? 1 : 0);
}

}  // namespace

HostMailbox::HostMailbox(Env& env, Clock& clock, HostMailboxOptions options,
                         ReloadFn reload)
    : env_(env),
      clock_(clock),
      options_(std::move(options)),
      reload_(std::move(reload)),
      inbox_image_(kMailboxSize, '\0'),
      rng_(std::random_device{}()) {
  assert(options_.host_id >= 1 && options_.host_id <= options_.max_host_id);
  assert(reload_ != nullptr);
}

HostMailbox::~HostMailbox() { Stop(); }

Status HostMailbox::Start() {
  MutexLock lock(mu_);
  assert(!started_ && "HostMailbox::Start called twice");
  ASSIGN_OR_RETURN(inbox_, MailboxFile::Open(env_, options_.inbox_path,
                                             DirectAccess::kReadWrite,
                                             options_.max_host_id));
  ASSIGN_OR_RETURN(outbox_, MailboxFile::Open(env_, options_.outbox_path,
                                              DirectAccess::kReadOnly,
                                              options_.max_host_id));
  AlignedBuffer out(kMailboxSize);
  RETURN_IF_ERROR(outbox_->ReadHost(options_.host_id, out));
  // A reply an earlier run never acknowledged: acknowledge it now so the
  // slot cannot be mistaken for the answer to a new request.
  bool acking = false;
  for (int i = 0; i < kMessagesPerMailbox; ++i) {
    if (ClassifySlot(out.view().substr(i * kMessageSize, kMessageSize)) ==
        SlotKind::kMessage) {
      slots_[i].state = SlotState::kAcking;
      SetSlot(i, CleanMessage());
      acking = true;
    }
  }
  AlignedBuffer area(kMailboxSize);
  area.CopyIn(0, inbox_image_);
  SealMailbox(area.data());
  RETURN_IF_ERROR(inbox_->WriteHost(options_.host_id, area));
  if (acking) {
    AlignedBuffer event(kMailboxSize);
    event.CopyIn(0, EncodeEventBlock(NewEventToken()));
    RETURN_IF_ERROR(inbox_->WriteEventBlock(event));
  }
  reload_pool_ = std::make_unique<WorkerPool>(WorkerPoolOptions{
      .name = "mbox-reload",
      .threads = std::max(1, options_.reload_threads),
      .max_queued = 1 << 20});
  started_ = true;
  thread_ = std::thread([this] { Loop(); });
  log::Info(kLog, "started", {{"host_id", options_.host_id},
                              {"inbox", options_.inbox_path},
                              {"outbox", options_.outbox_path}});
  return Status::Ok();
}

void HostMailbox::Stop() {
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  gate_.Close();
  waker_.Wake();
  if (thread_.joinable()) thread_.join();
  // Reloads already answered by the SPM finish normally.
  if (reload_pool_ != nullptr) reload_pool_->Shutdown();
  gate_.WaitDrained();
  std::vector<Completion> completions;
  bool write_empty = false;
  {
    MutexLock lock(mu_);
    std::vector<std::shared_ptr<Pending>> pending;
    for (auto& [key, p] : by_volume_) pending.push_back(p);
    for (auto& p : pending) {
      FinishAll(p, CancelledError("mailbox stopped"), 0, completions);
    }
    queue_.clear();
    slots_ = {};
    write_empty = started_;
    stopped_ = true;
  }
  RunCompletions(completions);
  if (write_empty) {
    AlignedBuffer area(kMailboxSize);  // zeros: checksum 0 is correct
    Status s = inbox_->WriteHost(options_.host_id, area);
    if (!s.ok()) {
      log::Warning(kLog, "cannot clear inbox area on stop",
                   {{"error", s.ToString()}});
    }
  }
  log::Info(kLog, "stopped", {{"host_id", options_.host_id}});
}

std::future<ExtendOutcome> HostMailbox::RequestExtend(
    const ExtendRequest& request) {
  auto promise = std::make_shared<std::promise<ExtendOutcome>>();
  std::future<ExtendOutcome> future = promise->get_future();
  RequestExtend(request, [promise](const ExtendOutcome& outcome) {
    promise->set_value(outcome);
  });
  return future;
}

void HostMailbox::RequestExtend(const ExtendRequest& request,
                                ExtendDone done) {
  const SteadyTime now = clock_.SteadyNow();
  auto fail_inline = [&](Status status) {
    ExtendOutcome outcome;
    outcome.status = std::move(status);
    outcome.timings.queued = now;
    outcome.timings.completed = now;
    done(outcome);
  };
  Status valid = ValidateUuid(request.domain_uuid, "extend domain");
  if (valid.ok()) valid = ValidateUuid(request.image_uuid, "extend image");
  if (valid.ok()) valid = ValidateUuid(request.volume_uuid, "extend volume");
  if (valid.ok() && (request.target_bytes == 0 ||
                     BytesToMiBCeil(request.target_bytes) > kMaxSizeMiB)) {
    valid = InvalidArgumentError("extend: target size " +
                                 std::to_string(request.target_bytes) +
                                 " bytes out of range");
  }
  if (!valid.ok()) return fail_inline(valid);
  std::optional<Gate::Token> token = gate_.TryEnter();
  if (!token) return fail_inline(UnavailableError("mailbox stopped"));
  {
    MutexLock lock(mu_);
    if (started_ && !stopping_) return Enqueue(request, now, std::move(done));
  }
  fail_inline(FailedPreconditionError("mailbox not running"));
}

void HostMailbox::Enqueue(const ExtendRequest& request, SteadyTime now,
                          ExtendDone done) {
  Key key(request.domain_uuid, request.volume_uuid);
  auto it = by_volume_.find(key);
  if (it == by_volume_.end()) {
    auto p = std::make_shared<Pending>();
    p->request = request;
    p->callers.push_back({request.target_bytes, now, std::move(done)});
    by_volume_.emplace(std::move(key), p);
    queue_.push_back(std::move(p));
    waker_.Wake();
    return;
  }
  Pending& p = *it->second;
  ++stats_.coalesced;
  p.callers.push_back({request.target_bytes, now, std::move(done)});
  if (request.target_bytes <= p.request.target_bytes) return;
  p.request.target_bytes = request.target_bytes;
  const uint64_t mib = BytesToMiBCeil(request.target_bytes);
  if (p.slot >= 0 && mib > p.sent_mib) {
    // Already in a slot: rewrite it with the larger target. A reply to the
    // smaller one is ignored (its size no longer matches).
    Result<std::string> msg =
        EncodeExtend({p.request.domain_uuid, p.request.volume_uuid, mib});
    assert(msg.ok());  // validated above
    p.message = *msg;
    p.sent_mib = mib;
    SetSlot(p.slot, p.message);
    waker_.Wake();
  }
}

HostMailboxStats HostMailbox::stats() const {
  MutexLock lock(mu_);
  return stats_;
}

size_t HostMailbox::PendingCount() const {
  MutexLock lock(mu_);
  return by_volume_.size();
}

void HostMailbox::Loop() {
  for (;;) {
    const Duration sleep = Step();
    {
      MutexLock lock(mu_);
      if (stopping_) return;
    }
    if (sleep > Duration::zero()) clock_.SleepFor(sleep, &waker_);
  }
}

Duration HostMailbox::Step() {
  // Reset before looking at the state: a Wake() after this point is seen by
  // the next sleep.
  waker_.Reset();
  const SteadyTime now = clock_.SteadyNow();
  bool dirty = false;
  bool busy = false;
  {
    MutexLock lock(mu_);
    if (stopping_) return Duration::zero();
    FillSlots();
    for (int i = 0; i < kMessagesPerMailbox; ++i) {
      const Slot& slot = slots_[i];
      if (slot.state == SlotState::kFree) continue;
      busy = true;
      if (slot.state == SlotState::kRequest &&
          slot.pending->last_write != SteadyTime{} &&
          now - slot.pending->last_write >= options_.resend_timeout) {
        ++stats_.resends;
        inbox_dirty_ = true;
        log::Info(kLog, "resending unanswered request",
                  {{"slot", i},
                   {"volume", slot.pending->request.volume_uuid}});
      }
    }
    dirty = inbox_dirty_;
  }
  if (dirty) WriteInbox();
  std::vector<Completion> completions;
  if (busy) ReadOutbox(now, completions);
  RunCompletions(completions);

  MutexLock lock(mu_);
  if (stopping_) return Duration::zero();
  const bool any_free = std::any_of(
      slots_.begin(), slots_.end(),
      [](const Slot& s) { return s.state == SlotState::kFree; });
  const bool any_busy = std::any_of(
      slots_.begin(), slots_.end(),
      [](const Slot& s) { return s.state != SlotState::kFree; });
  if (inbox_dirty_ || (!queue_.empty() && any_free)) {
    return write_error_streak_ > 0 ? options_.error_backoff
                                   : Duration::zero();
  }
  if (any_busy) {
    return read_error_streak_ > 0 ? options_.error_backoff
                                  : options_.poll_interval;
  }
  return kIdleSleep;
}

void HostMailbox::FillSlots() {
  int next = 0;
  while (!queue_.empty()) {
    while (next < kMessagesPerMailbox &&
           slots_[next].state != SlotState::kFree) {
      ++next;
    }
    if (next == kMessagesPerMailbox) return;
    std::shared_ptr<Pending> p = std::move(queue_.front());
    queue_.pop_front();
    p->sent_mib = BytesToMiBCeil(p->request.target_bytes);
    Result<std::string> msg = EncodeExtend(
        {p->request.domain_uuid, p->request.volume_uuid, p->sent_mib});
    assert(msg.ok());  // RequestExtend validated the UUIDs and size
    p->message = *msg;
    p->slot = next;
    slots_[next] = {SlotState::kRequest, p};
    SetSlot(next, p->message);
  }
}

void HostMailbox::WriteInbox() {
  AlignedBuffer area(kMailboxSize);
  AlignedBuffer event(kMailboxSize);
  {
    MutexLock lock(mu_);
    area.CopyIn(0, inbox_image_);
    event.CopyIn(0, EncodeEventBlock(NewEventToken()));
    inbox_dirty_ = false;
  }
  SealMailbox(area.data());
  Status s = inbox_->WriteHost(options_.host_id, area);
  bool area_written = s.ok();
  // The event only tells the SPM to look now; without it the SPM's periodic
  // rescan still finds the request.
  if (s.ok()) s = inbox_->WriteEventBlock(event);

  const SteadyTime now = clock_.SteadyNow();
  MutexLock lock(mu_);
  if (area_written) {
    ++stats_.inbox_writes;
    for (Slot& slot : slots_) {
      if (slot.state != SlotState::kRequest) continue;
      if (slot.pending->sent == SteadyTime{}) slot.pending->sent = now;
      slot.pending->last_write = now;
    }
  }
  if (!s.ok()) {
    ++stats_.write_errors;
    inbox_dirty_ = true;
    if (write_error_streak_++ == 0) {
      log::Warning(kLog, area_written ? "cannot write event block"
                                      : "cannot write inbox area",
                   {{"host_id", options_.host_id}, {"error", s.ToString()}});
    }
    return;
  }
  ++stats_.event_writes;
  if (write_error_streak_ > 0) {
    log::Info(kLog, "inbox writable again",
              {{"failed_attempts", write_error_streak_}});
    write_error_streak_ = 0;
  }
}

void HostMailbox::ReadOutbox(SteadyTime now,
                             std::vector<Completion>& completions) {
  AlignedBuffer area(kMailboxSize);
  Status s = outbox_->ReadHost(options_.host_id, area);
  MutexLock lock(mu_);
  ++stats_.outbox_reads;
  if (!s.ok()) {
    ++stats_.read_errors;
    if (read_error_streak_++ == 0) {
      log::Warning(kLog, "cannot read outbox area",
                   {{"host_id", options_.host_id}, {"error", s.ToString()}});
    }
    return;
  }
  if (read_error_streak_ > 0) {
    log::Info(kLog, "outbox readable again",
              {{"failed_attempts", read_error_streak_}});
    read_error_streak_ = 0;
  }
  for (int i = 0; i < kMessagesPerMailbox; ++i) {
    const std::string_view reply =
        area.view().substr(i * kMessageSize, kMessageSize);
    Slot& slot = slots_[i];
    const SlotKind kind = ClassifySlot(reply);
    if (slot.state == SlotState::kAcking) {
      if (kind == SlotKind::kClean) {
        slot.state = SlotState::kFree;
        SetSlot(i, std::string(kMessageSize, '\0'));
      }
      continue;
    }
    if (slot.state != SlotState::kRequest || kind != SlotKind::kMessage) {
      continue;
    }
    if (IsReplyTo(slot.pending->message, reply)) {
      Result<ExtendMessage> decoded = DecodeExtend(reply);
      if (decoded.ok() && (decoded->size_mib == slot.pending->sent_mib ||
                           decoded->size_mib == 0)) {
        OnReply(i, decoded->size_mib, now, completions);
        continue;
      }
      if (decoded.ok()) continue;  // answers an older size of this message
    }
    if (logged_garbage_[i] != reply) {
      logged_garbage_[i] = std::string(reply);
      log::Warning(kLog, "ignoring unexpected outbox slot content",
                   {{"host_id", options_.host_id}, {"slot", i}});
    }
  }
}

void HostMailbox::OnReply(int slot, uint64_t size_mib, SteadyTime now,
                          std::vector<Completion>& completions) {
  std::shared_ptr<Pending> p = std::move(slots_[slot].pending);
  slots_[slot] = {SlotState::kAcking, nullptr};
  SetSlot(slot, CleanMessage());
  p->slot = -1;
  p->answered = now;
  ++stats_.replies;
  if (size_mib == 0) {
    ++stats_.failure_replies;
    FinishAll(p,
              ResourceExhaustedError(
                  "SPM could not extend volume " + p->request.volume_uuid +
                  " to " + std::to_string(p->request.target_bytes) +
                  " bytes (reply size 0: VG full or an lvm error; the "
                  "SPM's log has the cause)"),
              0, completions);
    return;
  }
  std::optional<Gate::Token> token = gate_.TryEnter();
  Status submitted = UnavailableError("mailbox stopping");
  if (token) {
    auto shared_token = std::make_shared<Gate::Token>(std::move(*token));
    submitted = reload_pool_->Submit([this, p, shared_token] { Reload(p); });
  }
  if (!submitted.ok()) FinishAll(p, submitted, 0, completions);
}

void HostMailbox::Reload(std::shared_ptr<Pending> p) {
  ExtendRequest request;
  {
    MutexLock lock(mu_);
    request = p->request;
  }
  Result<uint64_t> size = reload_(request);
  std::vector<Completion> completions;
  {
    MutexLock lock(mu_);
    if (!size.ok()) {
      FinishAll(p, size.status().Annotate("reload after extend"), 0,
                completions);
    } else {
      const SteadyTime now = clock_.SteadyNow();
      std::vector<Caller> remaining;
      for (Caller& caller : p->callers) {
        if (caller.target_bytes <= *size) {
          completions.emplace_back(
              std::move(caller.done),
              ExtendOutcome{Status::Ok(), *size,
                            {caller.queued, p->sent, p->answered, now}});
        } else {
          remaining.push_back(std::move(caller));
        }
      }
      p->callers = std::move(remaining);
      if (p->callers.empty()) {
        FinishAll(p, Status::Ok(), *size, completions);
      } else if (*size >= p->sent_mib * kMiB && !stopping_) {
        // Larger targets joined after the message was sent: another round.
        p->sent = SteadyTime{};
        p->answered = SteadyTime{};
        queue_.push_back(p);
        waker_.Wake();
      } else {
        FinishAll(p,
                  FailedPreconditionError(
                      "volume " + p->request.volume_uuid + " is " +
                      std::to_string(*size) +
                      " bytes after extend, below the target"),
                  *size, completions);
      }
    }
  }
  RunCompletions(completions);
}

void HostMailbox::FinishAll(const std::shared_ptr<Pending>& p,
                            const Status& status, uint64_t size,
                            std::vector<Completion>& completions) {
  const SteadyTime now = clock_.SteadyNow();
  for (Caller& caller : p->callers) {
    completions.emplace_back(
        std::move(caller.done),
        ExtendOutcome{status, size,
                      {caller.queued, p->sent, p->answered, now}});
  }
  p->callers.clear();
  auto it = by_volume_.find(Key(p->request.domain_uuid,
                                p->request.volume_uuid));
  if (it != by_volume_.end() && it->second == p) by_volume_.erase(it);
}

void HostMailbox::SetSlot(int slot, std::string_view bytes) {
  assert(bytes.size() == kMessageSize);
  inbox_image_.replace(slot * kMessageSize, kMessageSize, bytes);
  inbox_dirty_ = true;
}

std::string HostMailbox::NewEventToken() {
  std::string token(kEventTokenSize, '\0');
  for (size_t i = 0; i < kEventTokenSize; i += 8) {
    uint64_t r = rng_();
    for (size_t j = 0; j < 8; ++j) token[i + j] = static_cast<char>(r >> (8 * j));
  }
  // UUID version 4, RFC 4122 variant, as oVirt's uuid.uuid4().bytes.
  token[6] = static_cast<char>((token[6] & 0x0f) | 0x40);
  token[8] = static_cast<char>((token[8] & 0x3f) | 0x80);
  return token;
}

void HostMailbox::RunCompletions(std::vector<Completion>& completions) {
  for (auto& [done, outcome] : completions) {
    if (done) done(outcome);
  }
  completions.clear();
}

}  // namespace sanpool::mailbox
