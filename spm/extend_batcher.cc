#include "spm/extend_batcher.h"

#include <algorithm>
#include <cassert>
#include <future>
#include <utility>

#include "base/log.h"

namespace sanpool::spm {

ExtendBatcher::ExtendBatcher(Extender& extender, const SpmRole& role,
                             Clock& clock, ExtendBatcherOptions options)
    : extender_(extender),
      role_(role),
      clock_(clock),
      options_(options),
      per_domain_(options.per_domain > 0
                      ? std::min(options.per_domain, options.concurrency)
                      : options.concurrency),
      max_batch_(std::max<size_t>(
          1, std::min(options.max_batch, extender.MaxBatch()))) {
  assert(options_.concurrency >= 1 && options_.max_batch >= 1);
  for (int i = 0; i < options_.concurrency; ++i) {
    threads_.emplace_back([this] { Worker(); });
  }
}

ExtendBatcher::~ExtendBatcher() { Shutdown(); }

void ExtendBatcher::MarkReady(const std::string& domain, DomainQueue& q) {
  if (q.running >= per_domain_ || q.ready || q.items.empty()) return;
  q.ready = true;
  ready_.push_back(domain);
  work_.Signal();
}

void ExtendBatcher::Submit(const mailbox::ExtendRequest& request,
                           BatchDone done) {
  const SteadyTime now = clock_.SteadyNow();
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      DomainQueue& q = domains_[request.domain_uuid];
      q.items.push_back(Item{request, std::move(done), now});
      MarkReady(request.domain_uuid, q);
      return;
    }
  }
  done(UnavailableError("extend service is stopping"), now, now);
}

Result<uint64_t> ExtendBatcher::ExtendNow(
    const mailbox::ExtendRequest& request) {
  std::promise<Result<uint64_t>> promise;
  std::future<Result<uint64_t>> future = promise.get_future();
  Submit(request, [&promise](const Result<uint64_t>& size, SteadyTime,
                             SteadyTime) { promise.set_value(size); });
  return future.get();
}

void ExtendBatcher::Worker() {
  for (;;) {
    std::string domain;
    std::vector<Item> items;
    {
      MutexLock lock(mu_);
      while (!stopping_ && ready_.empty()) work_.Wait(mu_);
      if (stopping_) return;
      domain = std::move(ready_.front());
      ready_.pop_front();
      DomainQueue& q = domains_[domain];
      q.ready = false;
      // This domain's share: spread what is queued over the calls that can
      // run for it now.
      const int idle = options_.concurrency - busy_;
      const size_t slots =
          static_cast<size_t>(std::max(1, std::min(per_domain_ - q.running, idle)));
      const size_t n = std::min(
          {(q.items.size() + slots - 1) / slots, max_batch_, q.items.size()});
      for (size_t i = 0; i < n; ++i) {
        items.push_back(std::move(q.items.front()));
        q.items.pop_front();
      }
      ++q.running;
      ++busy_;
      MarkReady(domain, q);  // the rest, on another thread
    }
    RunBatch(domain, std::move(items));
    MutexLock lock(mu_);
    --busy_;
    auto it = domains_.find(domain);
    --it->second.running;
    if (it->second.items.empty() && it->second.running == 0) {
      domains_.erase(it);
    } else if (!stopping_) {
      MarkReady(domain, it->second);
    }
  }
}

void ExtendBatcher::RunBatch(const std::string& domain,
                             std::vector<Item> items) {
  // Coalesce: one VolumeTarget per volume, with the largest target.
  std::vector<VolumeTarget> volumes;
  std::map<std::string, size_t> index;  // volume -> position in `volumes`
  std::vector<size_t> position(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const mailbox::ExtendRequest& r = items[i].request;
    auto [it, added] = index.emplace(r.volume_uuid, volumes.size());
    if (added) {
      volumes.push_back({r.image_uuid, r.volume_uuid, r.target_bytes});
    } else {
      VolumeTarget& v = volumes[it->second];
      v.target_bytes = std::max(v.target_bytes, r.target_bytes);
      if (v.image_uuid.empty()) v.image_uuid = r.image_uuid;
    }
    position[i] = it->second;
  }

  const SteadyTime started = clock_.SteadyNow();
  std::vector<Result<uint64_t>> sizes;
  const bool is_spm = role_.IsSpm();
  if (is_spm) {
    sizes = extender_.ExtendVolumes(domain, volumes);
    if (sizes.size() != volumes.size()) {
      log::Error("extend", "extender returned a wrong number of results",
                 {{"domain", domain},
                  {"asked", volumes.size()},
                  {"got", sizes.size()}});
      sizes.assign(volumes.size(),
                   InternalError("extender returned a wrong number of results"));
    }
  } else {
    sizes.assign(volumes.size(), NotSpmError());
  }
  const SteadyTime finished = clock_.SteadyNow();
  {
    MutexLock lock(mu_);
    stats_.requests += items.size();
    ++stats_.batches;
    stats_.volumes += volumes.size();
    stats_.coalesced += items.size() - volumes.size();
    if (!is_spm) ++stats_.not_spm;
    stats_.largest_batch = std::max(stats_.largest_batch, items.size());
  }
  for (size_t i = 0; i < items.size(); ++i) {
    Result<uint64_t> size = sizes[position[i]];
    if (size.ok() && *size < items[i].request.target_bytes) {
      size = InternalError("extender reported " + std::to_string(*size) +
                           " bytes, below the target " +
                           std::to_string(items[i].request.target_bytes));
    }
    if (options_.observer) {
      options_.observer({.request = items[i].request,
                         .status = size.status(),
                         .size_bytes = size.ok() ? *size : 0,
                         .submitted = items[i].submitted,
                         .started = started,
                         .finished = finished});
    }
    items[i].done(size, started, finished);
  }
}

void ExtendBatcher::Shutdown() {
  std::vector<Item> cancelled;
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [domain, q] : domains_) {
      for (Item& item : q.items) cancelled.push_back(std::move(item));
      q.items.clear();
    }
    ready_.clear();
    work_.SignalAll();
  }
  for (Item& item : cancelled) {
    item.done(CancelledError("extend service stopped"), item.submitted,
              item.submitted);
  }
  // Only the first caller gets here (stopping_ was false), so the threads
  // are joined once.
  for (std::thread& t : threads_) t.join();
}

ExtendBatcherStats ExtendBatcher::stats() const {
  MutexLock lock(mu_);
  return stats_;
}

}  // namespace sanpool::spm
