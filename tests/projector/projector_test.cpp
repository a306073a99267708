#include "projector/projector.hpp"

#include <gtest/gtest.h>

#include "eventlog/embedded_log.hpp"
#include "projector/projection_store.hpp"
#include "projector/queries.hpp"
#include "schemas/events.hpp"
#include "tests/support/temp_dir.hpp"

namespace cairn::projector {
namespace {

eventlog::RecordToAppend authenticated(const std::string& udid) {
  events::Event e{"id",
                  "2026-11-22T00:00:00.000Z",
                  udid,
                  "n",
                  "device",
                  events::DeviceAuthenticated{
                      "com.apple.mgmt.t", "", std::string(64, 'a') + udid, "tls", {}, ""}};
  return {udid, "DeviceAuthenticated", events::encode(e)};
}

TEST(Projector, CatchUpAppliesTheLogAndResumesFromItsStoredPosition) {
  testing::TempDir dir;
  eventlog::EmbeddedLog log(dir / "log");
  log.append({authenticated("A"), authenticated("B")});
  {
    ProjectionStore store(dir / "db");
    AppliedWatermark watermark;
    Projector projector(log, store, watermark);
    EXPECT_EQ(projector.catch_up(), 2u);
  }
  log.append({authenticated("C")});
  ProjectionStore store(dir / "db");
  AppliedWatermark watermark;
  Projector projector(log, store, watermark);
  EXPECT_EQ(watermark.next(PartitionId(0)), Offset(2));  // resumes, no double apply
  EXPECT_EQ(projector.catch_up(), 1u);
  EXPECT_TRUE(ProjectionReader(store).device(DeviceId("C")));
}

eventlog::RecordToAppend event(const std::string& udid, events::Payload payload) {
  events::Event e{"id", "2026-11-22T00:00:00.000Z", udid, "n", "device", std::move(payload)};
  const std::string type =
      std::visit([](const auto& p) { return std::string(p.kType); }, e.payload);
  return {udid, type, events::encode(e)};
}

// Issue 13: a result an earlier version accepted and logged (a quote inside a tag hid 200,000
// levels of nesting from its pre-check) killed every node catching up. Now the command is
// answered, its inventory left alone, the result counted, and the rest of the log applied.
TEST(Projector, AResultWhoseBodyCannotBeReadIsCountedAndTheLogGoesOn) {
  testing::TempDir dir;
  eventlog::EmbeddedLog log(dir / "log");
  std::string hostile = "<plist version=\"1.0\"><dict '><key>QueryResponses</key>";
  for (int i = 0; i < 200000; ++i) hostile += "<array>";
  for (int i = 0; i < 200000; ++i) hostile += "</array>";
  hostile += "<key>Status</key><string>Acknowledged</string></dict '></plist>";
  events::CommandReported result{"Acknowledged", "CMD-1", "", {"utf8", hostile, "", ""}, {}};
  log.append(
      {authenticated("A"),
       event("A",
             events::CommandEnqueued{"CMD-1", "DeviceInformation", "<plist><dict/></plist>", true}),
       event("A", events::CommandDelivered{"CMD-1"}), event("A", result), authenticated("B")});
  for (int run = 0; run < 2; ++run) {  // a second node, or a restart, catching up the same log
    testing::TempDir db;
    ProjectionStore store(db / "db");
    AppliedWatermark watermark;
    Projector projector(log, store, watermark);
    EXPECT_EQ(projector.catch_up(), 5u);
    EXPECT_EQ(projector.uninterpretable_results(), 1u);
    EXPECT_EQ(projector.skipped_events(), 0u);
    ProjectionReader reader(store);
    EXPECT_TRUE(reader.device(DeviceId("B")));
    const auto command = reader.command(DeviceId("A"), CommandUuid("CMD-1"));
    ASSERT_TRUE(command);
    EXPECT_EQ(command->state, CommandState::kAcknowledged);
  }
}

TEST(Projector, UnreadableEventIsSkippedTheSameWayOnEveryReplay) {
  testing::TempDir dir;
  eventlog::EmbeddedLog log(dir / "log");
  log.append({authenticated("A"),
              {"X", "FromTheFuture", "{\"type\":\"FromTheFuture\"}"},
              authenticated("B")});
  std::string digests[2];
  for (auto& digest : digests) {
    testing::TempDir db;
    ProjectionStore store(db / "db");
    AppliedWatermark watermark;
    Projector projector(log, store, watermark);
    EXPECT_EQ(projector.catch_up(), 3u);
    EXPECT_EQ(projector.skipped_events(), 1u);
    EXPECT_TRUE(ProjectionReader(store).device(DeviceId("B")));
    digest = store.digest().sha256;
  }
  EXPECT_EQ(digests[0], digests[1]);
}

// The digest of a projection built from `log` by the live path (catch_up) or by rebuild() with
// `rebuild_memory` bytes.
std::string projected_digest(eventlog::EmbeddedLog& log, bool rebuild,
                             size_t rebuild_memory = Projector::kRebuildMemoryBytes) {
  testing::TempDir db;
  ProjectionStore store(db / "db");
  AppliedWatermark watermark;
  Projector projector(log, store, watermark);
  rebuild ? projector.rebuild(rebuild_memory) : projector.catch_up();
  return store.digest().sha256;
}

TEST(Projector, RebuildInMemoryEqualsTheLiveProjection) {
  testing::TempDir dir;
  eventlog::EmbeddedLog log(dir / "log");
  std::vector<eventlog::RecordToAppend> records;
  for (int d = 0; d < 50; ++d) {
    const std::string udid = "D" + std::to_string(d);
    records.push_back(authenticated(udid));
    for (int c = 0; c < 4; ++c) {
      const std::string uuid = "C" + std::to_string(c);
      events::Event enqueued{
          "i",     "2026-11-22T00:00:01.000Z",
          udid,    "n",
          "admin", events::CommandEnqueued{uuid, "ProfileList", "<plist/>", false}};
      records.push_back({udid, "CommandEnqueued", events::encode(enqueued)});
      const char* status = c == 1 ? "NotNow" : c == 3 ? "Error" : "Acknowledged";
      events::Event reported{"i",      "2026-11-22T00:00:02.000Z",
                             udid,     "n",
                             "device", events::CommandReported{status, uuid, "", {}, {}}};
      records.push_back({udid, "CommandReported", events::encode(reported)});
    }
    if (d % 7 == 0) records.push_back(authenticated(udid));  // re-enrollment cancels the queue
  }
  records.push_back({"X", "FromTheFuture", "{}"});
  log.append(std::move(records));
  const std::string live = projected_digest(log, /*rebuild=*/false);
  EXPECT_EQ(live, projected_digest(log, /*rebuild=*/true));
  // With 2 KiB to hold, the writes of every few events go to the store as a run of their own and
  // most reads go through the runs below: the same projection.
  EXPECT_EQ(live, projected_digest(log, /*rebuild=*/true, /*rebuild_memory=*/2048));
}

TEST(Projector, RebuildOfAnEmptyLogEqualsAnEmptyLiveProjection) {
  testing::TempDir dir;
  eventlog::EmbeddedLog log(dir / "log");
  EXPECT_EQ(projected_digest(log, /*rebuild=*/false), projected_digest(log, /*rebuild=*/true));
}

TEST(Projector, RefusesAProjectionAheadOfItsLog) {
  testing::TempDir dir;
  {
    eventlog::EmbeddedLog log(dir / "log");
    log.append({authenticated("A"), authenticated("B")});
    ProjectionStore store(dir / "db");
    AppliedWatermark watermark;
    Projector(log, store, watermark).catch_up();
  }
  eventlog::EmbeddedLog other_log(dir / "other-log");  // e.g. a lost or replaced log
  other_log.append({authenticated("C")});
  ProjectionStore store(dir / "db");
  AppliedWatermark watermark;
  EXPECT_THROW(Projector(other_log, store, watermark), std::runtime_error);
}

}  // namespace
}  // namespace cairn::projector
