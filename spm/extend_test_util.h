// Fakes for the extend service's tests: an Extender and a VolumeRefresher
// over the mailbox tests' FakeVg (mailbox/mailbox_test_util.h), and a
// fixture that runs ExtendServices (one per host id) over the mailbox
// fixture's inbox/outbox files and drives the fake clock.
#ifndef SANPOOL_SPM_EXTEND_TEST_UTIL_H_
#define SANPOOL_SPM_EXTEND_TEST_UTIL_H_

#include <catch2/catch.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/thread_annotations.h"
#include "mailbox/mailbox_test_util.h"
#include "spm/extend_service.h"
#include "spm/extender.h"
#include "spm/fake_role.h"

namespace sanpool::spm::testing {

using mailbox::testing::FakeVg;
using mailbox::testing::kGiB;

// Extends through FakeVg one volume at a time and records every call.
class FakeExtender final : public Extender {
 public:
  explicit FakeExtender(FakeVg& vg) : vg_(vg) {}

  std::vector<Result<uint64_t>> ExtendVolumes(
      const std::string& domain_uuid,
      const std::vector<VolumeTarget>& volumes) override {
    {
      MutexLock lock(mu_);
      calls_.push_back(volumes);
    }
    std::vector<Result<uint64_t>> out;
    for (const VolumeTarget& v : volumes) {
      out.push_back(
          vg_.Extend({0, domain_uuid, v.volume_uuid, v.target_bytes}));
    }
    return out;
  }

  // Batches up to 64 (as an Extender with one lvm call per batch would).
  size_t MaxBatch() const override { return max_batch_; }
  void set_max_batch(size_t n) { max_batch_ = n; }

  std::vector<std::vector<VolumeTarget>> calls() const {
    MutexLock lock(mu_);
    return calls_;
  }

 private:
  FakeVg& vg_;
  std::atomic<size_t> max_batch_{64};
  mutable Mutex mu_;
  std::vector<std::vector<VolumeTarget>> calls_ GUARDED_BY(mu_);
};

// The LV size as FakeVg has it; counts calls.
class FakeRefresher final : public VolumeRefresher {
 public:
  explicit FakeRefresher(FakeVg& vg) : vg_(vg) {}
  Result<uint64_t> Refresh(const mailbox::ExtendRequest& request,
                           Changed changed) override {
    ++count_;
    if (changed == Changed::kHere) ++here_count_;
    if (fail_) return UnavailableError("refresh failed");
    return vg_.Reload(request);
  }
  int count() const { return count_.load(); }
  // Refreshes after a change this host made as the SPM (the direct path).
  int here_count() const { return here_count_.load(); }
  void set_fail(bool fail) { fail_ = fail; }

 private:
  FakeVg& vg_;
  std::atomic<int> count_{0};
  std::atomic<int> here_count_{0};
  std::atomic<bool> fail_{false};
};

// Holds the first extend FakeVg runs (as if blocked inside lvextend) until
// Release(); later extends pass. Installs itself as `vg`'s hook. The
// destructor releases a held extend; the hook stays safe to call after it.
class FirstExtendGate {
 public:
  explicit FirstExtendGate(FakeVg& vg)
      : state_(std::make_shared<State>()),
        entered_(state_->entered.get_future()) {
    state_->released = release_.get_future().share();
    vg.SetHook([state = state_](const mailbox::SpmExtendRequest&) {
      if (state->first.exchange(false)) {
        state->entered.set_value();
        state->released.wait();
      }
    });
  }
  ~FirstExtendGate() {
    if (!released_) release_.set_value();
  }
  FirstExtendGate(const FirstExtendGate&) = delete;
  FirstExtendGate& operator=(const FirstExtendGate&) = delete;

  // True once the first extend is held; does not block.
  bool Entered() const {
    return entered_.wait_for(std::chrono::seconds(0)) ==
           std::future_status::ready;
  }
  // Blocks (in real time) until the first extend is held.
  void WaitEntered() const { entered_.wait(); }
  // Lets the held extend (or the first one to come) finish. Once only.
  void Release() {
    released_ = true;
    release_.set_value();
  }

