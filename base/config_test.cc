#include "base/config.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <functional>

#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "base/fault_env.h"
#include "base/log.h"

namespace sanpool {
namespace {

using namespace std::chrono_literals;

ConfigSchema TestSchema() {
  ConfigSchema schema;
  schema.Int("rpc.port", 54321, 1, 65535, "TCP port of the JSON-RPC server")
      .Bool("rpc.tls", true, "Require mutual TLS")
      .String("rpc.address", "::", "Listen address")
      .Duration("mailbox.poll_interval", 50ms, "How often the SPM polls",
                1ms, 10s)
      .Size("thin.chunk", 1ull << 30, "Extend step", 128ull << 20, 64ull << 30)
      .Enum("dm.backend", "kernel", {"kernel", "user"}, "Device-mapper backend")
      .Path("agent.state_dir", "/var/lib/sanpool", "Local state");
  return schema;
}

// Loads `text` as "agent.conf"; returns the error message ("" if OK).
std::string LoadError(Config& config, std::string_view text) {
  Status s = config.LoadText(text, "agent.conf");
  if (!s.ok()) CHECK(s.code() == Code::kInvalidArgument);
  return std::string(s.message());
}

TEST_CASE("defaults apply before anything is loaded") {
  Config config(TestSchema());
  CHECK(config.GetInt("rpc.port") == 54321);
  CHECK(config.GetBool("rpc.tls"));
  CHECK(config.GetString("rpc.address") == "::");
  CHECK(config.GetDuration("mailbox.poll_interval") == 50ms);
  CHECK(config.GetSize("thin.chunk") == 1ull << 30);
  CHECK(config.GetEnum("dm.backend") == "kernel");
  CHECK(config.GetPath("agent.state_dir") == "/var/lib/sanpool");
  CHECK(config.Source("rpc.port") == "default");
}

TEST_CASE("a file sets typed values with comments and whitespace") {
  Config config(TestSchema());
  REQUIRE(LoadError(config,
                    "# sanpool agent\n"
                    "; another comment\n"
                    "\n"
                    "[rpc]\n"
                    "  port   =  4000  \r\n"
                    "tls = Off\n"
                    "address = \" spaced \"\n"
                    "[ mailbox ]\n"
                    "poll_interval = 0.25\n"
                    "[thin]\n"
                    "chunk = 512M\n"
                    "[dm]\n"
                    "backend = user\n"
                    "[agent]\n"
                    "state_dir = /srv/sanpool\n"
                    "[rpc]\n"
                    "\n") == "");
  CHECK(config.GetInt("rpc.port") == 4000);
  CHECK(!config.GetBool("rpc.tls"));
  CHECK(config.GetString("rpc.address") == " spaced ");
  CHECK(config.GetDuration("mailbox.poll_interval") == 250ms);
  CHECK(config.GetSize("thin.chunk") == 512ull << 20);
  CHECK(config.GetEnum("dm.backend") == "user");
  CHECK(config.GetPath("agent.state_dir") == "/srv/sanpool");
  CHECK(config.Source("rpc.port") == "agent.conf:5");
  CHECK(config.Source("rpc.tls") == "agent.conf:6");
}

TEST_CASE("value syntaxes per type") {
  ConfigKey port{"rpc.port", ConfigType::kInt, int64_t{1}, "", 1, 65535};
  CHECK(std::get<int64_t>(*ParseConfigValue(port, "65535")) == 65535);
  CHECK(!ParseConfigValue(port, "12ab").ok());
  CHECK(!ParseConfigValue(port, "").ok());
  CHECK(ParseConfigValue(port, "99999999999999999999").status().message() ==
        "rpc.port: 99999999999999999999 is out of range");

  ConfigKey flag{"a.b", ConfigType::kBool, false, ""};
  for (const char* yes : {"true", "YES", "on", "1"}) {
    CHECK(std::get<bool>(*ParseConfigValue(flag, yes)));
  }
  for (const char* no : {"false", "No", "OFF", "0"}) {
    CHECK(!std::get<bool>(*ParseConfigValue(flag, no)));
  }
  CHECK(ParseConfigValue(flag, "maybe").status().message() ==
        "a.b: 'maybe' is not a boolean (true/false, yes/no, on/off, 1/0)");

  ConfigKey d{"a.d", ConfigType::kDuration, 0ns, "", 0};
  auto dur = [&](std::string_view t) {
    return std::get<std::chrono::nanoseconds>(*ParseConfigValue(d, t));
  };
  CHECK(dur("30") == 30s);
  CHECK(dur("0.05") == 50ms);
  CHECK(dur(".5") == 500ms);
  CHECK(dur("50ms") == 50ms);
  CHECK(dur("1.5 s") == 1500ms);
  CHECK(dur("2m") == 120s);
  CHECK(dur("1h") == 3600s);
  CHECK(!ParseConfigValue(d, "5x").ok());
  CHECK(!ParseConfigValue(d, "1e3").ok());
  CHECK(!ParseConfigValue(d, "-1").ok());  // below the minimum 0
  CHECK(!ParseConfigValue(d, "1.").ok());

  ConfigKey s{"a.s", ConfigType::kSize, uint64_t{0}, "", 0,
              std::numeric_limits<int64_t>::max()};
  auto size = [&](std::string_view t) {
    return std::get<uint64_t>(*ParseConfigValue(s, t));
  };
  CHECK(size("4096") == 4096);
  CHECK(size("4K") == 4096);
  CHECK(size("4 KiB") == 4096);
  CHECK(size("2m") == 2ull << 20);
  CHECK(size("3GiB") == 3ull << 30);
  CHECK(size("1T") == 1ull << 40);
  CHECK(!ParseConfigValue(s, "1KB").ok());
  CHECK(!ParseConfigValue(s, "1.5G").ok());
  CHECK(!ParseConfigValue(s, "G").ok());
  CHECK(ParseConfigValue(s, "99999999999T").status().message() ==
        "a.s: 99999999999T is out of range");

  ConfigKey p{"a.p", ConfigType::kPath, std::string(), ""};
  CHECK(ParseConfigValue(p, "").ok());
  CHECK(ParseConfigValue(p, "relative/x").status().message() ==
        "a.p: 'relative/x' is not an absolute path");
}

TEST_CASE("errors name the file, the line and the problem") {
  Config config(TestSchema());
  CHECK(LoadError(config, "[rpc]\nprot = 1\n") ==
        "agent.conf:2: unknown key rpc.prot (did you mean rpc.port?)");
  CHECK(LoadError(config, "[rpc]\n\nport = 70000\n") ==
        "agent.conf:3: rpc.port: 70000 is above the maximum 65535");
  CHECK(LoadError(config, "[rpc]\nport = 0\n") ==
        "agent.conf:2: rpc.port: 0 is below the minimum 1");
  CHECK(LoadError(config, "[rpc]\nport = 1\nport = 2\n") ==
        "agent.conf:3: duplicate key rpc.port (first set on line 2)");
  CHECK(LoadError(config, "[rpc]\nport 1\n") ==
        "agent.conf:2: expected 'key = value', got 'port 1'");
  CHECK(LoadError(config, "[rcp]\nport = 1\n") ==
        "agent.conf:1: unknown section [rcp] (did you mean rpc?)");
  CHECK(LoadError(config, "[nothing_like_it]\n") ==
        "agent.conf:1: unknown section [nothing_like_it]");
  CHECK(LoadError(config, "[rpc\n") ==
        "agent.conf:1: malformed section header '[rpc' (missing ']')");
  CHECK(LoadError(config, "port = 1\n") ==
        "agent.conf:1: key port is outside any section (add a [section] line "
        "above it)");
  CHECK(LoadError(config, "[rpc]\n= 1\n") ==
        "agent.conf:2: missing key before '='");
  CHECK(LoadError(config, "[mailbox]\nport = 1\n") ==
        "agent.conf:2: unknown key mailbox.port (did you mean rpc.port?)");
  CHECK(LoadError(config, "[dm]\nbackend = kernal\n") ==
        "agent.conf:2: dm.backend: 'kernal' is not one of kernel, user "
        "(did you mean kernel?)");
  CHECK(LoadError(config, "[thin]\nchunk = 1M\n") ==
        "agent.conf:2: thin.chunk: 1M is below the minimum 128MiB");
  CHECK(LoadError(config, "[mailbox]\npoll_interval = 11\n") ==
        "agent.conf:2: mailbox.poll_interval: 11 is above the maximum 10s");
  CHECK(LoadError(config, "[rpc]\nport = 1 # inline\n") ==
        "agent.conf:2: rpc.port: '1 # inline' is not an integer");
}

TEST_CASE("all errors are reported and a bad file changes nothing") {
  Config config(TestSchema());
  std::string message = LoadError(config,
                                  "[rpc]\n"
                                  "port = 1000\n"
                                  "tls = perhaps\n"
                                  "[dm]\n"
                                  "backend = fuse\n");
  CHECK(message ==
        "agent.conf:3: rpc.tls: 'perhaps' is not a boolean (true/false, "
        "yes/no, on/off, 1/0)\n"
        "agent.conf:5: dm.backend: 'fuse' is not one of kernel, user");
  CHECK(config.GetInt("rpc.port") == 54321);  // line 2 was fine, not applied
}

TEST_CASE("overrides apply after the file and name the flag") {
  Config config(TestSchema());
  REQUIRE(LoadError(config, "[rpc]\nport = 4000\n") == "");
  REQUIRE(config.ApplyOverride("rpc.port=5000").ok());
  REQUIRE(config.ApplyOverride(" rpc.port = 6000 ").ok());  // last one wins
  CHECK(config.GetInt("rpc.port") == 6000);
  CHECK(config.Source("rpc.port") == "--set");
  REQUIRE(config.ApplyOverride("thin.chunk=2G").ok());
  CHECK(config.GetSize("thin.chunk") == 2ull << 30);

  CHECK(config.ApplyOverride("rpc.prot=1").message() ==
        "--set: unknown key rpc.prot (did you mean rpc.port?)");
  CHECK(config.ApplyOverride("rpc.port").message() ==
        "--set rpc.port: expected section.key=value");
  Status bad = config.ApplyOverride("rpc.port=70000");
  CHECK(bad.code() == Code::kInvalidArgument);
  CHECK(bad.message() ==
        "--set: rpc.port: 70000 is above the maximum 65535");
  CHECK(config.GetInt("rpc.port") == 6000);  // unchanged
}

class ConfigFileTest {
 public:
  ConfigFileTest() {
    std::string templ = "/tmp/sanpool-config-test-XXXXXX";
    REQUIRE(mkdtemp(templ.data()) != nullptr);
    dir_ = templ;
  }
  ~ConfigFileTest() { std::filesystem::remove_all(dir_); }

