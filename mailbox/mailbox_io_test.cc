#include "mailbox/mailbox_io.h"

#include <catch2/catch.hpp>

#include "mailbox/format.h"
#include "mailbox/mailbox_test_util.h"

namespace sanpool::mailbox::testing {
namespace {

TEST_CASE_METHOD(MailboxFixture, "host areas are 4 KiB at host_id * 4096") {
  auto file = MailboxFile::Open(*posix, inbox_path, DirectAccess::kReadWrite,
                                kDefaultMaxHostId);
  REQUIRE(file.ok());
  AlignedBuffer area(kMailboxSize);
  area.CopyIn(0, "host seven");
  REQUIRE((*file)->WriteHost(7, area).ok());
  Result<std::string> raw = posix->ReadFile(inbox_path, 16 << 20);
  REQUIRE(raw.ok());
  CHECK(raw->size() == MailboxOffset(251));
  CHECK(raw->substr(7 * 4096, 10) == "host seven");
  CHECK(raw->substr(6 * 4096, 4096) == std::string(4096, '\0'));

  AlignedBuffer range(3 * kMailboxSize);
  REQUIRE((*file)->ReadHosts(6, 3, range).ok());
  CHECK(range.view().substr(4096, 10) == "host seven");
}

TEST_CASE_METHOD(MailboxFixture, "out-of-range hosts and buffers are refused") {
  auto file = MailboxFile::Open(*posix, inbox_path, DirectAccess::kReadOnly,
                                kDefaultMaxHostId);
  REQUIRE(file.ok());
  AlignedBuffer area(kMailboxSize);
  CHECK((*file)->ReadHost(251, area).code() == Code::kOutOfRange);
  CHECK((*file)->ReadHost(-1, area).code() == Code::kOutOfRange);
  CHECK((*file)->ReadHosts(250, 2, area).code() == Code::kOutOfRange);
  AlignedBuffer small(512);
  CHECK((*file)->ReadHost(1, small).code() == Code::kOutOfRange);
  CHECK((*file)->ReadHost(250, area).ok());
}

TEST_CASE_METHOD(MailboxFixture, "a file too small for the host count") {
  const std::string path = JoinPath(dir, "small");
  REQUIRE(CreateMailboxFile(*posix, path, 10).ok());
  CHECK(MailboxFile::Open(*posix, path, DirectAccess::kReadOnly, 250)
            .status()
            .code() == Code::kFailedPrecondition);
  CHECK(MailboxFile::Open(*posix, path, DirectAccess::kReadOnly, 10).ok());
  CHECK(MailboxFile::Open(*posix, JoinPath(dir, "missing"),
                          DirectAccess::kReadOnly, 10)
            .status()
            .code() == Code::kNotFound);
}

}  // namespace
}  // namespace sanpool::mailbox::testing
