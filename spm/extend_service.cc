#include "spm/extend_service.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "base/log.h"
#include "base/uuid.h"
#include "domains/storage_errors.h"

namespace sanpool::spm {
namespace {

Status ValidateRequest(const mailbox::ExtendRequest& r) {
  RETURN_IF_ERROR(ValidateUuid(r.domain_uuid, "domain"));
  RETURN_IF_ERROR(ValidateUuid(r.volume_uuid, "volume"));
  if (!r.image_uuid.empty()) RETURN_IF_ERROR(ValidateUuid(r.image_uuid, "image"));
  if (r.target_bytes == 0 ||
      r.target_bytes > mailbox::kMaxSizeMiB * mailbox::kMiB) {
    return InvalidArgumentError("extend target " +
                                std::to_string(r.target_bytes) +
                                " bytes is out of range");
  }
  return Status::Ok();
}

bool IsNotSpm(const Status& s) {
  return s.storage_code() == storage_code::kSpmStatusError;
}

}  // namespace

std::string_view ToString(ExtendPath path) {
  return path == ExtendPath::kLocal ? "local" : "mailbox";
}

ExtendService::ExtendService(ExtendServiceDeps deps,
                             ExtendServiceOptions options)
    : deps_(std::move(deps)),
      options_(options),
      batcher_(*deps_.extender, *deps_.role, *deps_.clock,
               {.concurrency = options_.spm_concurrency,
                .per_domain = options_.spm_per_domain,
                .max_batch = options_.max_batch,
                .observer = deps_.on_batched}),
      reload_pool_({.name = "extend-reload",
                    .threads = options_.reload_threads,
                    .max_queued = size_t{1} << 20}) {
  assert(deps_.env && deps_.clock && deps_.role && deps_.extender &&
         deps_.refresher && deps_.locate);
  assert(options_.mailbox_waiters >= 1 && options_.reload_threads >= 1);
}

ExtendService::~ExtendService() { Stop(); }

Status ExtendService::Start() {
  MutexLock lock(mu_);
  if (started_) return FailedPreconditionError("extend service already started");
  if (stopping_) return UnavailableError("extend service is stopped");
  started_ = true;
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void ExtendService::Stop() {
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  waker_.Wake();
  if (thread_.joinable()) thread_.join();
  std::unique_ptr<mailbox::SpmMailbox> spm;
  {
    MutexLock lock(mu_);
    spm = std::move(spm_);
    if (spm) ++stats_.spm_stops;
  }
  // Its callbacks wait on the batcher, which still runs them.
  if (spm) spm->Stop();
  batcher_.Shutdown();
  mailbox::HostMailbox* host = nullptr;
  {
    MutexLock host_lock(host_mu_);
    MutexLock lock(mu_);
    host = host_.get();
  }
  // Kept (not destroyed) so that a late RequestExtend fails inline.
  if (host) host->Stop();
  reload_pool_.Shutdown();
}

void ExtendService::OnRoleChanged() {
  if (!deps_.role->IsSpm()) {
    // Lost (maybe regained since): stop serving now, without blocking; the
    // control thread joins the old mailbox and, if SPM again, starts a
    // fresh one (which zeroes the outbox and re-serves everything).
    MutexLock lock(mu_);
    role_lost_ = true;
    if (spm_) spm_->RequestStop();
  }
  waker_.Wake();
}

void ExtendService::Loop() {
  for (;;) {
    // Reset before looking: a Wake() from now on ends the next sleep.
    waker_.Reset();
    {
      MutexLock lock(mu_);
      if (stopping_) return;
    }
    const std::optional<SteadyTime> next = Reconcile();
    Clock& clock = *deps_.clock;
    const SteadyTime poll = clock.SteadyNow() + options_.role_poll_interval;
    clock.SleepUntil(next ? std::min(*next, poll) : poll, &waker_);
  }
}

std::optional<SteadyTime> ExtendService::Reconcile() {
  Clock& clock = *deps_.clock;
  const bool want = deps_.role->IsSpm();
  std::unique_ptr<mailbox::SpmMailbox> old;
  {
    MutexLock lock(mu_);
    if (stopping_) return std::nullopt;
    const bool lost = std::exchange(role_lost_, false);
    if (spm_ != nullptr && (!want || lost)) {
      old = std::move(spm_);
      ++stats_.spm_stops;
    } else if (want == (spm_ != nullptr)) {
      return std::nullopt;
    }
  }
  if (old) {
    // Running extends finish (the batcher refuses new ones: role lost);
    // their replies are not written.
    old->Stop();
    log::Info("extend", "SPM role lost: mailbox stopped");
    if (!want) return std::nullopt;
  }

  auto fail = [&](const Status& s) -> std::optional<SteadyTime> {
    MutexLock lock(mu_);
    if (start_error_streak_++ == 0) {
      // Not in a pool (the role of an unbound host): nothing to serve yet.
      if (s.code() == Code::kFailedPrecondition) {
        log::Info("extend", "no pool mailbox to serve yet; retrying",
                  {{"error", s.ToString()}});
      } else {
        log::Warning("extend", "cannot start the SPM mailbox; retrying",
                     {{"error", s.ToString()}});
      }
    }
    return clock.SteadyNow() + options_.retry_interval;
  };
  Result<MailboxLocation> where = deps_.locate();
  if (!where.ok()) return fail(where.status());
  mailbox::SpmMailboxOptions o;
  o.inbox_path = where->inbox_path;
  o.outbox_path = where->outbox_path;
  o.max_host_id = where->max_host_id;
  o.event_interval = options_.event_interval;
  o.rescan_interval = options_.rescan_interval;
  o.full_rescan_interval = options_.full_rescan_interval;
  o.extend_concurrency = options_.mailbox_waiters;
  const SpmRole* role = deps_.role;
  o.serving = [role] { return role->IsSpm(); };
  auto spm = std::make_unique<mailbox::SpmMailbox>(
      *deps_.env, clock, o,
      [this](const mailbox::SpmExtendRequest& r) -> Result<uint64_t> {
        Result<uint64_t> size = batcher_.ExtendNow(
            {r.domain_uuid, "", r.volume_uuid, r.target_bytes});
        if (!size.ok() &&
            (IsNotSpm(size.status()) ||
             size.status().code() == Code::kCancelled ||
             size.status().code() == Code::kUnavailable)) {
          // Nothing was extended and this host cannot serve it (role gone,
          // service stopping): no reply, the next SPM serves it. A size-0
          // reply would fail the host's request for good.
          return AbortedError("not served here: " + size.status().ToString());
        }
        return size;
      },
      nullptr);
  if (Status s = spm->Start(); !s.ok()) return fail(s);
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      spm_ = std::move(spm);
      ++stats_.spm_starts;
      start_error_streak_ = 0;
    }
  }
  if (spm) {  // stopping
    spm->Stop();
    return std::nullopt;
  }
  log::Info("extend", "SPM mailbox serving",
            {{"inbox", where->inbox_path}, {"outbox", where->outbox_path}});
  // The role may have gone while starting: look again at once.
  if (!deps_.role->IsSpm()) return clock.SteadyNow();
  return std::nullopt;
}

