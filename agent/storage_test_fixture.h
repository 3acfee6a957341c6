// Test-only: the storage and task verbs registered over a real file domain
// registry in a scratch dir (real qemu-img, fake clock, FakeSpmRole that is
// the SPM), shared by storage_methods_test.cc and task_undo_test.cc.
//
// Call() runs a verb the way the dispatcher would (params validated first);
// task state changes are published to hub_ and recorded so that Wait*()
// can block until a task finished. Members are public so that tests can
// reach the parts they need (role_, hub_, domains_, ...).
#ifndef SANPOOL_AGENT_STORAGE_TEST_FIXTURE_H_
#define SANPOOL_AGENT_STORAGE_TEST_FIXTURE_H_

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include "agent/json_params.h"
#include "agent/method_registry.h"
#include "agent/notifications.h"
#include "agent/storage_methods.h"
#include "agent/task_methods.h"
#include "base/fake_clock.h"
#include "base/process.h"
#include "base/thread_annotations.h"
#include "domains/file/file_test_util.h"
#include "spm/fake_role.h"

namespace sanpool::agent::testing {

// The connection the file domain is created on (mounted under MountDir()).
inline constexpr char kRemote[] = "srv:/exp";

class StorageFixture {
 public:
  // REQUIRE-s that the verbs register.
  StorageFixture()
      : env_(NewPosixEnv()),
        qemu_img_(runner_),
        domains_(DomainRegistryDeps{.env = env_.get(),
                                    .clock = &clock_,
                                    .qemu_img = &qemu_img_,
                                    .lock_manager = &locks_,
                                    .is_spm = [this] { return role_.IsSpm(); }},
                 DomainRegistryOptions{.repository = scratch_.path() + "/repo",
                                       .run_dir = scratch_.path() + "/run"}),
        tasks_(clock_, {.threads = 2}, [this](const spm::TaskRecord& r) {
          publish_(r);
          MutexLock lock(mu_);
          // After the notification went out, so Wait() sees both.
          if (r.state == spm::TaskState::kFinished) finished_.insert(r.id);
          cv_.SignalAll();
        }),
        hub_(clock_),
        publish_(TaskStatePublisher(hub_)) {
    std::filesystem::create_directories(MountDir());
    services_ = {.domains = &domains_, .role = &role_, .tasks = &tasks_,
                 .copier = &copier_};
    REQUIRE(RegisterStorageMethods(registry_, &services_).ok());
    REQUIRE(RegisterTaskMethods(registry_, &services_).ok());
  }
  ~StorageFixture() { tasks_.Shutdown(); }
  StorageFixture(const StorageFixture&) = delete;
  StorageFixture& operator=(const StorageFixture&) = delete;

  std::string MountDir() const {
    return scratch_.path() + "/repo/mnt/srv:_exp";
  }
  std::string DomainDir() const {
    return MountDir() + "/" + file_domain::testing::kSd;
  }

  // Runs `method` (REQUIRE-s that it exists); its params errors or result.
  Result<boost::json::value> Call(const std::string& method,
                                  boost::json::object params) {
    const MethodSpec* spec = registry_.Find(method);
    REQUIRE(spec != nullptr);
    RETURN_IF_ERROR(ValidateParams(spec->params, params, spec->extra_params));
    return spec->handler(params,
                         CallContext{.peer = "test", .transport = "test"});
  }

  // Creates file domain kSd named `name` on kRemote (REQUIRE-s success).
  void CreateDomain(const char* name = "methods") {
    auto r = Call("StorageDomain.create",
                  {{"storagedomainID", file_domain::testing::kSd},
                   {"domainType", 1},
                   {"typeArgs", kRemote},
                   {"name", name},
                   {"domainClass", 1}});
    REQUIRE(r.ok());
  }

  boost::json::object VolumeParams(const char* img, const char* vol) {
    return {{"storagedomainID", file_domain::testing::kSd},
            {"imageID", img},
            {"volumeID", vol}};
  }

  // Schedules Volume.create and returns the task id (REQUIRE-s that it was
  // scheduled; the task itself may fail).
  std::string StartCreate(const char* img, const char* vol,
                          boost::json::value size,
                          boost::json::value format = 5,
                          const char* src_img = "", const char* src_vol = "") {
    boost::json::object p = VolumeParams(img, vol);
    p["size"] = size;
    p["volFormat"] = format;
    p["preallocate"] = 2;
    p["diskType"] = "DATA";
    p["desc"] = "test";
    p["srcImgUUID"] = src_img;
    p["srcVolUUID"] = src_vol;
    auto r = Call("Volume.create", p);
    REQUIRE(r.ok());
    REQUIRE(r->is_string());
    return std::string(r->get_string());
  }

  // Blocks until task `id` finished.
  void WaitFinished(const std::string& id) {
    MutexLock lock(mu_);
    while (finished_.count(id) == 0) cv_.Wait(mu_);
  }
  // Waits for the task to finish; returns its Task.getStatus object.
  boost::json::object Wait(const std::string& id) {
    WaitFinished(id);
    auto status = Call("Task.getStatus", {{"taskID", id}});
    REQUIRE(status.ok());
    return status->as_object();
  }
  int64_t WaitCode(const std::string& id) {
    return Wait(id).at("code").as_int64();
  }

  file_domain::testing::ScratchDir scratch_;
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
  NotificationHub hub_;
  spm::TaskManager::StateCallback publish_;
  StorageServices services_;
  MethodRegistry registry_;
};

}  // namespace sanpool::agent::testing

#endif  // SANPOOL_AGENT_STORAGE_TEST_FIXTURE_H_
