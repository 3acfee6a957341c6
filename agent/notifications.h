// NotificationHub: fan-out of server-initiated JSON-RPC notifications
// (events: VM paused/resumed, extend completed, SPM changed, ...) to every
// subscriber, typically one per WebSocket connection.
//
//   NotificationHub hub(clock);
//   NotificationHub::Subscription sub =
//       hub.Subscribe([&](const std::string& json) { ws.QueueText(json); });
//   hub.Publish("Volume.extended", {{"volUUID", id}, {"size", size}});
//
// Each Publish builds the message once:
//   {"jsonrpc":"2.0","method":"Volume.extended",
//    "params":{"volUUID":"...","size":...,"notify_time":<ms>}}
// where notify_time is the publishing host's monotonic clock in milliseconds
// (Clock::SteadyNow, as VDSM does: ordering events from one host, not a wall
// time), and calls every current subscriber with the text, synchronously, on
// the publishing thread. Callbacks must therefore be quick and non-blocking
// (queue the text and return) and must not throw (an exception is logged and
// swallowed).
//
// Thread-safety: all methods may be called from any thread. One subscriber's
// callback is never run concurrently with itself. Once a Subscription is
// destroyed (or Reset), its callback is not running and will not be called
// again, so whatever it captured may be destroyed. A callback must not
// destroy its own Subscription or call Subscribe/Publish on the same hub
// (that would deadlock); it may do anything else.
//
// The hub must outlive its subscriptions.
#ifndef SANPOOL_AGENT_NOTIFICATIONS_H_
#define SANPOOL_AGENT_NOTIFICATIONS_H_

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/thread_annotations.h"

namespace sanpool::agent {

class NotificationHub {
 public:
  using Callback = std::function<void(const std::string& json_text)>;

  // RAII handle: unsubscribes on destruction. Movable, not copyable.
  class Subscription {
   public:
    Subscription() = default;
    ~Subscription() { Reset(); }
    Subscription(Subscription&& other) noexcept;
    Subscription& operator=(Subscription&& other) noexcept;
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

    // Unsubscribes now; blocks while the callback is running on another
    // thread. Idempotent.
    void Reset();
    bool active() const { return hub_ != nullptr; }

   private:
    friend class NotificationHub;
    Subscription(NotificationHub* hub, uint64_t id) : hub_(hub), id_(id) {}
    NotificationHub* hub_ = nullptr;
    uint64_t id_ = 0;
  };

  explicit NotificationHub(const Clock& clock);
  // REQUIRES: every Subscription has been destroyed or Reset.
  ~NotificationHub();
  NotificationHub(const NotificationHub&) = delete;
  NotificationHub& operator=(const NotificationHub&) = delete;

  // Adds a subscriber; it receives every notification published after
  // Subscribe returns. REQUIRES: callback is non-empty.
  [[nodiscard]] Subscription Subscribe(Callback callback) EXCLUDES(mu_);

  // Delivers {"jsonrpc":"2.0","method":method,"params":params+notify_time} to
  // every subscriber. Returns the number of subscribers called. A
  // "notify_time" member already in `params` is overwritten.
  size_t Publish(std::string_view method, boost::json::object params) EXCLUDES(mu_);

  size_t SubscriberCount() const EXCLUDES(mu_);

 private:
  // One subscriber. `call_mu` is held while the callback runs, so Unsubscribe
  // (which takes it and clears `active`) waits for a running delivery.
  struct Entry {
    explicit Entry(Callback cb) : callback(std::move(cb)) {}
    Mutex call_mu;
    bool active GUARDED_BY(call_mu) = true;
    Callback callback;
  };

  void Unsubscribe(uint64_t id) EXCLUDES(mu_);

  const Clock& clock_;
  mutable Mutex mu_;
  uint64_t next_id_ GUARDED_BY(mu_) = 1;
  std::map<uint64_t, std::shared_ptr<Entry>> subscribers_ GUARDED_BY(mu_);
};

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_NOTIFICATIONS_H_
