// Status and Result<T>: sanpool's one error currency.
//
// A Status is either OK or carries a Code (modelled on absl::StatusCode), a
// human-readable message, an optional storage error number (oVirt's numeric
// codes, e.g. 654 "Not SPM", so engines written for VDSM understand us), and
// optional key/value details that the RPC layer passes on as `error.data`.
//
// Choosing a code (the abseil rules, restated for storage):
//   kInvalidArgument     the caller's input is wrong whatever the system state
//                        (bad UUID, size not a multiple of 512).
//   kFailedPrecondition  the input is fine but the system is not in the state the
//                        call needs (not SPM, volume has children); retrying
//                        without changing the state fails again.
//   kAborted             a concurrency conflict (lease lost, lock order); retry at
//                        a higher level.
//   kUnavailable         transient; retrying the same call may succeed (storage
//                        not reachable, daemon restarting).
//   kDeadlineExceeded    a timeout elapsed (lock wait, child process).
//   kDataLoss            on-storage data is corrupt (bad checksum, torn record).
//   kInternal            a broken invariant of ours; a bug.
//
// Thread-safety: Status and Result are values; distinct objects may be used
// from distinct threads freely, one object is not synchronised.
#ifndef SANPOOL_BASE_STATUS_H_
#define SANPOOL_BASE_STATUS_H_

#include <cassert>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sanpool {

enum class Code : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
};

// "INVALID_ARGUMENT" etc.
std::string_view CodeName(Code code);

// One detail attached to an error: `{"path": "/rhev/..."}`. Values are strings;
// the RPC layer emits them as JSON strings.
struct StatusDetail {
  std::string key;
  std::string value;
};

class [[nodiscard]] Status {
 public:
  // OK.
  Status() = default;
  Status(Code code, std::string message, int storage_code = 0);

  static Status Ok() { return Status(); }

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  std::string_view message() const;
  // oVirt's numeric error code, 0 when the error has none.
  int storage_code() const { return rep_ ? rep_->storage_code : 0; }
  const std::vector<StatusDetail>& details() const;

  // Returns *this with a detail appended (copy-on-write).
  Status WithDetail(std::string key, std::string value) &&;
  Status WithDetail(std::string key, std::string value) const&;
  // Returns a status with "context: " prefixed to the message.
  Status Annotate(std::string_view context) const;

  // "NOT_FOUND: volume does not exist [storage_code=201 path=/x]"
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b);

 private:
  struct Rep {
    Code code;
    int storage_code;
    std::string message;
    std::vector<StatusDetail> details;
  };
  std::shared_ptr<const Rep> rep_;
};

// Convenience constructors, one per code.
Status CancelledError(std::string message);
Status UnknownError(std::string message);
Status InvalidArgumentError(std::string message);
Status DeadlineExceededError(std::string message);
Status NotFoundError(std::string message);
Status AlreadyExistsError(std::string message);
Status PermissionDeniedError(std::string message);
Status ResourceExhaustedError(std::string message);
Status FailedPreconditionError(std::string message);
Status AbortedError(std::string message);
Status OutOfRangeError(std::string message);
Status UnimplementedError(std::string message);
Status InternalError(std::string message);
Status UnavailableError(std::string message);
Status DataLossError(std::string message);

// The one place errno becomes a Status: ENOENT -> kNotFound, EEXIST ->
// kAlreadyExists, EACCES/EPERM/EROFS -> kPermissionDenied, ENOSPC/EDQUOT ->
// kResourceExhausted, EINTR/EAGAIN/EIO/ESTALE/ENXIO/ENODEV -> kUnavailable, ENOTEMPTY/EBUSY ->
// kFailedPrecondition,
// EINVAL/ENAMETOOLONG/ENOTDIR/EISDIR -> kInvalidArgument, ETIMEDOUT ->
// kDeadlineExceeded, ECANCELED -> kCancelled, else kUnknown. The message is
// "<context>: <strerror>" and the detail "errno" carries the symbolic name.
Status ErrnoToStatus(int err, std::string_view context);

// Result<T>: a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design.
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design.
    assert(!std::get<Status>(v_).ok() && "Result built from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  // REQUIRES: ok().
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<Status, T> v_;
};

}  // namespace sanpool

#define SANPOOL_CONCAT_INNER_(a, b) a##b
#define SANPOOL_CONCAT_(a, b) SANPOOL_CONCAT_INNER_(a, b)

// Returns from the current function when `expr` (a Status) is not OK.
#define RETURN_IF_ERROR(expr)                       \
  do {                                              \
    ::sanpool::Status sanpool_status_ = (expr);     \
    if (!sanpool_status_.ok()) return sanpool_status_; \
  } while (0)

// ASSIGN_OR_RETURN(auto x, Foo()); declares/assigns x from a Result or returns
// its error.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  ASSIGN_OR_RETURN_IMPL_(SANPOOL_CONCAT_(sanpool_result_, __LINE__), lhs, rexpr)
#define ASSIGN_OR_RETURN_IMPL_(result, lhs, rexpr) \
  auto result = (rexpr);                           \
  if (!result.ok()) return result.status();        \
  lhs = std::move(result).value()

#endif  // SANPOOL_BASE_STATUS_H_
