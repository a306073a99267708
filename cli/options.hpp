// The `cairn` command line: options as "--name value" (or "--name=value"), a few positional
// words where a command names its subject (`cairn devices show UDID`), and "name = value" files.
// Errors are exceptions: UsageError for a command line that is wrong (exit status 2, as for any
// Unix command), any other std::exception for a failure (exit status 1).
#pragma once

#include <functional>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace cairn::cli {

class UsageError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

using Options = std::map<std::string, std::string>;
// Every option a command reads: a mistyped one must stop the command, not be ignored (`--lisen`
// would otherwise serve on the default address).
using KnownOptions = std::set<std::string, std::less<>>;

struct CommandLine {
  Options options;
  std::vector<std::string> words;  // the arguments that are not options, in order
};

// Parses args[first…]. Options in `flags` take no value ("1" when given). Words are refused
// unless `words_allowed`.
CommandLine parse_command_line(const std::vector<std::string>& args, size_t first,
                               const KnownOptions& known, bool words_allowed = false);
// The same when a command takes no words.
Options parse_options(const std::vector<std::string>& args, size_t first,
                      const KnownOptions& known);

// Adds the options of a "name = value" file ('#' starts a comment) that `o` lacks: what the
// command line says wins. Unknown names are refused with the file's line.
void merge_config_file(Options& o, const std::string& path, const KnownOptions& known);
// --config FILE, merged as above (every role of a deployment reads one file).
Options with_config_file(Options o, const KnownOptions& known);

const std::string& required(const Options& o, const std::string& name);
std::string opt(const Options& o, const std::string& key, const std::string& fallback);

}  // namespace cairn::cli
