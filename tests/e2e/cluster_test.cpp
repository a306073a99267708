// A deployment of roles, each its own `cairn` process, on the Kafka test broker: two ingest
// nodes, one dispatcher, and the APNs simulator. Devices spread over both ingest nodes are woken
// by pushes and served by either; each role is killed with SIGKILL in the middle and restarted.
// Nothing acknowledged is lost, every queued command is delivered, the replicas converge.
#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "tests/support/apns.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/kafka_broker.hpp"
#include "tests/support/messages.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_node.hpp"

namespace cairn::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTopic = "com.apple.mgmt.test";  // the test devices' topic

class Cluster : public ::testing::Test {
 protected:
  Cluster() {
    apns_.sim().on_accepted([this](const apns_sim::RecordedPush& p) {
      std::lock_guard lock(mu_);
      ++pushed_[p.token_hex];
      pushed_cv_.notify_all();
    });
    ingest_a_ = start("ingest-a", "ingest");
    ingest_b_ = start("ingest-b", "ingest");
    dispatcher_ = start("dispatcher", "dispatcher");
    projector_ = start("projector", "projector");
  }

  // A role in its own process, sharing the first node's PKI and keyring (one deployment).
  std::unique_ptr<TestNode> start(const std::string& name, const std::string& role) {
    const std::string dir = dir_ / name;
    std::filesystem::create_directories(dir);
    if (ingest_a_)
      for (const char* shared : {"pki", "secrets"})
        std::filesystem::copy(ingest_a_->data_dir() + "/" + shared, dir + "/" + shared,
                              std::filesystem::copy_options::recursive);
    TestNodeOptions options;
    options.separate_process = true;
    options.role = role;
    options.kafka.emplace();
    options.kafka->bootstrap_servers = broker_.bootstrap_servers();
    options.kafka->fetch_wait = 2ms;  // the test broker holds fetches (see KafkaOptions)
    options.apns = apns_.client_options();
    return std::make_unique<TestNode>(dir, options);
  }

  void upload_push_certificate() {
    const auto r = ingest_a_->admin()->Put(
        "/v1/pushcert", apns_.push_certificate_upload(kTopic, 30), "application/x-pem-file");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }

  std::vector<std::unique_ptr<TestDevice>> enroll(int count, const std::string& prefix) {
    std::vector<std::unique_ptr<TestDevice>> devices;
    for (int i = 0; i < count; ++i) {
      devices.push_back(std::make_unique<TestDevice>(i % 2 ? *ingest_b_ : *ingest_a_,
                                                     prefix + std::to_string(i)));
      devices.back()->enroll();
    }
    return devices;
  }
  static std::string ids_of(const std::vector<std::unique_ptr<TestDevice>>& devices) {
    std::string ids;
    for (const auto& d : devices) ids += (ids.empty() ? "" : ",") + d->udid();
    return ids;
  }

  // Waits until every device in `devices` was pushed.
  bool all_pushed(const std::vector<std::unique_ptr<TestDevice>>& devices) {
    std::unique_lock lock(mu_);
    return pushed_cv_.wait_for(lock, 30s, [&] {
      for (const auto& d : devices)
        if (!pushed_.contains(token_hex_of(d->udid()))) return false;
      return true;
    });
  }
  // Replicas (both ingest nodes and the standalone projector) converge: each answers a read
  // only after catching up with the log's end.
  bool converged() const {
    for (int i = 0; i < 100; ++i) {
      if (i) std::this_thread::sleep_for(100ms);
      const auto a = ingest_a_->admin_get("/v1/projection")->body;
      if (a == ingest_b_->admin_get("/v1/projection")->body &&
          a == projector_->admin_get("/v1/projection")->body)
        return true;
    }
    return false;
  }

  KafkaTestBroker broker_;
  TempDir dir_;
  TestApns apns_{dir_ / "apns-ca.pem"};
  std::unique_ptr<TestNode> ingest_a_, ingest_b_, dispatcher_, projector_;
  std::mutex mu_;
  std::condition_variable pushed_cv_;
  std::map<std::string, int> pushed_;  // pushes accepted, by token
};

TEST_F(Cluster, EveryRoleKilledMidwayLosesNothing) {
  upload_push_certificate();
  const auto devices = enroll(6, "CLUSTER-");
  const std::string ids = ids_of(devices);
  // A command for everyone while the dispatcher is dead (SIGKILL): the ingest nodes do not push
  // (not their role); the restarted dispatcher resumes from its stored position and pushes all.
  dispatcher_->kill_hard();
  ASSERT_EQ(ingest_a_->enqueue(ids, command_body("WAVE-1", "ProfileList"))->status, 200);
  std::this_thread::sleep_for(1s);
  {
    std::lock_guard lock(mu_);
    EXPECT_TRUE(pushed_.empty()) << "a push without a dispatcher";
  }
  dispatcher_->restart();
  ASSERT_TRUE(all_pushed(devices)) << "not every device was pushed after the dispatcher's restart";
  // Woken, each device polls the ingest node it did not enroll through.
  for (size_t i = 0; i < devices.size(); ++i) {
    auto& d = *devices[i];
    d.reconnect(i % 2 ? *ingest_a_ : *ingest_b_);
    EXPECT_EQ(command_uuid_of(d.report("Idle")), "WAVE-1") << d.udid();
  }
  // Ingest node B dies with SIGKILL between a device's delivery and its result.
  ingest_b_->kill_hard();
  ingest_b_->restart();
  for (size_t i = 0; i < devices.size(); ++i) {
    auto& d = *devices[i];
    d.reconnect(i % 2 ? *ingest_a_ : *ingest_b_);
    EXPECT_EQ(command_uuid_of(d.report("Acknowledged", "WAVE-1")), "") << d.udid();
  }
  // The standalone projector serves the query API; it has no device endpoints.
  EXPECT_EQ(projector_->admin_get("/v1/commands/WAVE-1")->status, 200);
  TestDevice stranger(*projector_, "CLUSTER-0");
  const auto refused = stranger.report("Idle");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 404);
  for (const auto& d : devices) {
    const auto commands = projector_->admin_get("/v1/devices/" + d->udid() + "/commands")->body;
    EXPECT_NE(commands.find("\"queue\":[]"), std::string::npos) << d->udid() << ": " << commands;
    EXPECT_NE(commands.find("\"acknowledged\""), std::string::npos) << commands;
  }
  // It measured how long after ingest wrote them it applied them: Authenticate, TokenUpdate,
  // the command, its delivery and its result at least, per device. (One scrape: the projector
  // keeps applying, the audit ledger's checkpoints among them.)
  const auto delay =
      projector_->metrics({"cairn_projection_apply_delay_seconds_count",
                           "cairn_projection_apply_delay_seconds_bucket{le=\"+Inf\"}"});
  EXPECT_GE(delay[0], static_cast<double>(devices.size() * 5));
  EXPECT_EQ(delay[1], delay[0]);
  // The standalone projector, killed and restarted, resumes from its stored positions.
  projector_->kill_hard();
  ASSERT_EQ(ingest_b_->enqueue(ids, command_body("WAVE-2", "SecurityInfo"))->status, 200);
  projector_->restart();
  EXPECT_NE(projector_->admin_get("/v1/commands/WAVE-2")->body.find("CLUSTER-5"),
            std::string::npos);
  EXPECT_TRUE(converged());
}

