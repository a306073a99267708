// The `cairn` command line as an operator types it: a mistyped option stops the command with the
// reason instead of being ignored, and help is an answer, not an error.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/shell.hpp"
#include "tests/support/temp_dir.hpp"

namespace cairn::testing {
namespace {

TEST(CommandLine, AMistypedOptionIsAnErrorNamingIt) {
  TempDir dir;
  int status = 0;
  const std::string out = run_shell(
      std::string(CAIRN_BINARY) + " serve --data-dir " + dir.path() + " --lisen 127.0.0.1:0 2>&1",
      status);
  EXPECT_EQ(status, 2) << out;
  EXPECT_NE(out.find("unknown option --lisen"), std::string::npos) << out;
  // The same in a config file, with its line.
  std::ofstream(dir.path() + "/cairn.conf") << "# a deployment\nlisten = 127.0.0.1:0\nthreds = 8\n";
  const std::string from_file = run_shell(
      std::string(CAIRN_BINARY) + " serve --config " + dir.path() + "/cairn.conf 2>&1", status);
  EXPECT_EQ(status, 2) << from_file;
  EXPECT_NE(from_file.find("cairn.conf:3: unknown option threds"), std::string::npos) << from_file;
  run_shell(std::string(CAIRN_BINARY) + " apikey create --data-dir " + dir.path() +
                " --name x --rol reader 2>&1",
            status);
  EXPECT_EQ(status, 2);
}

TEST(CommandLine, HelpIsAnAnswer) {
  int status = 1;
  const std::string out = run_shell(std::string(CAIRN_BINARY) + " serve --help", status);
  EXPECT_EQ(status, 0);
  EXPECT_NE(out.find("--max-connections-per-address"), std::string::npos);
  run_shell(std::string(CAIRN_BINARY) + " --help >/dev/null", status);
  EXPECT_EQ(status, 0);
  run_shell(std::string(CAIRN_BINARY) + " >/dev/null 2>&1", status);
  EXPECT_EQ(status, 2);  // no command at all is a mistake
}

TEST(CommandLine, PkiInitMakesAnRsaCaWhenAsked) {
  TempDir dir;
  int status = 1;
  const std::string cairn(CAIRN_BINARY);
  run_shell(cairn + " pki init --data-dir " + dir.path() + " --ca-key dsa 2>&1", status);
  EXPECT_EQ(status, 2);
  const std::string out =
      run_shell(cairn + " pki init --data-dir " + dir.path() + " --ca-key rsa 2>&1", status);
  EXPECT_EQ(status, 0) << out;
  const std::string key = run_shell(
      "openssl x509 -in " + dir.path() + "/pki/ca.crt -noout -text | grep 'Public Key Algorithm'",
      status);
  EXPECT_NE(key.find("rsaEncryption"), std::string::npos) << key;
}

}  // namespace
}  // namespace cairn::testing
