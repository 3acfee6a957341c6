#include "spm/master_fs.h"

#include <filesystem>
#include <system_error>

#include "base/log.h"
#include "domains/block/master_lv.h"

namespace sanpool::spm {
namespace {

constexpr std::string_view kLog = "master-fs";
constexpr size_t kMaxMountInfo = 4 << 20;

// oVirt's createMasterTree: master/vms and master/tasks (0755).
Status MakeMasterTree(Env& env, const std::string& master_dir) {
  RETURN_IF_ERROR(env.CreateDirs(master_dir + "/vms", 0755));
  RETURN_IF_ERROR(env.CreateDirs(master_dir + "/tasks", 0755));
  return env.SyncDir(master_dir);
}

// `path` with its symlinks resolved, or `path` itself when it cannot be.
std::string Resolved(const std::string& path) {
  std::error_code ec;
  std::filesystem::path real = std::filesystem::canonical(path, ec);
  return ec ? path : real.string();
}

Result<std::vector<MountEntry>> ReadMounts(Env& env, const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, env.ReadFile(path, kMaxMountInfo));
  return ParseMountInfo(text);
}

}  // namespace

Status FileMasterFs::Prepare() { return MakeMasterTree(env_, master_dir_); }

Result<std::optional<MountEntry>> BlockMasterFs::Mounted() {
  ASSIGN_OR_RETURN(std::vector<MountEntry> mounts,
                   ReadMounts(env_, options_.mountinfo_path));
  return FindMount(mounts, options_.mount_dir);
}

Status BlockMasterFs::RunTool(std::vector<std::string> argv,
                              std::string_view what) {
  ProcessSpec spec{.argv = std::move(argv), .timeout = options_.tool_timeout};
  ASSIGN_OR_RETURN(ProcessResult result, runner_.Run(spec));
  return CheckExit(result, what);
}

Status BlockMasterFs::Prepare() {
  const std::string& dir = options_.mount_dir;
  ASSIGN_OR_RETURN(std::optional<MountEntry> mounted, Mounted());
  if (mounted) {
    if (mounted->source != options_.device &&
        mounted->source != Resolved(options_.device)) {
      return FailedPreconditionError("master mount point " + dir +
                                     " holds " + mounted->source +
                                     ", not " + options_.device);
    }
    log::Info(kLog, "master already mounted", {{"dir", dir}});
    return MakeMasterTree(env_, dir);
  }
  RETURN_IF_ERROR(block::CheckMasterFileSystem(runner_, options_.device));
  RETURN_IF_ERROR(env_.CreateDirs(dir, 0755));
  RETURN_IF_ERROR(RunTool({"mount", "-t", "ext3", options_.device, dir},
                          "mount of the master file system"));
  if (Status s = MakeMasterTree(env_, dir); !s.ok()) {
    if (Status u = Release(); !u.ok()) {
      log::Error(kLog, "cannot unmount master after a failed prepare",
                 {{"dir", dir}, {"error", u.ToString()}});
    }
    return s;
  }
  log::Info(kLog, "master mounted",
            {{"device", options_.device}, {"dir", dir}});
  return Status::Ok();
}

Status BlockMasterFs::Release() {
  const std::string& dir = options_.mount_dir;
  ASSIGN_OR_RETURN(std::optional<MountEntry> mounted, Mounted());
  if (!mounted) return Status::Ok();
  Status s = RunTool({"umount", dir}, "umount of the master file system");
  if (s.ok()) {
    log::Info(kLog, "master unmounted", {{"dir", dir}});
    return Status::Ok();
  }
  log::Error(kLog, "cannot unmount master; detaching it lazily",
             {{"dir", dir}, {"error", s.ToString()}});
  Status lazy = RunTool({"umount", "-l", dir},
                        "lazy umount of the master file system");
  if (!lazy.ok()) {
    return lazy.Annotate("after " + std::string(s.message()));
  }
  return Status::Ok();
}

Result<std::vector<std::string>> CleanupMasterMounts(
    Env& env, ProcessRunner& runner, const std::string& root,
    const std::string& mountinfo_path) {
  ASSIGN_OR_RETURN(std::vector<MountEntry> mounts,
                   ReadMounts(env, mountinfo_path));
  std::vector<std::string> detached;
  const std::string prefix = root + "/";
  // Last first: mounts on top of others go before them.
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
    if (it->fs_type != "ext3" && it->fs_type != "ext4") continue;
    if (it->mount_point.compare(0, prefix.size(), prefix) != 0) continue;
    ProcessSpec spec{.argv = {"umount", "-l", it->mount_point},
                     .timeout = std::chrono::seconds(60)};
    Result<ProcessResult> r = runner.Run(spec);
    Status s = r.ok() ? CheckExit(*r, "umount -l") : r.status();
    if (!s.ok()) {
      log::Error(kLog, "cannot detach a stale master mount",
                 {{"dir", it->mount_point}, {"error", s.ToString()}});
      continue;
    }
    log::Warning(kLog, "stale master mount detached",
                 {{"dir", it->mount_point}, {"source", it->source}});
    detached.push_back(it->mount_point);
  }
  return detached;
}

}  // namespace sanpool::spm
