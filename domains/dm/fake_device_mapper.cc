#include "domains/dm/fake_device_mapper.h"

namespace sanpool::dm {

Status FakeDeviceMapper::Enter(std::string_view what, std::string_view name) {
  calls_.push_back(std::string(what) +
                   (name.empty() ? "" : " " + std::string(name)));
  if (!fail_next_) return Status::Ok();
  Status status = *fail_next_;
  fail_next_.reset();
  return status;
}

Status FakeDeviceMapper::Create(std::string_view name, std::string_view uuid,
                                const Table& table) {
  MutexLock lock(mu_);
  RETURN_IF_ERROR(Enter("create", name));
  RETURN_IF_ERROR(ValidateDeviceName(name));
  RETURN_IF_ERROR(ValidateDeviceUuid(uuid));
  RETURN_IF_ERROR(ValidateTable(table));
  if (devices_.count(name) != 0) {
    return AlreadyExistsError("device " + std::string(name) + " exists");
  }
  for (const auto& [other, device] : devices_) {
    if (!uuid.empty() && device.uuid == uuid) {
      return AlreadyExistsError("uuid in use by " + other);
    }
  }
  devices_.emplace(std::string(name), Device{std::string(uuid), table, 0});
  return Status::Ok();
}

Status FakeDeviceMapper::Reload(std::string_view name, const Table& table) {
  MutexLock lock(mu_);
  RETURN_IF_ERROR(Enter("reload", name));
  RETURN_IF_ERROR(ValidateDeviceName(name));
  RETURN_IF_ERROR(ValidateTable(table));
  auto it = devices_.find(name);
  if (it == devices_.end()) {
    return NotFoundError("no device " + std::string(name));
  }
  it->second.table = table;
  return Status::Ok();
}

Status FakeDeviceMapper::Remove(std::string_view name, RemoveMode mode) {
  MutexLock lock(mu_);
  RETURN_IF_ERROR(Enter("remove", name));
  RETURN_IF_ERROR(ValidateDeviceName(name));
  auto it = devices_.find(name);
  if (it == devices_.end()) {
    return NotFoundError("no device " + std::string(name));
  }
  if (it->second.open_count > 0 && mode == RemoveMode::kNormal) {
    return FailedPreconditionError("device " + std::string(name) + " is open");
  }
  devices_.erase(it);
  return Status::Ok();
}

Result<DeviceInfo> FakeDeviceMapper::Info(std::string_view name) {
  MutexLock lock(mu_);
  RETURN_IF_ERROR(Enter("info", name));
  RETURN_IF_ERROR(ValidateDeviceName(name));
  auto it = devices_.find(name);
  if (it == devices_.end()) return DeviceInfo{};
  return DeviceInfo{.exists = true,
                    .size_bytes = TableSizeSectors(it->second.table) *
                                  kSectorSize,
                    .open_count = it->second.open_count,
                    .read_only = false};
}

Result<std::vector<std::string>> FakeDeviceMapper::List() {
  MutexLock lock(mu_);
  RETURN_IF_ERROR(Enter("list", ""));
  std::vector<std::string> names;
  for (const auto& [name, device] : devices_) names.push_back(name);
  return names;
}

std::string FakeDeviceMapper::DevicePath(std::string_view name) const {
  return "/dev/fake-dm/" + std::string(name);
}

void FakeDeviceMapper::FailNext(Status status) {
  MutexLock lock(mu_);
  fail_next_ = std::move(status);
}

void FakeDeviceMapper::SetOpenCount(std::string_view name, int count) {
  MutexLock lock(mu_);
  auto it = devices_.find(name);
  if (it != devices_.end()) it->second.open_count = count;
}

std::optional<Table> FakeDeviceMapper::TableOf(std::string_view name) const {
  MutexLock lock(mu_);
  auto it = devices_.find(name);
  if (it == devices_.end()) return std::nullopt;
  return it->second.table;
}

std::vector<std::string> FakeDeviceMapper::Calls() const {
  MutexLock lock(mu_);
  return calls_;
}

}  // namespace sanpool::dm
