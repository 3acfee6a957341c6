// Test fixture for the mailbox engines: an inbox and an outbox of 250 host
// areas on regular files (O_DIRECT, so not on tmpfs), a FaultEnv over the
// real Env, a FakeClock, a fake VG behind the SPM's extend callback and the
// hosts' reload callback, and verbs to start hosts and SPMs and drive time.
#ifndef SANPOOL_MAILBOX_MAILBOX_TEST_UTIL_H_
#define SANPOOL_MAILBOX_MAILBOX_TEST_UTIL_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/fake_clock.h"
#include "base/fault_env.h"
#include "base/thread_annotations.h"
#include "mailbox/host_mailbox.h"
#include "mailbox/spm_mailbox.h"

namespace sanpool::mailbox::testing {

inline constexpr uint64_t kGiB = 1024 * kMiB;

// A volume group shared by every host: LV sizes and free space.
class FakeVg {
 public:
  // The SPM's extend: idempotent, absolute; kResourceExhausted when the
  // growth does not fit in the free space.
  Result<uint64_t> Extend(const SpmExtendRequest& request) EXCLUDES(mu_);
  // A host's reload: the LV's current size.
  Result<uint64_t> Reload(const ExtendRequest& request) EXCLUDES(mu_);

  void SetFree(uint64_t bytes) EXCLUDES(mu_);
  uint64_t Size(const std::string& volume) const EXCLUDES(mu_);
  int Calls() const EXCLUDES(mu_);
  int CallsFor(const std::string& volume) const EXCLUDES(mu_);
  // Runs at the start of every Extend (outside the lock); may block.
  void SetHook(std::function<void(const SpmExtendRequest&)> hook)
      EXCLUDES(mu_);

 private:
  mutable Mutex mu_;
  std::map<std::string, uint64_t> sizes_ GUARDED_BY(mu_);
  std::map<std::string, int> calls_ GUARDED_BY(mu_);
  uint64_t free_ GUARDED_BY(mu_) = uint64_t{1} << 50;
  int total_calls_ GUARDED_BY(mu_) = 0;
  std::function<void(const SpmExtendRequest&)> hook_ GUARDED_BY(mu_);
};

// "00000000-0000-4000-8000-<12 hex of n>", kind in the first group.
std::string TestUuid(int kind, int n);

class MailboxFixture {
 public:
  MailboxFixture();
  ~MailboxFixture();

  // Starts a host mailbox (REQUIRE-s success).
  HostMailbox& StartHost(int host_id,
                         std::function<void(HostMailboxOptions&)> tweak = {});
  // Starts an SPM serving `active` hosts (REQUIRE-s success).
  SpmMailbox& StartSpm(std::vector<int> active,
                       std::function<void(SpmMailboxOptions&)> tweak = {});
  // Stops and destroys the current SPM.
  void StopSpm();

  // An extend request for volume n of image n in the test domain.
  static ExtendRequest Request(int volume, uint64_t target_bytes);

  // Advances the fake clock in 1 ms steps, each once every engine thread is
  // asleep, until `done` holds; false once both `max_steps` steps and 60 s
  // of real time have passed.
  bool Drive(const std::function<bool()>& done, int max_steps = 20000);
  // Drive for `steps` ms.
  void Run(int steps);
  // Blocks until every engine's polling thread sleeps on `clock` with a
  // deadline still ahead (bounded by 30 s of real time). A thread woken by
  // its Waker but not yet running still looks asleep: after an action that
  // wakes an engine, Drive until its effect shows before counting time.
  void WaitQuiet();

  // This host's area of the inbox / outbox as on storage.
  std::string ReadInboxArea(int host_id);
  std::string ReadOutboxArea(int host_id);
  void WriteInboxArea(int host_id, std::string_view bytes);
  void WriteOutboxArea(int host_id, std::string_view bytes);

  FakeClock clock;  // first: outlives every engine
  std::string dir;
  std::string inbox_path;
  std::string outbox_path;
  std::unique_ptr<Env> posix;
  std::unique_ptr<FaultEnv> env;
  FakeVg vg;
  std::vector<std::unique_ptr<HostMailbox>> hosts;
  std::unique_ptr<SpmMailbox> spm;

 private:
  size_t LoopThreads() const;
  std::string ReadArea(const std::string& path, int host_id);
  void WriteArea(const std::string& path, int host_id, std::string_view b);
};

}  // namespace sanpool::mailbox::testing

#endif  // SANPOOL_MAILBOX_MAILBOX_TEST_UTIL_H_
