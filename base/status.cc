#include "base/status.h"

#include <cerrno>
#include <cstring>

namespace sanpool {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kCancelled: return "CANCELLED";
    case Code::kUnknown: return "UNKNOWN";
    case Code::kInvalidArgument: return "INVALID_ARGUMENT";
    case Code::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case Code::kNotFound: return "NOT_FOUND";
    case Code::kAlreadyExists: return "ALREADY_EXISTS";
    case Code::kPermissionDenied: return "PERMISSION_DENIED";
    case Code::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case Code::kFailedPrecondition: return "FAILED_PRECONDITION";
    case Code::kAborted: return "ABORTED";
    case Code::kOutOfRange: return "OUT_OF_RANGE";
    case Code::kUnimplemented: return "UNIMPLEMENTED";
    case Code::kInternal: return "INTERNAL";
    case Code::kUnavailable: return "UNAVAILABLE";
    case Code::kDataLoss: return "DATA_LOSS";
  }
  return "UNKNOWN";
}

Status::Status(Code code, std::string message, int storage_code) {
  assert(code != Code::kOk && "use Status() for OK");
  rep_ = std::make_shared<const Rep>(
      Rep{code, storage_code, std::move(message), {}});
}

std::string_view Status::message() const {
  return rep_ ? std::string_view(rep_->message) : std::string_view();
}

const std::vector<StatusDetail>& Status::details() const {
  static const std::vector<StatusDetail> kNone;
  return rep_ ? rep_->details : kNone;
}

Status Status::WithDetail(std::string key, std::string value) && {
  if (!rep_) return *this;
  Rep copy = *rep_;
  copy.details.push_back({std::move(key), std::move(value)});
  rep_ = std::make_shared<const Rep>(std::move(copy));
  return std::move(*this);
}

Status Status::WithDetail(std::string key, std::string value) const& {
  Status copy = *this;
  return std::move(copy).WithDetail(std::move(key), std::move(value));
}

Status Status::Annotate(std::string_view context) const {
  if (!rep_) return *this;
  Status out = *this;
  Rep copy = *rep_;
  copy.message = std::string(context) + ": " + copy.message;
  out.rep_ = std::make_shared<const Rep>(std::move(copy));
  return out;
}

std::string Status::ToString() const {
  if (!rep_) return "OK";
  std::string out(CodeName(rep_->code));
  out += ": ";
  out += rep_->message;
  if (rep_->storage_code != 0 || !rep_->details.empty()) {
    out += " [";
    bool first = true;
    if (rep_->storage_code != 0) {
      out += "storage_code=" + std::to_string(rep_->storage_code);
      first = false;
    }
    for (const auto& d : rep_->details) {
      if (!first) out += ' ';
      out += d.key + "=" + d.value;
      first = false;
    }
    out += ']';
  }
  return out;
}

bool operator==(const Status& a, const Status& b) {
  if (a.rep_ == b.rep_) return true;
  if (!a.rep_ || !b.rep_) return false;
  return a.rep_->code == b.rep_->code && a.rep_->message == b.rep_->message &&
         a.rep_->storage_code == b.rep_->storage_code;
}

#define SANPOOL_DEFINE_ERROR_(Name, CodeValue) \
  Status Name(std::string message) { return Status(CodeValue, std::move(message)); }
SANPOOL_DEFINE_ERROR_(CancelledError, Code::kCancelled)
SANPOOL_DEFINE_ERROR_(UnknownError, Code::kUnknown)
SANPOOL_DEFINE_ERROR_(InvalidArgumentError, Code::kInvalidArgument)
SANPOOL_DEFINE_ERROR_(DeadlineExceededError, Code::kDeadlineExceeded)
SANPOOL_DEFINE_ERROR_(NotFoundError, Code::kNotFound)
SANPOOL_DEFINE_ERROR_(AlreadyExistsError, Code::kAlreadyExists)
SANPOOL_DEFINE_ERROR_(PermissionDeniedError, Code::kPermissionDenied)
SANPOOL_DEFINE_ERROR_(ResourceExhaustedError, Code::kResourceExhausted)
SANPOOL_DEFINE_ERROR_(FailedPreconditionError, Code::kFailedPrecondition)
SANPOOL_DEFINE_ERROR_(AbortedError, Code::kAborted)
SANPOOL_DEFINE_ERROR_(OutOfRangeError, Code::kOutOfRange)
SANPOOL_DEFINE_ERROR_(UnimplementedError, Code::kUnimplemented)
SANPOOL_DEFINE_ERROR_(InternalError, Code::kInternal)
SANPOOL_DEFINE_ERROR_(UnavailableError, Code::kUnavailable)
SANPOOL_DEFINE_ERROR_(DataLossError, Code::kDataLoss)
#undef SANPOOL_DEFINE_ERROR_

Status ErrnoToStatus(int err, std::string_view context) {
  Code code = Code::kUnknown;
  switch (err) {
    case ENOENT: code = Code::kNotFound; break;
    case EEXIST: code = Code::kAlreadyExists; break;
    case ENOTEMPTY: case EBUSY: code = Code::kFailedPrecondition; break;
    case EACCES: case EPERM: case EROFS: code = Code::kPermissionDenied; break;
    case ENOSPC: case EDQUOT: case EMFILE: case ENFILE: case ENOMEM:
      code = Code::kResourceExhausted; break;
    case EINTR: case EAGAIN: case EIO: case ESTALE: case ENXIO: case ENODEV:
    case ECONNREFUSED: case ECONNRESET: case EPIPE:
      code = Code::kUnavailable; break;
    case EINVAL: case ENAMETOOLONG: case ENOTDIR: case EISDIR: case ELOOP:
    case EXDEV: case EFBIG:
      code = Code::kInvalidArgument; break;
    case ETIMEDOUT: code = Code::kDeadlineExceeded; break;
    case ECANCELED: code = Code::kCancelled; break;
    default: break;
  }
  std::string msg(context);
  msg += ": ";
  msg += std::strerror(err);
  const char* name = strerrorname_np(err);
  return Status(code, std::move(msg)).WithDetail("errno", name ? name : std::to_string(err));
}

}  // namespace sanpool
