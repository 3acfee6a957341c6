#include "tools/dmemu/emulator.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/log.h"

namespace sanpool::dmemu {

Emulator::Emulator(EmulatorOptions options, LoopManager& loops)
    : options_(std::move(options)), loops_(loops) {}

Emulator::~Emulator() { Shutdown(); }

std::string Emulator::FilePath(std::string_view name) const {
  return options_.mount_dir + "/" + std::string(name);
}

std::string Emulator::LinkPath(std::string_view name) const {
  return options_.run_dir + "/dev/" + std::string(name);
}

Status Emulator::Link(std::string_view name, const std::string& target) const {
  const std::string dir = options_.run_dir + "/dev";
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoToStatus(errno, "mkdir " + dir);
  }
  const std::string link = LinkPath(name);
  const std::string tmp = link + ".tmp";
  ::unlink(tmp.c_str());
  if (::symlink(target.c_str(), tmp.c_str()) != 0) {
    return ErrnoToStatus(errno, "symlink " + tmp);
  }
  if (::rename(tmp.c_str(), link.c_str()) != 0) {
    Status status = ErrnoToStatus(errno, "rename " + tmp);
    ::unlink(tmp.c_str());
    return status;
  }
  return Status::Ok();
}

std::shared_ptr<MappedDevice> Emulator::Find(std::string_view name) const {
  MutexLock lock(mu_);
  auto it = devices_.find(name);
  return it == devices_.end() ? nullptr : it->second;
}

std::vector<std::string> Emulator::Names() const {
  MutexLock lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, device] : devices_) names.push_back(name);
  return names;
}

dm::DmemuResponse Emulator::Handle(const dm::DmemuRequest& request) {
  MutexLock control(control_mu_);
  dm::DmemuResponse response;
  if (request.op != dm::DmemuOp::kList) {
    response.status = dm::ValidateDeviceName(request.name);
    if (!response.status.ok()) return response;
  }
  switch (request.op) {
    case dm::DmemuOp::kCreate:
      response.status = Create(request);
      break;
    case dm::DmemuOp::kReload:
      response.status = Reload(request);
      break;
    case dm::DmemuOp::kRemove:
      response.status = Remove(request.name, request.remove_mode);
      break;
    case dm::DmemuOp::kInfo: {
      Result<dm::DmemuResponse> info = Info(request.name);
      if (info.ok()) return *std::move(info);
      response.status = info.status();
      break;
    }
    case dm::DmemuOp::kList:
      response.names = Names();
      break;
    case dm::DmemuOp::kFault:
      response.status = SetFaults(request.name, request.faults);
      break;
    case dm::DmemuOp::kClear:
      response.status = SetFaults(request.name, dm::FaultSpec{});
      break;
  }
  return response;
}

