// kill -9 in the middle of device sessions: after a restart, every message that was answered 200
// is still there, nothing is applied twice, and every queued command still gets delivered.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "app/single_node.hpp"
#include "tests/support/messages.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_node.hpp"

namespace cairn::testing {
namespace {

TEST(Crash, KillMinus9MidSessionLosesNothingAcknowledged) {
  TempDir dir;
  TestNodeOptions options;
  options.separate_process = true;
  TestNode node(dir.path(), options);
  constexpr int kDevices = 4, kCommands = 40;
  std::vector<std::unique_ptr<TestDevice>> devices;
  std::string ids;
  for (int i = 0; i < kDevices; ++i) {
    devices.push_back(std::make_unique<TestDevice>(node, "CRASH-" + std::to_string(i)));
    devices.back()->enroll();
    ids += (i ? "," : "") + devices.back()->udid();
  }
  for (int c = 0; c < kCommands; ++c)
    ASSERT_EQ(node.enqueue(ids, command_body("C" + std::to_string(c), "ProfileList"))->status, 200);

  // Devices work through their queues; the server is killed while they do.
  std::vector<std::vector<std::string>> acknowledged(kDevices);  // results answered 200
  std::vector<std::string> in_flight(kDevices);  // received, result not (known to be) recorded
  std::atomic<bool> killed{false};
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kDevices; ++i)
    threads.emplace_back([&, i] {
      auto& d = *devices[i];
      std::string next = command_uuid_of(d.report("Idle"));
      while (!next.empty() && !killed) {
        auto r = d.report("Acknowledged", next);
        if (!r || r->status != 200) break;
        acknowledged[i].push_back(next);
        ++answered;
        next = command_uuid_of(r);
      }
      in_flight[i] = next;
    });
  // Kill once a quarter of the work is done (however fast this machine is), or after 20 s.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (answered < kDevices * kCommands / 4 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  node.kill_hard();
  killed = true;
  for (auto& t : threads) t.join();
  size_t before_kill = 0;
  for (const auto& a : acknowledged) before_kill += a.size();
  ASSERT_GT(before_kill, 0u) << "the kill came before any work: nothing was tested";
  ASSERT_LT(before_kill, static_cast<size_t>(kDevices * kCommands)) << "the kill came too late";

  node.restart();
  for (int i = 0; i < kDevices; ++i) {
    auto& d = *devices[i];
    d.reconnect(node);
    // Every result answered 200 before the kill survived.
    for (const auto& uuid : acknowledged[i]) {
      auto status = node.admin_get("/v1/commands/" + uuid);
      EXPECT_NE(
          status->body.find("\"udid\":\"" + d.udid() + "\",\"command_uuid\":\"" + uuid +
                            "\",\"request_type\":\"ProfileList\",\"status\":\"acknowledged\""),
          std::string::npos)
          << d.udid() << " " << uuid << ": " << status->body;
    }
    // Like a real device, it first (re)sends the result of the command it had in flight: recorded
    // once or twice, either way that command is done. The rest follows in order.
    int finished = static_cast<int>(acknowledged[i].size());
    std::string next;
    if (in_flight[i].empty()) {
      next = command_uuid_of(d.report("Idle"));
    } else {
      EXPECT_EQ(in_flight[i], "C" + std::to_string(finished)) << d.udid();
      auto r = d.report("Acknowledged", in_flight[i]);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 200);
      ++finished;
      next = command_uuid_of(r);
    }
    while (!next.empty()) {
      EXPECT_EQ(next, "C" + std::to_string(finished)) << d.udid();
      next = command_uuid_of(d.report("Acknowledged", next));
      ++finished;
    }
    EXPECT_EQ(finished, kCommands) << d.udid();
  }
  // The projection rebuilt from the log equals the live one: nothing applied twice or skipped.
  auto live = node.admin_get("/v1/projection");
  node.stop();
  TempDir fresh;
  const auto replayed = app::replay(dir.path(), std::nullopt, fresh / "projection");
  EXPECT_NE(live->body.find(replayed.digest), std::string::npos) << live->body;
}

}  // namespace
}  // namespace cairn::testing
