#include "domains/block/lvm.h"

#include <algorithm>
#include <catch2/catch.hpp>

#include "base/fake_process.h"
#include "domains/block/lvm_report.h"
#include "domains/block/lvm_test_printers.h"
#include "domains/block/lvm_testdata.h"

namespace sanpool::lvm {
namespace {

using Response = FakeProcessRunner::Response;
constexpr auto kPrefix = FakeProcessRunner::Match::kPrefix;

bool Contains(const std::vector<std::string>& argv,
              std::initializer_list<std::string_view> run) {
  std::vector<std::string> needle(run.begin(), run.end());
  return std::search(argv.begin(), argv.end(), needle.begin(), needle.end()) !=
         argv.end();
}

class LvmFixture {
 protected:
  LvmFixture() : lvm_(runner_, {}) {}

  // Scripts `lvm <command>` to answer `response`.
  void On(std::string command, Response response) {
    runner_.Expect({"lvm", std::move(command)}, std::move(response), kPrefix);
  }
  std::vector<std::string> LastArgv() { return runner_.CallArgvs().back(); }
  ProcessSpec LastSpec() { return runner_.Calls().back(); }

  const DeviceList devs_ = {"/dev/loop0", "/dev/loop1"};
  FakeProcessRunner runner_;
  Lvm lvm_;
};

TEST_CASE("device filter config accepts exactly the devices") {
  std::string conf = LvmConfig({"/dev/loop0", "/dev/mapper/3600.1"});
  CHECK(conf.find(R"(filter=["a|^/dev/loop0$|","a|^/dev/mapper/3600[.]1$|","r|.*|"])") !=
        std::string::npos);
  CHECK(conf.find("global_filter=[") != std::string::npos);
  CHECK(conf.find("use_devicesfile=0") != std::string::npos);
  CHECK(conf.find("hints=\"none\"") != std::string::npos);
  CHECK(conf.find("backup { retain_min=50 retain_days=0 }") !=
        std::string::npos);
  CHECK(LvmConfig({}).find(R"(filter=["r|.*|"])") != std::string::npos);
}

TEST_CASE_METHOD(LvmFixture, "every command: config, driverloaded n, env") {
  On("lvextend", {});
  REQUIRE(lvm_.LvExtend(devs_, "vg", "lv", LvSize::MiB(1024)).ok());
  ProcessSpec spec = LastSpec();
  REQUIRE(spec.argv.size() > 4);
  CHECK(spec.argv[2] == "--config");
  CHECK(spec.argv[3] == LvmConfig(devs_));
  CHECK(Contains(spec.argv, {"--driverloaded", "n"}));
  CHECK(Contains(spec.argv, {"--autobackup", "n"}));
  CHECK(Contains(spec.argv, {"--size", "1024m", "vg/lv"}));
  CHECK(spec.env_set.at("LVM_SUPPRESS_FD_WARNINGS") == "1");
  CHECK(spec.timeout.count() > 0);
}

TEST_CASE("report locking can follow the host's role, per report") {
  FakeProcessRunner runner;
  ReportLocking now = ReportLocking::kReadOnly;
  Lvm lvm(runner, {.report_locking_fn = [&now] { return now; }});
  runner.Expect({"lvm", "lvs"}, {.stdout_data = R"({"report":[{"lv":[]}]})"},
                kPrefix);
  runner.Expect({"lvm", "lvextend"}, {}, kPrefix);
  REQUIRE(lvm.Lvs({"/dev/loop0"}, "vg").ok());
  CHECK(Contains(runner.Calls().back().argv, {"--readonly"}));
  // Changes never take --readonly.
  REQUIRE(lvm.LvExtend({"/dev/loop0"}, "vg", "lv", LvSize::MiB(256)).ok());
  CHECK(!Contains(runner.Calls().back().argv, {"--readonly"}));
  now = ReportLocking::kShared;  // became the SPM
  REQUIRE(lvm.Lvs({"/dev/loop0"}, "vg").ok());
  CHECK(!Contains(runner.Calls().back().argv, {"--readonly"}));
}

TEST_CASE_METHOD(LvmFixture, "no LVM_SYSTEM_DIR unless configured") {
  On("lvs", {.stdout_data = R"({"report":[{"lv":[]}]})"});
  (void)lvm_.Lvs(devs_, "vg");
  CHECK(LastSpec().env_set.count("LVM_SYSTEM_DIR") == 0);
}

TEST_CASE("a configured system dir reaches every lvm process, shell too") {
  FakeProcessRunner runner;
  Lvm lvm(runner, {.system_dir = "/run/sanpool/lvm"});
  runner.Expect({"lvm", "lvextend"}, {}, kPrefix);
  REQUIRE(lvm.LvExtend({"/dev/loop0"}, "vg", "lv", LvSize::MiB(1024)).ok());
  CHECK(runner.Calls().back().env_set.at("LVM_SYSTEM_DIR") ==
        "/run/sanpool/lvm");
  runner.Expect({"lvm"}, {.exit_code = 5}, kPrefix);
  (void)lvm.LvExtendMany({"/dev/loop0"}, "vg", {{.lv = "lv", .size = LvSize::MiB(2048)}});
  REQUIRE(runner.Calls().size() == 2);
  CHECK(runner.Calls().back().argv.size() == 1);
  CHECK(runner.Calls().back().env_set.at("LVM_SYSTEM_DIR") ==
        "/run/sanpool/lvm");
}

TEST_CASE("the private lvm.conf: no async I/O, lvm's dirs stay the host's") {
  const std::string conf = PrivateLvmConf("/etc/lvm");
  CHECK(conf.find("use_aio = 0") != std::string::npos);
  CHECK(conf.find("profile_dir = \"/etc/lvm/profile\"") != std::string::npos);
  CHECK(conf.find("backup_dir = \"/etc/lvm/backup\"") != std::string::npos);
  CHECK(conf.find("archive_dir = \"/etc/lvm/archive\"") != std::string::npos);
  CHECK(conf.find("cache_dir = \"/etc/lvm/cache\"") != std::string::npos);
  CHECK(PrivateLvmConf("/x").find("\"/x/archive\"") != std::string::npos);
}

TEST_CASE_METHOD(LvmFixture, "lvcreate never activates, zeroes or wipes") {
  On("lvcreate", {});
  REQUIRE(lvm_.LvCreate(devs_, {.vg = "vg",
                                .name = "metadata",
                                .size = LvSize::Extents(1),
                                .tags = {"MD_1", "IU_x"},
                                .contiguous = Contiguous::kYes,
                                .pv = "/dev/loop0"})
              .ok());
  std::vector<std::string> argv = LastArgv();
  CHECK(Contains(argv, {"--activate", "n"}));
  CHECK(Contains(argv, {"--zero", "n"}));
  CHECK(Contains(argv, {"--wipesignatures", "n"}));
  CHECK(Contains(argv, {"--contiguous", "y"}));
  CHECK(Contains(argv, {"--extents", "1"}));
  CHECK(Contains(argv, {"--addtag", "MD_1", "--addtag", "IU_x"}));
  CHECK(Contains(argv, {"--name", "metadata", "vg", "/dev/loop0"}));
  CHECK(argv.back() == "/dev/loop0");
}

TEST_CASE_METHOD(LvmFixture, "pvcreate and vgcreate as oVirt") {
  On("pvcreate", {});
  On("vgcreate", {});
  REQUIRE(lvm_.PvCreate(devs_, {.devices = devs_, .force = Force::kYes}).ok());
  std::vector<std::string> pv = LastArgv();
  CHECK(Contains(pv, {"--metadatasize", "128m", "--metadatacopies", "2",
                      "--metadataignore", "y", "-y", "-ff", "/dev/loop0",
                      "/dev/loop1"}));
  REQUIRE(lvm_.VgCreate(devs_, {.name = "sd",
                                .pvs = devs_,
                                .tags = {"RHAT_storage_domain_UNREADY"}})
              .ok());
  std::vector<std::string> vg = LastArgv();
  CHECK(Contains(vg, {"--setautoactivation", "n", "--physicalextentsize",
                      "128m", "--addtag", "RHAT_storage_domain_UNREADY", "sd",
                      "/dev/loop0", "/dev/loop1"}));
}

TEST_CASE_METHOD(LvmFixture, "tag changes delete before adding") {
  On("lvchange", {});
  On("vgchange", {});
  REQUIRE(lvm_.LvChangeTags(devs_, "vg", "lv",
                            {.add = {"MD_4"}, .del = {"OVIRT_VOL_INITIALIZING"}})
              .ok());
  CHECK(Contains(LastArgv(), {"--deltag", "OVIRT_VOL_INITIALIZING",
                              "--addtag", "MD_4", "vg/lv"}));
  REQUIRE(lvm_.VgChangeTags(devs_, "vg", {.add = {"a"}, .del = {"b"}}).ok());
  CHECK(Contains(LastArgv(), {"--deltag", "b", "--addtag", "a", "vg"}));
  // Nothing to change runs nothing.
  size_t calls = runner_.Calls().size();
  REQUIRE(lvm_.LvChangeTags(devs_, "vg", "lv", {}).ok());
  CHECK(runner_.Calls().size() == calls);
}

TEST_CASE_METHOD(LvmFixture, "reports: JSON in bytes, locking mode") {
  On("lvs", {.stdout_data = std::string(testdata::kLvsJson)});
  Result<std::vector<Lv>> lvs = lvm_.Lvs(devs_, "h4test");
  REQUIRE(lvs.ok());
  CHECK(lvs->size() == 3);
  std::vector<std::string> argv = LastArgv();
  CHECK(Contains(argv, {"--reportformat", "json", "--units", "b",
                        "--nosuffix"}));
  CHECK(Contains(argv, {"--segments", "-o", std::string(kLvFields),
                        "h4test"}));
  CHECK(std::find(argv.begin(), argv.end(), "--readonly") == argv.end());

  Lvm readonly(runner_, {.report_locking = ReportLocking::kReadOnly});
  REQUIRE(readonly.Lvs(devs_, "h4test").ok());
  argv = LastArgv();
  CHECK(std::find(argv.begin(), argv.end(), "--readonly") != argv.end());
}

TEST_CASE_METHOD(LvmFixture, "GetLv and GetVg pick the named object") {
  On("lvs", {.stdout_data = std::string(testdata::kLvsJson)});
  On("vgs", {.stdout_data = std::string(testdata::kVgsJson)});
  Result<Lv> lv = lvm_.GetLv(devs_, "h4test", "vol2");
  REQUIRE(lv.ok());
  CHECK(lv->segments == std::vector<Segment>{{0, 1, "/dev/loop0", 4}});
  CHECK(LastArgv().back() == "h4test/vol2");
  Result<Vg> vg = lvm_.GetVg(devs_, "h4test");
  REQUIRE(vg.ok());
  CHECK(vg->pv_count == 2);
}

TEST_CASE("invalid names and device paths are refused before running lvm") {
  FakeProcessRunner runner;
  Lvm lvm(runner, {});
  CHECK(lvm.LvExtend({"/dev/a"}, "-vg", "lv", LvSize::MiB(1)).code() ==
        Code::kInvalidArgument);
  CHECK(lvm.LvRemove({"/dev/a"}, "vg", {""}).code() == Code::kInvalidArgument);
  CHECK(lvm.LvExtend({"/dev/a\"|x"}, "vg", "lv", LvSize::MiB(1)).code() ==
        Code::kInvalidArgument);
  CHECK(lvm.LvExtend({"relative"}, "vg", "lv", LvSize::MiB(1)).code() ==
        Code::kInvalidArgument);
  CHECK(runner.Calls().empty());
}

// --- Error mapping from recorded stderr --------------------------------------

struct ErrorCase {
  std::string_view command;
  std::string_view stderr_data;
  int exit_code;
  Code code;
  int storage_code;
};

TEST_CASE("lvm failures map to specific codes with stderr attached") {
  const ErrorCase cases[] = {
      {"lvcreate", testdata::kStderrLvExists, 5, Code::kAlreadyExists, 604},
      {"lvextend", testdata::kStderrExtendVgFull, 5, Code::kResourceExhausted,
       504},
      {"lvcreate", testdata::kStderrCreateVgFull, 5, Code::kResourceExhausted,
       504},
      {"lvextend", testdata::kStderrLvNotFoundExtend, 5, Code::kNotFound, 610},
      {"lvremove", testdata::kStderrLvNotFound, 5, Code::kNotFound, 610},
      {"lvs", testdata::kStderrVgNotFound, 5, Code::kNotFound, 506},
      {"vgcreate", testdata::kStderrVgExists, 5, Code::kAlreadyExists, 505},
      {"vgcreate", testdata::kStderrNoDevice, 5, Code::kNotFound, 619},
      {"pvcreate", testdata::kStderrDeviceFiltered, 5, Code::kNotFound, 619},
      {"pvcreate", testdata::kStderrPvInUse, 5, Code::kFailedPrecondition, 601},
      {"lvextend", testdata::kStderrNotLarger, 5, Code::kFailedPrecondition,
       554},
      {"lvextend", testdata::kStderrSameSize, 5, Code::kFailedPrecondition,
       554},
      {"vgchange", testdata::kStderrMetadataFull, 5, Code::kResourceExhausted,
       613},
      {"lvchange", testdata::kStderrBadTag, 3, Code::kInvalidArgument, 572},
      {"lvextend", "  Something new went wrong\n", 5, Code::kUnknown, 554},
  };
  const int command_codes[] = {550, 554, 550, 554, 551, 605, 502, 502,
                               601, 601, 554, 554, 516, 572, 554};
  int i = 0;
  for (const ErrorCase& c : cases) {
    CAPTURE(c.stderr_data);
    ProcessResult result;
    result.exit_code = c.exit_code;
    result.stderr_data = std::string(c.stderr_data);
    Status s = LvmFailure(result, c.command, command_codes[i++]);
    CHECK(s.code() == c.code);
    CHECK(s.storage_code() == c.storage_code);
    bool has_stderr = false;
    for (const StatusDetail& d : s.details()) {
      if (d.key == "stderr") {
        has_stderr = true;
        // The activation warning is noise and is dropped.
        CHECK(d.value.find("Activation disabled") == std::string::npos);
        CHECK_FALSE(d.value.empty());
      }
    }
    CHECK(has_stderr);
  }
}

TEST_CASE("unknown failures keep the exit code; timeouts are deadlines") {
  ProcessResult result;
  result.exit_code = 7;
  result.stderr_data = "  boom\n";
  Status s = LvmFailure(result, "lvextend", 554);
  CHECK(s.code() == Code::kUnknown);
  CHECK(std::string(s.message()).find("exit code 7") != std::string::npos);

  ProcessResult timed_out;
  timed_out.timed_out = true;
  timed_out.term_signal = 15;
  Status t = LvmFailure(timed_out, "lvs", 605);
  CHECK(t.code() == Code::kDeadlineExceeded);
  CHECK(t.storage_code() == 605);

  ProcessResult ok;
  ok.exit_code = 0;
  CHECK(LvmFailure(ok, "lvs", 605).ok());
}

TEST_CASE_METHOD(LvmFixture, "a failing command returns its mapped status") {
  On("lvextend", {.exit_code = 5,
                  .stderr_data = std::string(testdata::kStderrExtendVgFull)});
  Status s = lvm_.LvExtend(devs_, "h4test", "vol2", LvSize::MiB(102400));
  CHECK(s.code() == Code::kResourceExhausted);
  CHECK(s.storage_code() == lvm_code::kVolumeGroupSizeError);
}

TEST_CASE_METHOD(LvmFixture, "lvm that cannot start is the runner's error") {
  On("lvs", {.start_error = NotFoundError("no lvm")});
  CHECK(lvm_.Lvs(devs_, "vg").status().code() == Code::kNotFound);
}

// --- LinearTable ---------------------------------------------------------------

TEST_CASE("linear table from recorded segments and PVs") {
  std::vector<Lv> lvs = ParseLvsReport(testdata::kLvsJson).value();
  std::vector<Pv> pvs = ParsePvsReport(testdata::kPvsJson).value();
  Result<std::vector<LinearTarget>> table = LinearTable(lvs[1], pvs);
  REQUIRE(table.ok());
  constexpr uint64_t kSpe = kExtentSizeBytes / 512;  // Sectors per extent.
  constexpr uint64_t kPeStart = 129 * kMiB / 512;
  CHECK(*table == std::vector<LinearTarget>{
                      {0, 3 * kSpe, "/dev/loop0", kPeStart + 1 * kSpe},
                      {3 * kSpe, 8 * kSpe, "/dev/loop0", kPeStart + 5 * kSpe},
                      {11 * kSpe, 5 * kSpe, "/dev/loop1", kPeStart}});
}

TEST_CASE("linear table refuses gaps and unknown PVs") {
  std::vector<Lv> lvs = ParseLvsReport(testdata::kLvsJson).value();
  std::vector<Pv> pvs = ParsePvsReport(testdata::kPvsJson).value();
  Lv gap = lvs[1];
  gap.segments.erase(gap.segments.begin() + 1);
  CHECK(LinearTable(gap, pvs).status().code() == Code::kDataLoss);
  Lv short_lv = lvs[1];
  short_lv.segments.pop_back();
  CHECK(LinearTable(short_lv, pvs).status().code() == Code::kDataLoss);
  std::vector<Pv> only_first(pvs.begin(), pvs.begin() + 1);
  CHECK(LinearTable(lvs[1], only_first).status().code() == Code::kNotFound);
}

}  // namespace
}  // namespace sanpool::lvm
