#include "tools/dmemu/segment_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/env.h"

namespace sanpool::dmemu {
namespace {

constexpr uint64_t kSector = dm::kSectorSize;

// pread/pwrite of the whole range, retrying EINTR and short transfers.
template <typename Fn>
ssize_t FullIo(Fn fn, char* buf, size_t size, off_t offset) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = fn(buf + done, size - done, offset + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) return -EIO;  // A device shorter than its table says.
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

}  // namespace

Result<std::unique_ptr<SegmentIo>> SegmentIo::Open(const dm::Table& table,
                                                   IoMode mode) {
  RETURN_IF_ERROR(dm::ValidateTable(table));
  std::unique_ptr<SegmentIo> io(new SegmentIo());
  io->table_ = table;
  io->size_bytes_ = dm::TableSizeSectors(table) * kSector;
  int flags = O_RDWR | O_CLOEXEC | (mode == IoMode::kDirect ? O_DIRECT : 0);
  for (const dm::LinearSegment& s : table) {
    if (io->fds_.count(s.device) != 0) continue;
    UniqueFd fd(::open(s.device.c_str(), flags));
    if (!fd) return ErrnoToStatus(errno, "open " + s.device);
    io->fds_.emplace(s.device, std::move(fd));
  }
  return io;
}

template <typename Op>
ssize_t SegmentIo::ForEachPiece(uint64_t offset, size_t size, Op op) const {
  size_t done = 0;
  for (const dm::LinearSegment& s : table_) {
    if (done == size) break;
    const uint64_t seg_begin = s.start_sector * kSector;
    const uint64_t seg_end = seg_begin + s.length_sectors * kSector;
    const uint64_t pos = offset + done;
    if (pos >= seg_end || pos < seg_begin) continue;
    const size_t len =
        static_cast<size_t>(std::min<uint64_t>(size - done, seg_end - pos));
    const off_t dev_off = static_cast<off_t>(
        s.device_offset_sector * kSector + (pos - seg_begin));
    ssize_t n = op(fds_.at(s.device).get(), done, len, dev_off);
    if (n < 0) return n;
    done += len;
  }
  return static_cast<ssize_t>(done);
}

ssize_t SegmentIo::Read(char* buf, size_t size, uint64_t offset) const {
  if (offset >= size_bytes_ || size == 0) return 0;
  size = static_cast<size_t>(std::min<uint64_t>(size, size_bytes_ - offset));
  // Read the enclosing sectors into an aligned bounce buffer.
  const uint64_t begin = offset / kSector * kSector;
  const uint64_t end = (offset + size + kSector - 1) / kSector * kSector;
  AlignedBuffer bounce(static_cast<size_t>(end - begin));
  ssize_t n = ForEachPiece(
      begin, bounce.size(), [&](int fd, size_t at, size_t len, off_t dev_off) {
        return FullIo(
            [fd](char* p, size_t l, off_t o) { return ::pread(fd, p, l, o); },
            bounce.data() + at, len, dev_off);
      });
  if (n < 0) return n;
  std::memcpy(buf, bounce.data() + (offset - begin), size);
  return static_cast<ssize_t>(size);
}

ssize_t SegmentIo::Write(const char* buf, size_t size, uint64_t offset) const {
  if (offset % kSector != 0 || size % kSector != 0) return -EINVAL;
  if (size == 0) return 0;
  if (offset >= size_bytes_) return -ENOSPC;
  size = static_cast<size_t>(std::min<uint64_t>(size, size_bytes_ - offset));
  AlignedBuffer bounce(size);
  std::memcpy(bounce.data(), buf, size);
  return ForEachPiece(
      offset, size, [&](int fd, size_t at, size_t len, off_t dev_off) {
        return FullIo(
            [fd](char* p, size_t l, off_t o) { return ::pwrite(fd, p, l, o); },
            bounce.data() + at, len, dev_off);
      });
}

int SegmentIo::Sync() const {
  for (const auto& [path, fd] : fds_) {
    if (::fdatasync(fd.get()) != 0) return -errno;
  }
  return 0;
}

}  // namespace sanpool::dmemu
