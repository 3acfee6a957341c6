#include "mailbox/mailbox_io.h"

#include <cassert>

#include "mailbox/format.h"

namespace sanpool::mailbox {
namespace {

DirectOptions Options(DirectAccess access, DirectCreation creation) {
  DirectOptions options;
  options.access = access;
  options.creation = creation;
  // Every mailbox I/O is whole 4 KiB blocks, valid on 512 and 4K devices.
  options.block_size = kMailboxSize;
  return options;
}

}  // namespace

Result<std::unique_ptr<MailboxFile>> MailboxFile::Open(
    Env& env, const std::string& path, DirectAccess access, int max_host_id) {
  assert(max_host_id >= 1);
  ASSIGN_OR_RETURN(std::unique_ptr<DirectFile> file,
                   env.OpenDirect(path, Options(access,
                                                DirectCreation::kOpenExisting)));
  ASSIGN_OR_RETURN(uint64_t size, file->Size());
  const uint64_t needed = MailboxOffset(max_host_id + 1);
  if (size < needed) {
    return FailedPreconditionError(
               "mailbox file " + path + " is " + std::to_string(size) +
               " bytes, " + std::to_string(needed) + " needed for " +
               std::to_string(max_host_id) + " hosts")
        .WithDetail("path", path);
  }
  return std::unique_ptr<MailboxFile>(
      new MailboxFile(std::move(file), max_host_id));
}

Status MailboxFile::CheckRange(int first, int count, size_t buf_size) const {
  if (first < 0 || count < 1 || first + count - 1 > max_host_id_) {
    return OutOfRangeError("mailbox: host range [" + std::to_string(first) +
                           ", " + std::to_string(first + count) +
                           ") outside [0, " +
                           std::to_string(max_host_id_ + 1) + ")");
  }
  if (buf_size != static_cast<size_t>(count) * kMailboxSize) {
    return OutOfRangeError("mailbox: buffer of " + std::to_string(buf_size) +
                           " bytes for " + std::to_string(count) + " areas");
  }
  return Status::Ok();
}

Status MailboxFile::ReadHost(int host_id, AlignedBuffer& buf) {
  return ReadHosts(host_id, 1, buf);
}

Status MailboxFile::WriteHost(int host_id, const AlignedBuffer& buf) {
  RETURN_IF_ERROR(CheckRange(host_id, 1, buf.size()));
  return file_->PWrite(MailboxOffset(host_id), buf);
}

Status MailboxFile::ReadHosts(int first, int count, AlignedBuffer& buf) {
  RETURN_IF_ERROR(CheckRange(first, count, buf.size()));
  return file_->PRead(MailboxOffset(first), buf);
}

Status MailboxFile::WriteHosts(int first, const AlignedBuffer& buf) {
  const int count = static_cast<int>(buf.size() / kMailboxSize);
  RETURN_IF_ERROR(CheckRange(first, count, buf.size()));
  return file_->PWrite(MailboxOffset(first), buf);
}

Status CreateMailboxFile(Env& env, const std::string& path, int max_host_id) {
  ASSIGN_OR_RETURN(std::unique_ptr<DirectFile> file,
                   env.OpenDirect(path, Options(DirectAccess::kReadWrite,
                                                DirectCreation::kCreate)));
  AlignedBuffer zeros(MailboxOffset(max_host_id + 1));
  return file->PWrite(0, zeros);
}

}  // namespace sanpool::mailbox
