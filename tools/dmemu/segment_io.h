// SegmentIo: the bytes of one linear table, read and written on the
// segments' devices (what the kernel's dm "linear" target does, in user
// space).
//
// Each device of the table is opened once (O_RDWR, O_DIRECT by default so
// every host sees the same bytes and nothing lingers in this host's page
// cache). Requests are split at segment boundaries and bounced through
// aligned buffers.
//
// Semantics, as on a block device opened with O_DIRECT:
//   Read   at/after the end returns 0 bytes; across the end, a short read.
//          Any offset/length (unaligned reads read the enclosing sectors).
//   Write  at/after the end fails with ENOSPC; across the end, a short write.
//          Offset and length must be multiples of 512 (else EINVAL).
// Errors are returned as negative errno values (the FUSE convention), since
// they travel straight back to the kernel.
//
// Thread-safety: immutable after Open(); Read/Write/Sync may run
// concurrently from many threads (positioned I/O).
#ifndef SANPOOL_TOOLS_DMEMU_SEGMENT_IO_H_
#define SANPOOL_TOOLS_DMEMU_SEGMENT_IO_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "base/status.h"
#include "base/unique_fd.h"
#include "domains/dm/device_mapper.h"

namespace sanpool::dmemu {

enum class IoMode {
  kDirect,    // O_DIRECT (block devices; the daemon's mode).
  kBuffered,  // Page cache (unit tests on tmpfs files).
};

class SegmentIo {
 public:
  // Opens every device of `table`. kInvalidArgument for a bad table; the
  // open(2) error of a device that cannot be opened (kNotFound, ...).
  static Result<std::unique_ptr<SegmentIo>> Open(const dm::Table& table,
                                                 IoMode mode);

  uint64_t size_bytes() const { return size_bytes_; }
  const dm::Table& table() const { return table_; }

  // Bytes read (>= 0) or -errno.
  ssize_t Read(char* buf, size_t size, uint64_t offset) const;
  // Bytes written (> 0) or -errno.
  ssize_t Write(const char* buf, size_t size, uint64_t offset) const;
  // fdatasync on every device; 0 or -errno.
  int Sync() const;

 private:
  SegmentIo() = default;
  // Applies `op` to each segment piece of [offset, offset + size), which
  // must lie inside the device and be sector aligned.
  template <typename Op>
  ssize_t ForEachPiece(uint64_t offset, size_t size, Op op) const;

  dm::Table table_;
  uint64_t size_bytes_ = 0;
  std::map<std::string, UniqueFd> fds_;  // device path -> fd.
};

}  // namespace sanpool::dmemu

#endif  // SANPOOL_TOOLS_DMEMU_SEGMENT_IO_H_
