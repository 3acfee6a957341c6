#include "domains/block/master_lv.h"

#include <algorithm>

#include "base/log.h"

namespace sanpool::block {
namespace {

std::string Tail(const std::string& text) {
  constexpr size_t kMax = 1024;
  return text.size() > kMax ? text.substr(text.size() - kMax) : text;
}

}  // namespace

Status MakeMasterFileSystem(ProcessRunner& runner, const std::string& device) {
  // oVirt: mkfs -q -j -E nodiscard (no discard: the LV may share thin or
  // slow storage); -F: no question when the LV holds an old signature.
  ProcessSpec spec{.argv = {kMkfsExt3, "-q", "-j", "-E", "nodiscard", "-F",
                            device},
                   .timeout = kMasterFsToolTimeout};
  ASSIGN_OR_RETURN(ProcessResult result, runner.Run(spec));
  RETURN_IF_ERROR(CheckExit(result, "mkfs.ext3 of the master LV")
                      .WithDetail("device", device));
  log::Info("block-domain", "master file system made", {{"device", device}});
  return Status::Ok();
}

Status CheckMasterFileSystem(ProcessRunner& runner,
                             const std::string& device) {
  ProcessSpec spec{.argv = {kFsckExt3, "-p", device},
                   .timeout = kMasterFsToolTimeout};
  ASSIGN_OR_RETURN(ProcessResult result, runner.Run(spec));
  if (result.term_signal != 0 || result.timed_out || result.cancelled ||
      result.exit_code < 0) {
    return CheckExit(result, "fsck.ext3 of the master LV")
        .WithDetail("device", device);
  }
  if (result.exit_code >= 4) {
    return Status(Code::kDataLoss,
                  "fsck.ext3 found errors it could not correct on " + device +
                      " (exit code " + std::to_string(result.exit_code) + ")")
        .WithDetail("exit_code", std::to_string(result.exit_code))
        .WithDetail("stderr", Tail(result.stderr_data));
  }
  if (result.exit_code != 0) {
    log::Warning("block-domain", "fsck corrected master file system errors",
                 {{"device", device}, {"exit_code", result.exit_code}});
  }
  return Status::Ok();
}

}  // namespace sanpool::block
