// The device service over a real log and a real RocksDB projection, with the store made to fail:
// a failing store must surface as Unavailable (→ 503), never as NotManaged (→ 401, which would
// unenroll the device).
#include "ingest/device_service.hpp"

#include <gtest/gtest.h>

#include <functional>

#include "common/clock.hpp"
#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "crypto/digest.hpp"
#include "eventlog/embedded_log.hpp"
#include "projector/projection_store.hpp"
#include "projector/projector.hpp"
#include "projector/queries.hpp"
#include "tests/support/messages.hpp"
#include "tests/support/temp_dir.hpp"

namespace cairn::ingest {
namespace {

// Reads through to the real store unless armed; armed, it fails like RocksDB does.
class FailingStore final : public store::Reader {
 public:
  explicit FailingStore(const store::Reader& inner) : inner_(inner) {}
  bool armed = false;
  // Called before each get: a test makes something happen between two reads of a request.
  std::function<void(std::string_view key)> before_get;
  std::optional<std::string> get(std::string_view key) const override {
    check();
    if (before_get) before_get(key);
    return inner_.get(key);
  }
  void scan(std::string_view prefix, std::string_view start, const Visitor& visit) const override {
    check();
    inner_.scan(prefix, start, visit);
  }

 private:
  void check() const {
    if (armed) throw Unavailable("store read: IO error (injected)");
  }
  const store::Reader& inner_;
};

class DeviceServiceTest : public ::testing::Test {
 protected:
  testing::TempDir dir;
  eventlog::EmbeddedLog log{dir / "log"};
  projector::ProjectionStore store{dir / "db"};
  projector::AppliedWatermark watermark;
  projector::Projector projector{log, store, watermark};
  FailingStore failing_store{store};
  projector::ProjectionReader reader{failing_store};
  crypto::SecretBox secrets{{crypto::random_bytes(32)}};
  EventWriter writer{log, watermark, "test", std::chrono::milliseconds(300)};
  DeviceService service{writer, reader, secrets};
  ClientIdentity who{std::string(64, 'a'), "tls"};

