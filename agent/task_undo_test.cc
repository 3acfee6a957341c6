// Persistent SPM tasks through the storage verbs: the undo steps Volume.*
// register, and the rollback of a task a dead SPM left running (real file
// domain in a temp dir, real qemu-img).
#include "agent/task_undo.h"

#include <boost/json/object.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <set>

#include "agent/json_params.h"
#include "agent/method_registry.h"
#include "agent/storage_methods.h"
#include "agent/task_methods.h"
#include "base/fake_clock.h"
#include "base/process.h"
#include "domains/file/file_test_util.h"
#include "spm/fake_role.h"
#include "spm/task_recovery.h"
#include "spm/task_store.h"

namespace sanpool::agent {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using file_domain::testing::kImg;
using file_domain::testing::kSd;
using file_domain::testing::kVol1;
using file_domain::testing::kVol2;
using file_domain::testing::ScratchDir;

class Fixture {
 public:
  Fixture()
      : env_(NewPosixEnv()),
        qemu_img_(runner_),
        domains_(DomainRegistryDeps{.env = env_.get(),
                                    .clock = &clock_,
                                    .qemu_img = &qemu_img_,
                                    .lock_manager = &locks_,
                                    .is_spm = [] { return true; }},
                 DomainRegistryOptions{.repository = scratch_.path() + "/repo",
                                       .run_dir = scratch_.path() + "/run"}),
        tasks_(clock_, {.threads = 2}, [this](const spm::TaskRecord& r) {
          MutexLock lock(mu_);
          if (r.state == spm::TaskState::kFinished) finished_.insert(r.id);
          cv_.SignalAll();
        }) {
    fs::create_directories(MountDir());
    fs::create_directories(TasksDir());
    services_ = {.domains = &domains_, .role = &role_, .tasks = &tasks_,
                 .copier = &copier_};
    REQUIRE(RegisterStorageMethods(registry_, &services_).ok());
    REQUIRE(RegisterTaskMethods(registry_, &services_).ok());
    store_ = std::make_shared<spm::TaskStore>(*env_, TasksDir());
    tasks_.SetJournal(store_);
  }
  ~Fixture() { tasks_.Shutdown(); }

  std::string MountDir() const { return scratch_.path() + "/repo/mnt/srv:_exp"; }
  std::string ImageDir() const {
    return MountDir() + "/" + kSd + "/images/" + kImg;
  }
  std::string TasksDir() const { return scratch_.path() + "/master/tasks"; }

  Result<json::value> Call(const std::string& method, json::object params) {
    const MethodSpec* spec = registry_.Find(method);
    REQUIRE(spec != nullptr);
    RETURN_IF_ERROR(ValidateParams(spec->params, params, spec->extra_params));
    return spec->handler(params,
                         CallContext{.peer = "test", .transport = "test"});
  }
  void Wait(const std::string& id) {
    MutexLock lock(mu_);
    while (finished_.count(id) == 0) cv_.Wait(mu_);
  }
  std::string Create(const char* vol) {
    auto r = Call("Volume.create",
                  {{"storagedomainID", kSd}, {"imageID", kImg},
                   {"volumeID", vol}, {"size", "1048576"}, {"volFormat", 5},
                   {"preallocate", 2}, {"diskType", "DATA"}, {"desc", "t"},
                   {"srcImgUUID", ""}, {"srcVolUUID", ""}});
    REQUIRE(r.ok());
    std::string id(r->get_string());
    Wait(id);
    return id;
  }

  ScratchDir scratch_;
  std::unique_ptr<Env> env_;
  FakeClock clock_;
  PosixProcessRunner runner_;
  QemuImg qemu_img_;
  ResourceManager locks_{clock_};
  file_domain::ImageCopier copier_{runner_, locks_};
  spm::FakeSpmRole role_{true};
  DomainRegistry domains_;
  Mutex mu_;
  CondVar cv_;
  std::set<std::string> finished_ GUARDED_BY(mu_);
  spm::TaskManager tasks_;
  StorageServices services_;
  MethodRegistry registry_;
  std::shared_ptr<spm::TaskStore> store_;
};

TEST_CASE("Volume.create records its undo step; rollback removes the volume") {
  Fixture f;
  auto made = f.Call("StorageDomain.create",
                     {{"storagedomainID", kSd}, {"domainType", 1},
                      {"typeArgs", "srv:/exp"}, {"name", "undo"},
                      {"domainClass", 1}});
  REQUIRE(made.ok());
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
