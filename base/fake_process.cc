#include "base/fake_process.h"

#include <signal.h>

#include <algorithm>
#include <utility>

namespace sanpool {

FakeProcessRunner::~FakeProcessRunner() {
  std::vector<std::thread> threads;
  {
    MutexLock lock(mu_);
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
}

void FakeProcessRunner::Expect(std::vector<std::string> argv, Response response,
                               Match match, int times) {
  MutexLock lock(mu_);
  rules_.push_back(Rule{std::move(argv), match, times > 0 ? times : -1,
                        std::move(response), nullptr});
}

void FakeProcessRunner::ExpectHandler(std::vector<std::string> argv,
                                      Handler handler, Match match, int times) {
  MutexLock lock(mu_);
  rules_.push_back(Rule{std::move(argv), match, times > 0 ? times : -1,
                        Response{}, std::move(handler)});
}

std::vector<ProcessSpec> FakeProcessRunner::Calls() const {
  MutexLock lock(mu_);
  return calls_;
}

std::vector<std::vector<std::string>> FakeProcessRunner::CallArgvs() const {
  MutexLock lock(mu_);
  std::vector<std::vector<std::string>> argvs;
  for (const ProcessSpec& spec : calls_) argvs.push_back(spec.argv);
  return argvs;
}

void FakeProcessRunner::ClearCalls() {
  MutexLock lock(mu_);
  calls_.clear();
  unexpected_ = 0;
}

size_t FakeProcessRunner::UnexpectedCallCount() const {
  MutexLock lock(mu_);
  return unexpected_;
}

size_t FakeProcessRunner::PendingOneShotRules() const {
  MutexLock lock(mu_);
  return std::count_if(rules_.begin(), rules_.end(),
                       [](const Rule& rule) { return rule.remaining > 0; });
}

bool FakeProcessRunner::Matches(const Rule& rule,
                                const std::vector<std::string>& argv) {
  if (rule.match == Match::kExact) return rule.argv == argv;
  return rule.argv.size() <= argv.size() &&
         std::equal(rule.argv.begin(), rule.argv.end(), argv.begin());
}

Result<ProcessResult> FakeProcessRunner::Run(const ProcessSpec& spec) {
  Response response;
  Handler handler;
  pid_t pid;
  {
    MutexLock lock(mu_);
    calls_.push_back(spec);
    pid = next_pid_++;
    auto rule = std::find_if(rules_.begin(), rules_.end(), [&](const Rule& r) {
      return r.remaining != 0 && Matches(r, spec.argv);
    });
    if (rule == rules_.end()) {
      ++unexpected_;
      return InternalError("FakeProcessRunner: unexpected process: " +
                           FormatArgv(spec.argv));
    }
    if (rule->remaining > 0) --rule->remaining;
    response = rule->response;
    handler = rule->handler;
  }
  if (handler) return handler(spec);
  return Answer(response, spec, pid);
}

Result<ProcessResult> FakeProcessRunner::Answer(const Response& response,
                                                const ProcessSpec& spec,
                                                pid_t pid) {
  if (!response.start_error.ok()) return response.start_error;
  ProcessResult result;
  result.pid = pid;
  std::string streamed;
  for (const std::string& chunk : response.stdout_chunks) {
    if (spec.cancel.IsCancelled()) break;
    if (spec.on_stdout) spec.on_stdout(chunk);
    streamed += chunk;
  }
  auto wait = response.delay;
  bool times_out = spec.timeout.count() > 0 && spec.timeout < wait;
  if (times_out) wait = spec.timeout;
  auto start = std::chrono::steady_clock::now();
  if (wait.count() > 0 || spec.cancel.IsCancelled()) {
    if (spec.cancel.WaitFor(wait)) {
      result.cancelled = true;
    } else if (times_out) {
      result.timed_out = true;
    }
  }
  result.elapsed = std::chrono::steady_clock::now() - start;
  if (result.cancelled || result.timed_out) {
    result.term_signal = SIGTERM;
    return result;
  }
  result.exit_code = response.term_signal != 0 ? -1 : response.exit_code;
  result.term_signal = response.term_signal;
  size_t limit = spec.max_output_bytes;
  if (spec.on_stdout && !response.stdout_data.empty()) {
    spec.on_stdout(response.stdout_data);
  }
  streamed += response.stdout_data;
  result.stdout_data = streamed.substr(0, limit);
  result.stdout_truncated = streamed.size() > limit;
  result.stderr_data = response.stderr_data.substr(0, limit);
  result.stderr_truncated = response.stderr_data.size() > limit;
  return result;
}

void FakeProcessRunner::Start(ProcessSpec spec, Callback done) {
  MutexLock lock(mu_);
  threads_.emplace_back(
      [this, spec = std::move(spec), done = std::move(done)] {
        done(Run(spec));
      });
}

}  // namespace sanpool
