#include "agent/monitor_methods.h"

#include <stdlib.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/fake_clock.h"
#include "domains/sd_metadata.h"
#include "domains/storage_errors.h"

namespace sanpool::agent {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

constexpr char kSd[] = "9d1b6a8f-1c2e-4a5b-8d3c-7e6f5a4b3c2d";
constexpr char kSd2[] = "5f4e3d2c-1b0a-4f9e-8d7c-6b5a49382716";
constexpr char kMissing[] = "11111111-2222-4333-8444-555555555555";

// A repository on a file system with O_DIRECT (/var/tmp, not tmpfs).
class Repository {
 public:
  Repository() {
    std::string templ = "/var/tmp/sanpool-monrpc-XXXXXX";
    REQUIRE(mkdtemp(templ.data()) != nullptr);
    root_ = templ;
  }
  ~Repository() { fs::remove_all(root_); }

  // A file domain with valid metadata under mnt/<mount>/.
  void AddDomain(const std::string& mount, const std::string& sd) {
    fs::path dom_md = fs::path(root_) / "mnt" / mount / sd / "dom_md";
    fs::create_directories(dom_md);
    DomainMetadata md;
    md.sd_uuid = sd;
    md.remote_path = "/srv/" + sd;
    Result<std::string> bytes = EncodeDomainMetadataFile(md);
    REQUIRE(bytes.ok());
    REQUIRE(env_->WriteFile((dom_md / "metadata").string(), *bytes, {}).ok());
  }
  std::string MetadataPath(const std::string& mount, const std::string& sd) {
    return (fs::path(root_) / "mnt" / mount / sd / "dom_md" / "metadata")
        .string();
  }
  const std::string& root() const { return root_; }
  Env& env() { return *env_; }

 private:
  std::string root_;
  std::unique_ptr<Env> env_ = NewPosixEnv();
};

// The three verbs registered over a real monitor and repository.
class MonitorMethodsFixture {
 public:
  MonitorMethodsFixture() {
    REQUIRE(RegisterMonitorMethods(
                registry_,
                {.monitor = [this] { return &monitor_; },
                 .resolve_metadata_path =
                     [this](std::string_view sd) {
                       return FindFileDomainMetadata(repo_.env(), repo_.root(),
                                                     sd);
                     }})
                .ok());
  }
  Result<json::value> Call(const std::string& method, json::object params) {
    const MethodSpec* spec = registry_.Find(method);
    REQUIRE(spec != nullptr);
    REQUIRE(ValidateParams(spec->params, params, spec->extra_params).ok());
    return spec->handler(params, CallContext{});
  }
  json::object RepoStats(json::object params = {}) {
    Result<json::value> r = Call("Host.getStorageRepoStats", std::move(params));
    REQUIRE(r.ok());
    return r->as_object();
  }

