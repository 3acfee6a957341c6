#include "base/clock.h"

#include <atomic>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "base/fake_clock.h"

namespace sanpool {
namespace {

using namespace std::chrono_literals;

TEST_CASE("fake clock starts at fixed instants and advances both clocks") {
  FakeClock clock;
  CHECK(clock.SteadyNow().time_since_epoch() == FakeClock::kSteadyStart);
  CHECK(clock.WallNow().time_since_epoch() == FakeClock::kWallStart);
  clock.Advance(1500ms);
  CHECK(clock.SteadyNow() - SteadyTime(FakeClock::kSteadyStart) == 1500ms);
  CHECK(clock.WallNow() - WallTime(FakeClock::kWallStart) == 1500ms);
  clock.SetWallTime(WallTime(FakeClock::kWallStart));  // a step back
  CHECK(clock.WallNow().time_since_epoch() == FakeClock::kWallStart);
  CHECK(clock.SteadyNow() - SteadyTime(FakeClock::kSteadyStart) == 1500ms);
}

TEST_CASE("fake clock sleep returns only when advanced to the deadline") {
  FakeClock clock;
  std::atomic<bool> done{false};
  SleepResult result = SleepResult::kWoken;
  std::thread sleeper([&] {
    result = clock.SleepFor(10s);
    done = true;
  });
  clock.WaitForSleepers(1);
  CHECK(clock.NextDeadline() == SteadyTime(FakeClock::kSteadyStart) + 10s);
  clock.Advance(9s);
  // Still asleep: the sleeper is counted until it returns.
  CHECK(clock.SleeperCount() == 1);
  CHECK(!done);
  clock.Advance(1s);
  sleeper.join();
  CHECK(done);
  CHECK(result == SleepResult::kDeadline);
  CHECK(clock.SleeperCount() == 0);
  CHECK(clock.NextDeadline() == SteadyTime::max());
}

TEST_CASE("advance wakes only the sleepers whose deadline passed") {
  FakeClock clock;
  std::atomic<int> woke{0};
  std::vector<std::thread> threads;
  for (auto d : {1s, 2s, 3s}) {
    threads.emplace_back([&clock, &woke, d] {
      (void)clock.SleepFor(d);
      ++woke;
    });
  }
  clock.WaitForSleepers(3);
  clock.Advance(2s);
  // Two sleepers return (SleepFor returns before `woke` is bumped, so wait
  // on `woke` itself); the third must still be asleep.
  while (woke.load() < 2) std::this_thread::yield();
  CHECK(clock.SleeperCount() == 1);
  CHECK(woke == 2);
  CHECK(clock.NextDeadline() == SteadyTime(FakeClock::kSteadyStart) + 3s);
  clock.Advance(1s);
  for (auto& t : threads) t.join();
  CHECK(woke == 3);
}

TEST_CASE("a past deadline returns at once") {
  FakeClock clock;
  CHECK(clock.SleepUntil(clock.SteadyNow()) == SleepResult::kDeadline);
  CHECK(clock.SleepFor(-1s) == SleepResult::kDeadline);
  SystemClock real;
  CHECK(real.SleepUntil(real.SteadyNow() - 1s) == SleepResult::kDeadline);
}

TEST_CASE("a waker ends a fake sleep early") {
  FakeClock clock;
  Waker waker;
  SleepResult result = SleepResult::kDeadline;
  std::thread sleeper([&] { result = clock.SleepFor(1h, &waker); });
  clock.WaitForSleepers(1);
  waker.Wake();
  sleeper.join();
  CHECK(result == SleepResult::kWoken);
  CHECK(clock.SteadyNow().time_since_epoch() == FakeClock::kSteadyStart);

  // Sticky until reset.
  CHECK(waker.IsWoken());
  CHECK(clock.SleepFor(1h, &waker) == SleepResult::kWoken);
  waker.Reset();
  CHECK(!waker.IsWoken());
  std::thread again([&] { result = clock.SleepFor(1s, &waker); });
  clock.WaitForSleepers(1);
  clock.Advance(1s);
  again.join();
  CHECK(result == SleepResult::kDeadline);
}

TEST_CASE("one waker wakes every sleep using it") {
  FakeClock clock;
  Waker waker;
  std::atomic<int> woken{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      if (clock.SleepFor(1h, &waker) == SleepResult::kWoken) ++woken;
    });
  }
  clock.WaitForSleepers(3);
  waker.Wake();
  for (auto& t : threads) t.join();
  CHECK(woken == 3);
}

TEST_CASE("system clock sleep is ended by a waker") {
  SystemClock clock;
  Waker waker;
  SleepResult result = SleepResult::kDeadline;
  std::thread sleeper([&] { result = clock.SleepFor(1h, &waker); });
  waker.Wake();  // before or during the sleep: both end it (sticky)
  sleeper.join();
  CHECK(result == SleepResult::kWoken);
  CHECK(clock.SleepFor(0s, nullptr) == SleepResult::kDeadline);
  CHECK(clock.WallNow().time_since_epoch().count() > 0);
}

}  // namespace
}  // namespace sanpool
