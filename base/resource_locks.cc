#include "base/resource_locks.h"

#include <algorithm>
#include <cassert>
#include <cctype>
#include <chrono>
#include <tuple>

namespace sanpool {
namespace {

// Timeouts at least this long mean "forever"; deadlines are never put further
// out than this so that time_point arithmetic cannot overflow.
constexpr Duration kForeverCap = std::chrono::hours(24 * 365 * 10);

std::string FullName(std::string_view ns, std::string_view name) {
  std::string full(ns);
  full += '.';
  full += name;
  return full;
}

Status TimeoutError(std::string_view ns, std::string_view name, LockMode mode,
                    Duration timeout) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
  return Status(Code::kDeadlineExceeded,
                "timed out after " + std::to_string(ms.count()) +
                    " ms waiting for " + std::string(LockModeName(mode)) +
                    " lock on " + FullName(ns, name),
                kResourceTimeoutStorageCode)
      .WithDetail("resource", FullName(ns, name));
}

}  // namespace

std::string_view LockModeName(LockMode mode) {
  return mode == LockMode::kShared ? "shared" : "exclusive";
}

bool IsValidLockNamespace(std::string_view ns) {
  return !ns.empty() && std::all_of(ns.begin(), ns.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

bool IsValidLockName(std::string_view name) {
  return !name.empty() && std::none_of(name.begin(), name.end(), [](char c) {
    return c == '.' || std::isspace(static_cast<unsigned char>(c));
  });
}

// ---- Lock / LockSet ----

ResourceManager::Lock::Lock(Lock&& other) noexcept
    : manager_(std::exchange(other.manager_, nullptr)),
      ns_(std::move(other.ns_)),
      name_(std::move(other.name_)),
      mode_(other.mode_) {}

ResourceManager::Lock& ResourceManager::Lock::operator=(Lock&& other) noexcept {
  if (this != &other) {
    Release();
    manager_ = std::exchange(other.manager_, nullptr);
    ns_ = std::move(other.ns_);
    name_ = std::move(other.name_);
    mode_ = other.mode_;
  }
  return *this;
}

ResourceManager::Lock::~Lock() { Release(); }

void ResourceManager::Lock::Release() {
  if (manager_ != nullptr) {
    std::exchange(manager_, nullptr)->Release(Key(ns_, name_));
  }
}

ResourceManager::LockSet& ResourceManager::LockSet::operator=(
    LockSet&& other) noexcept {
  if (this != &other) {
    Release();
    locks_ = std::move(other.locks_);
    other.locks_.clear();
  }
  return *this;
}

void ResourceManager::LockSet::Release() {
  while (!locks_.empty()) {
    locks_.back().Release();
    locks_.pop_back();
  }
}

// ---- ResourceManager ----

ResourceManager::ResourceManager(Clock& clock) : clock_(clock) {}

ResourceManager::~ResourceManager() {
  MutexLock lock(mu_);
  assert(resources_.empty() && "ResourceManager destroyed with locks in use");
}

Result<ResourceManager::Lock> ResourceManager::Acquire(
    std::string_view ns, std::string_view name, LockMode mode,
    Duration timeout, const CancellationToken& cancel) {
  if (!IsValidLockNamespace(ns)) {
    return InvalidArgumentError("invalid lock namespace: '" + std::string(ns) +
                                "'");
  }
  if (!IsValidLockName(name)) {
    return InvalidArgumentError("invalid lock name: '" + std::string(name) +
                                "'");
  }
  Key key{std::string(ns), std::string(name)};
  std::shared_ptr<Request> request;
  {
    MutexLock lock(mu_);
    auto it = resources_.try_emplace(key).first;
    Resource& resource = it->second;
    bool is_free = resource.holders == 0 && resource.queue.empty();
    bool joins_readers = mode == LockMode::kShared && resource.holders > 0 &&
                         resource.mode == LockMode::kShared &&
                         resource.queue.empty();
    if (is_free || joins_readers) {
      resource.mode = mode;
      ++resource.holders;
      return Lock(this, key.first, key.second, mode);
    }
    request = std::make_shared<Request>(mode);
    resource.queue.push_back(request);
  }

  const bool forever = timeout >= kForeverCap;
  const Duration wait = forever ? kForeverCap : std::max(timeout, Duration(0));
  SteadyTime deadline = clock_.SteadyNow() + wait;
  auto registration = cancel.OnCancel([request] { request->waker.Wake(); });
  while (true) {
    {
      MutexLock lock(mu_);
      if (request->granted) return Lock(this, key.first, key.second, mode);
      bool cancelled = cancel.IsCancelled();
      bool expired = !cancelled && clock_.SteadyNow() >= deadline;
      if (expired && forever) {
        deadline = clock_.SteadyNow() + kForeverCap;
        expired = false;
      }
      if (cancelled || expired) {
        auto it = resources_.find(key);
        assert(it != resources_.end());
        auto& queue = it->second.queue;
        queue.erase(std::find(queue.begin(), queue.end(), request));
        // Leaving may unblock the requests that were behind this one.
        ServeQueue(it);
        if (cancelled) {
          return CancelledError("cancelled waiting for " +
                                std::string(LockModeName(mode)) + " lock on " +
                                FullName(ns, name));
        }
        return TimeoutError(ns, name, mode, timeout);
      }
    }
    clock_.SleepUntil(deadline, &request->waker);
  }
}

Result<ResourceManager::LockSet> ResourceManager::AcquireAll(
    std::vector<LockRequest> requests, Duration timeout,
    const CancellationToken& cancel) {
  std::sort(requests.begin(), requests.end(),
            [](const LockRequest& a, const LockRequest& b) {
              return std::tie(a.ns, a.name, a.mode) <
                     std::tie(b.ns, b.name, b.mode);
            });
  std::vector<LockRequest> unique;
  for (LockRequest& request : requests) {
    if (!unique.empty() && unique.back().ns == request.ns &&
        unique.back().name == request.name) {
      if (unique.back().mode == request.mode) continue;
      return InvalidArgumentError("deadlock: " +
                                  FullName(request.ns, request.name) +
                                  " requested both shared and exclusive")
          .WithDetail("reason", "deadlock");
    }
    unique.push_back(std::move(request));
  }

  const bool forever = timeout >= kForeverCap;
  const SteadyTime deadline =
      clock_.SteadyNow() + (forever ? Duration(0) : timeout);
  LockSet set;
  for (const LockRequest& request : unique) {
    Duration remaining = kWaitForever;
    if (!forever) {
      remaining = std::max(Duration(0), deadline - clock_.SteadyNow());
    }
    Result<Lock> lock =
        Acquire(request.ns, request.name, request.mode, remaining, cancel);
    if (!lock.ok()) {
      set.Release();
      return lock.status();
    }
    set.locks_.push_back(std::move(lock).value());
  }
  return set;
}

std::vector<ResourceManager::ResourceInfo> ResourceManager::Inspect() const {
  MutexLock lock(mu_);
  std::vector<ResourceInfo> infos;
  infos.reserve(resources_.size());
  for (const auto& [key, resource] : resources_) {
    infos.push_back(ResourceInfo{key.first, key.second, resource.mode,
                                 resource.holders, resource.queue.size()});
  }
  return infos;
}

size_t ResourceManager::ResourceCount() const {
  MutexLock lock(mu_);
  return resources_.size();
}

void ResourceManager::Release(const Key& key) {
  MutexLock lock(mu_);
  auto it = resources_.find(key);
  assert(it != resources_.end() && it->second.holders > 0);
  --it->second.holders;
  ServeQueue(it);
}

void ResourceManager::ServeQueue(std::map<Key, Resource>::iterator it) {
  Resource& resource = it->second;
  while (!resource.queue.empty()) {
    const std::shared_ptr<Request>& head = resource.queue.front();
    bool grantable =
        resource.holders == 0 ||
        (resource.mode == LockMode::kShared && head->mode == LockMode::kShared);
    if (!grantable) break;
    resource.mode = head->mode;
    ++resource.holders;
    head->granted = true;
    head->waker.Wake();
    resource.queue.pop_front();
    if (resource.mode == LockMode::kExclusive) break;
  }
  if (resource.holders == 0 && resource.queue.empty()) resources_.erase(it);
}

}  // namespace sanpool
