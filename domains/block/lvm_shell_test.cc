// Lvm::LvExtendMany and LvmCache::LvExtendMany over recorded lvm shell
// output (domains/block/lvm_shell_testdata.h).
#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "base/fake_process.h"
#include "domains/block/lvm.h"
#include "domains/block/lvm_cache.h"
#include "domains/block/lvm_cache_test_util.h"
#include "domains/block/lvm_shell_testdata.h"
#include "domains/block/lvm_testdata.h"
#include "domains/storage_errors.h"

namespace sanpool::lvm {
namespace {

using Response = FakeProcessRunner::Response;
constexpr auto kPrefix = FakeProcessRunner::Match::kPrefix;

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

TEST_CASE("ParseLvmShellLog maps each recorded command's outcome") {
  Result<std::vector<Status>> parsed = ParseLvmShellLog(
      testdata::kShellFourExtends, 4, "lvextend",
      lvm_code::kLogicalVolumeExtendError);
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 4);
  CHECK((*parsed)[0].ok());
  // "New size (1 extents) matches existing size (1 extents)."
  CHECK((*parsed)[1].code() == Code::kFailedPrecondition);
  // "Insufficient free space: 781 extents needed, but only 26 available"
  CHECK((*parsed)[2].code() == Code::kResourceExhausted);
  CHECK((*parsed)[2].storage_code() == lvm_code::kVolumeGroupSizeError);
  CHECK((*parsed)[2].message().find("Insufficient free space") !=
        std::string::npos);
  // "Logical volume nolv not found in volume group h6vg."
  CHECK((*parsed)[3].code() == Code::kNotFound);
  CHECK((*parsed)[3].storage_code() == lvm_code::kLogicalVolumeDoesNotExist);
}

TEST_CASE("ParseLvmShellLog refuses output that breaks the protocol") {
  constexpr int kCode = lvm_code::kLogicalVolumeExtendError;
  SECTION("fewer reports than commands") {
    CHECK(ParseLvmShellLog(testdata::kShellOneExtend, 2, "lvextend", kCode)
              .status()
              .code() == Code::kDataLoss);
  }
  SECTION("another command") {
    CHECK(ParseLvmShellLog(testdata::kShellOneExtend, 1, "lvreduce", kCode)
              .status()
              .code() == Code::kDataLoss);
  }
  SECTION("not JSON") {
    CHECK(ParseLvmShellLog("  No log report stored.\n", 1, "lvextend", kCode)
              .status()
              .code() == Code::kDataLoss);
  }
  SECTION("truncated") {
    std::string cut(testdata::kShellOneExtend.substr(
        0, testdata::kShellOneExtend.size() / 2));
    CHECK(ParseLvmShellLog(cut, 1, "lvextend", kCode).status().code() ==
          Code::kDataLoss);
  }
  SECTION("no status row") {
    CHECK(ParseLvmShellLog("{\"log\": []} {\"log\": []}", 1, "lvextend",
                           kCode)
              .status()
              .code() == Code::kDataLoss);
  }
  SECTION("empty output") {
    CHECK(ParseLvmShellLog("", 1, "lvextend", kCode).status().code() ==
          Code::kDataLoss);
  }
  SECTION("the recorded single command parses") {
    Result<std::vector<Status>> one =
        ParseLvmShellLog(testdata::kShellOneExtend, 1, "lvextend", kCode);
    REQUIRE(one.ok());
    REQUIRE(one->size() == 1);
    CHECK((*one)[0].ok());
  }
}

TEST_CASE("LvExtendMany runs one lvm shell with every command's options") {
  FakeProcessRunner runner;
  runner.Expect({"lvm"},
                {.stdout_data = std::string(testdata::kShellFourExtends)});
  Lvm lvm(runner, {});
  Result<std::vector<Status>> out =
      lvm.LvExtendMany({"/dev/loop0"}, "h6vg",
                       {{"lv1", LvSize::MiB(640)},
                        {"lv2", LvSize::MiB(128)},
                        {"lv3", LvSize::MiB(99999)},
                        {"nolv", LvSize::MiB(256)}});
  REQUIRE(out.ok());
  REQUIRE(out->size() == 4);
  CHECK((*out)[0].ok());
  CHECK((*out)[2].code() == Code::kResourceExhausted);
  CHECK((*out)[3].code() == Code::kNotFound);

  const std::vector<ProcessSpec> calls = runner.Calls();
  REQUIRE(calls.size() == 1);
  const ProcessSpec& spec = calls[0];
  CHECK(spec.argv == std::vector<std::string>{"lvm"});
  CHECK(spec.env_set.at("LVM_COMMAND_PROFILE") == "lvmdbusd");
  CHECK(spec.env_set.at("LVM_SUPPRESS_FD_WARNINGS") == "1");
  CHECK(spec.timeout.count() > 0);
  const std::string& in = spec.stdin_data;
  CHECK(Count(in, "\nlastlog\n") == 4);
  CHECK(Count(in, "lvextend --config '" + LvmConfig({"/dev/loop0"}) +
                      "' --driverloaded n --autobackup n --size ") == 4);
  CHECK(Count(in, "\n") == 8);
  CHECK(in.find(" --size 640m h6vg/lv1\nlastlog\n") != std::string::npos);
  CHECK(in.find(" --size 99999m h6vg/lv3\nlastlog\n") != std::string::npos);
  CHECK(in.find(" --size 256m h6vg/nolv\nlastlog\n") != std::string::npos);
  // No quote of the config string can end early.
  CHECK(Count(LvmConfig({"/dev/loop0"}), "'") == 0);
}

TEST_CASE("LvExtendMany fails the batch when the shell protocol breaks") {
  FakeProcessRunner runner;
  Lvm lvm(runner, {});
  const std::vector<LvExtendItem> items = {{"lv1", LvSize::MiB(640)}};
  SECTION("lvm exits non-zero") {
    runner.Expect({"lvm"}, {.exit_code = 3,
                            .stderr_data = "  Specify options after a command"});
    CHECK(!lvm.LvExtendMany({"/dev/loop0"}, "h6vg", items).ok());
  }
  SECTION("lvm killed") {
    runner.Expect({"lvm"}, {.exit_code = -1, .term_signal = 9});
    CHECK(!lvm.LvExtendMany({"/dev/loop0"}, "h6vg", items).ok());
  }
  SECTION("no command log (profile missing)") {
    runner.Expect({"lvm"}, {.stderr_data = "  No log report stored.\n"});
    CHECK(lvm.LvExtendMany({"/dev/loop0"}, "h6vg", items).status().code() ==
          Code::kDataLoss);
  }
  SECTION("lvm missing") {
    runner.Expect({"lvm"}, {.start_error = NotFoundError("no lvm")});
    CHECK(lvm.LvExtendMany({"/dev/loop0"}, "h6vg", items).status().code() ==
          Code::kNotFound);
  }
  SECTION("a name the shell would split") {
    CHECK(lvm.LvExtendMany({"/dev/loop0"}, "h6vg",
                           {{"a b", LvSize::MiB(1)}})
              .status()
              .code() == Code::kInvalidArgument);
    CHECK(lvm.LvExtendMany({"/dev/loop0"}, "vg'x", items).status().code() ==
          Code::kInvalidArgument);
    CHECK(runner.Calls().empty());
  }
}

class ShellCacheFixture : public testing::LvmCacheFixture {
 protected:
  ShellCacheFixture() { ScriptReports(); }

