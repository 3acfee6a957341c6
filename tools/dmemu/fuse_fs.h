// FuseFs: sanpool-dmemu's FUSE file system. A flat directory with one
// regular file per mapped device (mode 0600, size = table size) whose bytes
// are the device's segments (MappedDevice). Files use direct_io (no page
// cache in this layer) and attributes are never cached, so a reload's new
// size is seen by the next stat().
//
// The file system is multithreaded (libfuse's mt loop): requests of
// different devices, and of one device, are served concurrently; a hung
// device occupies its requests' threads only.
//
// Thread-safety: Mount/Unmount from one thread (the daemon's main thread).
#ifndef SANPOOL_TOOLS_DMEMU_FUSE_FS_H_
#define SANPOOL_TOOLS_DMEMU_FUSE_FS_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "base/status.h"
#include "tools/dmemu/emulator.h"

struct fuse;

namespace sanpool::dmemu {

class FuseFs {
 public:
  // Mounts at `mount_dir` (an existing empty directory) and starts serving.
  // `emulator` must outlive the FuseFs. Errors: kUnavailable when libfuse
  // cannot create or mount the file system (no /dev/fuse, not root, ...).
  static Result<std::unique_ptr<FuseFs>> Mount(const std::string& mount_dir,
                                               Emulator& emulator);
  // Unmounts if still mounted.
  ~FuseFs();

  // Unmounts and waits for the serving threads. Idempotent. Files still
  // open (loop devices not detached) keep the kernel side busy: detach
  // first (Emulator::Shutdown).
  void Unmount();

  // What the FUSE callbacks reach through private_data.
  struct Context {
    Emulator* emulator = nullptr;
    std::atomic<int> open_files{0};
  };

 private:
  FuseFs() = default;

  Context context_;
  struct fuse* fuse_ = nullptr;
  std::thread loop_thread_;
  bool mounted_ = false;
};

}  // namespace sanpool::dmemu

#endif  // SANPOOL_TOOLS_DMEMU_FUSE_FS_H_
