#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "base/cancel.h"
#include "base/gate.h"

namespace sanpool {
namespace {

using std::chrono::milliseconds;

TEST_CASE("A default token is never cancelled", "[cancel]") {
  CancellationToken token;
  CHECK_FALSE(token.IsCancelled());
  CHECK(token.CheckCancelled("op").ok());
  bool called = false;
  auto reg = token.OnCancel([&] { called = true; });
  CHECK_FALSE(called);
}

TEST_CASE("Cancel runs callbacks once and flips the token", "[cancel]") {
  CancellationSource source;
  CancellationToken token = source.Token();
  int calls = 0;
  auto reg = token.OnCancel([&] { ++calls; });
  CHECK_FALSE(token.IsCancelled());
  source.Cancel();
  source.Cancel();
  CHECK(token.IsCancelled());
  CHECK(source.IsCancelled());
  CHECK(calls == 1);
  Status status = token.CheckCancelled("copying");
  CHECK(status.code() == Code::kCancelled);
  CHECK(status.message() == "copying: cancelled");
}

TEST_CASE("OnCancel on a cancelled token runs inline", "[cancel]") {
  CancellationSource source;
  source.Cancel();
  bool called = false;
  auto reg = source.Token().OnCancel([&] { called = true; });
  CHECK(called);
}

TEST_CASE("A destroyed registration is not called", "[cancel]") {
  CancellationSource source;
  bool called = false;
  {
    auto reg = source.Token().OnCancel([&] { called = true; });
  }
  auto reg2 = source.Token().OnCancel([] {});
  reg2.Reset();
  source.Cancel();
  CHECK_FALSE(called);
}

TEST_CASE("A callback may destroy its own registration", "[cancel]") {
  CancellationSource source;
  CancellationToken::Registration reg;
  bool called = false;
  reg = source.Token().OnCancel([&] {
    called = true;
    reg.Reset();
  });
  source.Cancel();
  CHECK(called);
}

TEST_CASE("Unregistering waits for a callback running elsewhere", "[cancel]") {
  CancellationSource source;
  std::atomic<bool> entered{false};
  std::atomic<bool> finished{false};
  auto reg = std::make_unique<CancellationToken::Registration>(
      source.Token().OnCancel([&] {
        entered = true;
        std::this_thread::sleep_for(milliseconds(50));
        finished = true;
      }));
  std::thread canceller([&] { source.Cancel(); });
  while (!entered) std::this_thread::yield();
  reg.reset();  // Must block until the callback is done.
  CHECK(finished);
  canceller.join();
}

TEST_CASE("A child source follows its parent", "[cancel]") {
  CancellationSource parent;
  CancellationSource child(parent.Token());
  CancellationSource other_child(parent.Token());
  child.Cancel();
  CHECK_FALSE(parent.IsCancelled());
  CHECK_FALSE(other_child.IsCancelled());
  parent.Cancel();
  CHECK(other_child.IsCancelled());

  CancellationSource late_child(parent.Token());
  CHECK(late_child.IsCancelled());
}

TEST_CASE("Tokens outlive their source", "[cancel]") {
  CancellationToken token;
  {
    CancellationSource source;
    token = source.Token();
    source.Cancel();
  }
  CHECK(token.IsCancelled());
}

TEST_CASE("WaitFor wakes on cancel from another thread", "[cancel]") {
  CancellationSource source;
  std::thread t([&] {
    std::this_thread::sleep_for(milliseconds(20));
    source.Cancel();
  });
  // Far longer than the test runs: only the cancel can end the wait.
  CHECK(source.Token().WaitFor(std::chrono::hours(1)));
  t.join();
  CancellationSource idle;
  CHECK_FALSE(idle.Token().WaitFor(milliseconds(1)));
}

TEST_CASE("Many threads registering while cancelling", "[cancel]") {
  for (int round = 0; round < 20; ++round) {
    CancellationSource source;
    std::atomic<int> calls{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&] {
        for (int j = 0; j < 50; ++j) {
          auto reg = source.Token().OnCancel([&] { ++calls; });
          if (j == 25) reg.Reset();
        }
      });
    }
    source.Cancel();
    for (auto& t : threads) t.join();
    CHECK(source.IsCancelled());
  }
}

TEST_CASE("Gate hands out tokens until closed", "[gate]") {
  Gate gate;
  auto a = gate.TryEnter();
  auto b = gate.TryEnter();
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(gate.ActiveCount() == 2);
  gate.Close();
  CHECK(gate.IsClosed());
  CHECK_FALSE(gate.TryEnter().has_value());
  a.reset();
  CHECK(gate.ActiveCount() == 1);
  CHECK_FALSE(gate.WaitDrainedFor(milliseconds(1)));
  b.reset();
  CHECK(gate.WaitDrainedFor(milliseconds(1)));
  gate.WaitDrained();
}

TEST_CASE("Gate tokens can be moved", "[gate]") {
  Gate gate;
  auto token = gate.TryEnter();
  REQUIRE(token.has_value());
  Gate::Token moved = std::move(*token);
  token.reset();
  CHECK(gate.ActiveCount() == 1);
  {
    Gate::Token sink = std::move(moved);
  }
  CHECK(gate.ActiveCount() == 0);
}

TEST_CASE("Gate drain waits for work on other threads", "[gate]") {
  Gate gate;
  std::atomic<int> done{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i) {
    auto token = gate.TryEnter();
    REQUIRE(token.has_value());
    workers.emplace_back([&done, t = std::move(*token)]() mutable {
      std::this_thread::sleep_for(milliseconds(10));
      ++done;
      Gate::Token release = std::move(t);
    });
  }
  gate.Close();
  gate.WaitDrained();
  CHECK(done == 4);
  for (auto& w : workers) w.join();
}

}  // namespace
}  // namespace sanpool
