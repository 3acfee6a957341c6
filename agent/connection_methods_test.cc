// The connection verbs through the registry, on a StorageServer whose
// mount/umount are answered by FakeProcessRunner.
#include "agent/connection_methods.h"

#include <stdlib.h>

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "agent/json_params.h"
#include "base/env.h"
#include "base/fake_process.h"

namespace sanpool::agent {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

constexpr char kBlankPool[] = "00000000-0000-0000-0000-000000000000";

class Fixture {
 public:
  Fixture() {
    std::string templ = "/tmp/sanpool-cm-XXXXXX";
    REQUIRE(mkdtemp(templ.data()) != nullptr);
    root_ = templ;
    std::ofstream(root_ + "/mountinfo") << "";
    server_ = std::make_unique<StorageServer>(
        *env_, runner_,
        StorageServer::Options{.mnt_root = root_ + "/mnt",
                               .mountinfo_path = root_ + "/mountinfo"});
    runner_.Expect({"/usr/bin/mount"}, {}, FakeProcessRunner::Match::kPrefix);
    REQUIRE(RegisterConnectionMethods(
                registry_,
                {.server = [this] { return server_.get(); },
                 .record =
                     [this](ConnectionType,
                            const std::vector<spm::SavedConnection>& connected,
                            const std::vector<std::string>& disconnected) {
                       if (fail_record_) return InternalError("disk full");
                       return spm::UpdateSavedConnections(
                           *env_, state_file(), connected, disconnected);
                     },
                 .on_connected = [this] { ++on_connected_; }})
                .ok());
  }
  ~Fixture() { fs::remove_all(root_); }

  Result<json::value> Call(const std::string& method, const std::string& text) {
    const MethodSpec* spec = registry_.Find(method);
    REQUIRE(spec != nullptr);
    json::object params = json::parse(text).as_object();
    RETURN_IF_ERROR(ValidateParams(spec->params, params, spec->extra_params));
    return spec->handler(params, CallContext{});
  }

  std::string state_file() const { return root_ + "/state"; }

  std::unique_ptr<Env> env_ = NewPosixEnv();
  FakeProcessRunner runner_;
  bool fail_record_ = false;
  int on_connected_ = 0;
  std::string root_;
  std::unique_ptr<StorageServer> server_;
  MethodRegistry registry_;
};

TEST_CASE("connectStorageServer answers one status per connection",
          "[connection_methods]") {
  Fixture f;
  fs::create_directory(f.root_ + "/local");
  auto r = f.Call("StoragePool.connectStorageServer",
                  R"({"storagepoolID": ")" + std::string(kBlankPool) +
                      R"(", "domainType": 6, "connectionParams": [
          {"id": "a", "connection": "/dev/loop3", "vfs_type": "ext4",
           "password": "secret"},
          {"id": "b", "connection": "/dev/loop4", "vfs_type": "ext4",
           "mnt_options": "-o,rw"}]})");
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  json::array out = r->as_array();
  REQUIRE(out.size() == 2);
  CHECK(out[0].at("id") == "a");
  CHECK(out[0].at("status") == 0);
  CHECK_FALSE(out[0].as_object().contains("message"));
  CHECK(out[1].at("id") == "b");
  CHECK(out[1].at("status") == 1000);
  CHECK(out[1].as_object().contains("message"));
  CHECK(f.runner_.CallArgvs().size() == 1);
  CHECK(f.on_connected_ == 1);  // "a" connected: block VGs are looked up anew

  r = f.Call("StoragePool.connectStorageServer",
             R"({"domainType": "LOCALFS", "connectionParams": [
          {"id": "l", "connection": ")" + f.root_ + R"(/local"}]})");
  REQUIRE(r.ok());
  CHECK(r->as_array()[0].at("status") == 0);
  CHECK(f.server_->Connections().size() == 2);

  r = f.Call("StoragePool.disconnectStorageServer",
             R"({"domainType": 4, "connectionParams": [
          {"id": "l", "connection": ")" + f.root_ + R"(/local"}]})");
  REQUIRE(r.ok());
  CHECK(r->as_array()[0].at("status") == 0);
  CHECK(f.server_->Connections().size() == 1);
  CHECK(f.on_connected_ == 2);  // a disconnect does not call it

  // Nothing connected (iSCSI is answered 468): not called either.
  r = f.Call("StoragePool.connectStorageServer",
             R"({"domainType": 3, "connectionParams": [{"id": "i"}]})");
  REQUIRE(r.ok());
  CHECK(r->as_array()[0].at("status") != 0);
  CHECK(f.on_connected_ == 2);
}

