// Persistent SPM tasks through the storage verbs: the undo steps Volume.*
// register, and the rollback of a task a dead SPM left running (real file
// domain in a temp dir, real qemu-img).
#include "agent/task_undo.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "agent/storage_test_fixture.h"
#include "domains/file/file_test_util.h"
#include "spm/task_recovery.h"
#include "spm/task_store.h"

namespace sanpool::agent {
namespace {

namespace fs = std::filesystem;
using file_domain::testing::kImg;
using file_domain::testing::kSd;
using file_domain::testing::kVol1;
using file_domain::testing::kVol2;

// The storage fixture with the tasks journaled in TasksDir().
class Fixture : public testing::StorageFixture {
 public:
  Fixture() {
    fs::create_directories(TasksDir());
    store_ = std::make_shared<spm::TaskStore>(*env_, TasksDir());
    tasks_.SetJournal(store_);
  }

  std::string ImageDir() const { return DomainDir() + "/images/" + kImg; }
  std::string TasksDir() const { return scratch_.path() + "/master/tasks"; }

  // Runs Volume.create of `vol` in kImg to its end; the task id.
  std::string Create(const char* vol) {
    std::string id = StartCreate(kImg, vol, "1048576");
    WaitFinished(id);
    return id;
  }

  std::shared_ptr<spm::TaskStore> store_;
};

TEST_CASE("Volume.create records its undo step; rollback removes the volume") {
  Fixture f;
  f.CreateDomain("undo");
  std::string id = f.Create(kVol1);
  Result<spm::PersistedTask> rec = f.store_->Load(id);
  REQUIRE(rec.ok());
  CHECK(rec->record.state == spm::TaskState::kFinished);
  CHECK(rec->record.result == spm::TaskResult::kSuccess);
  REQUIRE(rec->recovery.size() == 1);
  CHECK(rec->recovery[0] == RemoveVolumeStep(kSd, kImg, kVol1));
  CHECK(fs::exists(f.ImageDir() + "/" + kVol1 + ".meta"));

  // Creating it again fails (212) and registers no undo: the existing
  // volume must survive any rollback.
  std::string again = f.Create(kVol1);
  Result<spm::PersistedTask> rec2 = f.store_->Load(again);
  REQUIRE(rec2.ok());
  CHECK(rec2->record.code != 0);
  CHECK(rec2->recovery.empty());

  // The SPM died: the first task is on storage as "running", and a second
  // create got as far as its data file (before the .meta commit point).
  spm::PersistedTask dead = *rec;
  dead.record.state = spm::TaskState::kRunning;
  dead.record.result = spm::TaskResult::kNone;
  dead.record.end_time.reset();
  REQUIRE(f.store_->Save(dead).ok());
  spm::PersistedTask half;
  half.record = dead.record;
  half.record.id = spm::NewUuid();
  half.recovery = {RemoveVolumeStep(kSd, kImg, kVol2)};
  REQUIRE(f.store_->Save(half).ok());
  REQUIRE(f.env_->WriteFile(f.ImageDir() + "/" + kVol2, "partial", {}).ok());

  spm::TaskManager next_spm(f.clock_, {.threads = 1});
  spm::SpmTaskPersistence persistence(*f.env_, next_spm,
                                      MakeStorageUndo(f.domains_));
  Result<spm::TaskRecoveryReport> report =
      persistence.Activate(f.TasksDir());
  REQUIRE(report.ok());
  CHECK(report->rolled_back == 2);
  CHECK(report->kept == 1);  // the failed re-create
  CHECK(!fs::exists(f.ImageDir() + "/" + kVol1 + ".meta"));
  CHECK(!fs::exists(f.ImageDir() + "/" + kVol1));
  CHECK(!fs::exists(f.ImageDir() + "/" + kVol2));
  for (const std::string& tid : {id, half.record.id}) {
    Result<spm::TaskRecord> t = next_spm.Get(tid);
    REQUIRE(t.ok());
    CHECK(t->state == spm::TaskState::kFinished);
    CHECK(t->result == spm::TaskResult::kCleanSuccess);
    CHECK(t->message == spm::kRolledBackMessage);
  }
  // Undo is idempotent: running the steps again is fine.
  spm::UndoRunner undo = MakeStorageUndo(f.domains_);
  CHECK(undo(RemoveVolumeStep(kSd, kImg, kVol1)).ok());
  CHECK(undo(RemoveImageStep(kSd, kImg)).ok());
  CHECK(undo({"explode", {}}).code() == Code::kUnimplemented);
  CHECK(undo({"remove_volume", {kSd}}).code() == Code::kInvalidArgument);
  next_spm.Shutdown();
}

}  // namespace
}  // namespace sanpool::agent
