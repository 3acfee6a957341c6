// PrettyJson: indented JSON for humans (`sanpool call` output).
//
// Boost.JSON serialises compactly only; this prints objects and arrays one
// member per line, indented by two spaces, keys in their stored order, with
// empty containers as {} and []. Scalars are serialised as Boost.JSON does
// (strings quoted and escaped), so the output is valid JSON.
#ifndef SANPOOL_TOOLS_PRETTY_JSON_H_
#define SANPOOL_TOOLS_PRETTY_JSON_H_

#include <string>

#include <boost/json/value.hpp>

namespace sanpool::tools {

// No trailing newline.
std::string PrettyJson(const boost::json::value& value);

}  // namespace sanpool::tools

#endif  // SANPOOL_TOOLS_PRETTY_JSON_H_
