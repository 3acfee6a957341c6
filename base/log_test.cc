#include "base/log.h"

#include <mutex>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace sanpool::log {
namespace {

struct CapturedLines {
  CapturedLines() {
    SetSink([this](Level, std::string_view line) {
      std::lock_guard lock(mu);
      lines.emplace_back(line);
    });
  }
  ~CapturedLines() {
    SetSink(nullptr);
    SetLevel(Level::kInfo);
  }
  std::mutex mu;
  std::vector<std::string> lines;
};

TEST_CASE("format writes level, component, message and fields") {
  CHECK(Format(Level::kInfo, "rpc", "listening",
               {{"addr", "127.0.0.1:1"}, {"tls", true}, {"n", 3}}) ==
        "info rpc: listening addr=127.0.0.1:1 tls=true n=3");
}

TEST_CASE("values with spaces, quotes and control characters are quoted") {
  CHECK(Format(Level::kError, "x", "m", {{"v", "a b"}}) == "error x: m v=\"a b\"");
  CHECK(Format(Level::kError, "x", "m", {{"v", "q\"=\n"}}) ==
        "error x: m v=\"q\\\"=\\n\"");
  CHECK(Format(Level::kError, "x", "m", {{"v", ""}}) == "error x: m v=\"\"");
}

TEST_CASE("lines below the level are dropped") {
  CapturedLines cap;
  SetLevel(Level::kWarning);
  Info("c", "hidden");
  Warning("c", "shown");
  REQUIRE(cap.lines.size() == 1);
  CHECK(cap.lines[0] == "warning c: shown");
}

TEST_CASE("level names parse") {
  Level l = Level::kInfo;
  CHECK(ParseLevel("debug", &l));
  CHECK(l == Level::kDebug);
  CHECK(ParseLevel("warn", &l));
  CHECK(l == Level::kWarning);
  CHECK_FALSE(ParseLevel("loud", &l));
}

}  // namespace
}  // namespace sanpool::log