TEST_CASE("connection dicts: numbers as strings, bad entries fail the call",
          "[connection_methods]") {
  auto p = ConnectionParamsFromJson(json::parse(
      R"({"id": "n", "connection": "srv:/e", "protocol_version": 4.1,
          "retrans": "6", "timeout": 600, "tpgt": "1"})"));
  REQUIRE(p.ok());
  CHECK(p->protocol_version == "4.1");
  CHECK(p->retrans == 6);
  CHECK(p->timeout == 600);
  CHECK_FALSE(ConnectionParamsFromJson(json::parse(R"({"connection": "x"})"))
                  .ok());
  CHECK_FALSE(ConnectionParamsFromJson(json::parse(R"({"id": "x",
      "retrans": "-1"})")).ok());
  CHECK_FALSE(ConnectionParamsFromJson(json::parse("[1]")).ok());

  Fixture f;
  auto r = f.Call("StoragePool.connectStorageServer",
                  R"({"domainType": 1, "connectionParams": [{"id": "a",
                      "connection": "srv:/e"}, 7]})");
  CHECK(r.status().code() == Code::kInvalidArgument);
  CHECK(f.runner_.CallArgvs().empty());
  r = f.Call("StoragePool.connectStorageServer",
             R"({"domainType": 5, "connectionParams": []})");
  CHECK(r.status().code() == Code::kInvalidArgument);
}

TEST_CASE("Unsupported connection types are reported per connection",
          "[connection_methods]") {
  Fixture f;
  auto r = f.Call("StoragePool.connectStorageServer",
                  R"({"domainType": 3, "connectionParams": [
                      {"id": "i", "connection": "10.0.0.1", "iqn": "x"}]})");
  REQUIRE(r.ok());
  CHECK(r->as_array()[0].at("status") == 468);
}

TEST_CASE("connections are recorded, forgotten and restored after a reboot",
          "[connection_methods]") {
  Fixture f;
  fs::create_directory(f.root_ + "/nas");
  const std::string params = R"({"domainType": 4, "connectionParams": [
      {"id": "nas", "connection": ")" + f.root_ + R"(/nas"},
      {"id": "bad", "connection": ")" + f.root_ + R"(/missing"}]})";
  auto r = f.Call("StoragePool.connectStorageServer", params);
  REQUIRE(r.ok());
  CHECK(r->as_array()[0].at("status") == 0);
  CHECK(r->as_array()[1].at("status") == 1000);
  auto saved = spm::LoadSavedConnections(*f.env_, f.state_file());
  REQUIRE(saved.ok());
  REQUIRE(saved->size() == 1);  // only what connected
  CHECK((*saved)[0].type == ConnectionType::kLocalFs);
  CHECK((*saved)[0].params.id == "nas");
  CHECK((*saved)[0].params.connection == f.root_ + "/nas");
  const std::string link = f.server_->Connections()[0].local_path;

  // A "reboot": the link and the agent's memory are gone.
  fs::remove(link);
  f.server_ = std::make_unique<StorageServer>(
      *f.env_, f.runner_,
      StorageServer::Options{.mnt_root = f.root_ + "/mnt",
                             .mountinfo_path = f.root_ + "/mountinfo"});
  RestoreSavedConnections(*f.server_, *f.env_, f.state_file());
  CHECK(fs::is_symlink(link));
  REQUIRE(f.server_->Connections().size() == 1);
  // Held connections are not made again.
  fs::remove(link);
  RestoreSavedConnections(*f.server_, *f.env_, f.state_file());
  CHECK_FALSE(fs::exists(fs::symlink_status(link)));

  // A saved connection that cannot be made is logged, not fatal.
  REQUIRE(spm::UpdateSavedConnections(
              *f.env_, f.state_file(),
              {{ConnectionType::kLocalFs,
                {.id = "gone", .connection = f.root_ + "/gone"}}},
              {})
              .ok());
  RestoreSavedConnections(*f.server_, *f.env_, f.state_file());
  CHECK(f.server_->Connections().size() == 1);

  r = f.Call("StoragePool.disconnectStorageServer", params);
  REQUIRE(r.ok());
  saved = spm::LoadSavedConnections(*f.env_, f.state_file());
  REQUIRE(saved.ok());
  REQUIRE(saved->size() == 1);
  CHECK((*saved)[0].params.id == "gone");
}

TEST_CASE("a connection that cannot be recorded is answered as failed",
          "[connection_methods]") {
  Fixture f;
  fs::create_directory(f.root_ + "/nas");
  f.fail_record_ = true;
  auto r = f.Call("StoragePool.connectStorageServer",
                  R"({"domainType": 4, "connectionParams": [
      {"id": "nas", "connection": ")" + f.root_ + R"(/nas"}]})");
  REQUIRE(r.ok());
  CHECK(r->as_array()[0].at("status") == 451);
  CHECK(std::string(r->as_array()[0].at("message").as_string())
            .find("not recorded") != std::string::npos);
}

}  // namespace
}  // namespace sanpool::agent
