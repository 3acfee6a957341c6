#include "tools/rig/rig_state.h"

#include <catch2/catch.hpp>

namespace sanpool::rig {
namespace {

RigState SampleState() {
  RigState s;
  s.dir = "/var/tmp/rig";
  s.io_timeout_s = 2;
  s.lun_size = uint64_t{50} << 30;
  s.luns = {"/dev/loop3", "/dev/loop4"};
  s.skipped_config_keys = {"dm.backend"};
  s.agent_config = {"mailbox.lvm_shell_batch=true"};
  for (int i = 1; i <= 3; ++i) {
    s.hosts.push_back({.index = i,
                       .sanlock = {100 + i, 1000u + i},
                       .dmemu = {200 + i, 2000u + i},
                       .agent = {300 + i, 3000u + i},
                       .port = 40000 + i});
  }
  return s;
}

TEST_CASE("rig state survives a JSON round trip", "[rig]") {
  RigState in = SampleState();
  Result<RigState> out = DecodeRigState(EncodeRigState(in));
  REQUIRE(out.ok());
  CHECK(out->dir == in.dir);
  CHECK(out->io_timeout_s == 2);
  CHECK(out->lun_size == in.lun_size);
  CHECK(out->luns == in.luns);
  CHECK(out->skipped_config_keys == in.skipped_config_keys);
  CHECK(out->agent_config == in.agent_config);
  REQUIRE(out->hosts.size() == 3);
  CHECK(out->hosts[1].index == 2);
  CHECK(out->hosts[1].sanlock.pid == 102);
  CHECK(out->hosts[1].dmemu.start_time == 2002u);
  CHECK(out->hosts[2].agent.pid == 303);
  CHECK(out->hosts[2].port == 40003);
  CHECK(out->FindHost(3)->agent.start_time == 3003u);
  CHECK(out->FindHost(0) == nullptr);
  CHECK(out->FindHost(4) == nullptr);
}

TEST_CASE("malformed rig state is refused", "[rig]") {
  CHECK(DecodeRigState("").status().code() == Code::kInvalidArgument);
  CHECK(DecodeRigState("[]").status().code() == Code::kInvalidArgument);
  std::string text = EncodeRigState(SampleState());
  std::string wrong_version = text;
  wrong_version.replace(wrong_version.find("\"version\":1"), 11, "\"version\":9");
  CHECK(DecodeRigState(wrong_version).status().code() == Code::kInvalidArgument);
  std::string out_of_order = text;
  out_of_order.replace(out_of_order.find("\"index\":2"), 9, "\"index\":7");
  CHECK(DecodeRigState(out_of_order).status().code() == Code::kInvalidArgument);
  std::string bad_port = text;
  bad_port.replace(bad_port.find("40001"), 5, "99999");
  CHECK(DecodeRigState(bad_port).status().code() == Code::kInvalidArgument);
}

TEST_CASE("layout puts each host under D/hosts/I", "[rig]") {
  RigLayout l = LayoutFor("/var/tmp/sanpool-rig");
  CHECK(l.state_file == "/var/tmp/sanpool-rig/rig.json");
  CHECK(l.LunFile(2) == "/var/tmp/sanpool-rig/san/lun2");
  CHECK(l.nas_dir == "/var/tmp/sanpool-rig/nas");
  HostLayout h = l.Host(3);
  CHECK(h.index == 3);
  CHECK(h.sanlock_run_dir == "/var/tmp/sanpool-rig/hosts/3/sanlock");
  CHECK(h.agent_socket == "/var/tmp/sanpool-rig/hosts/3/agent.sock");
  CHECK(h.dmemu_mount == "/var/tmp/sanpool-rig/hosts/3/dmemu");
  CHECK(h.repository == "/var/tmp/sanpool-rig/hosts/3/data-center");
}

TEST_CASE("byte sizes take binary units", "[rig]") {
  CHECK(*ParseByteSize("50G") == uint64_t{50} << 30);
  CHECK(*ParseByteSize("512M") == uint64_t{512} << 20);
  CHECK(*ParseByteSize("1TiB") == uint64_t{1} << 40);
  CHECK(*ParseByteSize("4096") == 4096u);
  CHECK(!ParseByteSize("").ok());
  CHECK(!ParseByteSize("0").ok());
  CHECK(!ParseByteSize("G").ok());
  CHECK(!ParseByteSize("5X").ok());
  CHECK(!ParseByteSize("99999999999999T").ok());
}

}  // namespace
}  // namespace sanpool::rig
