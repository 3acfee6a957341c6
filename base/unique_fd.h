// UniqueFd: sole owner of one file descriptor.
//
// Closes the descriptor when destroyed or reset. Move-only. close(2) errors on
// destruction are ignored (there is nothing a destructor could do); callers
// that need to know whether data reached storage call fsync first, which is
// where such errors are reported.
//
// Thread-safety: a value type; one object is not synchronised.
#ifndef SANPOOL_BASE_UNIQUE_FD_H_
#define SANPOOL_BASE_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace sanpool {

class UniqueFd {
 public:
  UniqueFd() = default;
  // Takes ownership of `fd` (-1 means none).
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }

  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }

  // Gives up ownership without closing; returns the descriptor.
  int Release() { return std::exchange(fd_, -1); }

  // Closes the owned descriptor (if any) and takes ownership of `fd`.
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace sanpool

#endif  // SANPOOL_BASE_UNIQUE_FD_H_
