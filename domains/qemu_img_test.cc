#include "domains/qemu_img.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "base/fake_process.h"
#include "domains/storage_errors.h"

namespace sanpool {
namespace {

using formats::VolumeFormat;
using Match = FakeProcessRunner::Match;

// Recorded from qemu-img 7.2 (Debian 12).
constexpr char kInfoQcow2[] = R"({
    "backing-filename-format": "raw",
    "virtual-size": 2097152,
    "filename": "top",
    "cluster-size": 65536,
    "format": "qcow2",
    "actual-size": 200704,
    "format-specific": {
        "type": "qcow2",
        "data": {
            "compat": "1.1",
            "compression-type": "zlib",
            "lazy-refcounts": false,
            "refcount-bits": 16,
            "corrupt": false,
            "extended-l2": false
        }
    },
    "full-backing-filename": "base",
    "backing-filename": "base",
    "dirty-flag": false
})";
constexpr char kInfoChain[] = R"([
    {"backing-filename-format": "raw", "virtual-size": 2097152,
     "filename": "top", "cluster-size": 65536, "format": "qcow2",
     "actual-size": 200704, "backing-filename": "base", "dirty-flag": false},
    {"virtual-size": 1048576, "filename": "base", "format": "raw",
     "actual-size": 4096, "dirty-flag": false}
])";
constexpr char kCheck[] = R"({
    "image-end-offset": 262144,
    "total-clusters": 32,
    "check-errors": 0,
    "filename": "top",
    "format": "qcow2"
})";
constexpr char kMeasure[] = R"({"bitmaps": 0, "required": 393216,
                                "fully-allocated": 2424832})";
constexpr char kProgress[] =
    "    (0.00/100%)\r    (50.00/100%)\r    (100.00/100%)\r\n";

TEST_CASE("info JSON is parsed") {
  auto info = ParseQemuImgInfo(kInfoQcow2);
  REQUIRE(info.ok());
  CHECK(info->format == "qcow2");
  CHECK(info->virtual_size == 2097152);
  CHECK(info->actual_size == 200704u);
  CHECK(info->cluster_size == 65536u);
  CHECK(info->backing_filename == "base");
  CHECK(info->backing_format == "raw");
  CHECK(info->compat == "1.1");
  CHECK_FALSE(info->corrupt);
  auto chain = ParseQemuImgInfoChain(kInfoChain);
  REQUIRE(chain.ok());
  REQUIRE(chain->size() == 2);
  CHECK((*chain)[1].format == "raw");
  CHECK_FALSE((*chain)[1].backing_filename.has_value());
}

TEST_CASE("malformed qemu-img output is a specific error") {
  for (const char* bad :
       {"", "not json", "[]", "{}", R"({"filename":"x","format":"raw"})",
        R"({"filename":"x","format":"raw","virtual-size":-1})",
        R"({"filename":"x","format":"raw","virtual-size":"1"})"}) {
    INFO(bad);
    auto info = ParseQemuImgInfo(bad);
    REQUIRE_FALSE(info.ok());
    CHECK(info.status().code() == Code::kDataLoss);
  }
  CHECK_FALSE(ParseQemuImgMeasure(R"({"required": 1})").ok());
  CHECK_FALSE(ParseQemuImgInfoChain("{}").ok());
}

TEST_CASE("check and measure JSON, progress lines") {
  auto check = ParseQemuImgCheck(kCheck);
  REQUIRE(check.ok());
  CHECK(check->image_end_offset == 262144u);
  auto measure = ParseQemuImgMeasure(kMeasure);
  REQUIRE(measure.ok());
  CHECK(measure->required == 393216);
  CHECK(measure->fully_allocated == 2424832);
  CHECK(ParseQemuImgProgress(kProgress) == std::vector<double>{0, 50, 100});
  CHECK(ParseQemuImgProgress("(garbage/100%) (12.5/100%)") ==
        std::vector<double>{12.5});
}

