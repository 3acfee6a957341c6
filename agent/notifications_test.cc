#include "agent/notifications.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "base/fake_clock.h"

namespace sanpool::agent {
namespace {

namespace json = boost::json;

struct Inbox {
  std::mutex mu;
  std::vector<std::string> messages;
  NotificationHub::Callback Callback() {
    return [this](const std::string& text) {
      std::lock_guard<std::mutex> lock(mu);
      messages.push_back(text);
    };
  }
};

TEST_CASE("Publish delivers one JSON-RPC notification to every subscriber") {
  FakeClock clock;
  NotificationHub hub(clock);
  Inbox a;
  Inbox b;
  auto sub_a = hub.Subscribe(a.Callback());
  auto sub_b = hub.Subscribe(b.Callback());
  CHECK(hub.SubscriberCount() == 2);
  CHECK(hub.Publish("Volume.extended", {{"volUUID", "v1"}, {"size", 1024}}) == 2);
  REQUIRE(a.messages.size() == 1);
  REQUIRE(b.messages == a.messages);
  const json::value v = json::parse(a.messages[0]);
  CHECK(v.at("jsonrpc") == "2.0");
  CHECK(v.at("method") == "Volume.extended");
  CHECK_FALSE(v.as_object().contains("id"));
  CHECK(v.at("params").at("volUUID") == "v1");
  CHECK(v.at("params").at("size") == 1024);
  const int64_t start_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(FakeClock::kSteadyStart).count();
  CHECK(v.at("params").at("notify_time") == start_ms);
  clock.Advance(std::chrono::milliseconds(250));
  hub.Publish("Host.tick", {});
  CHECK(json::parse(a.messages[1]).at("params").at("notify_time") == start_ms + 250);
}

TEST_CASE("Destroying a subscription unsubscribes") {
  FakeClock clock;
  NotificationHub hub(clock);
  Inbox a;
  Inbox b;
  auto sub_a = hub.Subscribe(a.Callback());
  {
    auto sub_b = hub.Subscribe(b.Callback());
    hub.Publish("E.one", {});
  }
  CHECK(hub.SubscriberCount() == 1);
  hub.Publish("E.two", {});
  CHECK(a.messages.size() == 2);
  CHECK(b.messages.size() == 1);
  sub_a.Reset();
  sub_a.Reset();  // idempotent
  CHECK_FALSE(sub_a.active());
  CHECK(hub.Publish("E.three", {}) == 0);
  CHECK(a.messages.size() == 2);
}

TEST_CASE("Subscriptions move") {
  FakeClock clock;
  NotificationHub hub(clock);
  Inbox a;
  NotificationHub::Subscription outer;
  {
    auto inner = hub.Subscribe(a.Callback());
    outer = std::move(inner);
    CHECK_FALSE(inner.active());  // NOLINT: testing the moved-from state
  }
  CHECK(outer.active());
  hub.Publish("E.x", {});
  CHECK(a.messages.size() == 1);
  outer = NotificationHub::Subscription();
  CHECK(hub.SubscriberCount() == 0);
}

TEST_CASE("A throwing subscriber does not stop delivery to others") {
  FakeClock clock;
  NotificationHub hub(clock);
  Inbox a;
  auto bad = hub.Subscribe([](const std::string&) { throw std::runtime_error("nope"); });
  auto good = hub.Subscribe(a.Callback());
  hub.Publish("E.x", {});
  CHECK(a.messages.size() == 1);
}

TEST_CASE("Reset waits for a delivery running on another thread") {
  FakeClock clock;
  NotificationHub hub(clock);
  std::atomic<bool> entered{false};
  std::atomic<bool> release{false};
  std::atomic<bool> finished{false};
  auto sub = hub.Subscribe([&](const std::string&) {
    entered = true;
    while (!release) std::this_thread::yield();
    finished = true;
  });
  std::thread publisher([&] { hub.Publish("E.slow", {}); });
  while (!entered) std::this_thread::yield();
  std::thread releaser([&] {
    // Reset() below must not return before the callback finished; release it
    // only once Reset is (very likely) waiting. Correctness does not depend on
    // the timing: `finished` must be true whenever Reset returns.
    std::this_thread::yield();
    release = true;
  });
  sub.Reset();
  CHECK(finished);
  releaser.join();
  publisher.join();
}

TEST_CASE("Concurrent publish and subscribe churn is safe") {
  FakeClock clock;
  NotificationHub hub(clock);
  std::atomic<int> received{0};
  std::atomic<bool> stop{false};
  std::thread publisher([&] {
    while (!stop) hub.Publish("E.spam", {{"x", 1}});
  });
  for (int i = 0; i < 2000; ++i) {
    auto sub = hub.Subscribe([&](const std::string&) { ++received; });
  }
  stop = true;
  publisher.join();
  CHECK(hub.SubscriberCount() == 0);
}

}  // namespace
}  // namespace sanpool::agent