void ExtendService::Extend(const mailbox::ExtendRequest& request,
                           ExtendCallback done) {
  const SteadyTime queued = deps_.clock->SteadyNow();
  Status s = ValidateRequest(request);
  if (s.ok()) {
    MutexLock lock(mu_);
    if (!started_) s = FailedPreconditionError("extend service not started");
    if (stopping_) s = UnavailableError("extend service is stopped");
  }
  if (!s.ok()) {
    Finish({.request = request, .status = s, .timings = {.queued = queued}},
           done);
    return;
  }
  if (deps_.role->IsSpm()) {
    Local(request, queued, std::move(done));
  } else {
    Remote(request, queued, std::move(done));
  }
}

std::future<ExtendResult> ExtendService::Extend(
    const mailbox::ExtendRequest& request) {
  auto promise = std::make_shared<std::promise<ExtendResult>>();
  std::future<ExtendResult> future = promise->get_future();
  Extend(request,
         [promise](const ExtendResult& r) { promise->set_value(r); });
  return future;
}

void ExtendService::Local(const mailbox::ExtendRequest& request,
                          SteadyTime queued, ExtendCallback done) {
  batcher_.Submit(request, [this, request, queued, done = std::move(done)](
                               const Result<uint64_t>& size,
                               SteadyTime started, SteadyTime finished) {
    if (!size.ok() && IsNotSpm(size.status()) && !deps_.role->IsSpm()) {
      // The role went between Extend and the batch: the new SPM serves it.
      {
        MutexLock lock(mu_);
        ++stats_.rerouted;
      }
      Remote(request, queued, done);
      return;
    }
    ExtendResult r{.request = request, .path = ExtendPath::kLocal};
    r.timings.queued = queued;
    if (!size.ok()) {
      r.status = size.status();
      Finish(std::move(r), done);
      return;
    }
    r.timings.sent = started;
    r.timings.answered = finished;
    r.timings.extended = finished;
    RefreshAndFinish(std::move(r), done);
  });
}

