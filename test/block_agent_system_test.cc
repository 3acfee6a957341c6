// System test: block storage domains through the real sanpool-agent
// (dm.backend = user). The test starts a sanpool-dmemu daemon (the agent's
// device mapper), a sanlock daemon (volume leases) and the agent, on two
// 6 GiB sparse files attached to loop devices (lvm.devices), then drives
// the JSON-RPC verbs: LVMVolumeGroup.create, StorageDomain.create (ISCSI),
// getInfo/getStats/validate, Volume.create (thin COW, a task), Image.prepare
// (qemu-io writes through the returned path), Volume.extend (the LV and
// the prepared mapping grow; this host is the SPM of no pool, so the extend
// runs locally), Image.teardown, Volume.delete
// with postZero, bad input (a device outside lvm.devices: 1000; a
// non-canonical UUID: -32602; an unknown domain: 358).
//
// Needs root, lvm2, sanlock, qemu-img/qemu-io. Paths from the environment
// (meson): SANPOOL_AGENT, SANPOOL_DMEMU, SANPOOL_SANLOCK_SHIM.
//
// Bounded (every wait at most kWaitLimit, meson timeout 300 s); the agent
// and daemons are killed and reaped, the VG removed and the loops detached
// in destructors, also when an assertion fails.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/rpc_client.h"
#include "base/process.h"
#include "domains/block/lvm.h"
#include "lease/sanlock_daemon.h"
#include "tools/dmemu/daemon_fixture.h"

namespace sanpool {
namespace {

namespace json = boost::json;
using std::chrono::seconds;

constexpr char kSd[] = "7c7c7c7c-0000-4000-8000-0000000000b1";
constexpr char kImg[] = "7c7c7c7c-0000-4000-8000-0000000000b2";
constexpr char kVol[] = "7c7c7c7c-0000-4000-8000-0000000000b3";
constexpr uint64_t kDeviceBytes = 6ULL << 30;
constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kCapacity = 8ULL << 30;
constexpr seconds kWaitLimit{120};

Result<ProcessResult> RunTool(std::vector<std::string> argv) {
  PosixProcessRunner runner;
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.timeout = std::chrono::seconds(120);
  return runner.Run(spec);
}

// Loops, the VG and the directory, removed even when the test fails.
struct San {
  ~San() {
    if (!loops.empty()) {
      PosixProcessRunner runner;
      lvm::Lvm lvm(runner, {});
      (void)lvm.VgRemove(loops, kSd);
    }
    for (const std::string& dev : loops) {
      auto r = RunTool({"losetup", "-d", dev});
      if (!r.ok() || !r->Succeeded()) WARN("could not detach " << dev);
    }
    if (!dir.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  }
  std::string dir;
  std::vector<std::string> loops;
};

class AgentProcess {
 public:
  AgentProcess(const std::string& dir, const std::vector<std::string>& args,
               const std::string& sanlock_run_dir)
      : socket_(dir + "/agent.sock"), log_(dir + "/agent.log") {
    const char* exe = std::getenv("SANPOOL_AGENT");
    REQUIRE(exe != nullptr);
    std::string conf = dir + "/agent.conf";
    std::ofstream(conf) << "";
    std::vector<std::string> all = {exe, "--config", conf, "--set",
                                    "rpc.host=", "--set",
                                    "rpc.unix_socket=" + socket_};
    for (const std::string& a : args) {
      all.push_back("--set");
      all.push_back(a);
    }
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::setenv("SANLOCK_RUN_DIR", sanlock_run_dir.c_str(), 1);
      int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~AgentProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }

