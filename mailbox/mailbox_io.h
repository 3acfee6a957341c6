// MailboxFile: O_DIRECT, 4 KiB-aligned I/O on one mailbox file (`inbox` or
// `outbox`): one host's 4 KiB area, a contiguous range of host areas, the
// event block. Works on a regular file (tests, file domains) and on a block
// device (the master domain's LVs) alike, through base/env.h.
//
//   ASSIGN_OR_RETURN(auto inbox, MailboxFile::Open(env, path,
//                                DirectAccess::kReadWrite, 250));
//   AlignedBuffer area(kMailboxSize);
//   RETURN_IF_ERROR(inbox->ReadHost(7, area));
//
// Every call is one pread/pwrite of whole 4 KiB blocks; nothing is cached.
//
// Errors: those of DirectFile (EIO -> kUnavailable, ...); kOutOfRange for a
// host id outside [0, max_host_id] or a buffer of the wrong size (checked
// before any I/O).
// Blocking: every call blocks on storage.
// Thread-safety: calls may run concurrently from several threads (positioned
// I/O); concurrent writes to the same area are the caller's problem.
#ifndef SANPOOL_MAILBOX_MAILBOX_IO_H_
#define SANPOOL_MAILBOX_MAILBOX_IO_H_

#include <memory>
#include <string>

#include "base/env.h"
#include "base/status.h"

namespace sanpool::mailbox {

class MailboxFile {
 public:
  // Opens `path` with O_DIRECT. kFailedPrecondition if the file or device
  // is smaller than (max_host_id + 1) * 4 KiB; errors of Env::OpenDirect
  // and DirectFile::Size. REQUIRES: max_host_id >= 1.
  static Result<std::unique_ptr<MailboxFile>> Open(Env& env,
                                                   const std::string& path,
                                                   DirectAccess access,
                                                   int max_host_id);

  // Reads / writes host `host_id`'s 4 KiB area. `buf` must be kMailboxSize.
  Status ReadHost(int host_id, AlignedBuffer& buf);
  Status WriteHost(int host_id, const AlignedBuffer& buf);

  // Reads the areas of hosts [first, first + count) into `buf`, which must
  // be exactly count * 4 KiB. One I/O.
  Status ReadHosts(int first, int count, AlignedBuffer& buf);
  // Writes `buf` (count * 4 KiB) over hosts [first, first + count).
  Status WriteHosts(int first, const AlignedBuffer& buf);

  // The event block is host 0's area of the inbox.
  Status ReadEventBlock(AlignedBuffer& buf) { return ReadHost(0, buf); }
  Status WriteEventBlock(const AlignedBuffer& buf) { return WriteHost(0, buf); }

  int max_host_id() const { return max_host_id_; }
  const std::string& path() const { return file_->path(); }

 private:
  MailboxFile(std::unique_ptr<DirectFile> file, int max_host_id)
      : file_(std::move(file)), max_host_id_(max_host_id) {}
  Status CheckRange(int first, int count, size_t buf_size) const;

  std::unique_ptr<DirectFile> file_;
  const int max_host_id_;
};

// Creates (or overwrites) a regular file of (max_host_id + 1) * 4 KiB
// zeros with O_DIRECT: an empty inbox or outbox, for tests, the bench and
// file domains. Errors of Env::OpenDirect / PWrite.
Status CreateMailboxFile(Env& env, const std::string& path, int max_host_id);

}  // namespace sanpool::mailbox

#endif  // SANPOOL_MAILBOX_MAILBOX_IO_H_
