// A simulated fleet with every fault against a real node: locked devices answering NotNow,
// duplicate and lost-and-resent results, check-outs and silent devices. Nothing may error, no
// finished command may be sent again, and every device that polls drains its queue.
#include "devsim/fleet.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "tests/support/messages.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_node.hpp"

namespace cairn::testing {
namespace {

// `mix`: the shares of User Enrollments and of Macs with a user's channel.
void run_fleet(devsim::IdentityMode identity, devsim::Mix mix = {}) {
  TempDir dir;
  TestNode node(dir.path());
  devsim::Endpoint endpoint;
  endpoint.port = node.port();
  endpoint.server_ca_file = node.ca_file();
  endpoint.identity = identity;
  devsim::Faults faults{0.3, 0.2, 0.2, 0.1, 0.1};
  devsim::Fleet fleet({endpoint}, node.ca(), 24, "FLEET", "com.apple.mgmt.fleet", faults, 7, mix);
  devsim::Stats stats;
  fleet.enroll(8, stats);
  std::string ids;
  for (const auto& udid : fleet.udids()) ids += (ids.empty() ? "" : ",") + udid;
  const char* types[] = {"ProfileList", "SecurityInfo", "DeviceInformation",
                         "InstalledApplicationList"};
  for (int c = 0; c < 8; ++c) {
    ASSERT_EQ(node.enqueue(ids, command_body("CMD-" + std::to_string(c), types[c % 4]))->status,
              200);
  }
  fleet.drain(8, stats);
  const std::string summary = stats.json();
  EXPECT_EQ(stats.errors(), 0) << summary;
  EXPECT_EQ(summary.find("protocol_violation"), std::string::npos) << summary;
  EXPECT_NE(summary.find("\"not_now\""), std::string::npos) << "the locked fault never fired";
  EXPECT_NE(summary.find("\"lost_result\""), std::string::npos) << summary;
  int silent = 0, personal = 0, users = 0;
  for (size_t i = 0; i < fleet.size(); ++i) {
    personal += fleet.device(i).enrollment() == devsim::SimulatedDevice::Enrollment::kUser;
    users += fleet.device(i).is_user_channel();
    const auto udid = fleet.device(i).channel_id();
    auto commands = node.admin_get("/v1/devices/" + udid + "/commands");
    const bool drained = commands->body.find("\"queue\":[]") != std::string::npos;
    EXPECT_EQ(drained, !fleet.silent(i)) << udid << ": " << commands->body;  // silent: all queued
    silent += fleet.silent(i);
  }
  EXPECT_LT(silent, static_cast<int>(fleet.size()));
  EXPECT_EQ(personal > 0, mix.user_enrollments > 0) << personal << " User Enrollments";
  EXPECT_EQ(users > 0, mix.mac_users > 0) << users << " users' channels";
}

TEST(Fleet, FaultyFleetOverMtls) {
  run_fleet(devsim::IdentityMode::kMtls);
}
TEST(Fleet, FaultyFleetOverMdmSignature) {
  run_fleet(devsim::IdentityMode::kMdmSignature);
}
// Personal devices (User Enrollment) among corporate ones: the same faults, the same rules.
TEST(Fleet, FaultyFleetWithUserEnrollments) {
  run_fleet(devsim::IdentityMode::kMtls, {.user_enrollments = 0.5});
}
// Macs with a user logged in: each user's channel drains its own queue beside its device's, with
// the same faults (here over Mdm-Signature, the device's identity signing the user's messages).
TEST(Fleet, FaultyFleetOfMacsWithUsers) {
  run_fleet(devsim::IdentityMode::kMdmSignature, {.mac_users = 0.5});
}

}  // namespace
}  // namespace cairn::testing

namespace cairn::testing {
namespace {

// Devices that poll on a schedule pick up commands queued while they run.
TEST(Fleet, ScheduledPollsPickUpNewCommands) {
  TempDir dir;
  TestNode node(dir.path());
  devsim::Endpoint endpoint;
  endpoint.port = node.port();
  devsim::Fleet fleet({endpoint}, node.ca(), 6, "SCHED", "com.apple.mgmt.fleet", {}, 3);
  devsim::Stats stats;
  fleet.enroll(3, stats);
  std::string ids;
  for (const auto& udid : fleet.udids()) ids += (ids.empty() ? "" : ",") + udid;
  std::thread admin([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));  // after the first polls
    EXPECT_EQ(node.enqueue(ids, command_body("LATE", "DeviceInformation"))->status, 200);
  });
  fleet.poll_on_schedule(3, std::chrono::milliseconds(300), std::chrono::milliseconds(1500), stats);
  admin.join();
  EXPECT_EQ(stats.errors(), 0) << stats.json();
  auto status = node.admin_get("/v1/commands/LATE");
  size_t acknowledged = 0;
  for (size_t at = 0;
       (at = status->body.find("\"status\":\"acknowledged\"", at)) != std::string::npos; ++at)
    ++acknowledged;
  EXPECT_EQ(acknowledged, fleet.size()) << status->body.substr(0, 300);
}

}  // namespace
}  // namespace cairn::testing