  size_t Shells() {
    size_t n = 0;
    for (const auto& argv : runner_.CallArgvs()) n += argv.size() == 1;
    return n;
  }
};

TEST_CASE_METHOD(ShellCacheFixture,
                 "LvmCache::LvExtendMany skips what is big enough and runs "
                 "the rest in one shell") {
  runner_.Expect({"lvm"},
                 {.stdout_data = std::string(testdata::kShellOneExtend)});
  std::vector<Status> out =
      cache_.LvExtendMany("h4test", {{"vol1", LvSize::MiB(1024)},
                                     {"vol2", LvSize::MiB(640)},
                                     {"vol1", LvSize::Extents(16)}});
  REQUIRE(out.size() == 3);
  CHECK(out[0].ok());
  CHECK(out[1].ok());
  CHECK(out[2].ok());
  CHECK(Shells() == 1);
  CHECK(Runs("lvs") == 1);
  CHECK(Runs("lvextend") == 0);
  const std::vector<ProcessSpec> calls = runner_.Calls();
  for (const ProcessSpec& spec : calls) {
    if (spec.argv.size() != 1) continue;
    CHECK(Count(spec.stdin_data, "lvextend ") == 1);
    CHECK(spec.stdin_data.find("h4test/vol2") != std::string::npos);
  }
  CHECK(cache_.Stats().changes == 1);
  // The batch invalidated the VG's changed LV: the next read reloads.
  runner_.ClearCalls();
  REQUIRE(cache_.GetLv("h4test", "vol2").ok());
  CHECK(Runs("lvs") == 1);
}

TEST_CASE_METHOD(ShellCacheFixture,
                 "LvmCache::LvExtendMany: all big enough runs no command") {
  std::vector<Status> out = cache_.LvExtendMany(
      "h4test", {{"vol1", LvSize::MiB(2048)}, {"vol2", LvSize::MiB(128)}});
  CHECK(out[0].ok());
  CHECK(out[1].ok());
  CHECK(Shells() == 0);
  CHECK(cache_.Stats().changes == 0);
}

TEST_CASE_METHOD(ShellCacheFixture,
                 "LvmCache::LvExtendMany keeps per-LV errors") {
  // The recorded four-command run, as if the cache had asked for these.
  runner_.Expect({"lvm"},
                 {.stdout_data = std::string(testdata::kShellFourExtends)});
  std::vector<Status> out = cache_.LvExtendMany(
      "h4test", {{"vol2", LvSize::MiB(640)},
                 {"vol2", LvSize::MiB(256)},
                 {"vol2", LvSize::MiB(99999)},
                 {"nolv", LvSize::MiB(256)}});
  REQUIRE(out.size() == 4);
  CHECK(out[0].ok());
  // "matches existing size", but the reloaded LV (128 MiB in the
  // recording's stand-in report) is below 256 MiB: stays an error.
  CHECK(out[1].code() == Code::kFailedPrecondition);
  CHECK(out[2].code() == Code::kResourceExhausted);
  CHECK(out[2].storage_code() == lvm_code::kVolumeGroupSizeError);
  CHECK(out[3].code() == Code::kNotFound);
  CHECK(Shells() == 1);
  CHECK(Runs("lvextend") == 0);
}

TEST_CASE_METHOD(ShellCacheFixture,
                 "LvmCache::LvExtendMany falls back to one lvextend per LV") {
  runner_.Expect({"lvm", "lvextend"}, {}, kPrefix);
  SECTION("garbage output") {
    runner_.Expect({"lvm"}, {.stdout_data = "lvm> \n"});
  }
  SECTION("the shell died") {
    runner_.Expect({"lvm"}, {.exit_code = -1, .term_signal = 9});
  }
  std::vector<Status> out = cache_.LvExtendMany(
      "h4test", {{"vol2", LvSize::MiB(640)}, {"metadata", LvSize::MiB(256)},
                 {"vol1", LvSize::MiB(128)}});
  CHECK(out[0].ok());
  CHECK(out[1].ok());
  CHECK(out[2].ok());
  CHECK(Shells() == 1);
  CHECK(Runs("lvextend") == 2);  // vol1 was big enough: no command
  CHECK(cache_.Stats().batch_fallbacks == 1);
  for (const auto& argv : runner_.CallArgvs()) {
    if (argv.size() < 2 || argv[1] != "lvextend") continue;
    CHECK(std::find(argv.begin(), argv.end(), "--driverloaded") != argv.end());
    CHECK(std::find(argv.begin(), argv.end(), "--autobackup") != argv.end());
  }
}

}  // namespace
}  // namespace sanpool::lvm
