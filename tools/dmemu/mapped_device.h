// MappedDevice: one device of sanpool-dmemu as its FUSE file sees it: the
// current table's SegmentIo plus the injected faults.
//
// Reload swaps the SegmentIo; a request already running finishes on the old
// one (it holds a reference), the next one uses the new one. Once Retire()d
// (removed, or the daemon stops) every request fails with EIO and hung
// requests are released.
//
// Faults (dm::FaultSpec): a request first waits while `hang` is set, then
// sleeps the read/write delay, then fails with EIO if the error flag is set.
//
// Thread-safety: all methods may be called from any thread.
#ifndef SANPOOL_TOOLS_DMEMU_MAPPED_DEVICE_H_
#define SANPOOL_TOOLS_DMEMU_MAPPED_DEVICE_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "base/thread_annotations.h"
#include "domains/dm/dmemu_protocol.h"
#include "tools/dmemu/segment_io.h"

namespace sanpool::dmemu {

class MappedDevice {
 public:
  MappedDevice(std::string name, std::string uuid,
               std::shared_ptr<const SegmentIo> io);

  const std::string& name() const { return name_; }
  const std::string& uuid() const { return uuid_; }

  uint64_t SizeBytes() const EXCLUDES(mu_);
  std::shared_ptr<const SegmentIo> Io() const EXCLUDES(mu_);
  void SwapIo(std::shared_ptr<const SegmentIo> io) EXCLUDES(mu_);

  void SetFaults(const dm::FaultSpec& faults) EXCLUDES(mu_);
  dm::FaultSpec Faults() const EXCLUDES(mu_);
  // Requests currently blocked by a hang fault.
  int HungRequests() const EXCLUDES(mu_);
  // From now on requests fail with EIO; hung requests return.
  void Retire() EXCLUDES(mu_);

  // SegmentIo semantics (bytes or -errno) with faults applied. Block while a
  // hang fault is set.
  ssize_t Read(char* buf, size_t size, uint64_t offset) EXCLUDES(mu_);
  ssize_t Write(const char* buf, size_t size, uint64_t offset) EXCLUDES(mu_);
  int Sync() EXCLUDES(mu_);

 private:
  enum class Kind { kRead, kWrite };
  // Waits out hang and delay; the SegmentIo to use, or nullptr for EIO.
  std::shared_ptr<const SegmentIo> Admit(Kind kind) EXCLUDES(mu_);

  const std::string name_;
  const std::string uuid_;
  mutable Mutex mu_;
  CondVar unhung_;
  std::shared_ptr<const SegmentIo> io_ GUARDED_BY(mu_);
  dm::FaultSpec faults_ GUARDED_BY(mu_);
  bool retired_ GUARDED_BY(mu_) = false;
  int hung_ GUARDED_BY(mu_) = 0;
};

}  // namespace sanpool::dmemu

#endif  // SANPOOL_TOOLS_DMEMU_MAPPED_DEVICE_H_
