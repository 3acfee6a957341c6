#include "domains/dm/kernel_dm.h"

#include <libdevmapper.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <memory>
#include <mutex>

#include "base/log.h"
#include "domains/dm/dm_names.h"

namespace sanpool::dm {
namespace {

// libdevmapper's printf-style log hook, routed to our log.
void LogFromLibdevmapper(int level, const char* /*file*/, int /*line*/,
                         int /*dm_errno_or_class*/, const char* format, ...) {
  char text[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof(text), format, args);
  va_end(args);
  // libdevmapper levels: 3 error, 4 warning, 5 notice, 6 info, 7 debug.
  int base_level = level & 0xff & ~0x80;
  if (base_level <= 3) {
    log::Warning("dm", text);
  } else {
    log::Debug("dm", text);
  }
}

void InitLibdevmapperOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    dm_log_with_errno_init(LogFromLibdevmapper);
    dm_udev_set_sync_support(0);
  });
}

using TaskPtr = std::unique_ptr<dm_task, decltype(&dm_task_destroy)>;

Result<TaskPtr> NewTask(int type, std::string_view name) {
  TaskPtr task(dm_task_create(type), &dm_task_destroy);
  if (!task) return ResourceExhaustedError("dm_task_create failed");
  if (!name.empty() && !dm_task_set_name(task.get(), std::string(name).c_str())) {
    return InvalidArgumentError("dm_task_set_name failed");
  }
  return task;
}

Status AddTargets(dm_task* task, const Table& table) {
  for (const LinearSegment& s : table) {
    if (!dm_task_add_target(task, s.start_sector, s.length_sectors, "linear",
                            LinearParams(s).c_str())) {
      return ResourceExhaustedError("dm_task_add_target failed");
    }
  }
  return Status::Ok();
}

// Runs the task; a failure becomes a Status from the ioctl's errno (ENXIO:
// no such device -> kNotFound).
Status RunTask(dm_task* task, std::string_view what, std::string_view name) {
  if (dm_task_run(task)) return Status::Ok();
  int err = dm_task_get_errno(task);
  std::string context = std::string(what) + " " + std::string(name);
  if (err == ENXIO || err == ENODEV) {
    return NotFoundError(context + ": no such device");
  }
  return ErrnoToStatus(err != 0 ? err : EIO, context);
}

Status ValidateCall(std::string_view name, const Table* table) {
  RETURN_IF_ERROR(ValidateDeviceName(name));
  if (table != nullptr) RETURN_IF_ERROR(ValidateTable(*table));
  return Status::Ok();
}

}  // namespace

KernelDeviceMapper::KernelDeviceMapper(KernelDmOptions options)
    : options_(std::move(options)) {}

Status KernelDeviceMapper::CheckDriver() const {
  struct stat st;
  if (::stat(options_.control_path.c_str(), &st) != 0 ||
      !S_ISCHR(st.st_mode)) {
    return UnavailableError("device-mapper driver not available")
        .WithDetail("path", options_.control_path);
  }
  InitLibdevmapperOnce();
  return Status::Ok();
}

Status KernelDeviceMapper::Create(std::string_view name, std::string_view uuid,
                                  const Table& table) {
  RETURN_IF_ERROR(ValidateCall(name, &table));
  RETURN_IF_ERROR(ValidateDeviceUuid(uuid));
  RETURN_IF_ERROR(CheckDriver());
  ASSIGN_OR_RETURN(TaskPtr task, NewTask(DM_DEVICE_CREATE, name));
  if (!uuid.empty() &&
      !dm_task_set_uuid(task.get(), std::string(uuid).c_str())) {
    return InvalidArgumentError("dm_task_set_uuid failed");
  }
  RETURN_IF_ERROR(AddTargets(task.get(), table));
  return RunTask(task.get(), "create", name);
}

Status KernelDeviceMapper::Reload(std::string_view name, const Table& table) {
  RETURN_IF_ERROR(ValidateCall(name, &table));
  RETURN_IF_ERROR(CheckDriver());
  ASSIGN_OR_RETURN(TaskPtr load, NewTask(DM_DEVICE_RELOAD, name));
  RETURN_IF_ERROR(AddTargets(load.get(), table));
  RETURN_IF_ERROR(RunTask(load.get(), "reload", name));
  ASSIGN_OR_RETURN(TaskPtr resume, NewTask(DM_DEVICE_RESUME, name));
  return RunTask(resume.get(), "resume", name);
}

