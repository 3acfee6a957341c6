// UserDeviceMapper: the DeviceMapper backend that asks the per-host
// sanpool-dmemu daemon (tools/dmemu) to map devices, for machines without the
// kernel's device-mapper driver. The daemon owns the mappings: they outlive
// this client (an agent restart finds them through List()/Info()).
//
// Each call opens a connection to the daemon's control socket, sends one
// request line and reads one answer line (domains/dm/dmemu_protocol.h), so a
// daemon restart between calls is harmless.
//
// Errors: those of DeviceMapper, plus kUnavailable "sanpool-dmemu not
// reachable" when the socket cannot be connected, and kDeadlineExceeded when
// the daemon does not answer within the timeout. The daemon's own errors come
// back with their codes (message prefixed "dmemu: ").
//
// Thread-safety: safe from many threads (no shared mutable state).
// Blocking: each call waits for the daemon (at most options.timeout).
#ifndef SANPOOL_DOMAINS_DM_USER_DM_H_
#define SANPOOL_DOMAINS_DM_USER_DM_H_

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "domains/dm/device_mapper.h"
#include "domains/dm/dmemu_protocol.h"

namespace sanpool::dm {

struct UserDmOptions {
  std::string socket_path;  // sanpool-dmemu --socket.
  std::string run_dir;      // sanpool-dmemu --run-dir (device symlinks).
  std::chrono::milliseconds timeout{30000};
};

class UserDeviceMapper : public DeviceMapper {
 public:
  explicit UserDeviceMapper(UserDmOptions options);

  Status Create(std::string_view name, std::string_view uuid,
                const Table& table) override;
  Status Reload(std::string_view name, const Table& table) override;
  Status Remove(std::string_view name, RemoveMode mode) override;
  Result<DeviceInfo> Info(std::string_view name) override;
  Result<std::vector<std::string>> List() override;
  // "<run_dir>/dev/<name>", a symlink to the device's loop device.
  std::string DevicePath(std::string_view name) const override;

  // Fault injection (tests, the rig): replaces the device's faults.
  Status SetFaults(std::string_view name, const FaultSpec& faults);
  Status ClearFaults(std::string_view name);

  // The loop device behind `name` ("/dev/loop7"); kNotFound if not mapped.
  Result<std::string> LoopDevice(std::string_view name);

 private:
  // Sends one request and returns the daemon's answer (OK status only).
  Result<DmemuResponse> Call(const DmemuRequest& request);

  const UserDmOptions options_;
};

}  // namespace sanpool::dm

#endif  // SANPOOL_DOMAINS_DM_USER_DM_H_
