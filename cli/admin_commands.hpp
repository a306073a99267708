// `cairn devices|commands|push|certificates|declarations|sets`: the fleet managed from a shell
// through a running node's admin API (the same API as the web console and any script). Each
// prints a table for people (--output table, the default) or the server's JSON (--output json).
// Errors are exceptions (see options.hpp).
#pragma once

#include <string>
#include <vector>

namespace cairn::cli {

bool is_admin_command(const std::string& name);
// args as main() has them: args[1] is the command's name.
int run_admin_command(const std::vector<std::string>& args);

}  // namespace cairn::cli