  void SetUp() override { projector.start(); }
  void TearDown() override { projector.stop(); }
  DeviceAnswer checkin(const std::string& body) {
    return service.checkin(Plist::parse(body), body, who);
  }
  DeviceAnswer report(const std::string& body) {
    return service.report(Plist::parse(body), body, who);
  }
  // Authenticate for `udid` with the identity whose fingerprint is 64 × `identity`.
  void authenticate_as(const std::string& udid, char identity) {
    const auto body = testing::authenticate_body(udid);
    service.checkin(Plist::parse(body), body, ClientIdentity{std::string(64, identity), "tls"});
  }
  void bind(const std::string& udid, const std::string& fingerprint, const std::string& reason,
            const std::string& renewed) {
    writer.append_and_wait_applied({writer.make(
        udid, "scep",
        events::IdentityBound{fingerprint, "2027-11-23T00:00:00.000Z", reason, renewed})});
  }
  // A TokenUpdated escrowing `sealed` as the device's UnlockToken, from `fingerprint`.
  events::Event token_update(const std::string& udid, std::string sealed,
                             const std::string& fingerprint) {
    auto update = writer.make(udid, "device", events::TokenUpdated{});
    auto& token = std::get<events::TokenUpdated>(update.payload);
    token.topic = "com.apple.mgmt.t";
    token.token_hex = "00ff";
    token.push_magic = "m";
    token.unlock_token_sealed = std::move(sealed);
    token.certificate_fingerprint = fingerprint;
    return update;
  }
  void allow_reenrollment(const std::string& udid, std::chrono::hours valid_for) {
    writer.append_and_wait_applied(
        {writer.make(udid, "admin",
                     events::ReenrollmentAllowed{
                         "", format_rfc3339(std::chrono::system_clock::now() + valid_for)})});
  }
};

TEST_F(DeviceServiceTest, StoreFailureIsUnavailableNeverNotManaged) {
  checkin(testing::authenticate_body("U1"));
  checkin(testing::token_update_body("U1"));
  failing_store.armed = true;
  EXPECT_THROW(report(testing::report_body("U1", "Idle")), Unavailable);
  EXPECT_THROW(checkin(testing::token_update_body("U1")), Unavailable);
  EXPECT_THROW(checkin(testing::authenticate_body("U2")), Unavailable);
  failing_store.armed = false;
  EXPECT_NO_THROW(report(testing::report_body("U1", "Idle")));
}

TEST_F(DeviceServiceTest, OnlyTrulyUnmanagedDevicesAreNotManaged) {
  EXPECT_THROW(report(testing::report_body("NEVER-SEEN", "Idle")), NotManaged);
  checkin(testing::authenticate_body("U1"));
  ClientIdentity other{std::string(64, 'b'), "tls"};
  const auto idle = testing::report_body("U1", "Idle");
  EXPECT_THROW(service.report(Plist::parse(idle), idle, other), NotManaged);
  checkin(testing::checkout_body("U1"));
  EXPECT_THROW(report(idle), NotManaged);
}

TEST_F(DeviceServiceTest, UnlockTokenIsSealedAndCutFromTheRecordedMessage) {
  const std::string secret = "UNLOCK-TOKEN-BYTES-0123456789";
  checkin(testing::authenticate_body("U1"));
  const auto body = testing::token_update_body("U1", secret);
  checkin(body);
  const auto records = log.read(PartitionId(0), Offset(0), 100, std::chrono::milliseconds(0));
  ASSERT_EQ(records.size(), 2u);
  const auto& json = records[1].value;
  EXPECT_EQ(json.find(secret), std::string::npos);
  EXPECT_EQ(json.find(base64_encode(secret)), std::string::npos);
  const auto event = events::decode(json);
  const auto& token = std::get<events::TokenUpdated>(event.payload);
  EXPECT_EQ(secrets.open(token.unlock_token_sealed, "U1"), secret);
  EXPECT_EQ(token.message.redacted, "UnlockToken");
  EXPECT_EQ(token.message.sha256, crypto::sha256_hex(body));  // proves the original body
  // Everything else the device said is still there, verbatim.
  EXPECT_NE(token.message.body.find("<string>PUSH-MAGIC-U1</string>"), std::string::npos);
  EXPECT_TRUE(reader.device(DeviceId("U1"))->unlock_token_escrowed);
  EXPECT_EQ(reader.unlock_token_sealed(DeviceId("U1")), token.unlock_token_sealed);
}

TEST_F(DeviceServiceTest, UnlockTokenBehindADecoyIsStillNeverRecordedInClear) {
  const std::string secret = "THE-REAL-UNLOCK-TOKEN";
  checkin(testing::authenticate_body("U1"));
  // A decoy UnlockToken inside a comment comes first; the reader takes the real one.
  const std::string body =
      "<plist version=\"1.0\"><dict><key>MessageType</key><string>TokenUpdate</string>"
      "<key>Topic</key><string>com.apple.mgmt.t</string><key>UDID</key><string>U1</string>"
      "<key>Token</key><data>AAEC</data><key>PushMagic</key><string>m</string>"
      "<!-- <key>UnlockToken</key><data>ZGVjb3k=</data> -->"
      "<key>UnlockToken</key><data>" +
      base64_encode(secret) + "</data></dict></plist>";
  checkin(body);
  const auto records = log.read(PartitionId(0), Offset(0), 100, std::chrono::milliseconds(0));
  const auto& json = records.back().value;
  EXPECT_EQ(json.find(base64_encode(secret)), std::string::npos) << json;
  const auto token = std::get<events::TokenUpdated>(events::decode(json).payload);
  EXPECT_EQ(secrets.open(token.unlock_token_sealed, "U1"), secret);
  EXPECT_NE(token.message.redacted.find("re-encoded"), std::string::npos);
}

// ClearPasscode gets the escrowed UnlockToken at delivery. One the keyring cannot open (its key
// was removed) must not block the device's queue with a 500 on every poll: the command goes
// without it (the device answers with an error, recorded) and the next one follows.
TEST_F(DeviceServiceTest, AnUnopenableUnlockTokenDoesNotBlockTheQueue) {
  checkin(testing::authenticate_body("U1"));
  checkin(testing::token_update_body("U1", "THE-UNLOCK-TOKEN"));
  auto clear_passcode = [&](const std::string& uuid) {
    writer.append_and_wait_applied({writer.make(
        "U1", "admin",
        events::CommandEnqueued{uuid, "ClearPasscode", testing::command_body(uuid, "ClearPasscode"),
                                false})});
  };
  clear_passcode("CLEAR-1");
  auto delivered = report(testing::report_body("U1", "Idle"));
  EXPECT_EQ(delivered.command_uuid, "CLEAR-1");
  EXPECT_EQ(Plist::parse(delivered.body).dict("Command")->data("UnlockToken"), "THE-UNLOCK-TOKEN");
  report(testing::report_body("U1", "Acknowledged", "CLEAR-1"));

  // Escrowed again, sealed with a key this keyring does not hold.
  const crypto::SecretBox other_keyring{{crypto::random_bytes(32)}};
  writer.append_and_wait_applied(
      {token_update("U1", other_keyring.seal("ANOTHER-TOKEN", "U1"), who.fingerprint)});
  clear_passcode("CLEAR-2");
  writer.append_and_wait_applied({writer.make(
      "U1", "admin",
      events::CommandEnqueued{"NEXT-1", "ProfileList",
                              testing::command_body("NEXT-1", "ProfileList"), false})});
  delivered = report(testing::report_body("U1", "Idle"));
  EXPECT_EQ(delivered.command_uuid, "CLEAR-2");
  EXPECT_FALSE(Plist::parse(delivered.body).dict("Command")->has("UnlockToken"));
  delivered = report(testing::report_body("U1", "Error", "CLEAR-2"));
  EXPECT_EQ(delivered.command_uuid, "NEXT-1");
}

// The device enrolls again with another identity (and escrows a new UnlockToken) between the
// authorization of a poll and the read of its escrowed token: the old identity must not be
// handed the new enrollment's token. It is refused as no longer bound (as its next poll would be).
TEST_F(DeviceServiceTest, AReEnrollmentDuringAPollNeverHandsTheNewTokenToTheOldIdentity) {
  checkin(testing::authenticate_body("U1"));
  checkin(testing::token_update_body("U1", "OLD-TOKEN"));
  writer.append_and_wait_applied({writer.make(
      "U1", "admin",
      events::CommandEnqueued{"CLEAR-1", "ClearPasscode",
                              testing::command_body("CLEAR-1", "ClearPasscode"), false})});
  bool reenrolled = false;
  failing_store.before_get = [&](std::string_view key) {
    if (key != "t/U1" || reenrolled) return;
    reenrolled = true;
    const std::string fingerprint(64, 'b');
    auto update = token_update("U1", secrets.seal("NEW-TOKEN", "U1"), fingerprint);
    writer.append_and_wait_applied(
        {writer.make("U1", "device",
                     events::DeviceAuthenticated{
                         "com.apple.mgmt.t", "", fingerprint, "tls", {}, "", false}),
         std::move(update)});
  };
  EXPECT_THROW(report(testing::report_body("U1", "Idle")), NotManaged);
  EXPECT_TRUE(reenrolled);
}

// A device's identity alone cannot fill the store with users' channels: past the limit a new
// user is refused (403), the known ones go on.
TEST_F(DeviceServiceTest, UsersChannelsPerDeviceAreBounded) {
  checkin(testing::authenticate_body("MAC"));
  checkin(testing::token_update_body("MAC"));
  auto user_token_update = [](size_t n) {
    Plist p = Plist::parse(testing::token_update_body("MAC"));
    p.set_string("UserID", "USER-" + std::to_string(n));
    return p.to_xml();
  };
  for (size_t n = 0; n < DeviceService::kMostUserChannelsPerDevice; ++n)
    checkin(user_token_update(n));
  try {
    checkin(user_token_update(DeviceService::kMostUserChannelsPerDevice));
    ADD_FAILURE() << "a user past the limit was taken";
  } catch (const ClientError& e) {
    EXPECT_EQ(e.status(), 403);
  }
  EXPECT_NO_THROW(checkin(user_token_update(0)));
}

TEST_F(DeviceServiceTest, ALaggingProjectionGives503NotAnUnenrolling401) {
  checkin(testing::authenticate_body("U1"));
  checkin(testing::token_update_body("U1"));
  // Stop applying: the next CheckOut is in the log but not in the projection.
  projector.stop();
  const auto checkout = testing::checkout_body("U1");
  EXPECT_THROW(checkin(checkout), Unavailable);
  // The projection still says "enrolled"... and now a re-Authenticate with a new certificate
  // for the same UDID is in the log only as well. A report with the new certificate must not be
  // refused from the stale projection.
  EXPECT_THROW(service.report(Plist::parse(testing::report_body("U1", "Idle")),
                              testing::report_body("U1", "Idle"),
                              ClientIdentity{std::string(64, 'f'), "tls"}),
               Unavailable);
}

// Authenticate with a new identity for an enrolled UDID would hand that device's commands to
// whoever holds the identity: refused (403, not the unenrolling 401) unless the UDID is free
// again (CheckOut) or an admin allowed it, and then only once and only for a while.
TEST_F(DeviceServiceTest, AnEnrolledUdidIsNotTakenOverByAnotherIdentity) {
  checkin(testing::authenticate_body("U1"));
  checkin(testing::token_update_body("U1"));
  try {
    authenticate_as("U1", 'b');
    FAIL() << "an enrolled UDID was taken over";
  } catch (const ClientError& e) {
    EXPECT_EQ(e.status(), 403);
    EXPECT_NE(std::string(e.what()).find("/v1/devices/U1/reenrollment"), std::string::npos);
  }
  EXPECT_EQ(reader.device(DeviceId("U1"))->certificate_fingerprint, std::string(64, 'a'));
  EXPECT_NO_THROW(authenticate_as("U1", 'a'));  // the same identity again is not a takeover

  allow_reenrollment("U1", std::chrono::hours(-1));  // expired already
  EXPECT_THROW(authenticate_as("U1", 'b'), ClientError);
  allow_reenrollment("U1", std::chrono::hours(1));
  EXPECT_EQ(reader.device(DeviceId("U1"))->reenrollment_allowed, "allowed by admin");
  EXPECT_NO_THROW(authenticate_as("U1", 'b'));
  const auto device = reader.device(DeviceId("U1"));
  EXPECT_EQ(device->certificate_fingerprint, std::string(64, 'b'));
  EXPECT_EQ(device->reenrollment_allowed, "");
  EXPECT_THROW(authenticate_as("U1", 'c'), ClientError);  // the permission was used up

  const auto checkout = testing::checkout_body("U1");
  service.checkin(Plist::parse(checkout), checkout, ClientIdentity{std::string(64, 'b'), "tls"});
  EXPECT_NO_THROW(authenticate_as("U1", 'c'));
}

TEST_F(DeviceServiceTest, ADeviceErasedThroughCairnMayEnrollAgain) {
  checkin(testing::authenticate_body("U1"));
  checkin(testing::token_update_body("U1"));
  writer.append_and_wait_applied({writer.make(
      "U1", "admin",
      events::CommandEnqueued{"ERASE-1", "EraseDevice",
                              testing::command_body("ERASE-1", "EraseDevice"), false})});
  report(testing::report_body("U1", "Acknowledged", "ERASE-1"));
  const auto device = reader.device(DeviceId("U1"));
  EXPECT_EQ(device->reenrollment_allowed, "erased");
  EXPECT_FALSE(device->reenrollment_allowed_until.empty());
  EXPECT_NO_THROW(authenticate_as("U1", 'e'));
}

// A renewed identity (IdentityBound) works beside the current one until the device first uses
// it; from then on the old one no longer opens anything.
TEST_F(DeviceServiceTest, ARenewedIdentityReplacesTheOldOneOnFirstUse) {
  checkin(testing::authenticate_body("U1"));
  checkin(testing::token_update_body("U1"));
  const std::string renewed(64, 'r');
  bind("U1", renewed, "renewal", std::string(64, 'a'));
  EXPECT_EQ(reader.pending_identities(DeviceId("U1")), std::vector{renewed});
  const auto idle = testing::report_body("U1", "Idle");
  EXPECT_NO_THROW(report(idle));  // the old one still works
  EXPECT_NO_THROW(service.report(Plist::parse(idle), idle, ClientIdentity{renewed, "tls"}));
  EXPECT_EQ(reader.device(DeviceId("U1"))->certificate_fingerprint, renewed);
  EXPECT_TRUE(reader.pending_identities(DeviceId("U1")).empty());
  EXPECT_TRUE(reader.devices_for_certificate(std::string(64, 'a')).empty());
  EXPECT_THROW(report(idle), NotManaged);
}

// A renewal is decided again in log order: once the renewed identity is no longer the device's
// (it re-enrolled meanwhile, say on another node), its successor is not bound.
TEST_F(DeviceServiceTest, ARenewalOfAnIdentityTheDeviceNoLongerHasBindsNothing) {
  checkin(testing::authenticate_body("U1"));
  bind("U1", std::string(64, 'r'), "renewal", std::string(64, 'z'));
  EXPECT_TRUE(reader.pending_identities(DeviceId("U1")).empty());
  EXPECT_TRUE(reader.devices_for_certificate(std::string(64, 'r')).empty());
  bind("NEVER-SEEN", std::string(64, 's'), "renewal", std::string(64, 'a'));
  EXPECT_TRUE(reader.devices_for_certificate(std::string(64, 's')).empty());
}

// Identities issued for a UDID (profiles made for it) may enroll it even while another identity
// holds it; several may be pending at once (a retried request, two profiles), and the first one
// used drops the others.
TEST_F(DeviceServiceTest, AnIdentityBoundToTheUdidMayEnrollItAndDropsTheOthers) {
  checkin(testing::authenticate_body("U1"));
  bind("U1", std::string(64, 'p'), "profile", "");
  bind("U1", std::string(64, 'q'), "profile", "");
  EXPECT_EQ(reader.pending_identities(DeviceId("U1")).size(), 2u);
  EXPECT_NO_THROW(authenticate_as("U1", 'q'));
  EXPECT_EQ(reader.device(DeviceId("U1"))->certificate_fingerprint, std::string(64, 'q'));
  EXPECT_TRUE(reader.pending_identities(DeviceId("U1")).empty());
  EXPECT_THROW(authenticate_as("U1", 'p'), ClientError);
}

// An identity bound before the device's first Authenticate is dropped when the device enrolls
// with another one: it must not stay a key to the device.
TEST_F(DeviceServiceTest, AnIdentityBoundBeforeEnrollmentIsDroppedWhenAnotherEnrolls) {
  bind("NEW-1", std::string(64, 'p'), "profile", "");
  EXPECT_EQ(reader.devices_for_certificate(std::string(64, 'p')), std::vector{DeviceId("NEW-1")});
  authenticate_as("NEW-1", 'a');
  EXPECT_TRUE(reader.pending_identities(DeviceId("NEW-1")).empty());
  EXPECT_TRUE(reader.devices_for_certificate(std::string(64, 'p')).empty());
  EXPECT_THROW(authenticate_as("NEW-1", 'p'), ClientError);
}

}  // namespace
}  // namespace cairn::ingest
