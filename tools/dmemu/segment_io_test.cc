#include "tools/dmemu/segment_io.h"

#include <cerrno>

#include <catch2/catch.hpp>

#include "tools/dmemu/test_util.h"

namespace sanpool::dmemu {
namespace {

// Two 1 MiB "PVs"; the device is 4 sectors of pv0 at sector 8, then 4 of
// pv1 at sector 0: 4 KiB.
struct Fixture {
  TempDir dir;
  std::string pv0 = dir.MakeFile("pv0", 1 << 20);
  std::string pv1 = dir.MakeFile("pv1", 1 << 20);
  dm::Table table = {{.start_sector = 0, .length_sectors = 4, .device = pv0,
                      .device_offset_sector = 8},
                     {.start_sector = 4, .length_sectors = 4, .device = pv1,
                      .device_offset_sector = 0}};
  std::unique_ptr<SegmentIo> io = OpenBuffered(table);
};

std::string Pattern(size_t size, char seed) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<char>(seed + i % 61);
  return out;
}

TEST_CASE("writes land at the segments' device offsets") {
  Fixture f;
  CHECK(f.io->size_bytes() == 4096);
  std::string data = Pattern(4096, 'a');
  REQUIRE(f.io->Write(data.data(), data.size(), 0) == 4096);
  CHECK(TempDir::ReadFile(f.pv0, 8 * 512, 2048) == data.substr(0, 2048));
  CHECK(TempDir::ReadFile(f.pv1, 0, 2048) == data.substr(2048));
  // Nothing outside the segments was touched.
  CHECK(TempDir::ReadFile(f.pv0, 0, 4096) == std::string(4096, '\0'));
  CHECK(TempDir::ReadFile(f.pv0, 6 * 512, 1024) == std::string(1024, '\0'));
}

TEST_CASE("reads cross segments, may be unaligned and stop at the end") {
  Fixture f;
  std::string data = Pattern(4096, 'k');
  REQUIRE(f.io->Write(data.data(), data.size(), 0) == 4096);
  std::string buf(1000, '\0');
  REQUIRE(f.io->Read(buf.data(), buf.size(), 1500) == 1000);
  CHECK(buf == data.substr(1500, 1000));
  REQUIRE(f.io->Read(buf.data(), buf.size(), 3596) == 500);
  CHECK(buf.substr(0, 500) == data.substr(3596));
  CHECK(f.io->Read(buf.data(), buf.size(), 4096) == 0);
  CHECK(f.io->Read(buf.data(), buf.size(), 1 << 30) == 0);
}

TEST_CASE("writes at the end fail with ENOSPC, across it are short") {
  Fixture f;
  std::string data = Pattern(1024, 'z');
  CHECK(f.io->Write(data.data(), 512, 4096) == -ENOSPC);
  CHECK(f.io->Write(data.data(), 1024, 3584) == 512);
  CHECK(TempDir::ReadFile(f.pv1, 1536, 512) == data.substr(0, 512));
  CHECK(TempDir::ReadFile(f.pv1, 2048, 512) == std::string(512, '\0'));
}

TEST_CASE("unaligned writes are rejected like O_DIRECT does") {
  Fixture f;
  std::string data(512, 'x');
  CHECK(f.io->Write(data.data(), 100, 0) == -EINVAL);
  CHECK(f.io->Write(data.data(), 512, 3) == -EINVAL);
  CHECK(f.io->Sync() == 0);
}

TEST_CASE("a missing device or bad table fails to open") {
  TempDir dir;
  dm::Table missing = {{.start_sector = 0, .length_sectors = 8,
                        .device = dir.path() + "/nope"}};
  CHECK(SegmentIo::Open(missing, IoMode::kBuffered).status().code() ==
        Code::kNotFound);
  CHECK(SegmentIo::Open({}, IoMode::kBuffered).status().code() ==
        Code::kInvalidArgument);
}

}  // namespace
}  // namespace sanpool::dmemu
