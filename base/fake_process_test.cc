#include "base/fake_process.h"

#include <signal.h>

#include <chrono>
#include <future>
#include <thread>

#include <catch2/catch.hpp>

namespace sanpool {
namespace {

using Match = FakeProcessRunner::Match;
using std::chrono::milliseconds;

constexpr char kLvsJson[] =
    R"({"report": [{"lv": [{"lv_name": "metadata", "lv_size": "134217728"}]}]})";

ProcessSpec Spec(std::vector<std::string> argv) {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  return spec;
}

TEST_CASE("Fake replays a recorded output for a prefix match",
          "[fake_process]") {
  FakeProcessRunner runner;
  runner.Expect({"/sbin/lvm", "lvs"}, {.stdout_data = kLvsJson}, Match::kPrefix);
  Result<ProcessResult> result =
      runner.Run(Spec({"/sbin/lvm", "lvs", "--reportformat", "json", "vg1"}));
  REQUIRE(result.ok());
  CHECK(result->Succeeded());
  CHECK(result->stdout_data == kLvsJson);
  REQUIRE(runner.CallArgvs().size() == 1);
  CHECK(runner.CallArgvs()[0].back() == "vg1");
}

TEST_CASE("Fake exact rules need the whole argv", "[fake_process]") {
  FakeProcessRunner runner;
  runner.Expect({"/usr/bin/qemu-img", "check", "/a"}, {.exit_code = 3});
  Result<ProcessResult> hit = runner.Run(Spec({"/usr/bin/qemu-img", "check", "/a"}));
  REQUIRE(hit.ok());
  CHECK(hit->exit_code == 3);
  CHECK(CheckExit(*hit, "qemu-img check").code() == Code::kUnknown);

  Result<ProcessResult> miss =
      runner.Run(Spec({"/usr/bin/qemu-img", "check", "/a", "-f"}));
  REQUIRE_FALSE(miss.ok());
  CHECK(miss.status().code() == Code::kInternal);
  CHECK(miss.status().message() ==
        "FakeProcessRunner: unexpected process: /usr/bin/qemu-img check /a -f");
  CHECK(runner.UnexpectedCallCount() == 1);
  CHECK(runner.Calls().size() == 2);
}

TEST_CASE("Fake one-shot rules script a sequence, then a fallback",
          "[fake_process]") {
  FakeProcessRunner runner;
  runner.Expect({"lvm", "lvcreate"}, {.exit_code = 5, .stderr_data = "busy"},
                Match::kPrefix, 1);
  runner.Expect({"lvm", "lvcreate"}, {.exit_code = 0}, Match::kPrefix, 1);
  runner.Expect({"lvm"}, {.exit_code = 42}, Match::kPrefix);
  CHECK(runner.PendingOneShotRules() == 2);
  CHECK(runner.Run(Spec({"lvm", "lvcreate", "x"}))->exit_code == 5);
  CHECK(runner.Run(Spec({"lvm", "lvcreate", "x"}))->exit_code == 0);
  CHECK(runner.Run(Spec({"lvm", "lvcreate", "x"}))->exit_code == 42);
  CHECK(runner.PendingOneShotRules() == 0);
  runner.ClearCalls();
  CHECK(runner.Calls().empty());
}

TEST_CASE("Fake injects start failures and signals", "[fake_process]") {
  FakeProcessRunner runner;
  runner.Expect({"/sbin/sanlock"}, {.start_error = NotFoundError("no sanlock")},
                Match::kPrefix);
  runner.Expect({"/bin/crash"}, {.term_signal = SIGSEGV});
  CHECK(runner.Run(Spec({"/sbin/sanlock", "status"})).status().code() ==
        Code::kNotFound);
  Result<ProcessResult> crash = runner.Run(Spec({"/bin/crash"}));
  REQUIRE(crash.ok());
  CHECK(crash->term_signal == SIGSEGV);
  CHECK(crash->exit_code == -1);
}

TEST_CASE("Fake honours timeout and cancellation during a delay",
          "[fake_process]") {
  FakeProcessRunner runner;
  runner.Expect({"/bin/slow"}, {.delay = std::chrono::hours(1)});
  ProcessSpec spec = Spec({"/bin/slow"});
  spec.timeout = milliseconds(10);
  Result<ProcessResult> timed = runner.Run(spec);
  REQUIRE(timed.ok());
  CHECK(timed->timed_out);
  CHECK(CheckExit(*timed, "slow").code() == Code::kDeadlineExceeded);

  CancellationSource source;
  source.Cancel();
  ProcessSpec cancelled_spec = Spec({"/bin/slow"});
  cancelled_spec.cancel = source.Token();
  Result<ProcessResult> cancelled = runner.Run(cancelled_spec);
  REQUIRE(cancelled.ok());
  CHECK(cancelled->cancelled);
}

TEST_CASE("Fake truncates like the real runner", "[fake_process]") {
  FakeProcessRunner runner;
  runner.Expect({"/bin/big"}, {.stdout_data = std::string(100, 'x')});
  ProcessSpec spec = Spec({"/bin/big"});
  spec.max_output_bytes = 10;
  Result<ProcessResult> result = runner.Run(spec);
  REQUIRE(result.ok());
  CHECK(result->stdout_data.size() == 10);
  CHECK(result->stdout_truncated);
}

TEST_CASE("Fake handlers compute answers from the spec", "[fake_process]") {
  FakeProcessRunner runner;
  runner.ExpectHandler({"/bin/cat"}, [](const ProcessSpec& spec) {
    ProcessResult result;
    result.exit_code = 0;
    result.stdout_data = spec.stdin_data;
    return Result<ProcessResult>(result);
  });
  ProcessSpec spec = Spec({"/bin/cat"});
  spec.stdin_data = "echo me";
  CHECK(runner.Run(spec)->stdout_data == "echo me");
}

TEST_CASE("Fake feeds stdout chunks to on_stdout in order", "[fake_process]") {
  FakeProcessRunner runner;
  runner.Expect({"/usr/bin/qemu-img", "convert"},
                {.stdout_chunks = {"    (0.00/100%)\r", "    (40.00/100%)\r"},
                 .stdout_data = "    (100.00/100%)\r"},
                FakeProcessRunner::Match::kPrefix);
  ProcessSpec spec = Spec({"/usr/bin/qemu-img", "convert", "-p"});
  std::vector<std::string> chunks;
  spec.on_stdout = [&](std::string_view c) { chunks.emplace_back(c); };
  Result<ProcessResult> result = runner.Run(spec);
  REQUIRE(result.ok());
  CHECK(chunks == std::vector<std::string>{"    (0.00/100%)\r",
                                           "    (40.00/100%)\r",
                                           "    (100.00/100%)\r"});
  CHECK(result->stdout_data ==
        "    (0.00/100%)\r    (40.00/100%)\r    (100.00/100%)\r");
}

TEST_CASE("Fake stops streaming when on_stdout cancels", "[fake_process]") {
  FakeProcessRunner runner;
  runner.Expect({"/bin/copy"}, {.stdout_chunks = {"a", "b", "c"}});
  CancellationSource source;
  ProcessSpec spec = Spec({"/bin/copy"});
  spec.cancel = source.Token();
  std::string seen;
  spec.on_stdout = [&](std::string_view c) {
    seen.append(c);
    if (c == "b") source.Cancel();
  };
  Result<ProcessResult> result = runner.Run(spec);
  REQUIRE(result.ok());
  CHECK(seen == "ab");
  CHECK(result->cancelled);
  CHECK_FALSE(result->Succeeded());
}

TEST_CASE("Fake Start answers once from another thread", "[fake_process]") {
  FakeProcessRunner runner;
  runner.Expect({"/bin/true"}, {});
  std::promise<std::thread::id> thread;
  std::promise<Result<ProcessResult>> answer;
  runner.Start(Spec({"/bin/true"}), [&](Result<ProcessResult> r) {
    thread.set_value(std::this_thread::get_id());
    answer.set_value(std::move(r));
  });
  CHECK(thread.get_future().get() != std::this_thread::get_id());
  CHECK(answer.get_future().get().ok());
}

TEST_CASE("Fake is safe to use from many threads", "[fake_process]") {
  FakeProcessRunner runner;
  runner.Expect({"/bin/x"}, {.stdout_data = "ok"}, Match::kPrefix);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        Result<ProcessResult> r = runner.Run(Spec({"/bin/x", std::to_string(i)}));
        (void)r;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(runner.Calls().size() == 400);
  CHECK(runner.UnexpectedCallCount() == 0);
}

}  // namespace
}  // namespace sanpool
