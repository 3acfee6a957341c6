#include "spm/task_store.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "base/fake_clock.h"
#include "base/fault_env.h"
#include "domains/file/file_test_util.h"
#include "spm/task_manager.h"
#include "spm/task_recovery.h"

namespace sanpool::spm {
namespace {

constexpr char kId1[] = "7a5c0000-0000-4000-8000-000000000001";
constexpr char kId2[] = "7a5c0000-0000-4000-8000-000000000002";
constexpr char kSd[] = "5d000000-0000-4000-8000-000000000001";

PersistedTask Sample(std::string id, TaskState state) {
  PersistedTask t;
  t.record.id = std::move(id);
  t.record.verb = "Volume.create";
  t.record.tags = {"spm"};
  t.record.state = state;
  t.record.start_time = WallTime(std::chrono::milliseconds(1'767'225'600'123));
  if (state == TaskState::kFinished) {
    t.record.result = TaskResult::kSuccess;
    t.record.message = "1 jobs completed successfully";
    t.record.progress = 100;
    t.record.end_time = t.record.start_time + std::chrono::seconds(3);
  } else {
    t.record.message = "running job 1 of 1";
  }
  t.recovery = {{"remove_volume", {kSd, "img-1", "vol-1"}}};
  return t;
}

void CheckSame(const PersistedTask& a, const PersistedTask& b) {
  CHECK(a.record.id == b.record.id);
  CHECK(a.record.verb == b.record.verb);
  CHECK(a.record.tags == b.record.tags);
  CHECK(a.record.state == b.record.state);
  CHECK(a.record.result == b.record.result);
  CHECK(a.record.code == b.record.code);
  CHECK(a.record.message == b.record.message);
  CHECK(a.record.progress == b.record.progress);
  CHECK(a.record.stop_requested == b.record.stop_requested);
  CHECK(a.record.start_time == b.record.start_time);
  CHECK(a.record.end_time == b.record.end_time);
  CHECK(a.recovery == b.recovery);
}

struct Fixture {
  file_domain::testing::ScratchDir scratch;
  std::unique_ptr<Env> posix = NewPosixEnv();
  FaultEnv env{*posix};
  std::string dir = scratch.path() + "/tasks";
  TaskStore store{env, dir};
  Fixture() { REQUIRE(posix->CreateDir(dir, 0755).ok()); }
  std::string RecordPath(std::string_view id) {
    return dir + "/" + std::string(id) + "/task";
  }
};

TEST_CASE("task record encodes and decodes, escapes included") {
  PersistedTask t = Sample(kId1, TaskState::kFinished);
  t.record.message = "line one\nline|two %41 =x";
  t.record.code = 411;
  t.record.stop_requested = true;
  t.recovery.push_back({"remove_image", {kSd, "a|b", "50%"}});
  std::string text = TaskStore::Encode(t);
  CHECK(text.rfind("version=1\nid=" + std::string(kId1) + "\n", 0) == 0);
  CHECK(text.find("recover=remove_volume|" + std::string(kSd) +
                  "|img-1|vol-1\n") != std::string::npos);
  Result<PersistedTask> back = TaskStore::Decode(text);
  REQUIRE(back.ok());
  CheckSame(*back, t);
}

TEST_CASE("save, load, load all, remove") {
  Fixture f;
  REQUIRE(f.store.Save(Sample(kId1, TaskState::kRunning)).ok());
  REQUIRE(f.store.Save(Sample(kId2, TaskState::kFinished)).ok());
  // Rewriting replaces.
  PersistedTask t = Sample(kId1, TaskState::kRunning);
  t.recovery.push_back({"remove_image", {kSd, "img-2"}});
  REQUIRE(f.store.Save(t).ok());
  Result<PersistedTask> one = f.store.Load(kId1);
  REQUIRE(one.ok());
  CheckSame(*one, t);
  Result<TaskStore::Loaded> all = f.store.LoadAll();
  REQUIRE(all.ok());
  REQUIRE(all->tasks.size() == 2);
  CHECK(all->tasks[0].record.id == kId1);
  CHECK(all->tasks[1].record.state == TaskState::kFinished);
  CHECK(all->corrupt.empty());
  CHECK(all->ignored.empty());
  REQUIRE(f.store.Remove(kId1).ok());
  CHECK(f.store.Remove(kId1).ok());  // idempotent
  CHECK(f.store.Load(kId1).status().code() == Code::kNotFound);
  CHECK(!*f.posix->Exists(f.dir + "/" + kId1));
  CHECK(f.store.Save(Sample("../escape", TaskState::kRunning)).code() ==
        Code::kInvalidArgument);
}

TEST_CASE("a missing tasks dir loads as empty") {
  file_domain::testing::ScratchDir scratch;
  auto env = NewPosixEnv();
  TaskStore store(*env, scratch.path() + "/nope");
  Result<TaskStore::Loaded> all = store.LoadAll();
  REQUIRE(all.ok());
  CHECK(all->tasks.empty());
}

TEST_CASE("a torn write keeps the old record; a cut record is ignored") {
  Fixture f;
  REQUIRE(f.store.Save(Sample(kId1, TaskState::kRunning)).ok());
  // WriteFileAtomic's temporary file is torn: the save fails, the record on
  // storage is the previous one.
  f.env.AddFault({.op = Op::kWriteFile, .path_substring = kId1,
                  .torn_bytes = 20});
  PersistedTask newer = Sample(kId1, TaskState::kFinished);
  CHECK(!f.store.Save(newer).ok());
  Result<PersistedTask> still = f.store.Load(kId1);
  REQUIRE(still.ok());
  CHECK(still->record.state == TaskState::kRunning);

  // A record cut short on storage (every prefix), and a directory without a
  // record: ignored, never fatal.
  std::string text = TaskStore::Encode(Sample(kId2, TaskState::kRunning));
  REQUIRE(f.posix->CreateDir(f.dir + "/" + kId2, 0755).ok());
  for (size_t cut = 0; cut < text.size(); ++cut) {
    INFO("cut at " << cut);
    REQUIRE(f.posix->WriteFile(f.RecordPath(kId2), text.substr(0, cut), {})
                .ok());
    Result<TaskStore::Loaded> all = f.store.LoadAll();
    REQUIRE(all.ok());
    REQUIRE(all->tasks.size() == 1);
    CHECK(all->tasks[0].record.id == kId1);
    CHECK(all->ignored.size() + all->corrupt.size() == 1);
  }
  REQUIRE(f.posix->RemoveFile(f.RecordPath(kId2)).ok());
  Result<TaskStore::Loaded> all = f.store.LoadAll();
  REQUIRE(all.ok());
  CHECK(all->ignored == std::vector<std::string>{kId2});
}

TEST_CASE("a corrupt record is a specific error") {
  Fixture f;
  PersistedTask t = Sample(kId1, TaskState::kRunning);
  std::string text = TaskStore::Encode(t);
  REQUIRE(f.posix->CreateDir(f.dir + "/" + kId1, 0755).ok());
  std::string flipped = text;
  flipped[flipped.find("running")] = 'R';
  REQUIRE(f.posix->WriteFile(f.RecordPath(kId1), flipped, {}).ok());
  Result<PersistedTask> got = f.store.Load(kId1);
  CHECK(got.status().code() == Code::kDataLoss);
  CHECK(got.status().storage_code() == kTaskRecordCorruptCode);
  Result<TaskStore::Loaded> all = f.store.LoadAll();
  REQUIRE(all.ok());
  CHECK(all->tasks.empty());
  CHECK(all->corrupt == std::vector<std::string>{kId1});

  // A record of another task in this task's directory.
  REQUIRE(f.posix->WriteFile(f.RecordPath(kId1),
                             TaskStore::Encode(Sample(kId2,
                                                      TaskState::kRunning)),
                             {})
              .ok());
  CHECK(f.store.Load(kId1).status().code() == Code::kDataLoss);

  // Every single-byte change is reported, never accepted silently or fatal.
  for (size_t i = 0; i < text.size(); ++i) {
    std::string bad = text;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    Result<PersistedTask> r = TaskStore::Decode(bad);
    INFO("byte " << i);
    CHECK(!r.ok());
  }
  // Well-formed checksum but a bad field (an empty id).
  PersistedTask dummy;
  std::string with_sum = TaskStore::Encode(dummy);
  CHECK(TaskStore::Decode(with_sum).status().code() == Code::kDataLoss);
  CHECK(TaskStore::Decode("garbage").status().code() == Code::kNotFound);
}

// ---- TaskManager journaling ------------------------------------------------

class Waiter {
 public:
  TaskManager::StateCallback Callback() {
    return [this](const TaskRecord& r) {
      MutexLock lock(mu_);
      if (r.state == TaskState::kFinished) finished_.push_back(r.id);
      cv_.SignalAll();
    };
  }
  void WaitFinished(const std::string& id) {
    MutexLock lock(mu_);
    while (std::find(finished_.begin(), finished_.end(), id) ==
           finished_.end()) {
      cv_.Wait(mu_);
    }
  }

