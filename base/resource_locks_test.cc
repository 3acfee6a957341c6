#include "base/resource_locks.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "base/fake_clock.h"

namespace sanpool {
namespace {

using std::chrono::seconds;
constexpr char kNs[] = "00_storage";

// A thread that acquires one lock, records when it got it, and holds it
// until the test calls Release(). Catch2 assertions stay on the test thread.
class Holder {
 public:
  Holder(ResourceManager& manager, std::string tag, std::string name,
         LockMode mode, Duration timeout, std::vector<std::string>* grant_log,
         std::mutex* log_mu, CancellationToken cancel = {})
      : tag_(std::move(tag)), name_(std::move(name)) {
    thread_ = std::thread([=, this, &manager] {
      Result<ResourceManager::Lock> lock =
          manager.Acquire(kNs, name_, mode, timeout, cancel);
      {
        std::lock_guard<std::mutex> guard(*log_mu);
        if (lock.ok()) grant_log->push_back(tag_);
      }
      std::unique_lock<std::mutex> guard(mu_);
      status_ = lock.status();
      done_ = true;
      cv_.notify_all();
      cv_.wait(guard, [&] { return release_; });
    });
  }
  ~Holder() { Release(); }

  // Waits until Acquire returned; its status.
  Status Wait() {
    std::unique_lock<std::mutex> guard(mu_);
    cv_.wait(guard, [&] { return done_; });
    return status_;
  }
  void Release() {
    {
      std::lock_guard<std::mutex> guard(mu_);
      release_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::string tag_;
  std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  bool release_ = false;
  Status status_;
  std::thread thread_;
};

class LocksTest {
 protected:
  // Starts a thread waiting for `name` and returns once it is queued.
  std::unique_ptr<Holder> StartWaiter(const std::string& tag,
                                      const std::string& resource,
                                      LockMode mode,
                                      Duration timeout = kWaitForever,
                                      CancellationToken cancel = {}) {
    size_t sleepers = clock_.SleeperCount();
    auto holder = std::make_unique<Holder>(manager_, tag, resource, mode,
                                           timeout, &log_, &log_mu_,
                                           std::move(cancel));
    clock_.WaitForSleepers(sleepers + 1);
    return holder;
  }
  std::unique_ptr<Holder> StartHolder(const std::string& resource,
                                      LockMode mode) {
    auto holder = std::make_unique<Holder>(manager_, "holder", resource, mode,
                                           Duration(0), &log_, &log_mu_);
    REQUIRE(holder->Wait().ok());
    return holder;
  }
  ResourceManager::ResourceInfo Info(const std::string& name) {
    for (const auto& info : manager_.Inspect()) {
      if (info.ns == kNs && info.name == name) return info;
    }
    FAIL("resource " << name << " not found");
    return {};
  }
  std::vector<std::string> Log() {
    std::lock_guard<std::mutex> guard(log_mu_);
    return log_;
  }
  // Waits until `n` grants were logged; returns the log.
  std::vector<std::string> WaitForGrants(size_t n) {
    while (Log().size() < n) std::this_thread::yield();
    return Log();
  }

  FakeClock clock_;
  ResourceManager manager_{clock_};
  std::mutex log_mu_;
  std::vector<std::string> log_;
};

TEST_CASE("Lock names follow VDSM's rules", "[resource_locks]") {
  CHECK(IsValidLockNamespace("00_storage"));
  CHECK(IsValidLockNamespace("01_img_5a1c-77"));
  CHECK_FALSE(IsValidLockNamespace(""));
  CHECK_FALSE(IsValidLockNamespace("a.b"));
  CHECK_FALSE(IsValidLockNamespace("a b"));
  CHECK(IsValidLockName("1b2c3d4e-0000-4000-8000-000000000001"));
  CHECK_FALSE(IsValidLockName(""));
  CHECK_FALSE(IsValidLockName("vol.lease"));
  CHECK_FALSE(IsValidLockName("a\tb"));

  CHECK(ImageLockNamespace("sd1") == "01_img_sd1");
  CHECK(IsValidLockNamespace(kStorageLockNamespace));
  CHECK(IsValidLockNamespace(LvmLockNamespace("5a1c-77")));

  FakeClock clock;
  ResourceManager manager(clock);
  CHECK(manager.Acquire("bad ns", "x", LockMode::kShared, seconds(1))
            .status()
            .code() == Code::kInvalidArgument);
  CHECK(manager.Acquire(kNs, "x.y", LockMode::kShared, seconds(1))
            .status()
            .code() == Code::kInvalidArgument);
  CHECK(manager.ResourceCount() == 0);
}

TEST_CASE_METHOD(LocksTest, "Shared holders share, exclusive excludes",
                 "[resource_locks]") {
  auto a = manager_.Acquire(kNs, "sd", LockMode::kShared, Duration(0));
  auto b = manager_.Acquire(kNs, "sd", LockMode::kShared, Duration(0));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(Info("sd").holders == 2);
  CHECK(Info("sd").mode == LockMode::kShared);

  auto c = manager_.Acquire(kNs, "sd", LockMode::kExclusive, Duration(0));
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == Code::kDeadlineExceeded);
  CHECK(c.status().storage_code() == kResourceTimeoutStorageCode);
  CHECK(c.status().message().find("exclusive lock on 00_storage.sd") !=
        std::string_view::npos);

  a->Release();
  b->Release();
  CHECK(manager_.ResourceCount() == 0);
  auto d = manager_.Acquire(kNs, "sd", LockMode::kExclusive, Duration(0));
  REQUIRE(d.ok());
  CHECK(manager_.Acquire(kNs, "sd", LockMode::kShared, Duration(0))
            .status()
            .code() == Code::kDeadlineExceeded);
}

TEST_CASE_METHOD(LocksTest, "A wait times out on the clock",
                 "[resource_locks]") {
  auto held = StartHolder("img", LockMode::kExclusive);
  auto waiter = StartWaiter("w", "img", LockMode::kShared, seconds(5));
  CHECK(Info("img").queued == 1);
  clock_.Advance(seconds(4));
  clock_.WaitForSleepers(1);  // Still waiting after 4 s.
  clock_.Advance(seconds(1));
  Status status = waiter->Wait();
  CHECK(status.code() == Code::kDeadlineExceeded);
  CHECK(status.storage_code() == 851);
  CHECK(Info("img").queued == 0);
  held->Release();
  CHECK(manager_.ResourceCount() == 0);
}

TEST_CASE_METHOD(LocksTest, "Waiters are granted in FIFO order",
                 "[resource_locks]") {
  auto held = StartHolder("sd", LockMode::kExclusive);
  std::vector<std::unique_ptr<Holder>> waiters;
  for (int i = 0; i < 4; ++i) {
    waiters.push_back(
        StartWaiter("w" + std::to_string(i), "sd", LockMode::kExclusive));
  }
  CHECK(Info("sd").queued == 4);
  held->Release();
  for (int i = 0; i < 4; ++i) {
    // Exactly one more grant (the holder was grant 0), and it is waiter i.
    std::vector<std::string> log = WaitForGrants(i + 2);
    CHECK(log.back() == "w" + std::to_string(i));
    REQUIRE(waiters[i]->Wait().ok());
    // Only waiter i holds the lock; the ones behind it still wait.
    CHECK(Info("sd").holders == 1);
    CHECK(Info("sd").queued == static_cast<size_t>(3 - i));
    waiters[i]->Release();
  }
  CHECK(manager_.ResourceCount() == 0);
}

TEST_CASE_METHOD(LocksTest, "A writer is not starved by arriving readers",
                 "[resource_locks]") {
  auto reader = StartHolder("sd", LockMode::kShared);
  auto writer = StartWaiter("writer", "sd", LockMode::kExclusive);
  // Readers arriving now queue behind the writer instead of joining.
  CHECK(manager_.Acquire(kNs, "sd", LockMode::kShared, Duration(0))
            .status()
            .code() == Code::kDeadlineExceeded);
  auto late_reader = StartWaiter("late", "sd", LockMode::kShared);
  CHECK(Info("sd").queued == 2);

  reader->Release();
  REQUIRE(writer->Wait().ok());
  CHECK(Info("sd").mode == LockMode::kExclusive);
  CHECK(Info("sd").queued == 1);
  writer->Release();
  REQUIRE(late_reader->Wait().ok());
  CHECK(Info("sd").mode == LockMode::kShared);
}

TEST_CASE_METHOD(LocksTest, "Consecutive shared waiters are granted together",
                 "[resource_locks]") {
  auto held = StartHolder("sd", LockMode::kExclusive);
  auto s1 = StartWaiter("s1", "sd", LockMode::kShared);
  auto s2 = StartWaiter("s2", "sd", LockMode::kShared);
  auto x = StartWaiter("x", "sd", LockMode::kExclusive);
  auto s3 = StartWaiter("s3", "sd", LockMode::kShared);
  held->Release();
  REQUIRE(s1->Wait().ok());
  REQUIRE(s2->Wait().ok());
  CHECK(Info("sd").holders == 2);
  CHECK(Info("sd").queued == 2);  // x, then s3 behind it.
  s1->Release();
  s2->Release();
  REQUIRE(x->Wait().ok());
  x->Release();
  REQUIRE(s3->Wait().ok());
}

TEST_CASE_METHOD(LocksTest, "A timed-out head lets shared waiters through",
                 "[resource_locks]") {
  auto reader = StartHolder("sd", LockMode::kShared);
  auto writer = StartWaiter("writer", "sd", LockMode::kExclusive, seconds(5));
  auto late_reader = StartWaiter("late", "sd", LockMode::kShared);
  clock_.Advance(seconds(5));
  CHECK(writer->Wait().code() == Code::kDeadlineExceeded);
  REQUIRE(late_reader->Wait().ok());
  CHECK(Info("sd").holders == 2);
  CHECK(Info("sd").queued == 0);
}

TEST_CASE_METHOD(LocksTest, "Cancelling a waiter ends its wait",
                 "[resource_locks]") {
  auto held = StartHolder("sd", LockMode::kExclusive);
  CancellationSource source;
  auto waiter = StartWaiter("w", "sd", LockMode::kExclusive, kWaitForever,
                            source.Token());
  source.Cancel();
  CHECK(waiter->Wait().code() == Code::kCancelled);
  CHECK(Info("sd").queued == 0);
  held->Release();
  CHECK(manager_.ResourceCount() == 0);
}

TEST_CASE_METHOD(LocksTest, "Idle resources are dropped", "[resource_locks]") {
  {
    std::vector<ResourceManager::Lock> locks;
    for (int i = 0; i < 1000; ++i) {
      auto lock = manager_.Acquire("02_vol_sd", "vol" + std::to_string(i),
                                   LockMode::kExclusive, Duration(0));
      REQUIRE(lock.ok());
      locks.push_back(std::move(lock).value());
    }
    CHECK(manager_.ResourceCount() == 1000);
  }
  CHECK(manager_.ResourceCount() == 0);
  CHECK(manager_.Inspect().empty());
}

TEST_CASE_METHOD(LocksTest, "AcquireAll dedups, sorts and rejects two modes",
                 "[resource_locks]") {
  auto set = manager_.AcquireAll({{"01_img_sd", "img", LockMode::kExclusive},
                                  {"00_storage", "sd", LockMode::kShared},
                                  {"01_img_sd", "img", LockMode::kExclusive}},
                                 seconds(1));
  REQUIRE(set.ok());
  REQUIRE(set->locks().size() == 2);
  CHECK(set->locks()[0].ns() == "00_storage");
  CHECK(set->locks()[1].ns() == "01_img_sd");
  CHECK(manager_.ResourceCount() == 2);
  set->Release();
  CHECK(manager_.ResourceCount() == 0);

  auto conflict = manager_.AcquireAll({{kNs, "sd", LockMode::kShared},
                                       {kNs, "sd", LockMode::kExclusive}},
                                      seconds(1));
  REQUIRE_FALSE(conflict.ok());
  CHECK(conflict.status().code() == Code::kInvalidArgument);
  CHECK(conflict.status().message().find("deadlock") != std::string_view::npos);
}

TEST_CASE_METHOD(LocksTest, "AcquireAll releases what it took on failure",
                 "[resource_locks]") {
  auto held = StartHolder("b", LockMode::kExclusive);
  auto set = manager_.AcquireAll({{kNs, "a", LockMode::kExclusive},
                                  {kNs, "b", LockMode::kExclusive},
                                  {kNs, "c", LockMode::kExclusive}},
                                 Duration(0));
  REQUIRE_FALSE(set.ok());
  CHECK(set.status().code() == Code::kDeadlineExceeded);
  // Only the held one remains: "a" was released, "c" never taken.
  REQUIRE(manager_.ResourceCount() == 1);
  CHECK(manager_.Inspect()[0].name == "b");
}

TEST_CASE("Ordered multi-acquire cannot deadlock", "[resource_locks]") {
  // Real clock: threads contend for real. Each thread names the same three
  // resources in a different order; without the global order two of them
  // would soon each hold one resource the other needs.
  SystemClock clock;
  ResourceManager manager(clock);
  std::atomic<int> inside{0};
  std::atomic<int> max_inside{0};
  std::atomic<int> failures{0};
  std::atomic<int> rounds{0};
  const std::vector<std::vector<std::string>> orders = {
      {"a", "b", "c"}, {"c", "b", "a"}, {"b", "c", "a"}, {"c", "a", "b"}};
  std::vector<std::thread> threads;
  for (const auto& order : orders) {
    threads.emplace_back([&, order] {
      for (int i = 0; i < 300; ++i) {
        std::vector<LockRequest> requests;
        for (const std::string& name : order) {
          requests.push_back({kNs, name, LockMode::kExclusive});
        }
        auto set = manager.AcquireAll(std::move(requests), kWaitForever);
        if (!set.ok()) {
          ++failures;
          continue;
        }
        int now = ++inside;
        int seen = max_inside.load();
        while (now > seen && !max_inside.compare_exchange_weak(seen, now)) {
        }
        --inside;
        ++rounds;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  CHECK(rounds == 1200);
  CHECK(max_inside == 1);  // Exclusive on all three: one thread at a time.
  CHECK(manager.ResourceCount() == 0);
}

TEST_CASE("Mixed readers and writers keep the invariant", "[resource_locks]") {
  SystemClock clock;
  ResourceManager manager(clock);
  std::atomic<int> readers{0};
  std::atomic<int> writers{0};
  std::atomic<int> violations{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      LockMode mode = t == 0 ? LockMode::kExclusive : LockMode::kShared;
      for (int i = 0; i < 300; ++i) {
        auto lock = manager.Acquire(kNs, "sd", mode, kWaitForever);
        if (!lock.ok()) {
          ++violations;
          continue;
        }
        if (mode == LockMode::kExclusive) {
          if (++writers != 1 || readers != 0) ++violations;
          --writers;
        } else {
          ++readers;
          if (writers != 0) ++violations;
          --readers;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(violations == 0);
  CHECK(manager.ResourceCount() == 0);
}

}  // namespace
}  // namespace sanpool
