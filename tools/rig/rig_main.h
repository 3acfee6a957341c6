// `sanpool rig ...`: the command line of the one-machine cluster
// (tools/rig/rig.h, doc/rig.md).
//
// Exit codes: 0 success; 1 the command failed (or, for `call`, the agent
// answered with a JSON-RPC error); 2 usage errors; 3 the agent could not be
// reached (`call`).
//
// Thread-safety: call from main() only.
#ifndef SANPOOL_TOOLS_RIG_RIG_MAIN_H_
#define SANPOOL_TOOLS_RIG_RIG_MAIN_H_

#include <string_view>

namespace sanpool::rig {

// The help text of `sanpool rig`.
extern const std::string_view kRigHelp;

// Runs `sanpool rig ARGS`; argv[0] is "rig".
int RunRig(int argc, char** argv);

}  // namespace sanpool::rig

#endif  // SANPOOL_TOOLS_RIG_RIG_MAIN_H_
