// System test: persistent SPM tasks across an SPM crash (issue 5). Two real
// agents, each with its own sanlock daemon, share a file master domain
// (test/agent_harness.h). Both run with
// SANPOOL_CRASH_POINT=file.volume.create.after_meta; the SPM is asked for a
// Volume.create and dies right after the volume's commit point, its task
// left "running" in master/tasks. The other agent becomes SPM, rolls the
// task back (the volume is removed) and reports it in
// Host.getAllTasksStatuses as finished, cleanSuccess, "rolled back by new
// SPM".
//
// Needs root and the sanlock package. Paths come from the environment
// (meson): SANPOOL_AGENT, SANPOOL_SANLOCK_SHIM. Bounded like
// pool_failover_test: every wait at most 60 s; agents and daemons are
// SIGKILLed and reaped in destructors.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "test/agent_harness.h"

namespace sanpool {
namespace {

namespace json = boost::json;
using testing::AgentCluster;

constexpr char kPool[] = "6c6c6c6c-0000-4000-8000-000000000001";
constexpr char kMaster[] = "6c6c6c6c-0000-4000-8000-0000000000d1";
constexpr char kImg[] = "6c6c6c6c-0000-4000-8000-0000000000a1";
constexpr char kVol[] = "6c6c6c6c-0000-4000-8000-0000000000b1";

TEST_CASE("an SPM killed in Volume.create: the next SPM rolls the task back") {
  AgentCluster cluster(
      {.prefix = "sanpool-tasks",
       .host_name_prefix = "sanpool-task-host",
       .dirs = {testing::kFilePoolDir},
       .env = {{"SANPOOL_CRASH_POINT", "file.volume.create.after_meta"}}});
  cluster.CreateFilePool(kPool, kMaster);
  int spm = cluster.WaitForSpm(kPool, {1, 2});
  REQUIRE(spm != 0);
  int other = spm == 1 ? 2 : 1;
  // The other host is down while the SPM dies: it would take over within
  // a second and roll back before the crash's on-disk state is checked
  // (the check raced it and failed in CI). It restarts, rejoins the pool
  // from its state file and becomes the next SPM below.
  cluster.agent(other).Kill();  // SIGKILL and reap

  json::value task = cluster.agent(spm).Call(
      "Volume.create",
      {{"storagedomainID", kMaster}, {"storagepoolID", kPool},
       {"imageID", kImg}, {"volumeID", kVol}, {"size", "1048576"},
       {"volFormat", 5}, {"preallocate", 2}, {"diskType", "DATA"},
       {"desc", "crash"}, {"srcImgUUID", ""}, {"srcVolUUID", ""}});
  std::string task_id(task.as_string());
  // The job dies right after the volume's .meta was written.
  REQUIRE(cluster.agent(spm).WaitExit());
  std::string domain = cluster.dir() + "/repo/mnt/srv:_pool/" + kMaster;
  std::string vol = domain + "/images/" + kImg + "/" + kVol;
  CHECK(std::filesystem::exists(vol + ".meta"));
  {
    std::ifstream rec(domain + "/master/tasks/" + task_id + "/task");
    std::string text((std::istreambuf_iterator<char>(rec)), {});
    CHECK(text.find("state=running") != std::string::npos);
    CHECK(text.find("recover=remove_volume|") != std::string::npos);
  }

  cluster.Restart(other);
  REQUIRE(cluster.WaitForSpm(kPool, {other}) == other);
  CHECK(!std::filesystem::exists(vol + ".meta"));
  CHECK(!std::filesystem::exists(vol));
  json::value all =
      cluster.agent(other).Call("Host.getAllTasksStatuses", json::object());
  INFO(json::serialize(all));
  REQUIRE(all.as_object().contains(task_id));
  const json::value& t = all.at(task_id);
  CHECK(t.at("taskState").as_string() == "finished");
  CHECK(t.at("taskResult").as_string() == "cleanSuccess");
  CHECK(t.at("message").as_string() == "rolled back by new SPM");
  // Task.clear removes the record from the master.
  cluster.agent(other).Call("Task.clear", {{"taskID", task_id}});
  CHECK(!std::filesystem::exists(domain + "/master/tasks/" + task_id));
}

}  // namespace
}  // namespace sanpool
