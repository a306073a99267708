// ADE in the projection: where each token's sync stands (the cursor from the log), the devices by
// serial number and which of them still wait for a profile.
#include "projector/ade.hpp"

#include <gtest/gtest.h>

#include "projector/apply.hpp"
#include "projector/projection_store.hpp"
#include "projector/state.hpp"
#include "tests/support/temp_dir.hpp"

namespace cairn::projector {
namespace {

class AdeProjection : public ::testing::Test {
 protected:
  void apply(events::Payload p) {
    store::Batch batch(store_);
    BatchState state(batch);
    const std::string time = "2026-12-06T00:00:" + std::to_string(10 + next_) + ".000Z";
    apply_event(events::Event{"id-" + std::to_string(next_), time, "", "node", "ade-syncer", p},
                {PartitionId(0), Offset(next_)}, state);
    ++next_;
    batch.set_next_offset(PartitionId(0), Offset(next_));
    store_.write(batch);
  }
  static events::AdeDevice device(std::string serial, std::string op_type = "added",
                                  std::string op_date = "", std::string profile_uuid = "") {
    events::AdeDevice d;
    d.serial_number = std::move(serial);
    d.model = "iPhone 15";
    d.device_family = "iPhone";
    d.profile_status = profile_uuid.empty() ? "empty" : "assigned";
    d.profile_uuid = std::move(profile_uuid);
    d.op_type = std::move(op_type);
    d.op_date = std::move(op_date);
    return d;
  }
  static events::AdeDevicesSynced page(std::string phase, std::string from, std::string cursor,
                                       bool more, std::vector<events::AdeDevice> devices) {
    return {"acme", std::move(phase),  std::move(from), std::move(cursor), more, false,
            "",     std::move(devices)};
  }
  std::vector<std::string> waiting(const std::string& token = "acme") const {
    std::vector<std::string> out;
    for (const auto& d : ade_.waiting(token, 100)) out.push_back(d.serial_number);
    return out;
  }

