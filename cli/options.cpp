#include "cli/options.hpp"

#include <fstream>

namespace cairn::cli {
namespace {

// Options that are switches, not "--name value".
const KnownOptions kFlags{"no-tls",  "sign-message", "development-apns", "sha1", "replace",
                          "no-push", "all"};

std::string trim(std::string t) {
  t.erase(0, t.find_first_not_of(" \t"));
  t.erase(t.find_last_not_of(" \t\r") + 1);
  return t;
}

}  // namespace

CommandLine parse_command_line(const std::vector<std::string>& args, size_t first,
                               const KnownOptions& known, bool words_allowed) {
  CommandLine line;
  for (size_t i = first; i < args.size(); ++i) {
    const auto& a = args[i];
    if (!a.starts_with("--")) {
      if (!words_allowed) throw UsageError("unexpected argument " + a);
      line.words.push_back(a);
      continue;
    }
    const auto eq = a.find('=');
    if (eq != std::string::npos) {
      line.options[a.substr(2, eq - 2)] = a.substr(eq + 1);
    } else if (kFlags.contains(a.substr(2))) {
      line.options[a.substr(2)] = "1";
    } else {
      if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
      line.options[a.substr(2)] = args[++i];
    }
  }
  for (const auto& [name, value] : line.options)
    if (!known.contains(name)) throw UsageError("unknown option --" + name);
  return line;
}

Options parse_options(const std::vector<std::string>& args, size_t first,
                      const KnownOptions& known) {
  return parse_command_line(args, first, known).options;
}

void merge_config_file(Options& o, const std::string& path, const KnownOptions& known) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("cannot read " + path);
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos)
      throw std::invalid_argument(path + ":" + std::to_string(number) + ": expected name = value");
    const std::string name = trim(line.substr(0, eq));
    if (!known.contains(name))
      throw UsageError(path + ":" + std::to_string(number) + ": unknown option " + name);
    o.try_emplace(name, trim(line.substr(eq + 1)));
  }
}

Options with_config_file(Options o, const KnownOptions& known) {
  if (o.contains("config")) merge_config_file(o, o.at("config"), known);
  return o;
}

const std::string& required(const Options& o, const std::string& name) {
  const auto it = o.find(name);
  if (it == o.end() || it->second.empty()) throw UsageError("--" + name + " is required");
  return it->second;
}

std::string opt(const Options& o, const std::string& key, const std::string& fallback) {
  auto it = o.find(key);
  return it == o.end() ? fallback : it->second;
}

}  // namespace cairn::cli
