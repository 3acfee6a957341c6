// FakeProcessRunner: a ProcessRunner for tests. It runs nothing: it records
// every spec it is asked to run and answers from scripted responses matched
// by argv, e.g. replaying recorded `lvs --reportformat json` or
// `qemu-img info --output json` output.
//
//   FakeProcessRunner runner;
//   runner.Expect({"/sbin/lvm", "lvs"}, {.stdout_data = kRecordedLvsJson},
//                 FakeProcessRunner::Match::kPrefix);
//   runner.Expect({"/usr/bin/qemu-img", "check", path}, {.exit_code = 3});
//   runner.Expect({"/sbin/lvm", "lvcreate"},
//                 {.start_error = NotFoundError("lvm missing")},
//                 FakeProcessRunner::Match::kPrefix, /*times=*/1);
//   ... code under test ...
//   CHECK(runner.Calls().size() == 2);
//
// Matching: rules are tried in the order they were added; the first rule
// whose argv matches (the whole argv for kExact, its first elements for
// kPrefix) and that has uses left answers. A rule added with times = N
// answers N calls and is then skipped; times = 0 answers forever. So
// sequences are scripted by adding one-shot rules in order, and a fallback by
// a forever rule added last. A call no rule matches is recorded and fails with
// kInternal "FakeProcessRunner: unexpected process: <argv>", which makes the
// test fail loudly where the unexpected run happened.
//
// Responses may carry a delay, during which the spec's timeout and
// cancellation are honoured like the real runner does (the result then has
// timed_out / cancelled set and term_signal SIGTERM). A rule may instead
// carry a handler computing the answer from the spec (e.g. echo stdin).
// Streaming: a response's stdout_chunks reach ProcessSpec::on_stdout one by
// one, like a child printing progress (a handler may call on_stdout itself).
//
// Thread-safety: all methods may be called from any thread. Start() answers
// on an internal thread; the destructor waits for those threads.
#ifndef SANPOOL_BASE_FAKE_PROCESS_H_
#define SANPOOL_BASE_FAKE_PROCESS_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "base/process.h"
#include "base/status.h"
#include "base/thread_annotations.h"

namespace sanpool {

class FakeProcessRunner : public ProcessRunner {
 public:
  enum class Match { kExact, kPrefix };

  // One scripted answer.
  struct Response {
    int exit_code = 0;
    int term_signal = 0;
    // Fed one by one to the spec's on_stdout (when set) as soon as the call
    // starts, before `delay`; the call stops feeding and ends cancelled when
    // the spec's token is cancelled between two chunks (so a test can cancel
    // from inside on_stdout). The result's stdout_data is their
    // concatenation followed by stdout_data.
    std::vector<std::string> stdout_chunks;
    // Delivered to on_stdout too (as one last chunk) when the call completes.
    std::string stdout_data;
    std::string stderr_data;
    // When not OK, Run() fails with this (the program could not start).
    Status start_error;
    // Simulated run time (real time; keep it short in tests).
    std::chrono::milliseconds delay{0};
  };

  using Handler = std::function<Result<ProcessResult>(const ProcessSpec&)>;

  FakeProcessRunner() = default;
  ~FakeProcessRunner() override;

  // Adds a rule answering `response` (see Matching above).
  void Expect(std::vector<std::string> argv, Response response,
              Match match = Match::kExact, int times = 0) EXCLUDES(mu_);
  // Adds a rule answering with `handler(spec)`.
  void ExpectHandler(std::vector<std::string> argv, Handler handler,
                     Match match = Match::kExact, int times = 0) EXCLUDES(mu_);

  // Every spec passed to Run()/Start(), in call order, matched or not.
  std::vector<ProcessSpec> Calls() const EXCLUDES(mu_);
  // The argv of every call, for compact assertions.
  std::vector<std::vector<std::string>> CallArgvs() const EXCLUDES(mu_);
  void ClearCalls() EXCLUDES(mu_);
  // Calls that matched no rule (each also failed with kInternal).
  size_t UnexpectedCallCount() const EXCLUDES(mu_);
  // Rules with times > 0 that still have uses left (a test can assert that
  // every scripted one-shot answer was consumed).
  size_t PendingOneShotRules() const EXCLUDES(mu_);

  Result<ProcessResult> Run(const ProcessSpec& spec) override EXCLUDES(mu_);
  void Start(ProcessSpec spec, Callback done) override EXCLUDES(mu_);

 private:
  struct Rule {
    std::vector<std::string> argv;
    Match match;
    int remaining;  // < 0: forever.
    Response response;
    Handler handler;
  };

  static bool Matches(const Rule& rule, const std::vector<std::string>& argv);
  static Result<ProcessResult> Answer(const Response& response,
                                      const ProcessSpec& spec, pid_t pid);

  mutable Mutex mu_;
  std::vector<Rule> rules_ GUARDED_BY(mu_);
  std::vector<ProcessSpec> calls_ GUARDED_BY(mu_);
  size_t unexpected_ GUARDED_BY(mu_) = 0;
  pid_t next_pid_ GUARDED_BY(mu_) = 1000;
  std::vector<std::thread> threads_ GUARDED_BY(mu_);  // Start() answers.
};

}  // namespace sanpool

#endif  // SANPOOL_BASE_FAKE_PROCESS_H_
