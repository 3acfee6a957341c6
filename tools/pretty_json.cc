#include "tools/pretty_json.h"

#include <boost/json.hpp>

namespace sanpool::tools {
namespace {

void Append(const boost::json::value& v, int depth, std::string& out) {
  const std::string pad(static_cast<size_t>(depth + 1) * 2, ' ');
  const std::string close_pad(static_cast<size_t>(depth) * 2, ' ');
  if (v.is_object()) {
    const boost::json::object& o = v.get_object();
    if (o.empty()) {
      out += "{}";
      return;
    }
    out += "{\n";
    bool first = true;
    for (const auto& member : o) {
      if (!first) out += ",\n";
      first = false;
      out += pad;
      out += boost::json::serialize(boost::json::string(member.key()));
      out += ": ";
      Append(member.value(), depth + 1, out);
    }
    out += "\n" + close_pad + "}";
  } else if (v.is_array()) {
    const boost::json::array& a = v.get_array();
    if (a.empty()) {
      out += "[]";
      return;
    }
    out += "[\n";
    bool first = true;
    for (const auto& item : a) {
      if (!first) out += ",\n";
      first = false;
      out += pad;
      Append(item, depth + 1, out);
    }
    out += "\n" + close_pad + "]";
  } else {
    out += boost::json::serialize(v);
  }
}

}  // namespace

std::string PrettyJson(const boost::json::value& value) {
  std::string out;
  Append(value, 0, out);
  return out;
}

}  // namespace sanpool::tools
