// Emulator: the state of sanpool-dmemu, a user-space device mapper. It maps
// names to MappedDevices (served as files by the FUSE file system under
// `mount_dir`), puts a loop device on each file and a symlink
// `<run_dir>/dev/<name>` -> /dev/loopN, and answers the control protocol
// (domains/dm/dmemu_protocol.h).
//
// Create  open the table's devices, publish the file, attach a loop, link.
// Reload  swap the table, then refresh the loop's capacity (grow/shrink).
// Remove  refuse while open unless forced; flush the loop, fail further I/O
//         (EIO), detach the loop, unlink, forget.
// Shutdown  remove everything (forced), releasing hung requests first.
//
// Locking: control operations are serialised by control_mu_ and may call
// into the kernel (loop ioctls, stat of the FUSE file), which calls back into
// the FUSE threads; those only take mu_, briefly, and never control_mu_. So
// mu_ must never be held across a kernel call on the mount.
//
// Thread-safety: all methods may be called from any thread.
#ifndef SANPOOL_TOOLS_DMEMU_EMULATOR_H_
#define SANPOOL_TOOLS_DMEMU_EMULATOR_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/thread_annotations.h"
#include "domains/dm/dmemu_protocol.h"
#include "tools/dmemu/loop_device.h"
#include "tools/dmemu/mapped_device.h"
#include "tools/dmemu/segment_io.h"

namespace sanpool::dmemu {

struct EmulatorOptions {
  std::string mount_dir;  // Where the FUSE file system is mounted.
  std::string run_dir;    // Device symlinks go to <run_dir>/dev/.
  IoMode io_mode = IoMode::kDirect;
};

class Emulator {
 public:
  // `loops` must outlive the emulator.
  Emulator(EmulatorOptions options, LoopManager& loops);
  ~Emulator();

  // Serves one decoded request (any op of the protocol).
  dm::DmemuResponse Handle(const dm::DmemuRequest& request)
      EXCLUDES(control_mu_, mu_);

  // For the FUSE file system: the device named `name`, or nullptr.
  std::shared_ptr<MappedDevice> Find(std::string_view name) const
      EXCLUDES(mu_);
  // Names of the published devices, sorted.
  std::vector<std::string> Names() const EXCLUDES(mu_);

  // Removes every device (forced). Idempotent.
  void Shutdown() EXCLUDES(control_mu_, mu_);

 private:
  Status Create(const dm::DmemuRequest& request) REQUIRES(control_mu_);
  Status Reload(const dm::DmemuRequest& request) REQUIRES(control_mu_);
  Status Remove(std::string_view name, dm::RemoveMode mode)
      REQUIRES(control_mu_);
  Result<dm::DmemuResponse> Info(std::string_view name) REQUIRES(control_mu_);
  Status SetFaults(std::string_view name, const dm::FaultSpec& faults)
      REQUIRES(control_mu_);

  std::string FilePath(std::string_view name) const;
  std::string LinkPath(std::string_view name) const;
  Status Link(std::string_view name, const std::string& target) const;

  const EmulatorOptions options_;
  LoopManager& loops_;

  Mutex control_mu_;
  // Loop handles, touched only by control operations.
  std::map<std::string, LoopHandle, std::less<>> loop_handles_
      GUARDED_BY(control_mu_);

  mutable Mutex mu_;
  std::map<std::string, std::shared_ptr<MappedDevice>, std::less<>> devices_
      GUARDED_BY(mu_);
};

}  // namespace sanpool::dmemu

#endif  // SANPOOL_TOOLS_DMEMU_EMULATOR_H_