Status Emulator::Create(const dm::DmemuRequest& request) {
  RETURN_IF_ERROR(dm::ValidateDeviceUuid(request.uuid));
  RETURN_IF_ERROR(dm::ValidateTable(request.table));
  {
    MutexLock lock(mu_);
    if (devices_.count(request.name) != 0) {
      return AlreadyExistsError("device " + request.name + " exists");
    }
    for (const auto& [name, device] : devices_) {
      if (!request.uuid.empty() && device->uuid() == request.uuid) {
        return AlreadyExistsError("uuid " + request.uuid + " is used by " +
                                  name);
      }
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<SegmentIo> io,
                   SegmentIo::Open(request.table, options_.io_mode));
  auto device = std::make_shared<MappedDevice>(request.name, request.uuid,
                                               std::move(io));
  {
    MutexLock lock(mu_);
    devices_[request.name] = device;
  }
  Result<LoopHandle> loop = loops_.Attach(FilePath(request.name));
  Status linked = loop.ok() ? Link(request.name, loop->path) : loop.status();
  if (!linked.ok()) {
    if (loop.ok()) (void)loops_.Detach(*loop);
    device->Retire();
    MutexLock lock(mu_);
    devices_.erase(request.name);
    return linked;
  }
  log::Info("dmemu", "created",
            {{"name", request.name}, {"loop", loop->path},
             {"size", device->SizeBytes()}});
  loop_handles_[request.name] = *std::move(loop);
  return Status::Ok();
}

Status Emulator::Reload(const dm::DmemuRequest& request) {
  RETURN_IF_ERROR(dm::ValidateTable(request.table));
  std::shared_ptr<MappedDevice> device = Find(request.name);
  auto loop = loop_handles_.find(request.name);
  if (!device || loop == loop_handles_.end()) {
    return NotFoundError("no device " + request.name);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<SegmentIo> io,
                   SegmentIo::Open(request.table, options_.io_mode));
  device->SwapIo(std::move(io));
  RETURN_IF_ERROR(loops_.Refresh(loop->second, FilePath(request.name)));
  log::Info("dmemu", "reloaded",
            {{"name", request.name}, {"size", device->SizeBytes()}});
  return Status::Ok();
}

Status Emulator::Remove(std::string_view name, dm::RemoveMode mode) {
  std::shared_ptr<MappedDevice> device = Find(name);
  auto loop = loop_handles_.find(name);
  if (!device || loop == loop_handles_.end()) {
    return NotFoundError("no device " + std::string(name));
  }
  if (mode == dm::RemoveMode::kNormal) {
    if (device->Faults().hang) {
      // The flush below would hang with the device (and this lock).
      return FailedPreconditionError("device " + std::string(name) +
                                     " is hung: clear its faults or force");
    }
    ASSIGN_OR_RETURN(int open_count, loops_.OpenCount(loop->second));
    if (open_count > 0) {
      return FailedPreconditionError("device " + std::string(name) +
                                     " is open (" +
                                     std::to_string(open_count) + " openers)");
    }
    // Dirty pages of the loop device reach the PVs before I/O is cut off.
    RETURN_IF_ERROR(loops_.Flush(loop->second));
  } else if (!device->Faults().hang) {
    Status flushed = loops_.Flush(loop->second);
    if (!flushed.ok()) {
      log::Warning("dmemu", "flush before forced remove failed",
                   {{"name", name}, {"error", flushed.ToString()}});
    }
  }
  device->Retire();
  Status detached = loops_.Detach(loop->second);
  if (!detached.ok()) {
    log::Warning("dmemu", "detach failed",
                 {{"name", name}, {"error", detached.ToString()}});
  }
  ::unlink(LinkPath(name).c_str());
  loop_handles_.erase(loop);
  {
    MutexLock lock(mu_);
    devices_.erase(devices_.find(name));
  }
  log::Info("dmemu", "removed", {{"name", name}});
  return Status::Ok();
}

Result<dm::DmemuResponse> Emulator::Info(std::string_view name) {
  dm::DmemuResponse response;
  std::shared_ptr<MappedDevice> device = Find(name);
  auto loop = loop_handles_.find(name);
  if (!device || loop == loop_handles_.end()) return response;
  ASSIGN_OR_RETURN(int open_count, loops_.OpenCount(loop->second));
  response.info = {.exists = true,
                   .size_bytes = device->SizeBytes(),
                   .open_count = open_count,
                   .read_only = false};
  response.device = loop->second.path;
  return response;
}

Status Emulator::SetFaults(std::string_view name,
                           const dm::FaultSpec& faults) {
  std::shared_ptr<MappedDevice> device = Find(name);
  if (!device) return NotFoundError("no device " + std::string(name));
  device->SetFaults(faults);
  log::Info("dmemu", "faults",
            {{"name", name}, {"read_delay_ms", faults.read_delay_ms},
             {"write_delay_ms", faults.write_delay_ms},
             {"read_error", faults.read_error},
             {"write_error", faults.write_error}, {"hang", faults.hang}});
  return Status::Ok();
}

void Emulator::Shutdown() {
  MutexLock control(control_mu_);
  // Hung requests would keep the loop devices from detaching.
  for (const std::string& name : Names()) {
    if (auto device = Find(name)) device->SetFaults(dm::FaultSpec{});
  }
  for (const std::string& name : Names()) {
    Status status = Remove(name, dm::RemoveMode::kForce);
    if (!status.ok()) {
      log::Warning("dmemu", "remove at shutdown failed",
                   {{"name", name}, {"error", status.ToString()}});
    }
  }
}

}  // namespace sanpool::dmemu