TEST_CASE("commands are built as oVirt builds them") {
  FakeProcessRunner runner;
  QemuImg qemu(runner);
  CHECK(qemu.CreateArgv({.path = "/d/v", .format = VolumeFormat::kRaw,
                         .size = 4096}) ==
        std::vector<std::string>{"/usr/bin/qemu-img", "create", "-f", "raw",
                                 "/d/v", "4096"});
  CHECK(qemu.CreateArgv({.path = "/d/v",
                         .format = VolumeFormat::kCow,
                         .size = 1 << 20,
                         .backing = "parent-uuid",
                         .backing_format = VolumeFormat::kCow,
                         .backing_check = BackingCheck::kUnsafe}) ==
        std::vector<std::string>{"/usr/bin/qemu-img", "create", "-f", "qcow2",
                                 "-o", "compat=1.1", "-b", "parent-uuid", "-F",
                                 "qcow2", "-u", "/d/v", "1048576"});

  runner.Expect({"/usr/bin/qemu-img", "info", "--output", "json", "-U", "-f",
                 "qcow2", "/d/v"},
                {.stdout_data = kInfoQcow2});
  auto info = qemu.Info("/d/v", VolumeFormat::kCow);
  REQUIRE(info.ok());
  CHECK(info->virtual_size == 2097152);
  runner.Expect({"/usr/bin/qemu-img", "resize", "-f", "raw", "/d/v", "8192"},
                {});
  CHECK(qemu.Resize("/d/v", VolumeFormat::kRaw, 8192).ok());
  CHECK(runner.UnexpectedCallCount() == 0);
  for (const ProcessSpec& spec : runner.Calls()) {
    CHECK(spec.timeout == std::chrono::minutes(5));
  }
}

TEST_CASE("qemu-img failures carry the command's storage code") {
  FakeProcessRunner runner;
  QemuImg qemu(runner);
  runner.Expect({"/usr/bin/qemu-img", "create"},
                {.exit_code = 1, .stderr_data = "qemu-img: No space left"},
                Match::kPrefix);
  Status s = qemu.Create({.path = "/d/v", .size = 4096});
  CHECK(s.storage_code() == storage_code::kVolumeCreationError);
  CHECK(s.message().find("exit code 1") != std::string_view::npos);

  runner.Expect({"/usr/bin/qemu-img", "check"}, {.exit_code = 63},
                Match::kPrefix, 1);
  CHECK(qemu.Check("/d/v", VolumeFormat::kRaw).status().code() ==
        Code::kUnimplemented);
  runner.Expect({"/usr/bin/qemu-img", "check"},
                {.exit_code = 3, .stdout_data = kCheck}, Match::kPrefix, 1);
  CHECK(qemu.Check("/d/v", VolumeFormat::kCow).ok());
  runner.Expect({"/usr/bin/qemu-img", "check"}, {.exit_code = 1},
                Match::kPrefix, 1);
  CHECK(qemu.Check("/d/v", VolumeFormat::kCow).status().storage_code() ==
        storage_code::kMiscFileReadException);
}

TEST_CASE("timeouts and cancellation of qemu-img") {
  FakeProcessRunner runner;
  QemuImg qemu(runner, {.timeout = std::chrono::milliseconds(20)});
  runner.Expect({"/usr/bin/qemu-img", "info"},
                {.delay = std::chrono::milliseconds(300)}, Match::kPrefix);
  CHECK(qemu.Info("/d/v", std::nullopt).status().code() ==
        Code::kDeadlineExceeded);

  runner.Expect({"/usr/bin/qemu-img", "convert"},
                {.delay = std::chrono::milliseconds(300)}, Match::kPrefix);
  CancellationSource source;
  source.Cancel();
  Status s = qemu.Convert({.source = "/a", .target = "/b"}, nullptr,
                          source.Token());
  CHECK(s.code() == Code::kCancelled);
  CHECK(s.storage_code() == storage_code::kVolumeCopyError);
}

TEST_CASE("convert with the real qemu-img reports progress") {
  REQUIRE(std::filesystem::exists("/usr/bin/qemu-img"));
  std::string dir = "/var/tmp/sanpool-qemu-XXXXXX";
  REQUIRE(mkdtemp(dir.data()) != nullptr);
  PosixProcessRunner runner;
  QemuImg qemu(runner);
  REQUIRE(qemu.Create({.path = dir + "/src", .format = VolumeFormat::kCow,
                       .size = 4 << 20})
              .ok());
  std::vector<double> progress;
  Status s = qemu.Convert({.source = dir + "/src",
                           .source_format = VolumeFormat::kCow,
                           .target = dir + "/dst",
                           .target_format = VolumeFormat::kRaw},
                          [&](double p) { progress.push_back(p); }, {});
  CHECK(s.ok());
  REQUIRE_FALSE(progress.empty());
  CHECK(progress.back() == 100.0);
  auto info = qemu.Info(dir + "/dst", VolumeFormat::kRaw);
  REQUIRE(info.ok());
  CHECK(info->virtual_size == 4u << 20);
  auto measure = qemu.Measure(dir + "/src", VolumeFormat::kCow,
                              VolumeFormat::kCow);
  REQUIRE(measure.ok());
  CHECK(measure->fully_allocated > 4u << 20);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sanpool
