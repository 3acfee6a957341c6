#include "agent/notifications.h"

#include <boost/json/serialize.hpp>
#include <cassert>
#include <exception>
#include <utility>
#include <vector>

#include "base/log.h"

namespace sanpool::agent {

NotificationHub::Subscription::Subscription(Subscription&& other) noexcept
    : hub_(std::exchange(other.hub_, nullptr)), id_(std::exchange(other.id_, 0)) {}

NotificationHub::Subscription& NotificationHub::Subscription::operator=(
    Subscription&& other) noexcept {
  if (this != &other) {
    Reset();
    hub_ = std::exchange(other.hub_, nullptr);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

void NotificationHub::Subscription::Reset() {
  if (hub_ == nullptr) return;
  hub_->Unsubscribe(id_);
  hub_ = nullptr;
  id_ = 0;
}

NotificationHub::NotificationHub(const Clock& clock) : clock_(clock) {}

NotificationHub::~NotificationHub() {
  MutexLock lock(mu_);
  assert(subscribers_.empty() && "NotificationHub destroyed with live subscriptions");
}

NotificationHub::Subscription NotificationHub::Subscribe(Callback callback) {
  assert(callback);
  MutexLock lock(mu_);
  const uint64_t id = next_id_++;
  subscribers_.emplace(id, std::make_shared<Entry>(std::move(callback)));
  return Subscription(this, id);
}

void NotificationHub::Unsubscribe(uint64_t id) {
  std::shared_ptr<Entry> entry;
  {
    MutexLock lock(mu_);
    auto it = subscribers_.find(id);
    if (it == subscribers_.end()) return;
    entry = std::move(it->second);
    subscribers_.erase(it);
  }
  // Waits for a delivery in progress on another thread, then blocks later ones
  // that already copied the entry.
  MutexLock call_lock(entry->call_mu);
  entry->active = false;
}

size_t NotificationHub::Publish(std::string_view method, boost::json::object params) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      clock_.SteadyNow().time_since_epoch());
  params["notify_time"] = static_cast<int64_t>(ms.count());
  boost::json::object message;
  message.reserve(3);
  message["jsonrpc"] = "2.0";
  message["method"] = boost::json::string_view(method.data(), method.size());
  message["params"] = std::move(params);
  const std::string text = boost::json::serialize(message);

  std::vector<std::shared_ptr<Entry>> targets;
  {
    MutexLock lock(mu_);
    targets.reserve(subscribers_.size());
    for (const auto& [id, entry] : subscribers_) targets.push_back(entry);
  }
  size_t delivered = 0;
  for (const std::shared_ptr<Entry>& entry : targets) {
    MutexLock call_lock(entry->call_mu);
    if (!entry->active) continue;
    try {
      entry->callback(text);
    } catch (const std::exception& e) {
      log::Error("rpc", "notification subscriber threw", {{"method", method}, {"what", e.what()}});
    } catch (...) {
      log::Error("rpc", "notification subscriber threw", {{"method", method}});
    }
    ++delivered;
  }
  return delivered;
}

size_t NotificationHub::SubscriberCount() const {
  MutexLock lock(mu_);
  return subscribers_.size();
}

}  // namespace sanpool::agent