  agent::RpcClient& Client() {
    if (client_) return *client_;
    auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
    while (std::chrono::steady_clock::now() < deadline) {
      agent::ClientOptions options;
      options.endpoint.unix_path = socket_;
      options.request_timeout = std::chrono::seconds(120);
      auto c = agent::RpcClient::Connect(options);
      if (c.ok() && (*c)->Call("Host.ping", json::object()).ok()) {
        client_ = std::move(c).value();
        return *client_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("agent did not start; log:\n" << LogTail());
    throw std::runtime_error("unreachable");
  }

  agent::RpcReply Raw(const std::string& method, json::object params) {
    auto r = Client().Call(method, params);
    INFO(method << ": " << (r.ok() ? "" : r.status().ToString()));
    REQUIRE(r.ok());
    return *r;
  }
  json::value Call(const std::string& method, json::object params) {
    agent::RpcReply r = Raw(method, std::move(params));
    INFO(method << " error: " << (r.ok() ? "" : r.error->message)
                << "\nlog:\n" << LogTail());
    REQUIRE(r.ok());
    return r.result;
  }
  int64_t ErrorCode(const std::string& method, json::object params) {
    agent::RpcReply r = Raw(method, std::move(params));
    REQUIRE_FALSE(r.ok());
    return r.error->code;
  }
  // Waits for the task; returns its status object.
  json::object Wait(const json::value& task) {
    auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
    while (true) {
      json::object s =
          Call("Task.getStatus", {{"taskID", task.as_string()}}).as_object();
      if (s.at("taskState").as_string() == "finished") return s;
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  std::string LogTail() const {
    std::ifstream in(log_);
    std::string all((std::istreambuf_iterator<char>(in)), {});
    return all.size() > 4000 ? all.substr(all.size() - 4000) : all;
  }

 private:
  std::string socket_;
  std::string log_;
  pid_t pid_ = -1;
  std::unique_ptr<agent::RpcClient> client_;
};

uint64_t ToU64(const json::value& v) {
  if (v.is_string()) return std::stoull(std::string(v.as_string()));
  return v.to_number<uint64_t>();
}

int64_t TaskCode(const json::object& status) {
  const json::value& code = status.at("code");
  return code.is_int64() ? code.as_int64()
                         : std::stoll(std::string(code.as_string()));
}

TEST_CASE("block domain through the agent's verbs", "[block_agent]") {
  if (::geteuid() != 0) {
    WARN("skipped: needs root");
    return;
  }
  San san;
  char tmpl[] = "/var/tmp/sanpool-blkagent-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  san.dir = tmpl;
  for (int i = 0; i < 2; ++i) {
    std::string file = san.dir + "/lun" + std::to_string(i);
    int fd = ::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, static_cast<off_t>(kDeviceBytes)) == 0);
    ::close(fd);
    auto r = RunTool({"losetup", "--find", "--show", file});
    REQUIRE(r.ok());
    REQUIRE(r->Succeeded());
    std::string dev = r->stdout_data;
    while (!dev.empty() && dev.back() == '\n') dev.pop_back();
    san.loops.push_back(dev);
  }
  // Destroyed in reverse: agent, sanlock, dmemu (which drops its mappings),
  // then `san` removes the VG and the loops.
  auto dmemu = std::make_unique<dmemu::Daemon>(san.dir, "host");
  lease::SanlockDaemonOptions sl;
  sl.run_dir = san.dir + "/sl";
  const char* shim = std::getenv("SANPOOL_SANLOCK_SHIM");
  sl.shim_path = shim != nullptr ? shim : "";
  auto sanlock = lease::SanlockDaemon::Start(sl);
  INFO(sanlock.status().ToString());
  REQUIRE(sanlock.ok());
  auto agent = std::make_unique<AgentProcess>(
      san.dir,
      std::vector<std::string>{
          "storage.repository=" + san.dir + "/repo",
          "storage.run_dir=" + san.dir + "/run",
          "agent.state_file=" + san.dir + "/state",
          "monitor.interval_s=1",
          "dm.backend=user",
          "dm.dmemu_socket=" + dmemu->socket(),
          "dm.dmemu_run_dir=" + dmemu->run_dir(),
          "lvm.devices=" + san.loops[0] + "," + san.loops[1]},
      (*sanlock)->run_dir());
  AgentProcess& a = *agent;

  // Bad input first.
  CHECK(a.ErrorCode("LVMVolumeGroup.create",
                    {{"name", kSd}, {"devlist", "/dev/nosuchdev"}}) == 1000);
  CHECK(a.ErrorCode("LVMVolumeGroup.create",
                    {{"name", "not-a-uuid"}, {"devlist", san.loops[0]}}) ==
        -32602);
  CHECK(a.ErrorCode("StorageDomain.getInfo",
                    {{"storagedomainID", "../../etc"}}) == -32602);
  CHECK(a.ErrorCode("StorageDomain.getInfo", {{"storagedomainID", kSd}}) ==
        358);

  json::value vg_uuid = a.Call(
      "LVMVolumeGroup.create",
      {{"name", kSd}, {"devlist", json::array{san.loops[0], san.loops[1]}}});
  json::object vg = a.Call("LVMVolumeGroup.getInfo", {{"vgUUID", kSd}})
                        .as_object();
  CHECK(vg.at("uuid") == vg_uuid);
  CHECK(vg.at("pvs").as_array().size() == 2);

  a.Call("StorageDomain.create",
         {{"storagedomainID", kSd}, {"domainType", 3},
          {"typeArgs", vg_uuid}, {"name", "block system test"},
          {"domainClass", 1}});
  json::object info =
      a.Call("StorageDomain.getInfo", {{"storagedomainID", kSd}}).as_object();
  CHECK(info.at("type") == "ISCSI");
  CHECK(info.at("vguuid") == vg_uuid);
  a.Call("StorageDomain.validate", {{"storagedomainID", kSd}});
  json::object stats =
      a.Call("StorageDomain.getStats", {{"storagedomainID", kSd}})
          .as_object();
  uint64_t free_before = std::stoull(std::string(stats.at("diskfree").as_string()));
  CHECK(std::stoull(std::string(stats.at("disktotal").as_string())) >
        10ULL << 30);

  // Monitored through its metadata LV (a 4 KiB read each second).
  CHECK(a.Call("Host.startMonitoringDomain", {{"sdUUID", kSd}}) == true);
  {
    auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
    json::object status;
    while (std::chrono::steady_clock::now() < deadline) {
      status = a.Call("Host.getStorageRepoStats", json::object())
                   .as_object()
                   .at(kSd)
                   .as_object();
      if (status.at("actual").as_bool()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    INFO(json::serialize(status));
    CHECK(status.at("valid").as_bool());
    CHECK(status.at("code").to_number<int64_t>() == 0);
  }
  CHECK(a.Call("Host.stopMonitoringDomain", {{"sdUUID", kSd}}) == true);

  // A thin COW volume of 8 GiB (its LV starts at one chunk).
  json::value task = a.Call(
      "Volume.create",
      {{"storagedomainID", kSd}, {"imageID", kImg}, {"volumeID", kVol},
       {"size", std::to_string(kCapacity)}, {"volFormat", 4},
       {"preallocate", 2}, {"diskType", "DATA"}, {"desc", "thin"},
       {"srcImgUUID", ""}, {"srcVolUUID", ""}});
  json::object done = a.Wait(task);
  INFO(json::serialize(done) << "\n" << a.LogTail());
  REQUIRE(TaskCode(done) == 0);
  CHECK(a.Call("StorageDomain.getImages", {{"storagedomainID", kSd}}) ==
        json::array{kImg});
  json::object vol = a.Call("Volume.getInfo", {{"storagedomainID", kSd},
                                               {"imageID", kImg},
                                               {"volumeID", kVol}})
                         .as_object();
  CHECK(vol.at("format") == "COW");
  CHECK(vol.at("capacity").as_string() == std::to_string(kCapacity));
  uint64_t lv_bytes = std::stoull(std::string(vol.at("apparentsize").as_string()));
  CHECK(lv_bytes < kCapacity);
  CHECK(lv_bytes >= 64 * kMiB);

  // Prepared: qemu-io writes through the path within the LV.
  json::object prepared = a.Call("Image.prepare", {{"storagedomainID", kSd},
                                                   {"imageID", kImg},
                                                   {"volumeID", kVol}})
                              .as_object();
  std::string path(prepared.at("path").as_string());
  CHECK(prepared.at("info").at("type") == "block");
  auto io = RunTool({"qemu-io", "-f", "qcow2", "-c",
                     "write -P 0x5a 0 " + std::to_string(64 * kMiB), path});
  REQUIRE(io.ok());
  INFO(io->stdout_data << io->stderr_data);
  CHECK(io->Succeeded());
  auto check = RunTool({"qemu-io", "-f", "qcow2", "-c",
                        "read -P 0x5a 0 " + std::to_string(kMiB), path});
  REQUIRE(check.ok());
  CHECK(check->Succeeded());
  // Volume.extend grows the LV (and this host's mapping) to 1 GiB more.
  const uint64_t target = lv_bytes + (1ULL << 30);
  json::object extended =
      a.Call("Volume.extend",
             {{"storagedomainID", kSd}, {"imageID", kImg}, {"volumeID", kVol},
              {"newSize", std::to_string(target)}})
          .as_object();
  CHECK(ToU64(extended.at("newSize")) >= target);
  vol = a.Call("Volume.getInfo", {{"storagedomainID", kSd},
                                  {"imageID", kImg},
                                  {"volumeID", kVol}})
            .as_object();
  CHECK(ToU64(vol.at("apparentsize")) >= target);
  // The prepared mapping has the new size: qemu-io reads the written data
  // and writes more.
  auto more = RunTool({"qemu-io", "-f", "qcow2", "-c",
                       "write -P 0x6b " + std::to_string(1ULL << 30) + " " +
                           std::to_string(64 * kMiB),
                       path});
  REQUIRE(more.ok());
  CHECK(more->Succeeded());
  a.Call("Image.teardown", {{"storagedomainID", kSd}, {"imageID", kImg}});
  CHECK_FALSE(std::filesystem::exists(path));

  // Delete with zeroing: the extents come back.
  task = a.Call("Volume.delete", {{"storagedomainID", kSd},
                                  {"imageID", kImg},
                                  {"volumeID", kVol},
                                  {"postZero", true}});
  done = a.Wait(task);
  INFO(json::serialize(done));
  CHECK(TaskCode(done) == 0);
  auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
  uint64_t free_after = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    stats = a.Call("StorageDomain.getStats", {{"storagedomainID", kSd}})
                .as_object();
    free_after = std::stoull(std::string(stats.at("diskfree").as_string()));
    if (free_after == free_before) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  CHECK(free_after == free_before);
  CHECK(a.Call("StorageDomain.getImages", {{"storagedomainID", kSd}}) ==
        json::array{});
  // Wrong device on extend.
  CHECK(a.ErrorCode("StorageDomain.extend",
                    {{"storagedomainID", kSd}, {"devlist", "/dev/sdzz"}}) ==
        1000);

  agent.reset();
  sanlock->reset();
  dmemu.reset();
}

}  // namespace
}  // namespace sanpool
