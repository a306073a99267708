// The `cairn` command line as an operator types it: a mistyped option stops the command with the
// reason instead of being ignored, help is an answer, not an error, and the fleet commands manage
// a running node through its admin API.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/shell.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_node.hpp"

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

// The admin CLI against a node: list and show a device, send a typed command, see it queued,
// cancel it, and find it among the cancelled; with the key from the environment or a config file.
TEST(CommandLine, FleetCommandsManageARunningNode) {
  TempDir dir;
  TestNode node(dir.path());
  TestDevice device(node, "CLI-DEVICE-1");
  device.enroll();
  const std::string cairn = std::string(CAIRN_BINARY) + " ";
  const std::string server =
      " --server https://127.0.0.1:" + std::to_string(node.port()) + " --ca-file " + node.ca_file();
  const std::string with_key = server + " --api-key " + node.api_key();
  int status = 1;

  auto out = run_shell(cairn + "devices list" + with_key + " 2>&1", status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(out.rfind("UDID", 0), 0u) << "a table with its header: " << out;
  EXPECT_NE(out.find("CLI-DEVICE-1"), std::string::npos) << out;
  EXPECT_NE(out.find("enrolled"), std::string::npos) << out;

  out = run_shell(cairn + "devices show CLI-DEVICE-1 --output json" + with_key, status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find(R"("udid": "CLI-DEVICE-1")"), std::string::npos) << out;

  // Typed by the catalog: PIN stays a string though it is digits; Queries is JSON.
  out = run_shell(cairn + "commands send DeviceLock --devices CLI-DEVICE-1 PIN=123456 " +
                      "Message='lost phone' --command-uuid CLI-LOCK --no-push" + with_key + " 2>&1",
                  status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("queued"), std::string::npos) << out;
  const auto queued = node.admin_get("/v1/devices/CLI-DEVICE-1/commands")->body;
  EXPECT_NE(queued.find("CLI-LOCK"), std::string::npos) << queued;
  out = run_shell(cairn + "commands send DeviceInformation --devices CLI-DEVICE-1 " +
                      "Queries='[\"DeviceName\"]' --no-push" + with_key + " 2>&1",
                  status);
  EXPECT_EQ(status, 0) << out;

  // Mistakes are named before anything is sent.
  out = run_shell(
      cairn + "commands send DeviceLock --devices CLI-DEVICE-1 Colour=red" + with_key + " 2>&1",
      status);
  EXPECT_EQ(status, 2) << out;
  EXPECT_NE(out.find("DeviceLock has no key Colour"), std::string::npos) << out;
  out = run_shell(
      cairn + "commands send DeviceLock --devices CLI-DEVICE-1 Queries" + with_key + " 2>&1",
      status);
  EXPECT_EQ(status, 2) << out;

  // The key from the environment, then from a config file (the server from the command line).
  out = run_shell("CAIRN_API_KEY=" + node.api_key() + " " + cairn + "commands status CLI-LOCK" +
                      server + " 2>&1",
                  status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("pending"), std::string::npos) << out;
  const std::string config = dir.path() + "/cli.conf";
  std::ofstream(config) << "api-key = " << node.api_key() << "\n";
  out = run_shell("chmod 600 " + config + "; CAIRN_CONFIG=" + config + " " + cairn +
                      "commands cancel CLI-LOCK" + server + " 2>&1",
                  status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("CLI-DEVICE-1  cancelled"), std::string::npos) << out;
  EXPECT_EQ(out.find("warning"), std::string::npos) << "the file is the user's only: " << out;

  out = run_shell(cairn + "commands list --status cancelled --output json" + with_key, status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("CLI-LOCK"), std::string::npos) << out;

  // A refused key is the server's answer, with its status: exit status 1.
  out = run_shell(cairn + "devices list" + server + " --api-key wrong 2>&1", status);
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("the server answered 401"), std::string::npos) << out;
}

}  // namespace
}  // namespace cairn::testing
