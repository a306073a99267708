// One command to many devices: queued in chunks (each durable before the next is checked), every
// device accounted for, and a log failure midway answered with what was and was not queued.
#include "ingest/command_api.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "common/errors.hpp"
#include "crypto/digest.hpp"
#include "eventlog/embedded_log.hpp"
#include "projector/projection_store.hpp"
#include "projector/projector.hpp"
#include "tests/support/faulty_log.hpp"
#include "tests/support/temp_dir.hpp"

namespace cairn::ingest {
namespace {

constexpr int kDevices = 2 * 4096 + 1;  // two whole chunks and one more device

class BulkEnqueue : public ::testing::Test {
 protected:
  testing::TempDir dir;
  testing::FaultyLog log{std::make_unique<eventlog::EmbeddedLog>(dir / "log")};
  projector::ProjectionStore store{dir / "db"};
  projector::AppliedWatermark watermark;
  projector::Projector projector{log, store, watermark};
  projector::ProjectionReader reader{store};
  EventWriter writer{log, watermark, "test", std::chrono::seconds(30)};
  CommandApi commands{writer, reader};
  std::string devices_json;

  void SetUp() override {
    projector.start();
    std::vector<events::Event> batch;
    for (int d = 0; d < kDevices; ++d) {
      const std::string udid = udid_of(d);
      batch.push_back(
          writer.make(udid, "device",
                      events::DeviceAuthenticated{
                          "com.apple.mgmt.t", "", crypto::sha256_hex(udid), "tls", {}, ""}));
      devices_json += "\"" + udid + "\",";
      if (batch.size() == 1000) {
        writer.append_and_wait_applied(batch);
        batch.clear();
      }
    }
    writer.append_and_wait_applied(batch);
  }
  void TearDown() override { projector.stop(); }
  static std::string udid_of(int d) { return "BULK-" + std::to_string(d); }
  ApiResponse lock(const std::string& uuid) {
    return commands.enqueue_typed(R"({"request_type": "DeviceLock", "command_uuid": ")" + uuid +
                                      R"(", "devices": [)" + devices_json + R"("NOBODY"]})",
                                  {"admin", Role::kAdmin});
  }
  bool queued(int d, const std::string& uuid) const {
    return reader.command(DeviceId(udid_of(d)), CommandUuid(uuid)).has_value();
  }
};

TEST_F(BulkEnqueue, EveryDeviceOfEveryChunkIsQueued) {
  const auto r = lock("BULK-1");
  EXPECT_EQ(r.status, 207) << r.json.substr(0, 300);
  EXPECT_NE(r.json.find("\"queued\":" + std::to_string(kDevices)), std::string::npos);
  EXPECT_NE(r.json.find("\"NOBODY\":\"unknown device\""), std::string::npos);
  for (int d : {0, 4095, 4096, kDevices - 1}) EXPECT_TRUE(queued(d, "BULK-1")) << d;
}

TEST_F(BulkEnqueue, ALogFailureMidwayAnswersWhatWasQueued) {
  log.appends_before_failing = 1;  // the first chunk goes in, the second fails
  const auto r = lock("BULK-2");
  EXPECT_EQ(r.status, 207);
  EXPECT_NE(r.json.find("\"queued\":4096"), std::string::npos) << r.json.substr(0, 300);
  EXPECT_NE(r.json.find("\"" + udid_of(4096) +
                        "\":\"the log failed (injected log failure): may "
                        "have been queued; check GET /v1/commands/BULK-2"),
            std::string::npos);
  EXPECT_NE(r.json.find("\"" + udid_of(kDevices - 1) + "\":\"not queued"), std::string::npos);
  EXPECT_TRUE(queued(4095, "BULK-2"));
  EXPECT_FALSE(queued(4096, "BULK-2"));
  EXPECT_FALSE(queued(kDevices - 1, "BULK-2"));
  // Nothing queued at all: a 503, and the admin retries the whole request.
  EXPECT_THROW(lock("BULK-3"), Unavailable);
}

// A device that another node enrolled a moment ago is in the log but not yet in this node's
// projection: an admin's command or push for it waits for the projection to catch up before
// calling it unknown. Here the projection is held back until after the request began.
TEST(LaggingProjection, AnAdminWriteCatchesUpBeforeCallingADeviceUnknown) {
  testing::TempDir dir;
  eventlog::EmbeddedLog log(dir / "log");
  projector::ProjectionStore store(dir / "db");
  projector::AppliedWatermark watermark;
  projector::Projector projector(log, store, watermark);
  projector::ProjectionReader reader(store);
  EventWriter writer(log, watermark, "test", std::chrono::seconds(30));
  CommandApi commands(writer, reader);
  writer.append(
      {writer.make("ELSEWHERE", "device",
                   events::DeviceAuthenticated{
                       "com.apple.mgmt.t", "", crypto::sha256_hex("ELSEWHERE"), "tls", {}, ""})});
  std::thread late([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    projector.start();
  });
  const Principal admin{"admin", Role::kAdmin};
  const auto queued = commands.enqueue_typed(
      R"({"request_type": "ProfileList", "command_uuid": "LAG-1", "devices": ["ELSEWHERE", "NOBODY"]})",
      admin);
  late.join();
  EXPECT_EQ(queued.status, 207) << queued.json;
  EXPECT_NE(queued.json.find("\"NOBODY\":\"unknown device\""), std::string::npos) << queued.json;
  EXPECT_TRUE(reader.command(DeviceId("ELSEWHERE"), CommandUuid("LAG-1")).has_value());
  EXPECT_EQ(commands.push({"ELSEWHERE"}, admin).status, 200);
  projector.stop();
}

}  // namespace
}  // namespace cairn::ingest