  testing::TempDir dir_;
  ProjectionStore store_{dir_ / "db"};
  AdeReader ade_{store_};
  int64_t next_ = 0;
};

TEST_F(AdeProjection, AFetchThenSyncsKeepTheCursorAndTheDevices) {
  apply(page("fetch", "", "c1", true, {device("A1"), device("A2")}));
  EXPECT_EQ(ade_.token("acme")->phase, "fetch");
  EXPECT_EQ(ade_.token("acme")->cursor, "c1");
  apply(page("fetch", "c1", "c2", false, {device("A3", "", "", "P1")}));
  EXPECT_EQ(ade_.token("acme")->phase, "sync") << "a finished fetch goes on syncing";
  EXPECT_EQ(waiting(), (std::vector<std::string>{"A1", "A2"})) << "A3 has a profile already";

  // Released in ABM: kept (with its history), no longer waiting.
  apply(page("sync", "c2", "c3", false, {device("A1", "deleted", "2026-12-06T01:00:00Z")}));
  EXPECT_TRUE(ade_.device("A1")->deleted);
  EXPECT_EQ(waiting(), (std::vector<std::string>{"A2"}));
  // A record repeated with an older op_date changes nothing.
  apply(page("sync", "c3", "c4", false, {device("A1", "added", "2026-12-05T00:00:00Z")}));
  EXPECT_TRUE(ade_.device("A1")->deleted);
  EXPECT_EQ(ade_.token("acme")->cursor, "c4");
  EXPECT_EQ(ade_.token("acme")->pages, 4u);
  // A page from where the token no longer stands (a second syncer for a moment) changes nothing.
  apply(page("sync", "c2", "c9", false, {device("A9")}));
  EXPECT_EQ(ade_.token("acme")->cursor, "c4");
  EXPECT_FALSE(ade_.device("A9"));

  // An expired cursor starts a full fetch again; an exhausted one goes on syncing.
  apply(events::AdeSyncFailed{"acme", "sync", 400, "INVALID_CURSOR", "refetch", 0, "c2"});
  EXPECT_EQ(ade_.token("acme")->cursor, "c4") << "another syncer's call, from elsewhere";
  apply(events::AdeSyncFailed{"acme", "sync", 400, "EXPIRED_CURSOR", "refetch", 0, "c4"});
  EXPECT_EQ(ade_.token("acme")->phase, "");
  EXPECT_EQ(ade_.token("acme")->cursor, "");
  EXPECT_EQ(ade_.token("acme")->failure_outcome, "refetch");
  apply(page("fetch", "", "c9", true, {device("A2")}));
  EXPECT_EQ(ade_.token("acme")->failure_outcome, "") << "a page that came clears the failure";
  apply(events::AdeSyncFailed{"acme", "fetch", 400, "EXHAUSTED_CURSOR", "sync", 0, "c9"});
  EXPECT_EQ(ade_.token("acme")->phase, "sync");
  EXPECT_EQ(ade_.token("acme")->cursor, "c9");
}

// A full fetch lists every device of the MDM server: one it did not list was released while no
// sync could say so (its cursor had expired).
TEST_F(AdeProjection, AFullFetchReleasesTheDevicesItDidNotList) {
  apply(page("fetch", "", "c1", false, {device("A1"), device("A2"), device("A3")}));
  apply(events::AdeSyncFailed{"acme", "sync", 400, "EXPIRED_CURSOR", "refetch", 0, "c1"});
  apply(page("fetch", "", "", true, {device("A1")}));  // a page in parts: no cursor until the last
  EXPECT_FALSE(ade_.device("A2")->deleted) << "not before the fetch is complete";
  auto last_part = page("fetch", "", "d1", false, {device("A3")});
  last_part.continues = true;
  apply(last_part);
  EXPECT_FALSE(ade_.device("A1")->deleted);
  EXPECT_TRUE(ade_.device("A2")->deleted);
  EXPECT_FALSE(ade_.device("A3")->deleted);
  EXPECT_EQ(waiting(), (std::vector<std::string>{"A1", "A3"}));
  EXPECT_EQ(ade_.token("acme")->fetch_generation, 2u);
}

TEST_F(AdeProjection, AssignmentsAndEnrollmentsAreKeptPerDevice) {
  apply(page("fetch", "", "c1", false, {device("A1"), device("A2"), device("A3")}));
  apply(
      events::AdeProfileAssigned{"acme",
                                 "staff",
                                 "P1",
                                 {{"A1", "SUCCESS"}, {"A2", "THROTTLED"}, {"A3", "NOT_ACCESSIBLE"}},
                                 30});
  EXPECT_EQ(ade_.device("A1")->profile_uuid, "P1");
  EXPECT_EQ(ade_.device("A1")->assigned_profile, "staff");
  EXPECT_EQ(ade_.device("A2")->assign_status, "THROTTLED");
  // Throttled ones are tried again; one Apple refused waits for a change from ABM.
  EXPECT_EQ(waiting(), (std::vector<std::string>{"A2"}));
  apply(page("sync", "c1", "c2", false, {device("A3", "modified", "2026-12-06T02:00:00Z")}));
  EXPECT_EQ(waiting(), (std::vector<std::string>{"A2", "A3"}));

  apply(events::AdeEnrollmentRequested{"A1", "UDID-1", "iPhone16,1", "17.5", "acme", "staff",
                                       std::string(64, 'f'), "PROFILE-UUID", true});
  EXPECT_EQ(ade_.device("A1")->enrollment_udid, "UDID-1");
  EXPECT_EQ(ade_.device("A1")->enrollment_signer, std::string(64, 'f'));
  // Not bound (it named an enrolled UDID with another identity): the UDID is not recorded, and
  // the first device identity stays the serial number's.
  apply(events::AdeEnrollmentRequested{"A1", "VICTIM", "", "", "acme", "staff",
                                       std::string(64, 'e'), "P2", false});
  EXPECT_EQ(ade_.device("A1")->enrollment_udid, "UDID-1");
  EXPECT_EQ(ade_.device("A1")->enrollment_signer, std::string(64, 'f'));
  apply(events::AdeEnrollmentRequested{"NOPE1", "UDID-2", "", "", "acme", "", "", "", true});
  EXPECT_FALSE(ade_.device("NOPE1")) << "an enrollment makes no device Apple did not send";

  // A device moved to another token in ABM waits under its new token only.
  apply(events::AdeDevicesSynced{"other", "fetch", "", "o1", false, false, "", {device("A2")}});
  EXPECT_EQ(waiting("acme"), (std::vector<std::string>{"A3"}));
  EXPECT_EQ(waiting("other"), (std::vector<std::string>{"A2"}));
  EXPECT_EQ(ade_.devices("", 2).size(), 2u);
  EXPECT_EQ(ade_.devices("A2", 10).front().serial_number, "A3");
}

// Held by an administrator: its profile goes (the syncer's removal list), no rule gives another.
TEST_F(AdeProjection, AHeldDeviceLosesItsProfileAndIsNotAssignedAgain) {
  apply(page("fetch", "", "c1", false, {device("A1", "", "", "P1"), device("A2")}));
  apply(events::AdeDevicesHeld{{"A1", "A2", "NOPE1"}, true});
  EXPECT_TRUE(waiting().empty());
  EXPECT_EQ(ade_.removals("acme", 10).size(), 1u);
  apply(events::AdeProfileRemoved{"acme", {{"A1", "SUCCESS"}}});
  EXPECT_EQ(ade_.device("A1")->profile_status, "removed");
  EXPECT_TRUE(ade_.removals("acme", 10).empty());
  apply(page("sync", "c1", "c2", false, {device("A1", "modified", "2026-12-06T03:00:00Z")}));
  EXPECT_TRUE(waiting().empty()) << "held: Apple's change does not bring it back";
  apply(events::AdeDevicesHeld{{"A1"}, false});
  EXPECT_EQ(waiting(), (std::vector<std::string>{"A1"}));
  EXPECT_FALSE(ade_.device("NOPE1"));
}

TEST_F(AdeProjection, TokensProfilesAndRules) {
  apply(events::AdeTokenCertificateCreated{"acme", "PEM", "sealed-key", "2029-12-06T00:00:00Z"});
  apply(events::AdeSyncFailed{"acme", "session", 403, "token_rejected", "stopped", 0, ""});
  apply(events::AdeTokenStored{"acme", "sealed-credentials", "2027-12-06T00:00:00Z"});
  const auto t = ade_.token("acme");
  EXPECT_EQ(t->certificate_pem, "PEM");
  EXPECT_EQ(t->credentials_sealed, "sealed-credentials");
  EXPECT_EQ(t->failure_outcome, "") << "a new token ends a stop";
  apply(events::AdeAssignmentSet{"acme", "staff", "[]"});
  EXPECT_EQ(ade_.token("acme")->default_profile, "staff");
  EXPECT_EQ(ade_.token("acme")->credentials_sealed, "sealed-credentials");
  apply(events::AdeProfileStored{"staff", R"({"profile_name":"Staff"})"});
  apply(events::AdeProfileDefined{"acme", "staff", "P1", "sha"});
  EXPECT_EQ(ade_.defined_profile("acme", "staff")->profile_uuid, "P1");
  EXPECT_FALSE(ade_.defined_profile("other", "staff"));
  EXPECT_EQ(ade_.profiles().size(), 1u);
  EXPECT_EQ(ade_.tokens().size(), 1u);
}

}  // namespace
}  // namespace cairn::projector
