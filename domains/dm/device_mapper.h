// DeviceMapper: the agent's activation layer. It maps a name to a block
// device whose bytes are a list of linear segments of other block devices (the
// PV extents of an LV), exactly what the kernel's dm "linear" target does.
//
// Two implementations share this interface (DESIGN.md "Device-mapper"):
//   KernelDeviceMapper (domains/dm/kernel_dm.h)  libdevmapper ioctls.
//   UserDeviceMapper   (domains/dm/user_dm.h)    the sanpool-dmemu daemon.
// Both give the same semantics: DevicePath(name) is a block device whose size
// is the table size; reads and writes land in the segments' devices; writes
// at or past the end fail with ENOSPC; Reload() changes the mapping (grows the
// device) atomically for new I/O; Remove() refuses while the device is open.
//
//   Table table = {{.start_sector = 0, .length_sectors = 2048,
//                   .device = "/dev/loop0", .device_offset_sector = 2048}};
//   RETURN_IF_ERROR(dm.Create("vg-lv", "LVM-...", table));
//   std::string path = dm.DevicePath("vg-lv");
//
// Errors (every call): kInvalidArgument for a bad name, uuid or table (checked
// before anything is changed); kNotFound when the device does not exist
// (Reload, Remove); kAlreadyExists (Create of an existing name or uuid);
// kFailedPrecondition (Remove of an open device without kForce);
// kUnavailable when the backend cannot be reached (no dm driver, dmemu not
// running): retrying later may succeed.
//
// Blocking: every call may block on the kernel or the daemon (milliseconds,
// longer on dead storage); never call from a network thread.
// Thread-safety: implementations are safe to call from many threads; calls on
// the same name are not ordered with each other (callers serialise per LV).
#ifndef SANPOOL_DOMAINS_DM_DEVICE_MAPPER_H_
#define SANPOOL_DOMAINS_DM_DEVICE_MAPPER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sanpool::dm {

inline constexpr uint64_t kSectorSize = 512;

// One "linear" target line: sectors [start_sector, start_sector +
// length_sectors) of the mapped device are sectors [device_offset_sector, ...)
// of `device` (an absolute path to a block device).
struct LinearSegment {
  uint64_t start_sector = 0;
  uint64_t length_sectors = 0;
  std::string device;
  uint64_t device_offset_sector = 0;

  friend bool operator==(const LinearSegment&, const LinearSegment&) = default;
};

// A whole table: segments in order, contiguous from sector 0, none empty.
using Table = std::vector<LinearSegment>;

// What Info() reports. For a missing device: exists == false, the rest zero.
struct DeviceInfo {
  bool exists = false;
  uint64_t size_bytes = 0;
  // How many openers the device has (processes holding it open, holders
  // stacked on it, mounts). 0 means Remove() without force will succeed.
  int open_count = 0;
  bool read_only = false;
};

enum class RemoveMode {
  kNormal,  // Refuse (kFailedPrecondition) while the device is open.
  kForce,   // Remove even if open: I/O from remaining openers fails.
};

class DeviceMapper {
 public:
  virtual ~DeviceMapper() = default;

  // Creates and activates `name` with `table`. `uuid` may be empty (no
  // uuid); else it must be unique among mapped devices.
  virtual Status Create(std::string_view name, std::string_view uuid,
                        const Table& table) = 0;

  // Replaces the table of an existing device and resumes it (kernel: load
  // the inactive table, then resume). I/O issued after Reload() returns uses
  // the new table; the device size is the new table size.
  virtual Status Reload(std::string_view name, const Table& table) = 0;

  // Deactivates `name`; see RemoveMode.
  virtual Status Remove(std::string_view name, RemoveMode mode) = 0;

  // State of `name`; a missing device is not an error (exists == false).
  virtual Result<DeviceInfo> Info(std::string_view name) = 0;

  // Names of all mapped devices, sorted.
  virtual Result<std::vector<std::string>> List() = 0;

  // The block device path users open (e.g. "/dev/mapper/<name>"). Pure: does
  // not check that the device exists.
  virtual std::string DevicePath(std::string_view name) const = 0;
};

// OK when `name` can name a mapped device: 1..127 characters from
// [A-Za-z0-9+_.-], not "." or "..". Else kInvalidArgument.
Status ValidateDeviceName(std::string_view name);

// OK when `uuid` is empty or 1..128 printable ASCII characters without spaces
// or '/'. Else kInvalidArgument.
Status ValidateDeviceUuid(std::string_view uuid);

// OK when the table is non-empty, contiguous from sector 0, every segment has
// a non-zero length, an absolute device path without NUL or whitespace, and
// no sector arithmetic overflows. Else kInvalidArgument naming the segment.
Status ValidateTable(const Table& table);

// Sum of the segments' lengths. REQUIRES: ValidateTable(table).ok().
uint64_t TableSizeSectors(const Table& table);

}  // namespace sanpool::dm

#endif  // SANPOOL_DOMAINS_DM_DEVICE_MAPPER_H_