 protected:
  std::unique_ptr<Env> posix_ = NewPosixEnv();
  FaultEnv env_{*posix_};
  std::string dir_;
  Config config_{TestSchema()};
};

TEST_CASE_METHOD(ConfigFileTest, "load reads the file through the env") {
  const std::string path = JoinPath(dir_, "agent.conf");
  REQUIRE(posix_->WriteFile(path, "[rpc]\nport = 7000\n", {}).ok());
  REQUIRE(config_.Load(env_, path, MissingFile::kError).ok());
  CHECK(config_.GetInt("rpc.port") == 7000);
  CHECK(config_.Source("rpc.port") == path + ":2");
  CHECK(env_.Count(Op::kReadFile) == 1);

  REQUIRE(posix_->WriteFile(path, "[rpc]\nport = 70000\n", {}).ok());
  Status s = config_.Load(env_, path, MissingFile::kError);
  CHECK(s.message() == path + ":2: rpc.port: 70000 is above the maximum 65535");
}

TEST_CASE_METHOD(ConfigFileTest, "a missing file is an error unless allowed") {
  const std::string path = JoinPath(dir_, "absent.conf");
  Status s = config_.Load(env_, path, MissingFile::kError);
  CHECK(s.code() == Code::kNotFound);
  CHECK(std::string(s.message()).find(path) != std::string::npos);
  CHECK(config_.Load(env_, path, MissingFile::kUseDefaults).ok());
  CHECK(config_.GetInt("rpc.port") == 54321);
}

TEST_CASE_METHOD(ConfigFileTest, "an unreadable file is an error even if optional") {
  const std::string path = JoinPath(dir_, "agent.conf");
  env_.AddFault({.op = Op::kReadFile, .error = EIO});
  Status s = config_.Load(env_, path, MissingFile::kUseDefaults);
  CHECK(s.code() == Code::kUnavailable);
  CHECK(std::string(s.message()).starts_with("cannot read config: "));
}

TEST_CASE("the schema renders as markdown tables per section") {
  std::string md = TestSchema().RenderMarkdown();
  CHECK(md.starts_with("### [rpc]\n\n| Key | Type | Default | Description |\n"));
  CHECK(md.find("| `rpc.port` | int (1..65535) | `54321` | TCP port of the "
                "JSON-RPC server |\n") != std::string::npos);
  CHECK(md.find("| `mailbox.poll_interval` | duration (seconds, min 0.001, "
                "max 10) | `0.05` |") != std::string::npos);
  CHECK(md.find("| `thin.chunk` | size (bytes, K/M/G/T suffixes, min 128MiB, "
                "max 64GiB) | `1GiB` |") != std::string::npos);
  CHECK(md.find("| `dm.backend` | enum: `kernel`, `user` | `kernel` |") !=
        std::string::npos);
  CHECK(md.find("### [agent]") != std::string::npos);
}

TEST_CASE("dump lists every value with its source") {
  Config config(TestSchema());
  REQUIRE(config.ApplyOverride("rpc.address=").ok());
  std::string dump = config.Dump();
  CHECK(dump.starts_with("rpc.port = 54321  # default\n"));
  CHECK(dump.find("rpc.address = \"\"  # --set\n") != std::string::npos);
  CHECK(dump.find("thin.chunk = 1GiB  # default\n") != std::string::npos);
}

// Runs `fn` in a child process; true if the child died of SIGABRT.
bool Aborts(const std::function<void()>& fn) {
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Catch2's fatal-signal handler would report the abort as a failure.
    std::signal(SIGABRT, SIG_DFL);
    log::SetSink([](log::Level, std::string_view) {});
    fn();
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

TEST_CASE("programming errors abort, user input never does") {
  Config config(TestSchema());
  CHECK(Aborts([&] { (void)config.GetInt("rpc.nope"); }));
  CHECK(Aborts([&] { (void)config.GetString("rpc.port"); }));
  CHECK(Aborts([] { ConfigSchema().Int("rpc.port", 0, 1, 10, ""); }));
  CHECK(Aborts([] { ConfigSchema().Bool("nodot", false, ""); }));
  CHECK(Aborts([] { ConfigSchema().Bool("A.b", false, ""); }));
  CHECK(Aborts([] {
    ConfigSchema().Bool("a.b", false, "").Bool("a.b", true, "");
  }));
  CHECK(Aborts([] { ConfigSchema().Enum("a.b", "x", {"y"}, ""); }));
  CHECK(!Aborts([&] { (void)config.GetInt("rpc.port"); }));
  CHECK(!Aborts([&] { (void)config.LoadText("[\n=\n[x]\n\0\xff", "f"); }));
}

}  // namespace
}  // namespace sanpool