// Each role builds only its parts: ingest and projector nodes never open the dispatcher's store
// (nor decrypt push certificates), a dispatcher never opens a projection and serves no device or
// admin route, only its health and metrics.
TEST_F(Cluster, EachRoleOpensOnlyItsOwnStores) {
  upload_push_certificate();
  auto has = [](const TestNode& node, const char* store) {
    return std::filesystem::exists(node.data_dir() + "/" + store);
  };
  for (const TestNode* node : {ingest_a_.get(), ingest_b_.get(), projector_.get()}) {
    EXPECT_TRUE(has(*node, "projection")) << node->data_dir();
    EXPECT_FALSE(has(*node, "dispatcher")) << node->data_dir();
  }
  EXPECT_TRUE(has(*dispatcher_, "dispatcher"));
  EXPECT_FALSE(has(*dispatcher_, "projection"));
  EXPECT_EQ(dispatcher_->admin_get("/v1/devices")->status, 404);
  TestDevice device(*dispatcher_, "CLUSTER-0");
  EXPECT_EQ(device.report("Idle")->status, 404);
  for (int i = 0; i < 200 && dispatcher_->metric("cairn_dispatcher_owned_partitions") != 4; ++i)
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(dispatcher_->metric("cairn_dispatcher_owned_partitions"), 4);
}

// Two dispatchers share the partitions through a consumer group: each pushes its share, once.
// One dies (SIGKILL): after its session times out the other owns every partition and pushes
// every device.
TEST_F(Cluster, DispatchersShareThePartitionsAndTakeOverFromADeadOne) {
  auto second = start("dispatcher-2", "dispatcher");
  auto owned = [&] {
    return std::pair{dispatcher_->metric("cairn_dispatcher_owned_partitions"),
                     second->metric("cairn_dispatcher_owned_partitions")};
  };
  // Settled: both own a share, every partition is owned, and it stays so for 1.5 s (a group may
  // rebalance again right after its first assignment, when the second member's join lands).
  int steady = 0;
  for (int i = 0; i < 400 && steady < 30; ++i) {
    const auto [first, second_share] = owned();
    steady = first > 0 && second_share > 0 && first + second_share == 4 ? steady + 1 : 0;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(owned().first + owned().second, 4) << "the group never settled";
  ASSERT_GT(owned().first, 0);
  upload_push_certificate();
  // Enough devices that every partition holds some: a dispatcher owning only an empty one would
  // push nothing.
  const auto devices = enroll(32, "SHARED-");
  const std::string ids = ids_of(devices);
  ASSERT_EQ(ingest_a_->enqueue(ids, command_body("SHARED-1", "ProfileList"))->status, 200);
  ASSERT_TRUE(all_pushed(devices));
  {
    std::lock_guard lock(mu_);
    for (const auto& d : devices) EXPECT_EQ(pushed_[token_hex_of(d->udid())], 1) << d->udid();
    pushed_.clear();
  }
  // A dispatcher counts a round's pushes once its outcomes are in the log, a moment after APNs
  // accepted them.
  const auto sent = [](const TestNode& node) {
    return node.metric("cairn_pushes_total{outcome=\"sent\"}");
  };
  EXPECT_TRUE(eventually([&] { return sent(*dispatcher_) + sent(*second) == 32; }))
      << sent(*dispatcher_) << " + " << sent(*second);
  EXPECT_GT(sent(*dispatcher_), 0);
  EXPECT_GT(sent(*second), 0);
  for (const auto& d : devices) {  // they poll and finish: the next command needs a new push
    EXPECT_EQ(command_uuid_of(d->report("Idle")), "SHARED-1");
    EXPECT_EQ(command_uuid_of(d->report("Acknowledged", "SHARED-1")), "");
  }
  dispatcher_->kill_hard();
  ASSERT_EQ(ingest_a_->enqueue(ids, command_body("SHARED-2", "SecurityInfo"))->status, 200);
  EXPECT_TRUE(all_pushed(devices)) << "the surviving dispatcher did not take over";
  EXPECT_EQ(second->metric("cairn_dispatcher_owned_partitions"), 4);
}

}  // namespace
}  // namespace cairn::testing