  Repository repo_;
  FakeClock clock_;
  NotificationHub hub_{clock_};
  std::vector<std::string> published_;
  NotificationHub::Subscription sub_ = hub_.Subscribe(
      [this](const std::string& text) { published_.push_back(text); });
  monitor::DomainMonitor monitor_{repo_.env(), clock_, {},
                                  DomainStateNotifier(hub_)};
  MethodRegistry registry_;
};

TEST_CASE("repoStats uses oVirt's field names and string formats") {
  monitor::DomainStatus s;
  s.sd_uuid = kSd;
  s.actual = true;
  s.valid = false;
  s.code = 2001;
  s.error = "read timeout";
  s.read_delay_s = 0.25;
  s.last_check_age_s = 3.04;
  s.version = 5;
  json::object o = RepoStatsJson(s);
  CHECK(o.at("code") == 2001);
  CHECK(o.at("lastCheck") == "3.0");
  CHECK(o.at("delay") == "0.250000");
  CHECK(o.at("valid") == false);
  CHECK(o.at("version") == 5);
  CHECK(o.at("acquired") == false);
  CHECK(o.at("actual") == true);
  CHECK(o.at("error") == "read timeout");
}

TEST_CASE("startMonitoringDomain resolves the metadata path and repoStats reports the domain") {
  MonitorMethodsFixture f;
  f.repo_.AddDomain("srv:_export", kSd);
  REQUIRE(f.Call("Host.startMonitoringDomain", {{"sdUUID", kSd}}).ok());
  REQUIRE(f.monitor_.WaitForChecks(kSd, 1) == 1);
  json::object stats = f.RepoStats();
  REQUIRE(stats.size() == 1);
  json::object sd = stats.at(kSd).as_object();
  CHECK(sd.at("valid") == true);
  CHECK(sd.at("actual") == true);
  CHECK(sd.at("code") == 0);
  CHECK(sd.at("version") == 5);
  CHECK(sd.at("lastCheck") == "0.0");
  // Starting again is a no-op.
  CHECK(f.Call("Host.startMonitoringDomain", {{"sdUUID", kSd}}).ok());
  CHECK(f.monitor_.Stats().size() == 1);
  // The first result was published as StorageDomain.stateChanged.
  REQUIRE(f.published_.size() == 1);
  json::object note = json::parse(f.published_[0]).as_object();
  CHECK(note.at("method") == kDomainStateChanged);
  CHECK(note.at("params").at("sdUUID") == kSd);
  CHECK(note.at("params").at("valid") == true);
  CHECK(note.at("params").at("error") == "");
}

TEST_CASE("repoStats can be limited to some domains") {
  MonitorMethodsFixture f;
  f.repo_.AddDomain("a", kSd);
  f.repo_.AddDomain("b", kSd2);
  REQUIRE(f.Call("Host.startMonitoringDomain", {{"sdUUID", kSd}}).ok());
  REQUIRE(f.Call("Host.startMonitoringDomain", {{"sdUUID", kSd2}}).ok());
  CHECK(f.RepoStats().size() == 2);
  json::object only = f.RepoStats({{"domains", json::array{kSd2, kMissing}}});
  REQUIRE(only.size() == 1);
  CHECK(only.contains(kSd2));
}

TEST_CASE("stopMonitoringDomain removes the domain; unknown domains are 358") {
  MonitorMethodsFixture f;
  f.repo_.AddDomain("srv:_export", kSd);
  REQUIRE(f.Call("Host.startMonitoringDomain", {{"sdUUID", kSd}}).ok());
  REQUIRE(f.Call("Host.stopMonitoringDomain", {{"sdUUID", kSd}}).ok());
  CHECK(f.RepoStats().empty());
  Result<json::value> again = f.Call("Host.stopMonitoringDomain", {{"sdUUID", kSd}});
  CHECK(again.status().storage_code() == storage_code::kStorageDomainDoesNotExist);
  Result<json::value> unknown =
      f.Call("Host.startMonitoringDomain", {{"sdUUID", kMissing}});
  CHECK(unknown.status().code() == Code::kNotFound);
  CHECK(unknown.status().storage_code() ==
        storage_code::kStorageDomainDoesNotExist);
}

TEST_CASE("the verbs are unavailable without a monitor") {
  MethodRegistry registry;
  REQUIRE(RegisterMonitorMethods(
              registry, {.monitor = [] { return nullptr; },
                         .resolve_metadata_path = [](std::string_view)
                             -> Result<std::string> { return std::string(); }})
              .ok());
  const MethodSpec* spec = registry.Find("Host.getStorageRepoStats");
  REQUIRE(spec != nullptr);
  CHECK(spec->handler({}, CallContext{}).status().code() == Code::kUnavailable);
}

TEST_CASE("FindFileDomainMetadata looks in every mount dir and glusterSD, not blockSD") {
  Repository repo;
  repo.AddDomain("glusterSD/srv:_vol", kSd);
  repo.AddDomain("blockSD", kSd2);
  Result<std::string> gluster = FindFileDomainMetadata(repo.env(), repo.root(), kSd);
  REQUIRE(gluster.ok());
  CHECK(*gluster == repo.MetadataPath("glusterSD/srv:_vol", kSd));
  CHECK(FindFileDomainMetadata(repo.env(), repo.root(), kSd2).status().code() ==
        Code::kNotFound);
  CHECK(FindFileDomainMetadata(repo.env(), repo.root(), "../etc").status().code() ==
        Code::kInvalidArgument);
  CHECK(FindFileDomainMetadata(repo.env(), repo.root() + "/none", kSd)
            .status()
            .storage_code() == storage_code::kStorageDomainDoesNotExist);
}

TEST_CASE("domain gauges are rendered on /metrics") {
  MonitorMethodsFixture f;
  f.repo_.AddDomain("srv:_export", kSd);
  REQUIRE(f.monitor_.Add(kSd, f.repo_.MetadataPath("srv:_export", kSd)).ok());
  REQUIRE(f.monitor_.Add(kSd2, f.repo_.MetadataPath("srv:_export", kSd2)).ok());
  f.monitor_.WaitForChecks(kSd, 1);
  f.monitor_.WaitForChecks(kSd2, 1);
  Metrics metrics({"Host.ping"});
  InstallDomainMetrics(metrics, f.monitor_);
  std::string text = metrics.RenderPrometheus();
  CHECK(text.find("# TYPE sanpool_domain_valid gauge\n") != std::string::npos);
  CHECK(text.find("sanpool_domain_valid{sd=\"" + std::string(kSd) +
                  "\"} 1.000000\n") != std::string::npos);
  CHECK(text.find("sanpool_domain_valid{sd=\"" + std::string(kSd2) +
                  "\"} 0.000000\n") != std::string::npos);
  CHECK(text.find("sanpool_domain_read_delay_seconds{sd=\"" +
                  std::string(kSd) + "\"} 0.000000\n") != std::string::npos);
  CHECK(text.find("sanpool_domain_last_check_age_seconds{sd=\"" +
                  std::string(kSd) + "\"}") != std::string::npos);
  // The built-in series are still there, before the collector's.
  CHECK(text.find("process_resident_memory_bytes") < text.find("sanpool_domain_valid"));
}

}  // namespace
}  // namespace sanpool::agent
