#include "domains/block/loop_fixture.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <system_error>
#include <utility>

namespace sanpool::block {

Result<ProcessResult> RunTool(ProcessRunner& runner,
                              std::vector<std::string> argv,
                              std::chrono::seconds timeout) {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.timeout = timeout;
  return runner.Run(spec);
}

LoopDevices::~LoopDevices() {
  if (!vg_.empty() && !loops_.empty()) {
    lvm::Lvm lvm(runner_, {});
    (void)lvm.VgRemove(loops_, vg_);  // fails harmlessly if never made
  }
  for (const std::string& dev : loops_) {
    Result<ProcessResult> r = RunTool(runner_, {"losetup", "-d", dev});
    if (!r.ok() || !r->Succeeded()) WARN("could not detach " << dev);
  }
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

void LoopDevices::Create(const std::string& prefix, int count,
                         uint64_t bytes) {
  REQUIRE(dir_.empty());
  std::string tmpl = "/var/tmp/" + prefix + "-XXXXXX";
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  dir_ = tmpl;
  for (int i = 0; i < count; ++i) {
    std::string file = dir_ + "/lun" + std::to_string(i);
    int fd = ::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    int truncated = ::ftruncate(fd, static_cast<off_t>(bytes));
    ::close(fd);
    REQUIRE(truncated == 0);
    Result<ProcessResult> r =
        RunTool(runner_, {"losetup", "--find", "--show", file});
    REQUIRE(r.ok());
    INFO(r->stderr_data);
    REQUIRE(r->Succeeded());
    std::string dev = r->stdout_data;
    while (!dev.empty() && dev.back() == '\n') dev.pop_back();
    REQUIRE(dev.rfind("/dev/loop", 0) == 0);
    loops_.push_back(dev);
  }
}

}  // namespace sanpool::block