 private:
  struct State {
    std::atomic<bool> first{true};
    std::promise<void> entered;
    std::shared_future<void> released;
  };
  std::shared_ptr<State> state_;
  std::future<void> entered_;
  std::promise<void> release_;
  bool released_ = false;
};

// One host: its role, extender, refresher and service.
struct TestHost {
  int host_id = 0;
  FakeSpmRole role;
  std::unique_ptr<FakeExtender> extender;
  std::unique_ptr<FakeRefresher> refresher;
  std::unique_ptr<ExtendService> service;

  // Flips the role and tells the service.
  void SetSpm(bool spm) {
    role.set_spm(spm);
    service->OnRoleChanged();
  }
};

// The two hosts ExtendFixture::StartSpmAndHost starts.
struct SpmAndHost {
  TestHost& spm;
  TestHost& host;
};

class ExtendFixture {
 public:
  ~ExtendFixture() {
    for (auto& h : hosts_) h->service->Stop();
  }

  // Starts a service for `host_id` (REQUIRE-s success).
  TestHost& StartHost(int host_id, bool spm,
                      std::function<void(ExtendServiceOptions&)> tweak = {}) {
    auto h = std::make_unique<TestHost>();
    h->host_id = host_id;
    h->role.set_spm(spm);
    h->extender = std::make_unique<FakeExtender>(mb.vg);
    h->refresher = std::make_unique<FakeRefresher>(mb.vg);
    ExtendServiceOptions options;
    options.retry_interval = std::chrono::milliseconds(10);
    options.resend_timeout = std::chrono::milliseconds(200);
    if (tweak) tweak(options);
    ExtendServiceDeps deps{
        .env = mb.env.get(),
        .clock = &mb.clock,
        .role = &h->role,
        .extender = h->extender.get(),
        .refresher = h->refresher.get(),
        .locate = [this, host_id]() -> Result<MailboxLocation> {
          return MailboxLocation{mb.inbox_path, mb.outbox_path, host_id};
        },
        .on_extended = [this](const ExtendResult&) { ++notified; },
    };
    h->service = std::make_unique<ExtendService>(std::move(deps), options);
    REQUIRE(h->service->Start().ok());
    hosts_.push_back(std::move(h));
    return *hosts_.back();
  }

  // Starts host 1 as the SPM and host 2 not (each with its `tweak`) and
  // drives time until host 1 serves the mailbox (REQUIRE-s all of it).
  SpmAndHost StartSpmAndHost(
      std::function<void(ExtendServiceOptions&)> spm_tweak = {},
      std::function<void(ExtendServiceOptions&)> host_tweak = {}) {
    TestHost& spm = StartHost(1, /*spm=*/true, std::move(spm_tweak));
    TestHost& host = StartHost(2, /*spm=*/false, std::move(host_tweak));
    REQUIRE(Drive([&] { return spm.service->ServingMailbox(); }));
    return {spm, host};
  }

  static mailbox::ExtendRequest Request(int volume, uint64_t target) {
    return mailbox::testing::MailboxFixture::Request(volume, target);
  }

  // Advances fake time in 1 ms steps, each after the clock threads went to
  // sleep (or 20 ms of real time: a thread may be blocked elsewhere on
  // purpose), until `done` holds; false after 60 s of real time.
  bool Drive(const std::function<bool()>& done) {
    const auto limit =
        std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < limit) {
      if (done()) return true;
      WaitQuiet();
      mb.clock.Advance(std::chrono::milliseconds(1));
    }
    return done();
  }

  // Advances fake time by `steps` 1 ms steps as Drive does (whatever
  // happens meanwhile).
  void DriveSteps(int steps) {
    int done = 0;
    Drive([&] { return ++done > steps; });
  }

  template <typename T>
  bool DriveReady(const std::future<T>& f) {
    return Drive([&] {
      return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    });
  }

  mailbox::testing::MailboxFixture mb;  // files, env, clock, FakeVg
  std::atomic<int> notified{0};

 private:
  void WaitQuiet() {
    const auto limit =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
    while (std::chrono::steady_clock::now() < limit) {
      size_t expected = mb.hosts.size() + (mb.spm ? 1 : 0);
      for (auto& h : hosts_) expected += h->service->ClockThreads();
      if (mb.clock.SleeperCount() >= expected &&
          mb.clock.NextDeadline() > mb.clock.SteadyNow()) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  std::vector<std::unique_ptr<TestHost>> hosts_;
};

}  // namespace sanpool::spm::testing

#endif  // SANPOOL_SPM_EXTEND_TEST_UTIL_H_
