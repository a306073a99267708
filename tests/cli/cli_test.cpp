// The `cairn` command's own pieces: its command line, where it finds the server and key, and the
// tables it prints from what devices reported.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cli/admin_client.hpp"
#include "cli/options.hpp"
#include "cli/table.hpp"
#include "tests/support/temp_dir.hpp"

namespace cairn::cli {
namespace {

using testing::TempDir;

TEST(CliOptions, WordsOptionsAndFlags) {
  const std::vector<std::string> args{"cairn",   "devices", "list",  "os_version=17.1",
                                      "--limit", "5",       "--all", "--server=https://h:1"};
  const auto line = parse_command_line(args, 2, {"limit", "all", "server"}, true);
  EXPECT_EQ(line.words, (std::vector<std::string>{"list", "os_version=17.1"}));
  EXPECT_EQ(line.options.at("limit"), "5");
  EXPECT_EQ(line.options.at("all"), "1");
  EXPECT_EQ(line.options.at("server"), "https://h:1");
  EXPECT_THROW(parse_command_line(args, 2, {"limit", "all"}, true), UsageError) << "--server";
  EXPECT_THROW(parse_command_line(args, 2, {"limit", "all", "server"}, false), UsageError)
      << "words where none are taken";
  EXPECT_THROW(parse_options({"cairn", "x", "--limit"}, 2, {"limit"}), UsageError);
}

// The command line wins over the environment, which wins over the config file.
TEST(CliSettings, CommandLineThenEnvironmentThenConfigFile) {
  TempDir dir;
  const std::string config = dir / "cli.conf";
  std::ofstream(config) << "# the fleet\nserver = https://from-file:8443\napi-key = file-key\n"
                           "ca-file = /from/file.pem\n";
  ::chmod(config.c_str(), 0600);
  ::unsetenv("CAIRN_API_KEY");
  ::unsetenv("CAIRN_CA_FILE");
  ::setenv("CAIRN_SERVER", "https://from-env:8443", 1);
  auto s = server_settings({{"config", config}});
  EXPECT_EQ(s.server, "https://from-env:8443");
  EXPECT_EQ(s.api_key, "file-key");
  EXPECT_EQ(s.ca_file, "/from/file.pem");
  s = server_settings({{"config", config}, {"server", "https://flag:1"}, {"api-key", "flag-key"}});
  EXPECT_EQ(s.server, "https://flag:1");
  EXPECT_EQ(s.api_key, "flag-key");
  ::unsetenv("CAIRN_SERVER");

  std::ofstream(dir / "bad.conf") << "servr = x\n";
  EXPECT_THROW(server_settings({{"config", dir / "bad.conf"}}), UsageError) << "a typo is named";
  std::ofstream(dir / "nokey.conf") << "server = https://x:1\n";
  ::setenv("HOME", dir.path().c_str(), 1);
  EXPECT_THROW(server_settings({{"config", dir / "nokey.conf"}}), UsageError) << "no key";
}

TEST(CliTable, AlignsColumnsAndMarksWhatIsMissing) {
  rapidjson::Document rows;
  rows.Parse(R"([{"udid":"A","d":{"os":"17.1"},"n":3},{"udid":"LONGER-UDID","n":null}])");
  std::ostringstream out;
  print_table(out, rows, {{"UDID", "udid"}, {"OS", "d.os"}, {"N", "n"}});
  EXPECT_EQ(out.str(),
            "UDID         OS    N\n"
            "A            17.1  3\n"
            "LONGER-UDID  -     -\n");
}

// A device names itself; the name must not become commands to the operator's terminal.
TEST(CliTable, EscapesControlCharactersFromDevices) {
  rapidjson::Document d;
  d.Parse(R"({"DeviceName":"evil\u001b]0;owned\u0007\r\nname\\","apps":["a","b"]})");
  std::ostringstream out;
  print_fields(out, d);
  EXPECT_EQ(out.str(),
            "DeviceName  evil\\x1B]0;owned\\x07\\x0D\\x0Aname\\\\\n"
            "apps        a, b\n");
  EXPECT_EQ(out.str().find('\x1b'), std::string::npos);
}

TEST(CliTable, CutsLongCellsOnACharacterBoundary) {
  rapidjson::Document rows;
  const std::string name(70, 'x');
  rows.Parse((R"([{"n":")" + std::string(58, 'a') + "\xc3\xa9\xc3\xa9\xc3\xa9" + R"("}])").c_str());
  std::ostringstream out;
  print_table(out, rows, {{"N", "n"}});
  EXPECT_EQ(out.str(), "N\n" + std::string(58, 'a') + "\xc3\xa9\xe2\x80\xa6\n");
}

}  // namespace
}  // namespace cairn::cli