 private:
  Mutex mu_;
  CondVar cv_;
  std::vector<std::string> finished_ GUARDED_BY(mu_);
};

// Fixture plus a one-thread TaskManager that journals into dir, and a
// Waiter on its tasks.
struct JournalFixture : Fixture {
  JournalFixture() { tasks.SetJournal(std::make_shared<TaskStore>(env, dir)); }
  FakeClock clock;
  Waiter waiter;
  TaskManager tasks{clock, {.threads = 1}, waiter.Callback()};
};

TEST_CASE("journaled tasks are persisted before they run, steps recorded") {
  JournalFixture f;
  Result<std::string> id = f.tasks.Schedule(
      "Volume.create", {"spm"}, [&](JobContext& ctx) -> Status {
        RETURN_IF_ERROR(ctx.AddRecovery({"remove_volume", {kSd, "i", "v"}}));
        return Status::Ok();
      });
  REQUIRE(id.ok());
  f.waiter.WaitFinished(*id);
  Result<PersistedTask> done = f.store.Load(*id);
  REQUIRE(done.ok());
  CHECK(done->record.state == TaskState::kFinished);
  CHECK(done->record.result == TaskResult::kSuccess);
  REQUIRE(done->recovery.size() == 1);
  CHECK(done->recovery[0].action == "remove_volume");

  // Kept until Task.clear, which removes it.
  REQUIRE(f.tasks.Clear(*id).ok());
  CHECK(f.store.Load(*id).status().code() == Code::kNotFound);

  // Not tagged "spm": not journaled.
  Result<std::string> hsm =
      f.tasks.Schedule("spmStart", {"hsm"}, [](JobContext& ctx) -> Status {
        return ctx.AddRecovery({"x", {}});
      });
  REQUIRE(hsm.ok());
  f.waiter.WaitFinished(*hsm);
  CHECK(f.store.Load(*hsm).status().code() == Code::kNotFound);
}

TEST_CASE("the record exists before the job starts") {
  JournalFixture f;
  Mutex mu;
  std::string state_in_job;
  size_t steps_in_job = 0;
  Result<std::string> id = f.tasks.Schedule(
      "Image.copy", {"spm"}, [&](JobContext& ctx) -> Status {
        Result<TaskStore::Loaded> all = f.store.LoadAll();
        RETURN_IF_ERROR(all.status());
        RETURN_IF_ERROR(ctx.AddRecovery({"remove_image", {kSd, "dst"}}));
        Result<TaskStore::Loaded> after = f.store.LoadAll();
        RETURN_IF_ERROR(after.status());
        MutexLock lock(mu);
        state_in_job = std::string(ToString(all->tasks.at(0).record.state));
        steps_in_job = after->tasks.at(0).recovery.size();
        return InternalError("copy failed");
      });
  REQUIRE(id.ok());
  f.waiter.WaitFinished(*id);
  MutexLock lock(mu);
  CHECK(state_in_job == "running");
  CHECK(steps_in_job == 1);
  Result<PersistedTask> done = f.store.Load(*id);
  REQUIRE(done.ok());
  CHECK(done->record.result == TaskResult::kCleanSuccess);
  CHECK(done->record.message == "copy failed");
}

TEST_CASE("a task whose record cannot be written is not scheduled") {
  JournalFixture f;
  f.env.AddFault({.times = -1, .error = ENOSPC});
  bool ran = false;
  Result<std::string> id =
      f.tasks.Schedule("Volume.create", {"spm"}, [&](JobContext&) -> Status {
        ran = true;
        return Status::Ok();
      });
  CHECK(!id.ok());
  CHECK(IsErrno(id.status(), ENOSPC));
  f.tasks.Shutdown();
  CHECK(!ran);
  CHECK(f.tasks.List().empty());
}

TEST_CASE("a detached journal is not written any more") {
  JournalFixture f;
  Mutex mu;
  CondVar cv;
  bool go = false;
  Status step_after_loss;
  Result<std::string> id = f.tasks.Schedule(
      "Volume.delete", {"spm"}, [&](JobContext& ctx) -> Status {
        MutexLock lock(mu);
        while (!go) cv.Wait(mu);
        step_after_loss = ctx.AddRecovery({"remove_volume", {kSd, "i", "v"}});
        return step_after_loss;
      });
  REQUIRE(id.ok());
  f.tasks.SetJournal(nullptr);  // the role is lost
  {
    MutexLock lock(mu);
    go = true;
    cv.SignalAll();
  }
  f.waiter.WaitFinished(*id);
  Result<PersistedTask> on_disk = f.store.Load(*id);
  REQUIRE(on_disk.ok());
  CHECK(on_disk->record.state != TaskState::kFinished);
  CHECK(on_disk->recovery.empty());
  MutexLock lock(mu);
  // No new work may start unrecorded.
  CHECK(step_after_loss.code() == Code::kFailedPrecondition);
}

// ---- Rollback by the next SPM ----------------------------------------------

TEST_CASE("a new SPM rolls unfinished tasks back and keeps finished ones") {
  Fixture f;
  PersistedTask running = Sample(kId1, TaskState::kRunning);
  running.recovery.push_back({"remove_image", {kSd, "img-1"}});
  REQUIRE(f.store.Save(running).ok());
  REQUIRE(f.store.Save(Sample(kId2, TaskState::kFinished)).ok());

  FakeClock clock;
  TaskManager tasks(clock, {.threads = 1});
  std::vector<std::string> undone;
  SpmTaskPersistence persistence(
      f.env, tasks, [&](const RecoveryStep& step) -> Status {
        undone.push_back(step.action);
        return Status::Ok();
      });
  Result<TaskRecoveryReport> report = persistence.Activate(f.dir);
  REQUIRE(report.ok());
  CHECK(report->rolled_back == 1);
  CHECK(report->kept == 1);
  CHECK(undone == std::vector<std::string>{"remove_image", "remove_volume"});

  Result<TaskRecord> rolled = tasks.Get(kId1);
  REQUIRE(rolled.ok());
  CHECK(rolled->state == TaskState::kFinished);
  CHECK(rolled->result == TaskResult::kCleanSuccess);
  CHECK(rolled->code == kTaskAbortedCode);
  CHECK(rolled->message == kRolledBackMessage);
  Result<PersistedTask> on_disk = f.store.Load(kId1);
  REQUIRE(on_disk.ok());
  CHECK(on_disk->record.state == TaskState::kFinished);
  CHECK(on_disk->record.message == kRolledBackMessage);

  Result<TaskRecord> kept = tasks.Get(kId2);
  REQUIRE(kept.ok());
  CHECK(kept->result == TaskResult::kSuccess);

  // A second activation (another SPM) undoes nothing again.
  undone.clear();
  TaskManager tasks2(clock, {.threads = 1});
  SpmTaskPersistence again(f.env, tasks2, [&](const RecoveryStep& step) {
    undone.push_back(step.action);
    return Status::Ok();
  });
  REQUIRE(again.Activate(f.dir).ok());
  CHECK(undone.empty());
  CHECK(tasks2.List().size() == 2);

  // Task.clear removes the record of a restored task.
  REQUIRE(tasks.Clear(kId2).ok());
  CHECK(f.store.Load(kId2).status().code() == Code::kNotFound);
}

TEST_CASE("a failing undo step makes the task cleanFailure") {
  Fixture f;
  PersistedTask running = Sample(kId1, TaskState::kAborting);
  running.recovery.push_back({"remove_image", {kSd, "img-1"}});
  REQUIRE(f.store.Save(running).ok());
  FakeClock clock;
  TaskManager tasks(clock, {.threads = 1});
  int calls = 0;
  SpmTaskPersistence persistence(f.env, tasks, [&](const RecoveryStep& s) {
    ++calls;
    if (s.action == "remove_image") return Status(Code::kInternal, "EIO");
    return Status::Ok();
  });
  Result<TaskRecoveryReport> report = persistence.Activate(f.dir);
  REQUIRE(report.ok());
  CHECK(report->failed == 1);
  CHECK(calls == 2);  // later steps still run
  Result<TaskRecord> r = tasks.Get(kId1);
  REQUIRE(r.ok());
  CHECK(r->result == TaskResult::kCleanFailure);
  CHECK(r->message.find("rolled back by new SPM failed") == 0);
}

TEST_CASE("activation fails only when the tasks dir cannot be read") {
  Fixture f;
  FakeClock clock;
  TaskManager tasks(clock, {.threads = 1});
  SpmTaskPersistence persistence(f.env, tasks,
                                 [](const RecoveryStep&) { return Status::Ok(); });
  f.env.AddFault({.op = Op::kListDir, .error = EIO});
  CHECK(!persistence.Activate(f.dir).ok());
  CHECK(persistence.Activate(f.dir).ok());
}

}  // namespace
}  // namespace sanpool::spm
