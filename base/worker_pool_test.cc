#include "base/worker_pool.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "base/latch_test_util.h"

namespace sanpool {
namespace {

using testing::Latch;  // the test opens it to let blocked items finish

void WaitUntil(const std::function<bool()>& cond) {
  while (!cond()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

TEST_CASE("WorkerPool runs every submitted item", "[worker_pool]") {
  std::atomic<int> sum{0};
  {
    WorkerPool pool({.name = "test", .threads = 3, .max_queued = 1000});
    for (int i = 1; i <= 100; ++i) {
      REQUIRE(pool.Submit([&sum, i] { sum += i; }).ok());
    }
    pool.Shutdown();
    CHECK(sum == 5050);
  }
}

TEST_CASE("WorkerPool runs items concurrently on its threads",
          "[worker_pool]") {
  WorkerPool pool({.name = "conc", .threads = 2, .max_queued = 0});
  // Two items that each wait for the other: finishes only if both run at once.
  std::promise<void> a_started, b_started;
  auto a_future = a_started.get_future();
  auto b_future = b_started.get_future();
  REQUIRE(pool.Submit([&] {
    a_started.set_value();
    b_future.wait();
  }).ok());
  REQUIRE(pool.Submit([&] {
    b_started.set_value();
    a_future.wait();
  }).ok());
  pool.Shutdown();
}

TEST_CASE("WorkerPool refuses work beyond the queue bound", "[worker_pool]") {
  WorkerPool pool({.name = "bound", .threads = 1, .max_queued = 2});
  Latch latch;
  std::atomic<int> ran{0};
  REQUIRE(pool.Submit([&] {
    latch.Wait();
    ++ran;
  }).ok());
  WaitUntil([&] { return pool.RunningCount() == 1; });
  REQUIRE(pool.Submit([&] { ++ran; }).ok());
  REQUIRE(pool.Submit([&] { ++ran; }).ok());
  CHECK(pool.QueuedCount() == 2);
  Status full = pool.Submit([&] { ++ran; });
  CHECK(full.code() == Code::kResourceExhausted);
  latch.Open();
  pool.Shutdown();
  CHECK(ran == 3);
}

TEST_CASE("WorkerPool with no queue accepts only while a thread is idle",
          "[worker_pool]") {
  WorkerPool pool({.name = "noq", .threads = 1, .max_queued = 0});
  Latch latch;
  REQUIRE(pool.Submit([&] { latch.Wait(); }).ok());
  WaitUntil([&] { return pool.RunningCount() == 1; });
  CHECK(pool.Submit([] {}).code() == Code::kResourceExhausted);
  latch.Open();
  WaitUntil([&] { return pool.RunningCount() == 0; });
  CHECK(pool.Submit([] {}).ok());
}

TEST_CASE("WorkerPool Shutdown drains queued work, then refuses",
          "[worker_pool]") {
  WorkerPool pool({.name = "drain", .threads = 1, .max_queued = 10});
  Latch latch;
  std::atomic<int> ran{0};
  REQUIRE(pool.Submit([&] {
    latch.Wait();
    ++ran;
  }).ok());
  for (int i = 0; i < 5; ++i) REQUIRE(pool.Submit([&] { ++ran; }).ok());
  std::thread closer([&] { pool.Shutdown(); });
  // Submit fails once shutdown has started; wait for that, then release.
  WaitUntil([&] { return !pool.Submit([] {}).ok(); });
  CHECK(pool.Submit([] {}).code() == Code::kFailedPrecondition);
  latch.Open();
  closer.join();
  CHECK(ran == 6);
  pool.Shutdown();  // Idempotent.
}

TEST_CASE("WorkerPool work may submit more work", "[worker_pool]") {
  std::atomic<int> ran{0};
  WorkerPool pool({.name = "nest", .threads = 2, .max_queued = 10});
  std::atomic<bool> inner_ok{false};
  REQUIRE(pool.Submit([&] {
    ++ran;
    inner_ok = pool.Submit([&] { ++ran; }).ok();
  }).ok());
  WaitUntil([&] { return ran == 2; });
  pool.Shutdown();
  CHECK(inner_ok);
  CHECK(ran == 2);
}

TEST_CASE("WorkerPool tolerates many submitters", "[worker_pool]") {
  std::atomic<int> ran{0};
  std::atomic<int> accepted{0};
  std::atomic<int> wrong_code{0};
  WorkerPool pool({.name = "many", .threads = 2, .max_queued = 8});
  std::vector<std::thread> submitters;
  for (int t = 0; t < 4; ++t) {
    submitters.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        Status s = pool.Submit([&] { ++ran; });
        if (s.ok()) {
          ++accepted;
        } else if (s.code() != Code::kResourceExhausted) {
          ++wrong_code;
        }
      }
    });
  }
  for (auto& t : submitters) t.join();
  pool.Shutdown();
  CHECK(ran == accepted);
  CHECK(accepted > 0);
  CHECK(wrong_code == 0);
}

}  // namespace
}  // namespace sanpool
