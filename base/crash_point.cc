#include "base/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace sanpool {
namespace crash_point_internal {
namespace {

std::string_view ReadArmed() {
  const char* value = std::getenv(crash_point::kEnvVar);
  return value == nullptr ? std::string_view() : std::string_view(value);
}

void WriteAll(std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

// Dynamic initialization before main(); getenv's storage lives as long as
// nobody modifies this variable, which sanpool never does.
const std::string_view armed = ReadArmed();

void CrashIfArmed(std::string_view armed_name, std::string_view name) {
  if (armed_name.empty() || armed_name != name) return;
  WriteAll("sanpool: crash point ");
  WriteAll(name);
  WriteAll(" reached, killing the process\n");
  ::kill(::getpid(), SIGKILL);
  // SIGKILL cannot be caught or blocked; this is not reached.
  ::_exit(137);
}

}  // namespace crash_point_internal

std::string_view ArmedCrashPoint() { return crash_point_internal::armed; }

bool IsKnownCrashPoint(std::string_view name) {
  return std::find(crash_point::kAllCrashPoints.begin(),
                   crash_point::kAllCrashPoints.end(),
                   name) != crash_point::kAllCrashPoints.end();
}

}  // namespace sanpool