void ExtendService::RefreshAndFinish(ExtendResult result,
                                     const ExtendCallback& done) {
  auto work = [this, result, done]() mutable {
    Result<uint64_t> size = deps_.refresher->Refresh(
        result.request, VolumeRefresher::Changed::kHere);
    result.timings.reloaded = deps_.clock->SteadyNow();
    if (!size.ok()) {
      result.status = size.status();
    } else {
      result.size_bytes = *size;
      if (*size < result.request.target_bytes) {
        result.status = FailedPreconditionError(
            "volume is " + std::to_string(*size) +
            " bytes after the refresh, below the target " +
            std::to_string(result.request.target_bytes));
      }
    }
    Finish(std::move(result), done);
  };
  if (Status s = reload_pool_.Submit(work); !s.ok()) {
    result.status = UnavailableError("extend service is stopping");
    Finish(std::move(result), done);
  }
}

Result<mailbox::HostMailbox*> ExtendService::HostMailbox() {
  MutexLock host_lock(host_mu_);
  {
    MutexLock lock(mu_);
    if (stopping_) return UnavailableError("extend service is stopped");
    if (host_) return host_.get();
  }
  ASSIGN_OR_RETURN(MailboxLocation where, deps_.locate());
  mailbox::HostMailboxOptions o;
  o.inbox_path = where.inbox_path;
  o.outbox_path = where.outbox_path;
  o.host_id = where.host_id;
  o.max_host_id = where.max_host_id;
  o.poll_interval = options_.host_poll_interval;
  o.resend_timeout = options_.resend_timeout;
  o.reload_threads = options_.reload_threads;
  if (where.host_id < 1 || where.host_id > where.max_host_id) {
    return FailedPreconditionError("host id " + std::to_string(where.host_id) +
                                   " has no mailbox");
  }
  auto host = std::make_unique<mailbox::HostMailbox>(
      *deps_.env, *deps_.clock, o,
      [this](const mailbox::ExtendRequest& r) {
        return deps_.refresher->Refresh(r,
                                        VolumeRefresher::Changed::kElsewhere);
      });
  RETURN_IF_ERROR(host->Start());
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      host_ = std::move(host);
      log::Info("extend", "host mailbox started",
                {{"host_id", where.host_id}, {"inbox", where.inbox_path}});
      return host_.get();  // host_ lives as long as the service
    }
  }
  host->Stop();
  return UnavailableError("extend service is stopped");
}

void ExtendService::Remote(const mailbox::ExtendRequest& request,
                           SteadyTime queued, ExtendCallback done) {
  Result<mailbox::HostMailbox*> host = HostMailbox();
  if (!host.ok()) {
    Finish({.request = request,
            .status = host.status(),
            .path = ExtendPath::kMailbox,
            .timings = {.queued = queued}},
           done);
    return;
  }
  (*host)->RequestExtend(request, [this, request, queued, done](
                                      const mailbox::ExtendOutcome& o) {
    ExtendResult r{.request = request,
                   .status = o.status,
                   .size_bytes = o.size_bytes,
                   .path = ExtendPath::kMailbox};
    r.timings.queued = queued;
    r.timings.sent = o.timings.sent;
    r.timings.answered = o.timings.answered;
    if (o.timings.answered != SteadyTime{}) {
      r.timings.extended = o.timings.answered;
      r.timings.reloaded = o.timings.completed;
    }
    Finish(std::move(r), done);
  });
}

void ExtendService::Finish(ExtendResult result, const ExtendCallback& done) {
  {
    MutexLock lock(mu_);
    if (result.path == ExtendPath::kLocal) {
      ++stats_.local;
    } else {
      ++stats_.remote;
    }
    if (!result.status.ok()) ++stats_.failed;
  }
  if (!result.status.ok()) {
    log::Warning("extend", "extend failed",
                 {{"domain", result.request.domain_uuid},
                  {"volume", result.request.volume_uuid},
                  {"target", result.request.target_bytes},
                  {"path", ToString(result.path)},
                  {"error", result.status.ToString()}});
  }
  done(result);
  if (deps_.on_extended) deps_.on_extended(result);
}

bool ExtendService::ServingMailbox() const {
  MutexLock lock(mu_);
  return spm_ != nullptr;
}

size_t ExtendService::ClockThreads() const {
  MutexLock lock(mu_);
  if (!started_ || stopping_) return 0;
  return 1 + (host_ ? 1 : 0) + (spm_ ? 1 : 0);
}

ExtendServiceStats ExtendService::stats() const {
  ExtendServiceStats out;
  {
    MutexLock lock(mu_);
    out = stats_;
  }
  out.batcher = batcher_.stats();
  return out;
}

}  // namespace sanpool::spm