Status KernelDeviceMapper::Remove(std::string_view name, RemoveMode mode) {
  RETURN_IF_ERROR(ValidateCall(name, nullptr));
  RETURN_IF_ERROR(CheckDriver());
  ASSIGN_OR_RETURN(DeviceInfo info, Info(name));
  if (!info.exists) {
    return NotFoundError("remove " + std::string(name) + ": no such device");
  }
  if (info.open_count > 0 && mode == RemoveMode::kNormal) {
    return FailedPreconditionError("remove " + std::string(name) +
                                   ": device is open")
        .WithDetail("open_count", std::to_string(info.open_count));
  }
  if (mode == RemoveMode::kForce && info.open_count > 0) {
    // Openers get EIO from now on instead of the old data.
    ASSIGN_OR_RETURN(TaskPtr load, NewTask(DM_DEVICE_RELOAD, name));
    if (!dm_task_add_target(load.get(), 0, info.size_bytes / kSectorSize,
                            "error", "")) {
      return ResourceExhaustedError("dm_task_add_target failed");
    }
    RETURN_IF_ERROR(RunTask(load.get(), "load error table", name));
    ASSIGN_OR_RETURN(TaskPtr resume, NewTask(DM_DEVICE_RESUME, name));
    RETURN_IF_ERROR(RunTask(resume.get(), "resume", name));
  }
  ASSIGN_OR_RETURN(TaskPtr remove, NewTask(DM_DEVICE_REMOVE, name));
  dm_task_retry_remove(remove.get());
  if (mode == RemoveMode::kForce && info.open_count > 0) {
    // Removed when the last opener closes it.
    dm_task_deferred_remove(remove.get());
  }
  return RunTask(remove.get(), "remove", name);
}

Result<DeviceInfo> KernelDeviceMapper::Info(std::string_view name) {
  RETURN_IF_ERROR(ValidateCall(name, nullptr));
  RETURN_IF_ERROR(CheckDriver());
  // DM_DEVICE_TABLE reports both the dm_info and the live table.
  ASSIGN_OR_RETURN(TaskPtr task, NewTask(DM_DEVICE_TABLE, name));
  Status run = RunTask(task.get(), "info", name);
  if (run.code() == Code::kNotFound) return DeviceInfo{};
  RETURN_IF_ERROR(run);
  struct dm_info dmi;
  if (!dm_task_get_info(task.get(), &dmi)) {
    return InternalError("dm_task_get_info failed");
  }
  DeviceInfo info;
  if (!dmi.exists) return info;
  info.exists = true;
  info.open_count = dmi.open_count;
  info.read_only = dmi.read_only != 0;
  void* next = nullptr;
  do {
    uint64_t start = 0;
    uint64_t length = 0;
    char* type = nullptr;
    char* params = nullptr;
    next = dm_get_next_target(task.get(), next, &start, &length, &type,
                              &params);
    if (type != nullptr) {
      info.size_bytes = std::max(info.size_bytes, (start + length) * kSectorSize);
    }
  } while (next != nullptr);
  return info;
}

Result<std::vector<std::string>> KernelDeviceMapper::List() {
  RETURN_IF_ERROR(CheckDriver());
  ASSIGN_OR_RETURN(TaskPtr task, NewTask(DM_DEVICE_LIST, ""));
  RETURN_IF_ERROR(RunTask(task.get(), "list", ""));
  std::vector<std::string> names;
  struct dm_names* entry = dm_task_get_names(task.get());
  if (entry != nullptr && entry->dev != 0) {
    for (;;) {
      names.emplace_back(entry->name);
      if (entry->next == 0) break;
      entry = reinterpret_cast<struct dm_names*>(
          reinterpret_cast<char*>(entry) + entry->next);
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string KernelDeviceMapper::DevicePath(std::string_view name) const {
  return options_.dev_dir + "/" + std::string(name);
}

}  // namespace sanpool::dm
