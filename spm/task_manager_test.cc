#include "spm/task_manager.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "base/fake_clock.h"
#include "base/latch_test_util.h"
#include "base/uuid.h"

namespace sanpool::spm {
namespace {

// Records every state-change callback and lets the test wait for one.
class Recorder {
 public:
  TaskManager::StateCallback Callback() {
    return [this](const TaskRecord& r) {
      MutexLock lock(mu_);
      seen_.push_back(r);
      cv_.SignalAll();
    };
  }
  TaskRecord WaitFor(const std::string& id, TaskState state) {
    MutexLock lock(mu_);
    while (true) {
      for (const TaskRecord& r : seen_) {
        if (r.id == id && r.state == state) return r;
      }
      cv_.Wait(mu_);
    }
  }
  std::vector<TaskState> States(const std::string& id) {
    MutexLock lock(mu_);
    std::vector<TaskState> out;
    for (const TaskRecord& r : seen_) {
      if (r.id == id) out.push_back(r.state);
    }
    return out;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  std::vector<TaskRecord> seen_ GUARDED_BY(mu_);
};

using ::sanpool::testing::Latch;  // a job waits on it until the test opens it

struct Fixture {
  FakeClock clock;
  Recorder recorder;
  TaskManager tasks{clock, {.threads = 1, .max_tasks = 4},
                    recorder.Callback()};

