#include "base/crash_point.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <set>
#include <string>

namespace sanpool {
namespace {

// Runs CrashIfArmed in a forked child; returns its wait status.
int RunInChild(std::string_view armed, std::string_view name) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    crash_point_internal::CrashIfArmed(armed, name);
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return status;
}

TEST_CASE("an armed crash point kills the process with SIGKILL") {
  int status = RunInChild("file.volume.create.after_meta",
                          crash_point::kFileVolumeCreateAfterMeta);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
}

TEST_CASE("other points and an unarmed process do not crash") {
  int other = RunInChild(crash_point::kFileVolumeCreateAfterMeta,
                         crash_point::kFileVolumeCreateAfterData);
  REQUIRE(WIFEXITED(other));
  CHECK(WEXITSTATUS(other) == 0);
  int unarmed = RunInChild("", crash_point::kFileVolumeCreateAfterData);
  REQUIRE(WIFEXITED(unarmed));
  // A prefix of a name is not the name.
  int prefix = RunInChild("file.volume.create",
                          crash_point::kFileVolumeCreateAfterData);
  REQUIRE(WIFEXITED(prefix));
}

TEST_CASE("the test binary runs unarmed and every point is known and unique") {
  CHECK(ArmedCrashPoint().empty());
  CrashPoint(crash_point::kFileVolumeCreateAfterData);  // returns
  std::set<std::string_view> names(crash_point::kAllCrashPoints.begin(),
                                   crash_point::kAllCrashPoints.end());
  CHECK(names.size() == crash_point::kAllCrashPoints.size());
  for (std::string_view name : crash_point::kAllCrashPoints) {
    CHECK(IsKnownCrashPoint(name));
  }
  CHECK_FALSE(IsKnownCrashPoint("file.volume.create"));
  CHECK_FALSE(IsKnownCrashPoint(""));
}

}  // namespace
}  // namespace sanpool
