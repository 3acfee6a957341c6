// Test helpers for tools/dmemu: a temp dir and sparse "PV" files.
#ifndef SANPOOL_TOOLS_DMEMU_TEST_UTIL_H_
#define SANPOOL_TOOLS_DMEMU_TEST_UTIL_H_

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "tools/dmemu/segment_io.h"

namespace sanpool::dmemu {

class TempDir {
 public:
  TempDir() {
    std::string templ = "/tmp/sanpool-dmemu-test-XXXXXX";
    REQUIRE(mkdtemp(templ.data()) != nullptr);
    path_ = templ;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

  // A sparse file of `size` zero bytes; returns its path.
  std::string MakeFile(const std::string& name, off_t size) const {
    std::string file = path_ + "/" + name;
    int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, size) == 0);
    ::close(fd);
    return file;
  }

  // `size` bytes of `file` at `offset`.
  static std::string ReadFile(const std::string& file, off_t offset,
                              size_t size) {
    std::string out(size, '\0');
    int fd = ::open(file.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    ssize_t n = ::pread(fd, out.data(), size, offset);
    ::close(fd);
    REQUIRE(n == static_cast<ssize_t>(size));
    return out;
  }

 private:
  std::string path_;
};

// SegmentIo::Open in kBuffered mode; fails the test on error.
inline std::unique_ptr<SegmentIo> OpenBuffered(const dm::Table& table) {
  auto io = SegmentIo::Open(table, IoMode::kBuffered);
  REQUIRE(io.ok());
  return *std::move(io);
}

}  // namespace sanpool::dmemu

#endif  // SANPOOL_TOOLS_DMEMU_TEST_UTIL_H_
