// KernelDeviceMapper: the DeviceMapper backend on the kernel's device-mapper
// driver, through libdevmapper's task API (the ioctls `dmsetup` uses).
//
// Create  = DM_DEVICE_CREATE with the table (libdevmapper loads and resumes).
// Reload  = DM_DEVICE_RELOAD (inactive table) + DM_DEVICE_RESUME.
// Remove  = DM_DEVICE_INFO (open count) + DM_DEVICE_REMOVE; kForce first
//           swaps in an "error" table of the same size (like `dmsetup remove
//           --force`) so openers get EIO, then removes with retries, falling
//           back to a deferred remove if the device stays open.
// Info    = DM_DEVICE_INFO + DM_DEVICE_TABLE (size = sum of target lengths).
// List    = DM_DEVICE_LIST.
// Device nodes: udev synchronisation is off; libdevmapper creates and removes
// /dev/mapper/<name> itself.
//
// Every call first checks that the control node exists (so libdevmapper is
// never asked to create one): without it the call fails with kUnavailable
// "device-mapper driver not available". libdevmapper's own log lines go to
// base/log.h (component "dm").
//
// Thread-safety: safe from many threads (each call uses its own dm_task).
// Blocking: ioctls; a resume or remove can wait for in-flight I/O.
#ifndef SANPOOL_DOMAINS_DM_KERNEL_DM_H_
#define SANPOOL_DOMAINS_DM_KERNEL_DM_H_

#include <string>
#include <string_view>
#include <vector>

#include "domains/dm/device_mapper.h"

namespace sanpool::dm {

struct KernelDmOptions {
  // The driver's control node; its absence means "no dm driver".
  std::string control_path = "/dev/mapper/control";
  // Where device nodes appear (DevicePath()).
  std::string dev_dir = "/dev/mapper";
};

class KernelDeviceMapper : public DeviceMapper {
 public:
  explicit KernelDeviceMapper(KernelDmOptions options = {});

  Status Create(std::string_view name, std::string_view uuid,
                const Table& table) override;
  Status Reload(std::string_view name, const Table& table) override;
  Status Remove(std::string_view name, RemoveMode mode) override;
  Result<DeviceInfo> Info(std::string_view name) override;
  Result<std::vector<std::string>> List() override;
  std::string DevicePath(std::string_view name) const override;

 private:
  // OK when the control node exists, else kUnavailable.
  Status CheckDriver() const;

  const KernelDmOptions options_;
};

}  // namespace sanpool::dm

#endif  // SANPOOL_DOMAINS_DM_KERNEL_DM_H_
