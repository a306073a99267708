#include "projector/projector.hpp"

#include <gtest/gtest.h>

#include "eventlog/embedded_log.hpp"
#include "projector/queries.hpp"
#include "schemas/events.hpp"
#include "tests/support/temp_dir.hpp"

namespace cairn::projector {
namespace {

eventlog::RecordToAppend authenticated(const std::string& udid) {
  events::Event e{
      "id",
      "2026-11-22T00:00:00.000Z",
      udid,
      "n",
      "device",
      events::DeviceAuthenticated{"com.apple.mgmt.t", "", std::string(64, 'a') + udid, "tls", {}}};
  return {udid, "DeviceAuthenticated", events::encode(e)};
}

TEST(Projector, CatchUpAppliesTheLogAndResumesFromItsStoredPosition) {
  testing::TempDir dir;
  eventlog::EmbeddedLog log(dir / "log");
  log.append({authenticated("A"), authenticated("B")});
  {
    Store store(dir / "db");
    AppliedWatermark watermark;
    Projector projector(log, store, watermark);
    EXPECT_EQ(projector.catch_up(), 2u);
  }
  log.append({authenticated("C")});
  Store store(dir / "db");
  AppliedWatermark watermark;
  Projector projector(log, store, watermark);
  EXPECT_EQ(watermark.next(PartitionId(0)), Offset(2));  // resumes, no double apply
  EXPECT_EQ(projector.catch_up(), 1u);
  EXPECT_TRUE(StoreReader(store).device(DeviceId("C")));
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
    Store store(db / "db");
    AppliedWatermark watermark;
    Projector projector(log, store, watermark);
    EXPECT_EQ(projector.catch_up(), 3u);
    EXPECT_EQ(projector.skipped_events(), 1u);
    EXPECT_TRUE(StoreReader(store).device(DeviceId("B")));
    digest = store.digest().sha256;
  }
  EXPECT_EQ(digests[0], digests[1]);
}

TEST(Projector, RefusesAProjectionAheadOfItsLog) {
  testing::TempDir dir;
  {
    eventlog::EmbeddedLog log(dir / "log");
    log.append({authenticated("A"), authenticated("B")});
    Store store(dir / "db");
    AppliedWatermark watermark;
    Projector(log, store, watermark).catch_up();
  }
  eventlog::EmbeddedLog other_log(dir / "other-log");  // e.g. a lost or replaced log
  other_log.append({authenticated("C")});
  Store store(dir / "db");
  AppliedWatermark watermark;
  EXPECT_THROW(Projector(other_log, store, watermark), std::runtime_error);
}

}  // namespace
}  // namespace cairn::projector