  std::string Schedule(Job job) {
    auto id = tasks.Schedule("Volume.create", {"spm"}, std::move(job));
    REQUIRE(id.ok());
    return *id;
  }
  TaskRecord Finish(const std::string& id) {
    return recorder.WaitFor(id, TaskState::kFinished);
  }
};

TEST_CASE("a successful job finishes with success, code 0 and progress 100") {
  Fixture f;
  std::string id = f.Schedule([](JobContext& ctx) {
    ctx.SetProgress(40);
    return Status::Ok();
  });
  CHECK(IsValidUuid(id));
  TaskRecord done = f.Finish(id);
  CHECK(done.result == TaskResult::kSuccess);
  CHECK(done.code == 0);
  CHECK(done.message == "1 jobs completed successfully");
  CHECK(done.progress == 100);
  CHECK(done.verb == "Volume.create");
  CHECK(done.tags == std::vector<std::string>{"spm"});
  CHECK(done.end_time.has_value());
  CHECK(f.recorder.States(id) ==
        std::vector<TaskState>{TaskState::kQueued, TaskState::kRunning,
                               TaskState::kFinished});
  CHECK(f.tasks.Get(id)->state == TaskState::kFinished);
}

TEST_CASE("progress set by a running job is visible through Get") {
  Fixture f;
  Latch set, release;
  std::string id = f.Schedule([&](JobContext& ctx) {
    ctx.SetProgress(250);  // clamped
    set.Open();
    release.Wait();
    return Status::Ok();
  });
  set.Wait();
  CHECK(f.tasks.Get(id)->progress == 100);
  CHECK(f.tasks.Get(id)->state == TaskState::kRunning);
  release.Open();
  f.Finish(id);
}

TEST_CASE("a failed job reports its storage code; cleanSuccess unless marked") {
  Fixture f;
  std::string storage = f.Schedule([](JobContext&) {
    return Status(Code::kFailedPrecondition, "has children", 204);
  });
  std::string generic =
      f.Schedule([](JobContext&) { return UnknownError("boom"); });
  std::string unclean = f.Schedule([](JobContext& ctx) {
    ctx.MarkNotRolledBack();
    return Status(Code::kUnknown, "purge failed", 256);
  });
  TaskRecord a = f.Finish(storage);
  CHECK(a.result == TaskResult::kCleanSuccess);
  CHECK(a.code == 204);
  CHECK(a.message == "has children");
  CHECK(f.Finish(generic).code == kGeneralExceptionCode);
  TaskRecord c = f.Finish(unclean);
  CHECK(c.result == TaskResult::kCleanFailure);
  CHECK(c.code == 256);
}

TEST_CASE("stopping a running job cancels its token; the result is 411") {
  Fixture f;
  Latch started;
  std::string id = f.Schedule([&](JobContext& ctx) {
    started.Open();
    ctx.token().WaitFor(std::chrono::hours(1));
    return ctx.token().CheckCancelled("job");
  });
  started.Wait();
  REQUIRE(f.tasks.Stop(id).ok());
  TaskRecord done = f.Finish(id);
  CHECK(done.code == kTaskAbortedCode);
  CHECK(done.result == TaskResult::kCleanSuccess);
  CHECK(done.stop_requested);
  CHECK(f.recorder.States(id) ==
        std::vector<TaskState>{TaskState::kQueued, TaskState::kRunning,
                               TaskState::kAborting, TaskState::kFinished});
}

TEST_CASE("a job that completes despite a stop reports success") {
  Fixture f;
  Latch started, release;
  std::string id = f.Schedule([&](JobContext&) {
    started.Open();
    release.Wait();
    return Status::Ok();
  });
  started.Wait();
  REQUIRE(f.tasks.Stop(id).ok());
  CHECK(f.tasks.Stop(id).ok());  // already aborting: idempotent
  CHECK(f.tasks.Get(id)->state == TaskState::kAborting);
  release.Open();
  CHECK(f.Finish(id).result == TaskResult::kSuccess);
}

TEST_CASE("a stopped queued task never runs its job") {
  Fixture f;  // one worker thread
  Latch started, release;
  std::string blocker = f.Schedule([&](JobContext&) {
    started.Open();
    release.Wait();
    return Status::Ok();
  });
  started.Wait();
  bool ran = false;
  std::string queued = f.Schedule([&](JobContext&) {
    ran = true;
    return Status::Ok();
  });
  CHECK(f.tasks.Get(queued)->state == TaskState::kQueued);
  REQUIRE(f.tasks.Stop(queued).ok());
  CHECK(f.tasks.Get(queued)->state == TaskState::kAborting);
  release.Open();
  f.Finish(blocker);
  TaskRecord done = f.Finish(queued);
  CHECK_FALSE(ran);
  CHECK(done.code == kTaskAbortedCode);
  CHECK(done.message == "Task is aborted");
}

TEST_CASE("stop and clear follow oVirt's task-state rules") {
  Fixture f;
  Latch started, release;
  std::string running = f.Schedule([&](JobContext&) {
    started.Open();
    release.Wait();
    return Status::Ok();
  });
  started.Wait();
  Status not_finished = f.tasks.Clear(running);
  CHECK(not_finished.code() == Code::kFailedPrecondition);
  CHECK(not_finished.storage_code() == kTaskNotFinishedCode);
  release.Open();
  f.Finish(running);

  Status stop_done = f.tasks.Stop(running);
  CHECK(stop_done.code() == Code::kFailedPrecondition);
  CHECK(stop_done.storage_code() == kTaskStateErrorCode);

  REQUIRE(f.tasks.Clear(running).ok());
  CHECK(f.tasks.Get(running).status().storage_code() == kUnknownTaskCode);
  CHECK(f.tasks.Clear(running).storage_code() == kUnknownTaskCode);
  CHECK(f.tasks.Stop(running).storage_code() == kUnknownTaskCode);
  CHECK(f.tasks.List().empty());
}

TEST_CASE("at most max_tasks tasks exist until cleared") {
  Fixture f;  // max_tasks = 4
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(f.Schedule([](JobContext&) { return Status::Ok(); }));
  }
  auto full = f.tasks.Schedule("Volume.create", {}, [](JobContext&) {
    return Status::Ok();
  });
  CHECK(full.status().code() == Code::kResourceExhausted);
  CHECK(full.status().storage_code() == kAddTaskErrorCode);
  CHECK(f.tasks.List().size() == 4);
  f.Finish(ids[0]);
  REQUIRE(f.tasks.Clear(ids[0]).ok());
  for (size_t i = 1; i < ids.size(); ++i) f.Finish(ids[i]);
  CHECK(f.tasks.Schedule("Volume.create", {}, [](JobContext&) {
               return Status::Ok();
             }).ok());
}

TEST_CASE("shutdown stops unfinished tasks and refuses new ones") {
  FakeClock clock;
  Recorder recorder;
  TaskManager tasks(clock, {.threads = 1, .max_tasks = 8},
                    recorder.Callback());
  Latch started;
  auto running = tasks.Schedule("Image.delete", {}, [&](JobContext& ctx) {
    started.Open();
    ctx.token().WaitFor(std::chrono::hours(1));
    return ctx.token().CheckCancelled("job");
  });
  REQUIRE(running.ok());
  started.Wait();
  bool ran = false;
  auto queued = tasks.Schedule("Image.delete", {}, [&](JobContext&) {
    ran = true;
    return Status::Ok();
  });
  REQUIRE(queued.ok());
  tasks.Shutdown();
  CHECK_FALSE(ran);
  CHECK(tasks.Get(*running)->code == kTaskAbortedCode);
  CHECK(tasks.Get(*queued)->state == TaskState::kFinished);
  CHECK(tasks.Schedule("x", {}, [](JobContext&) { return Status::Ok(); })
            .status()
            .code() == Code::kFailedPrecondition);
}

TEST_CASE("task ids are distinct canonical version-4 UUIDs") {
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    std::string id = NewUuid();
    CHECK(IsValidUuid(id));
    CHECK(id[14] == '4');
    ids.insert(id);
  }
  CHECK(ids.size() == 100);
}

TEST_CASE("wire names of states and results") {
  CHECK(ToString(TaskState::kAborting) == "aborting");
  CHECK(ToString(TaskResult::kCleanSuccess) == "cleanSuccess");
  CHECK(ToString(TaskResult::kNone).empty());
}

}  // namespace
}  // namespace sanpool::spm
