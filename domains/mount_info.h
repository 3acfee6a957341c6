// Parsing /proc/self/mountinfo (proc(5)): which file system is mounted
// where, so StorageServer can tell that a connection is already mounted
// (after an agent restart, or by someone else) instead of mounting again.
//
//   36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw
//   (1)(2)(3)   (4)   (5)        (6)        (7)     (8)(9)  (10)      (11)
//
// Fields 4, 5 and 10 may hold octal escapes ("\040" for a space, "\011",
// "\012", "\134" for a backslash), which are decoded. Optional fields (7)
// end at the "-" separator.
//
// Pure functions; thread-safe.
#ifndef SANPOOL_DOMAINS_MOUNT_INFO_H_
#define SANPOOL_DOMAINS_MOUNT_INFO_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sanpool {

struct MountEntry {
  std::string mount_point;  // field 5, decoded
  std::string fs_type;      // field 9
  std::string source;       // field 10, decoded ("srv:/exp", "/dev/loop0")
  std::string options;      // field 6 (per-mount options)
};

// Every well-formed line of `text`, in order (later lines are mounts on
// top of earlier ones). kDataLoss naming the line for a malformed one.
Result<std::vector<MountEntry>> ParseMountInfo(std::string_view text);

// The topmost entry mounted at `mount_point`, if any.
std::optional<MountEntry> FindMount(const std::vector<MountEntry>& mounts,
                                    std::string_view mount_point);

}  // namespace sanpool

#endif  // SANPOOL_DOMAINS_MOUNT_INFO_H_
