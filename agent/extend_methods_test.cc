#include "agent/extend_methods.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <future>
#include <string>
#include <vector>

#include "spm/extend_test_util.h"
#include "spm/local_state.h"

namespace sanpool::agent {
namespace {

namespace json = boost::json;
using spm::testing::ExtendFixture;
using spm::testing::kGiB;

// Volume.extend's handler on its own thread (it blocks like a worker).
std::future<Result<json::value>> CallExtend(const MethodRegistry& registry,
                                            json::object params) {
  const MethodSpec* spec = registry.Find("Volume.extend");
  REQUIRE(spec != nullptr);
  CHECK(spec->execution == Execution::kWorker);
  return std::async(std::launch::async, [spec, params] {
    return spec->handler(params, CallContext{});
  });
}

json::object Params(const mailbox::ExtendRequest& r, json::value size) {
  return {{"storagedomainID", r.domain_uuid},
          {"imageID", r.image_uuid},
          {"volumeID", r.volume_uuid},
          {"newSize", size}};
}

TEST_CASE("Volume.extend waits for the extend and reports size and timings") {
  ExtendFixture f;
  spm::testing::TestHost& spm = f.StartHost(1, true);
  ExtendMethodsDeps deps{.service = spm.service.get()};
  MethodRegistry registry;
  REQUIRE(RegisterExtendMethods(registry, &deps).ok());
  mailbox::ExtendRequest r = ExtendFixture::Request(4, 0);
  auto call = CallExtend(registry, Params(r, "3221225472"));
  REQUIRE(f.DriveReady(call));
  Result<json::value> out = call.get();
  INFO(out.status().ToString());
  REQUIRE(out.ok());
  const json::object& o = out->as_object();
  CHECK(o.at("newSize").to_number<uint64_t>() == 3 * kGiB);
  CHECK(o.at("path").as_string() == "local");
  CHECK(o.at("timings").as_object().at("reloaded").is_number());
}

TEST_CASE("Volume.extend maps a full VG to an error") {
  ExtendFixture f;
  spm::testing::TestHost& spm = f.StartHost(1, true);
  f.mb.vg.SetFree(0);
  ExtendMethodsDeps deps{.service = spm.service.get()};
  MethodRegistry registry;
  REQUIRE(RegisterExtendMethods(registry, &deps).ok());
  auto call = CallExtend(registry, Params(ExtendFixture::Request(1, 0),
                                          json::value(int64_t{kGiB})));
  REQUIRE(f.DriveReady(call));
  CHECK(call.get().status().code() == Code::kResourceExhausted);
}

TEST_CASE("Volume.extend without a service, or past its timeout") {
  MethodRegistry registry;
  ExtendMethodsDeps none;
  REQUIRE(RegisterExtendMethods(registry, &none).ok());
  json::object p = Params(ExtendFixture::Request(1, 0), json::value(1024));
  CHECK(registry.Find("Volume.extend")->handler(p, {}).status().code() ==
        Code::kUnavailable);

  ExtendFixture f;
  spm::testing::TestHost& host = f.StartHost(2, false);  // no SPM anywhere
  MethodRegistry registry2;
  ExtendMethodsDeps deps{.service = host.service.get(),
                         .timeout = std::chrono::milliseconds(1)};
  REQUIRE(RegisterExtendMethods(registry2, &deps).ok());
  CHECK(registry2.Find("Volume.extend")->handler(p, {}).status().code() ==
        Code::kDeadlineExceeded);
}

TEST_CASE("Volume.extended carries ids, result and timings") {
  FakeClock clock;
  NotificationHub hub(clock);
  std::vector<std::string> seen;
  NotificationHub::Subscription sub =
      hub.Subscribe([&](const std::string& text) { seen.push_back(text); });
  spm::ExtendResult r;
  r.request = ExtendFixture::Request(2, 2 * kGiB);
  r.size_bytes = 2 * kGiB;
  r.path = spm::ExtendPath::kMailbox;
  r.timings.queued = clock.SteadyNow();
  r.timings.sent = r.timings.queued + std::chrono::milliseconds(3);
  ExtendedPublisher(hub)(r);
  r.status = ResourceExhaustedError("VG full");
  ExtendedPublisher(hub)(r);
  REQUIRE(seen.size() == 2);
  json::object ok = json::parse(seen[0]).as_object();
  CHECK(ok.at("method").as_string() == kVolumeExtendedEvent);
  const json::object& p = ok.at("params").as_object();
  CHECK(p.at("volumeID").as_string() == r.request.volume_uuid);
  CHECK(p.at("newSize").to_number<uint64_t>() == 2 * kGiB);
  CHECK(p.at("ok").as_bool());
  CHECK(p.at("path").as_string() == "mailbox");
  CHECK(p.at("timings").as_object().at("sent").to_number<double>() == 3.0);
  CHECK(p.at("timings").as_object().at("answered").is_null());
  CHECK(p.at("timings").as_object().at("queuedAt").is_number());
  json::object failed = json::parse(seen[1]).as_object();
  CHECK_FALSE(failed.at("params").as_object().at("ok").as_bool());
  CHECK(failed.at("params").as_object().at("message").as_string() == "VG full");
}

TEST_CASE("Volume.lvExtended carries the SPM's lvextend times") {
  FakeClock clock;
  NotificationHub hub(clock);
  std::vector<std::string> seen;
  NotificationHub::Subscription sub =
      hub.Subscribe([&](const std::string& text) { seen.push_back(text); });
  spm::BatchedExtend b;
  b.request = ExtendFixture::Request(2, 2 * kGiB);
  b.size_bytes = 2 * kGiB;
  b.submitted = clock.SteadyNow();
  b.started = b.submitted + std::chrono::milliseconds(4);
  b.finished = b.started + std::chrono::milliseconds(50);
  LvExtendedPublisher(hub)(b);
  b.status = ResourceExhaustedError("VG full");
  LvExtendedPublisher(hub)(b);
  REQUIRE(seen.size() == 2);
  json::object ok = json::parse(seen[0]).as_object();
  CHECK(ok.at("method").as_string() == kVolumeLvExtendedEvent);
  const json::object& p = ok.at("params").as_object();
  CHECK(p.at("volumeID").as_string() == b.request.volume_uuid);
  CHECK(p.at("requestedSize").to_number<uint64_t>() == 2 * kGiB);
  CHECK(p.at("ok").as_bool());
  CHECK(p.at("startedAt").to_number<double>() -
            p.at("submittedAt").to_number<double>() ==
        4.0);
  CHECK(p.at("finishedAt").to_number<double>() -
            p.at("startedAt").to_number<double>() ==
        50.0);
  json::object failed = json::parse(seen[1]).as_object();
  CHECK_FALSE(failed.at("params").as_object().at("ok").as_bool());
  CHECK(failed.at("params").as_object().at("message").as_string() == "VG full");
}

TEST_CASE("the pool's master mailbox is found from the local pool state") {
  std::unique_ptr<Env> env = NewPosixEnv();
  char tmpl[] = "/tmp/sanpool-extend-locate-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  const std::string state = dir + "/pool.state";
  const std::string sd = spm::testing::ExtendFixture::Request(1, 0).domain_uuid;
  std::string asked;
  spm::LocateMailboxFn locate = PoolMailboxLocator(
      *env, state, [&](const std::string& master) -> Result<MailboxFiles> {
        asked = master;
        return MailboxFiles{"/dev/in", "/dev/out"};
      });
  Result<spm::MailboxLocation> none = locate();
  CHECK(none.status().code() == Code::kFailedPrecondition);
  CHECK(none.status().storage_code() == 309);

  REQUIRE(spm::SaveLocalState(*env, state,
                              {.pool_uuid = sd, .host_id = 7,
                               .master_sd = sd, .master_version = 1})
              .ok());
  Result<spm::MailboxLocation> found = locate();
  REQUIRE(found.ok());
  CHECK(asked == sd);
  CHECK(found->host_id == 7);
  CHECK(found->inbox_path == "/dev/in");
  CHECK(found->outbox_path == "/dev/out");

  // File masters: dom_md next to the metadata under <repository>/mnt.
  const std::string dom_md = dir + "/repo/mnt/server:_export/" + sd + "/dom_md";
  std::filesystem::create_directories(dom_md);
  Result<MailboxFiles> files = FileDomainMailboxFiles(*env, dir + "/repo")(sd);
  INFO(files.status().ToString());
  REQUIRE(files.ok());
  CHECK(files->inbox == dom_md + "/inbox");
  CHECK(files->outbox == dom_md + "/outbox");
  std::filesystem::remove_all(dir);
}

TEST_CASE("the Spm's role changes reach the extend service first") {
  ExtendFixture f;
  spm::testing::TestHost& a = f.StartHost(1, false, [](spm::ExtendServiceOptions& o) {
    o.role_poll_interval = std::chrono::hours(1);  // only the callback helps
  });
  ExtendRoleForwarder forward;
  std::vector<std::string> order;
  ExtendRoleForwarder::OnChange on_change =
      forward.Wrap([&](const std::string& pool, const spm::SpmStatus&) {
        order.push_back(pool);
      });
  {
    ExtendRoleForwarder::Attachment attached = forward.Attach(a.service.get());
    a.role.set_spm(true);
    on_change("pool", {.state = spm::SpmState::kSpm});
    REQUIRE(f.Drive([&] { return a.service->ServingMailbox(); }));
    a.role.set_spm(false);
    on_change("pool", {.state = spm::SpmState::kFree});
    REQUIRE(f.Drive([&] { return !a.service->ServingMailbox(); }));
  }
  // Detached: nothing reaches the service any more.
  a.role.set_spm(true);
  on_change("pool", {.state = spm::SpmState::kSpm});
  f.DriveSteps(50);
  CHECK_FALSE(a.service->ServingMailbox());
  CHECK(order.size() == 3);  // `next` always runs
  CHECK(a.service->stats().spm_starts == 1);
}

}  // namespace
}  // namespace sanpool::agent
