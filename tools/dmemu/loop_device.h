// Loop devices over sanpool-dmemu's FUSE files, so users get a real block
// device: the kernel's block-device write path gives writes at/after the end
// ENOSPC, and LOOP_SET_CAPACITY makes a reload visible as a size change.
//
// LoopManager is an interface so the emulator's logic is unit-tested without
// root (FakeLoopManager in emulator_test.cc); PosixLoopManager is the real
// one (ioctls on /dev/loop-control and /dev/loopN, no child processes).
//
// Thread-safety: PosixLoopManager may be called from any thread; a
// LoopHandle is used by one thread at a time.
#ifndef SANPOOL_TOOLS_DMEMU_LOOP_DEVICE_H_
#define SANPOOL_TOOLS_DMEMU_LOOP_DEVICE_H_

#include <string>

#include "base/status.h"
#include "base/unique_fd.h"

namespace sanpool::dmemu {

// An attached loop device. The daemon keeps `fd` open for the device's
// lifetime (it is excluded from OpenCount()).
struct LoopHandle {
  std::string path;  // "/dev/loop7".
  UniqueFd fd;
};

class LoopManager {
 public:
  virtual ~LoopManager() = default;

  // Attaches a free loop device to `file` (read-write, 512-byte blocks,
  // direct I/O when the kernel accepts it, autoclear). Errors: the ioctl's
  // errno as a Status.
  virtual Result<LoopHandle> Attach(const std::string& file) = 0;

  // Makes the loop device's size follow `file`'s current size.
  virtual Status Refresh(const LoopHandle& loop, const std::string& file) = 0;

  // Openers of the loop device other than this process: processes holding
  // an fd, holders stacked on it (/sys/block/*/holders) and mounts.
  virtual Result<int> OpenCount(const LoopHandle& loop) = 0;

  // Flushes the device's dirty pages to the file.
  virtual Status Flush(const LoopHandle& loop) = 0;

  // Detaches (LOOP_CLR_FD; deferred by the kernel until remaining openers
  // close) and closes the handle.
  virtual Status Detach(LoopHandle& loop) = 0;
};

class PosixLoopManager : public LoopManager {
 public:
  Result<LoopHandle> Attach(const std::string& file) override;
  Status Refresh(const LoopHandle& loop, const std::string& file) override;
  Result<int> OpenCount(const LoopHandle& loop) override;
  Status Flush(const LoopHandle& loop) override;
  Status Detach(LoopHandle& loop) override;
};

}  // namespace sanpool::dmemu

#endif  // SANPOOL_TOOLS_DMEMU_LOOP_DEVICE_H_
