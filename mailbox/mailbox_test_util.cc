#include "mailbox/mailbox_test_util.h"

#include <linux/magic.h>
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "mailbox/mailbox_io.h"

namespace sanpool::mailbox::testing {

Result<uint64_t> FakeVg::Extend(const SpmExtendRequest& request) {
  std::function<void(const SpmExtendRequest&)> hook;
  {
    MutexLock lock(mu_);
    ++total_calls_;
    ++calls_[request.volume_uuid];
    hook = hook_;
  }
  if (hook) hook(request);
  MutexLock lock(mu_);
  uint64_t& size = sizes_[request.volume_uuid];
  if (size >= request.target_bytes) return size;
  const uint64_t growth = request.target_bytes - size;
  if (growth > free_) return ResourceExhaustedError("VG full");
  free_ -= growth;
  size = request.target_bytes;
  return size;
}

Result<uint64_t> FakeVg::Reload(const ExtendRequest& request) {
  MutexLock lock(mu_);
  return sizes_[request.volume_uuid];
}

void FakeVg::SetFree(uint64_t bytes) {
  MutexLock lock(mu_);
  free_ = bytes;
}

uint64_t FakeVg::Size(const std::string& volume) const {
  MutexLock lock(mu_);
  auto it = sizes_.find(volume);
  return it == sizes_.end() ? 0 : it->second;
}

int FakeVg::Calls() const {
  MutexLock lock(mu_);
  return total_calls_;
}

int FakeVg::CallsFor(const std::string& volume) const {
  MutexLock lock(mu_);
  auto it = calls_.find(volume);
  return it == calls_.end() ? 0 : it->second;
}

void FakeVg::SetHook(std::function<void(const SpmExtendRequest&)> hook) {
  MutexLock lock(mu_);
  hook_ = std::move(hook);
}

std::string TestUuid(int kind, int n) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-0000-4000-8000-%012x", kind, n);
  return buf;
}

MailboxFixture::MailboxFixture() : posix(NewPosixEnv()) {
  // O_DIRECT needs a real file system: /tmp unless it is tmpfs.
  std::string parent = "/tmp";
  Result<FsStat> fs = posix->StatFs(parent);
  if (!fs.ok() || fs->fs_type == TMPFS_MAGIC) parent = "/var/tmp";
  std::string templ = parent + "/sanpool-mailbox-test-XXXXXX";
  REQUIRE(mkdtemp(templ.data()) != nullptr);
  dir = templ;
  inbox_path = JoinPath(dir, "inbox");
  outbox_path = JoinPath(dir, "outbox");
  REQUIRE(CreateMailboxFile(*posix, inbox_path, kDefaultMaxHostId).ok());
  REQUIRE(CreateMailboxFile(*posix, outbox_path, kDefaultMaxHostId).ok());
  env = std::make_unique<FaultEnv>(*posix);
}

MailboxFixture::~MailboxFixture() {
  for (auto& host : hosts) host->Stop();
  if (spm) spm->Stop();
  hosts.clear();
  spm.reset();
  std::filesystem::remove_all(dir);
}

HostMailbox& MailboxFixture::StartHost(
    int host_id, std::function<void(HostMailboxOptions&)> tweak) {
  HostMailboxOptions options;
  options.inbox_path = inbox_path;
  options.outbox_path = outbox_path;
  options.host_id = host_id;
  if (tweak) tweak(options);
  auto host = std::make_unique<HostMailbox>(
      *env, clock, options,
      [this](const ExtendRequest& r) { return vg.Reload(r); });
  Status started = host->Start();
  INFO(started.ToString());
  REQUIRE(started.ok());
  hosts.push_back(std::move(host));
  return *hosts.back();
}

SpmMailbox& MailboxFixture::StartSpm(
    std::vector<int> active, std::function<void(SpmMailboxOptions&)> tweak) {
  SpmMailboxOptions options;
  options.inbox_path = inbox_path;
  options.outbox_path = outbox_path;
  if (tweak) tweak(options);
  spm = std::make_unique<SpmMailbox>(
      *env, clock, options,
      [this](const SpmExtendRequest& r) { return vg.Extend(r); },
      [active] { return active; });
  Status started = spm->Start();
  INFO(started.ToString());
  REQUIRE(started.ok());
  return *spm;
}

void MailboxFixture::StopSpm() {
  if (spm) spm->Stop();
  spm.reset();
}

ExtendRequest MailboxFixture::Request(int volume, uint64_t target_bytes) {
  return {TestUuid(0x5d, 1), TestUuid(0x1a, volume), TestUuid(0x70, volume),
          target_bytes};
}

size_t MailboxFixture::LoopThreads() const {
  return hosts.size() + (spm ? 1 : 0);
}

void MailboxFixture::WaitQuiet() {
  // Every polling thread blocked in a sleep that has not expired yet. Real
  // time bounds the wait so that a stuck engine fails the test instead of
  // hanging it.
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < limit) {
    if (clock.SleeperCount() >= LoopThreads() &&
        clock.NextDeadline() > clock.SteadyNow()) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  FAIL("mailbox engines did not go back to sleep within 30 s");
}

bool MailboxFixture::Drive(const std::function<bool()>& done, int max_steps) {
  // Both bounds matter: fake time can run ahead of an engine thread that was
  // woken but not scheduled yet (a loaded machine), so steps alone could be
  // used up in an instant.
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int i = 0; i < max_steps || std::chrono::steady_clock::now() < limit;
       ++i) {
    if (done()) return true;
    if (i >= max_steps) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    WaitQuiet();
    clock.Advance(std::chrono::milliseconds(1));
  }
  return done();
}

void MailboxFixture::Run(int steps) {
  int n = 0;
  (void)Drive([&] { return n++ >= steps; }, steps + 1);
}

std::string MailboxFixture::ReadArea(const std::string& path, int host_id) {
  auto file = MailboxFile::Open(*posix, path, DirectAccess::kReadOnly,
                                kDefaultMaxHostId);
  REQUIRE(file.ok());
  AlignedBuffer buf(kMailboxSize);
  REQUIRE((*file)->ReadHost(host_id, buf).ok());
  return std::string(buf.view());
}

void MailboxFixture::WriteArea(const std::string& path, int host_id,
                               std::string_view bytes) {
  auto file = MailboxFile::Open(*posix, path, DirectAccess::kReadWrite,
                                kDefaultMaxHostId);
  REQUIRE(file.ok());
  AlignedBuffer buf(kMailboxSize);
  buf.CopyIn(0, bytes);
  REQUIRE((*file)->WriteHost(host_id, buf).ok());
}

std::string MailboxFixture::ReadInboxArea(int host_id) {
  return ReadArea(inbox_path, host_id);
}
std::string MailboxFixture::ReadOutboxArea(int host_id) {
  return ReadArea(outbox_path, host_id);
}
void MailboxFixture::WriteInboxArea(int host_id, std::string_view bytes) {
  WriteArea(inbox_path, host_id, bytes);
}
void MailboxFixture::WriteOutboxArea(int host_id, std::string_view bytes) {
  WriteArea(outbox_path, host_id, bytes);
}

}  // namespace sanpool::mailbox::testing
