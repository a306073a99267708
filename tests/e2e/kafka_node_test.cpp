// Nodes whose log is on Kafka (the test broker, a separate process speaking the Kafka wire
// protocol): the device loop, a restart, two nodes sharing one log, and a broker outage.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "tests/support/kafka_broker.hpp"
#include "tests/support/messages.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_node.hpp"

namespace cairn::testing {
namespace {

using namespace std::chrono_literals;

class KafkaNode : public ::testing::Test {
 protected:
  TestNodeOptions on_kafka() const {
    TestNodeOptions options;
    options.kafka.emplace();
    options.kafka->bootstrap_servers = broker_.bootstrap_servers();
    options.kafka->delivery_timeout = 2s;
    options.kafka->fetch_wait = 2ms;  // the test broker holds fetches (see KafkaOptions)
    return options;
  }
  std::string node_dir(const std::string& name) const {
    std::filesystem::create_directories(dir_ / name);
    return dir_ / name;
  }
  // Replicas converge: each node's dispatcher may still be appending push outcomes that the
  // other applies a moment later, so equal digests are awaited, not sampled once.
  static bool converge(const TestNode& a, const TestNode& b) {
    for (int i = 0; i < 100; ++i) {
      if (i) std::this_thread::sleep_for(100ms);
      const auto x = a.admin_get("/v1/projection")->body, y = b.admin_get("/v1/projection")->body;
      if (x == y) return true;  // the same digest at the same log positions
    }
    return false;
  }

  KafkaTestBroker broker_;
  TempDir dir_;
};

TEST_F(KafkaNode, EnrollEnqueuePollAcknowledgeAndRestart) {
  TestNode node(node_dir("a"), on_kafka());
  TestDevice d(node, "KAFKA-1");
  d.enroll();
  ASSERT_EQ(node.enqueue("KAFKA-1", command_body("K-CMD-1", "ProfileList"))->status, 200);
  EXPECT_EQ(command_uuid_of(d.report("Idle")), "K-CMD-1");
  EXPECT_EQ(command_uuid_of(d.report("Acknowledged", "K-CMD-1")), "");
  EXPECT_NE(node.admin_get("/v1/commands/K-CMD-1")->body.find("\"status\":\"acknowledged\""),
            std::string::npos);

  node.restart();  // the projection resumes from its stored Kafka positions
  d.reconnect(node);
  ASSERT_EQ(node.enqueue("KAFKA-1", command_body("K-CMD-2", "SecurityInfo"))->status, 200);
  EXPECT_EQ(command_uuid_of(d.report("Idle")), "K-CMD-2");
  EXPECT_EQ(command_uuid_of(d.report("Acknowledged", "K-CMD-2")), "");
  // Nothing applied twice or skipped across the restart: a fresh replica agrees.
  TestNode fresh(node_dir("fresh"), on_kafka());
  EXPECT_TRUE(converge(fresh, node));
  // And `cairn replay` from Kafka rebuilds the same projection (again awaited: a dispatcher may
  // append a push outcome between a replay and the node's answer).
  fresh.stop();
  bool same = false;
  for (int attempt = 0; attempt < 20 && !same; ++attempt) {
    const auto replayed =
        app::replay("", on_kafka().kafka, dir_ / ("replayed-" + std::to_string(attempt)));
    EXPECT_GT(replayed.events, 5u);
    same = node.admin_get("/v1/projection")->body.find("\"digest\":\"" + replayed.digest + "\"") !=
           std::string::npos;
  }
  EXPECT_TRUE(same);
}

// Two nodes, one log: a device enrolled through one is served by the other, and both
// replicas of the projection end up identical.
TEST_F(KafkaNode, TwoNodesShareOneLog) {
  TestNode a(node_dir("a"), on_kafka());
  // Ingest nodes of one deployment share the device CA and the server identity.
  for (const char* shared : {"pki", "secrets"})
    std::filesystem::copy(dir_ / ("a/" + std::string(shared)), node_dir("b") + "/" + shared,
                          std::filesystem::copy_options::recursive);
  TestNode b(node_dir("b"), on_kafka());
  TestDevice d(a, "SHARED-1");
  d.enroll();
  ASSERT_EQ(a.enqueue("SHARED-1", command_body("S-CMD-1", "DeviceInformation"))->status, 200);
  d.reconnect(b);
  EXPECT_EQ(command_uuid_of(d.report("Idle")), "S-CMD-1");
  EXPECT_EQ(command_uuid_of(d.report("Acknowledged", "S-CMD-1")), "");
  EXPECT_NE(a.admin_get("/v1/commands/S-CMD-1")->body.find("\"status\":\"acknowledged\""),
            std::string::npos);
  EXPECT_TRUE(converge(a, b));
}

// Brokers down: devices get 503 (never 401, which would unenroll them); brokers back: served
// again without anything done by hand, and nothing acknowledged before was lost.
TEST_F(KafkaNode, ABrokerOutageIs503ThenRecovers) {
  TestNode node(node_dir("a"), on_kafka());
  TestDevice d(node, "OUTAGE-1");
  d.enroll();
  broker_.brokers_down();
  const auto during = d.report("Idle");
  ASSERT_TRUE(during);
  EXPECT_EQ(during->status, 503) << during->body;
  broker_.brokers_up();
  int status = 0;
  std::string body;
  for (int i = 0; i < 100 && status != 200; ++i) {  // the clients reconnect by themselves
    if (i) std::this_thread::sleep_for(100ms);
    const auto after = d.report("Idle");
    status = after ? after->status : 0;
    body = after ? after->body : httplib::to_string(after.error());
  }
  EXPECT_EQ(status, 200) << body;
  const auto device = node.admin_get("/v1/devices/OUTAGE-1");
  EXPECT_EQ(device->status, 200);
  EXPECT_NE(device->body.find("\"OUTAGE-1\""), std::string::npos) << device->body;
}

}  // namespace
}  // namespace cairn::testing
