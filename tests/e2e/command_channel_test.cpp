// End to end over real HTTPS with client certificates: a real node (embedded log, RocksDB) on
// loopback and devices speaking the protocol. The command-channel rules from docs/design.md.
#include <gtest/gtest.h>

#include <thread>

#include "app/single_node.hpp"
#include "common/encoding.hpp"
#include "schemas/events.hpp"
#include "tests/support/messages.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_node.hpp"

namespace cairn::testing {
namespace {

class CommandChannel : public ::testing::Test {
 protected:
  TempDir dir;
  std::unique_ptr<TestNode> node = std::make_unique<TestNode>(dir.path());

  void enqueue(const std::string& ids, const std::string& uuid,
               const std::string& type = "DeviceInformation") {
    auto r = node->enqueue(ids, command_body(uuid, type));
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    ASSERT_EQ(r->status, 200) << r->body;
  }
  // Stops the node, rebuilds its projection from the log and compares digests.
  void expect_replay_gives_the_live_projection() {
    auto live = node->admin_get("/v1/projection");
    ASSERT_EQ(live->status, 200);
    node->stop();
    TempDir fresh;
    const auto replayed = app::replay(dir.path(), std::nullopt, fresh / "projection");
    EXPECT_NE(live->body.find("\"digest\":\"" + replayed.digest + "\""), std::string::npos)
        << live->body << " vs " << replayed.digest;
    EXPECT_NE(live->body.find("\"0\":" + std::to_string(replayed.events)), std::string::npos);
  }
  static std::string answer(TestDevice& d, const std::string& status,
                            const std::string& uuid = "") {
    auto r = d.report(status, uuid);
    EXPECT_TRUE(r) << httplib::to_string(r.error());
    if (!r) return "<no response>";
    EXPECT_EQ(r->status, 200) << r->body;
    return command_uuid_of(r);
  }
};

TEST_F(CommandChannel, EnrollEnqueuePollAcknowledge) {
  TestDevice d(*node, "DEV-1");
  d.enroll();
  auto r = node->enqueue("DEV-1", command_body("CMD-1", "DeviceInformation"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("\"command_uuid\":\"CMD-1\""), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("\"request_type\":\"DeviceInformation\""), std::string::npos);

  auto poll = d.report("Idle");
  ASSERT_TRUE(poll);
  EXPECT_EQ(poll->status, 200);
  EXPECT_EQ(poll->get_header_value("Content-Type"), "application/xml");
  EXPECT_EQ(command_uuid_of(poll), "CMD-1");
  EXPECT_EQ(answer(d, "Acknowledged", "CMD-1"), "");  // empty 200: nothing more

  auto status = node->admin_get("/v1/commands/CMD-1");
  ASSERT_TRUE(status);
  EXPECT_NE(status->body.find("\"status\":\"acknowledged\""), std::string::npos) << status->body;
  // The device's result, verbatim from the log.
  EXPECT_NE(status->body.find("<key>CommandUUID</key>\\n\\t<string>CMD-1</string>"),
            std::string::npos)
      << status->body;
  auto device = node->admin_get("/v1/devices/DEV-1");
  EXPECT_NE(device->body.find("\"enrollment_state\":\"enrolled\""), std::string::npos)
      << device->body;
  EXPECT_NE(device->body.find("\"unlock_token_escrowed\":true"), std::string::npos);
}

TEST_F(CommandChannel, EmptyQueueAnswersEmpty200) {
  TestDevice d(*node, "DEV-1");
  d.enroll();
  auto r = d.report("Idle");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->body.empty());
}

TEST_F(CommandChannel, FifoAndNotNowAcrossSessions) {
  TestDevice d(*node, "DEV-1");
  d.enroll();
  for (auto uuid : {"A", "B", "C"}) enqueue("DEV-1", uuid);
  EXPECT_EQ(answer(d, "Idle"), "A");
  // NotNow ends the session: a device polls again by itself only if NotNow was its last status.
  EXPECT_EQ(answer(d, "NotNow", "A"), "");
  EXPECT_EQ(answer(d, "Idle"), "A");  // its next poll: A again, still first
  EXPECT_EQ(answer(d, "Acknowledged", "A"), "B");
  EXPECT_EQ(answer(d, "NotNow", "B"), "");
  EXPECT_EQ(answer(d, "Idle"), "B");
  EXPECT_EQ(answer(d, "Acknowledged", "B"), "C");
  EXPECT_EQ(answer(d, "Acknowledged", "C"), "");
  auto queue = node->admin_get("/v1/devices/DEV-1/commands");
  EXPECT_NE(queue->body.find("\"queue\":[]"), std::string::npos) << queue->body;
}

TEST_F(CommandChannel, AnswerToAResultNeverResendsTheFinishedCommand) {
  TestDevice d(*node, "DEV-1");
  d.enroll();
  // Many rounds: the read-your-writes wait must hold every time, not just when the projector
  // happens to be fast.
  for (int i = 0; i < 50; ++i) enqueue("DEV-1", "CMD-" + std::to_string(i));
  std::string next = answer(d, "Idle");
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(next, "CMD-" + std::to_string(i));
    next = answer(d, i % 3 == 0 ? "Error" : "Acknowledged", next);
  }
  EXPECT_EQ(next, "");
}

TEST_F(CommandChannel, DuplicateAndResentResultsChangeNothing) {
  TestDevice d(*node, "DEV-1");
  d.enroll();
  enqueue("DEV-1", "A");
  enqueue("DEV-1", "B");
  EXPECT_EQ(answer(d, "Idle"), "A");
  // The answer to this result is "lost"; the device resends the same result.
  EXPECT_EQ(answer(d, "Acknowledged", "A"), "B");
  EXPECT_EQ(answer(d, "Acknowledged", "A"), "B");  // B is still queued, A not resent
  EXPECT_EQ(answer(d, "Acknowledged", "B"), "");
  EXPECT_EQ(answer(d, "Acknowledged", "B"), "");  // a duplicate of the last: nothing wiped, 200
  int reports_for_a = 0;
  for (const auto& e : logged_events(dir.path()))
    if (auto* r = std::get_if<events::CommandReported>(&e.payload); r && r->command_uuid == "A")
      ++reports_for_a;
  EXPECT_EQ(reports_for_a, 2);  // both results for A are recorded, the duplicate too
}

TEST_F(CommandChannel, ResultForUnknownCommandIsAcceptedAndRecorded) {
  TestDevice d(*node, "DEV-1");
  d.enroll();
  EXPECT_EQ(answer(d, "Acknowledged", "NEVER-QUEUED"), "");
  bool recorded = false;
  for (const auto& e : logged_events(dir.path()))
    if (auto* r = std::get_if<events::CommandReported>(&e.payload))
      recorded |= r->command_uuid == "NEVER-QUEUED" && r->status == "Acknowledged";
  EXPECT_TRUE(recorded);
}

TEST_F(CommandChannel, ResultWithoutCommandUuidIsRecordedAndChangesNoQueue) {
  TestDevice d(*node, "DEV-1");
  d.enroll();
  enqueue("DEV-1", "A");
  EXPECT_EQ(answer(d, "Idle"), "A");
  // As 2011-era devices sent it (Schuetz's capture): an empty CommandUUID.
  auto r = d.put("/mdm",
                 plist_xml({{"CommandUUID", ""}, {"Status", "Acknowledged"}, {"UDID", "DEV-1"}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(answer(d, "Acknowledged", "A"), "");  // A is still the one to finish
}

TEST_F(CommandChannel, OneCommandToManyDevicesWithPartialFailure) {
  TestDevice a(*node, "DEV-A"), b(*node, "DEV-B");
  a.enroll();
  b.enroll();
  auto r = node->enqueue("DEV-A,DEV-B,NOBODY", command_body("MULTI", "ProfileList"), "?nopush=1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 207) << r->body;
  EXPECT_NE(r->body.find("\"NOBODY\":{\"command_error\":\"unknown device\"}"), std::string::npos)
      << r->body;
  EXPECT_NE(r->body.find("\"no_push\":true"), std::string::npos);
  EXPECT_EQ(answer(a, "Idle"), "MULTI");
  EXPECT_EQ(answer(b, "Idle"), "MULTI");
  auto none = node->enqueue("NOBODY", command_body("X", "ProfileList"));
  EXPECT_EQ(none->status, 500);
  auto again = node->enqueue("DEV-A", command_body("MULTI", "ProfileList"));
  EXPECT_EQ(again->status, 500) << again->body;  // same UUID twice for one device
}

TEST_F(CommandChannel, PushRequestsAreRecorded) {
  TestDevice d(*node, "DEV-1");
  d.enroll();
  auto r = node->admin()->Get("/v1/push/DEV-1,GHOST");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 207) << r->body;
  int pushes = 0;
  for (const auto& e : logged_events(dir.path()))
    if (std::holds_alternative<events::PushRequested>(e.payload)) {
      ++pushes;
      EXPECT_EQ(e.device, "DEV-1");
      EXPECT_EQ(e.actor, "tester");
    }
  EXPECT_EQ(pushes, 1);
}

TEST_F(CommandChannel, AdminApiNeedsAKey) {
  httplib::SSLClient anonymous("127.0.0.1", node->port());
  anonymous.enable_server_certificate_verification(false);
  EXPECT_EQ(anonymous.Get("/v1/devices")->status, 401);
  anonymous.set_basic_auth("nanomdm", "wrong");
  EXPECT_EQ(anonymous.Get("/v1/devices")->status, 401);
  EXPECT_EQ(node->admin_get("/v1/devices")->status, 200);
  auto bad = node->enqueue("DEV-1", "<plist><dict><key>Command</key><dict/></dict></plist>");
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("CommandUUID"), std::string::npos) << bad->body;
}

TEST_F(CommandChannel, DeviceListingPagesThroughTheFleet) {
  for (int i = 0; i < 5; ++i) {
    TestDevice d(*node, "DEV-" + std::to_string(i));
    d.enroll();
  }
  auto first = node->admin_get("/v1/devices?limit=3");
  EXPECT_NE(first->body.find("\"next_after\":\"DEV-2\""), std::string::npos) << first->body;
  auto second = node->admin_get("/v1/devices?limit=3&after=DEV-2");
  EXPECT_NE(second->body.find("DEV-4"), std::string::npos);
  EXPECT_EQ(second->body.find("DEV-2\""), std::string::npos) << second->body;
  EXPECT_EQ(node->admin_get("/v1/devices?limit=abc")->status, 400);
}

TEST_F(CommandChannel, StateSurvivesARestartMidSession) {
  TestDevice d(*node, "DEV-1");
  d.enroll();
  enqueue("DEV-1", "A");
  enqueue("DEV-1", "B");
  EXPECT_EQ(answer(d, "Idle"), "A");
  node->restart();
  d.reconnect(*node);
  EXPECT_EQ(answer(d, "Acknowledged", "A"), "B");
  EXPECT_EQ(answer(d, "Acknowledged", "B"), "");
}

TEST_F(CommandChannel, ReplayRebuildsTheSameProjection) {
  TestDevice d(*node, "DEV-1"), e(*node, "DEV-2");
  d.enroll();
  e.enroll();
  enqueue("DEV-1,DEV-2", "A");
  enqueue("DEV-1", "B");
  answer(d, "Idle");
  answer(d, "NotNow", "A");
  answer(e, "Idle");
  answer(e, "Acknowledged", "A");
  expect_replay_gives_the_live_projection();
}

TEST_F(CommandChannel, ManyDevicesConcurrently) {
  constexpr int kDevices = 12, kCommands = 10;
  std::vector<std::unique_ptr<TestDevice>> devices;
  std::string ids;
  for (int i = 0; i < kDevices; ++i) {
    devices.push_back(std::make_unique<TestDevice>(*node, "PAR-" + std::to_string(i)));
    devices.back()->enroll();
    ids += (i ? "," : "") + devices.back()->udid();
  }
  for (int c = 0; c < kCommands; ++c) enqueue(ids, "C" + std::to_string(c));
  std::vector<std::thread> threads;
  std::vector<int> done(kDevices, 0);
  for (int i = 0; i < kDevices; ++i)
    threads.emplace_back([&, i] {
      auto next = command_uuid_of(devices[i]->report("Idle"));
      while (!next.empty()) {
        ++done[i];
        next = command_uuid_of(devices[i]->report("Acknowledged", next));
      }
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < kDevices; ++i) EXPECT_EQ(done[i], kCommands) << "device " << i;
}

constexpr const char* kMacUser = "A1B2C3D4-0000-4000-8000-00000000USER";

// A message of the user channel of `udid` (a Mac user: UserID), as a Mac's mdmclient agent sends.
Plist user_message(const char* type, const std::string& udid = "MAC-1",
                   const std::string& user_id = kMacUser) {
  Plist p = Plist::new_dict();
  if (type[0] != '\0') p.set_string("MessageType", type);
  p.set_string("Topic", "com.apple.mgmt.test");
  p.set_string("UDID", udid);
  p.set_string("UserID", user_id);
  return p;
}
Plist user_token_update(const std::string& udid = "MAC-1", const std::string& user_id = kMacUser) {
  Plist token = user_message("TokenUpdate", udid, user_id);
  token.set_data("Token", push_token_of(udid + ":user"));
  token.set_string("PushMagic", "USER-MAGIC");
  token.set_string("UserShortName", "ana");
  token.set_string("UserLongName", "Ana Lima");
  return token;
}
Plist user_report(const char* status, const std::string& uuid = "") {
  Plist p = user_message("");
  p.remove("Topic");
  p.set_string("Status", status);
  if (!uuid.empty()) p.set_string("CommandUUID", uuid);
  return p;
}

// With user channels turned off (--user-channels off), a Mac's user channel is declined with 410,
// as Apple documents for a server that does not manage the user: UserAuthenticate, and any
// message naming a UserID or EnrollmentUserID. The device channel is untouched: a user's
// TokenUpdate never replaces the device's push token.
TEST(UserChannelsOff, TheUserChannelIsDeclinedWith410AndTheDeviceChannelGoesOn) {
  TempDir dir;
  TestNodeOptions off;
  off.user_channels = false;
  TestNode node(dir.path(), off);
  TestDevice mac(node, "MAC-1");
  mac.enroll();
  Plist authenticate = user_message("UserAuthenticate");
  EXPECT_EQ(mac.checkin(authenticate.to_xml())->status, 410);
  authenticate.set_string("DigestResponse", "digest");
  EXPECT_EQ(mac.checkin(authenticate.to_xml())->status, 410);
  EXPECT_EQ(mac.checkin(user_token_update().to_xml())->status, 410);
  EXPECT_EQ(mac.put("/mdm", user_report("Idle").to_xml())->status, 410);

  ASSERT_EQ(node.enqueue("MAC-1", command_body("DEVICE-CHANNEL-1", "DeviceInformation"))->status,
            200);
  EXPECT_EQ(command_uuid_of(mac.report("Idle")), "DEVICE-CHANNEL-1");
  int token_updates = 0, declined = 0;
  for (const auto& e : logged_events(node.data_dir())) {
    if (const auto* t = std::get_if<events::TokenUpdated>(&e.payload)) {
      ++token_updates;
      EXPECT_EQ(t->token_hex, token_hex_of("MAC-1"));
    }
    if (const auto* r = std::get_if<events::MessageRejected>(&e.payload))
      declined += r->http_status == 410;
  }
  EXPECT_EQ(token_updates, 1);
  EXPECT_GE(declined, 1);  // recorded (repeats from one source within 10 s are counted, not each)
}

// A Mac user logs in: UserAuthenticate is answered with a zero-length DigestChallenge, the user's
// TokenUpdate makes the channel "MAC-1:<UserID>" enrolled with its own push token, and each
// channel has its own queue. The device's token is never touched; a command Apple does not take
// on a user channel is refused; the DigestResponse is never kept.
TEST_F(CommandChannel, AMacUserChannelHasItsOwnTokenAndQueue) {
  TestDevice mac(*node, "MAC-1");
  mac.enroll();
  const std::string channel = std::string("MAC-1:") + kMacUser;
  Plist authenticate = user_message("UserAuthenticate");
  auto challenge = mac.checkin(authenticate.to_xml());
  ASSERT_EQ(challenge->status, 200) << challenge->body;
  EXPECT_EQ(Plist::parse(challenge->body).string("DigestChallenge"),
            std::optional<std::string>(""));
  authenticate.set_string("DigestResponse", "SECRET-DIGEST-OF-A-PASSWORD");
  auto second = mac.checkin(authenticate.to_xml());
  ASSERT_EQ(second->status, 200);
  EXPECT_EQ(second->body, "");
  ASSERT_EQ(mac.checkin(user_token_update().to_xml())->status, 200);

  const auto user = node->admin_get("/v1/devices/" + channel)->body;
  EXPECT_NE(user.find("\"enrollment_state\":\"enrolled\""), std::string::npos) << user;
  EXPECT_NE(user.find("\"device_udid\":\"MAC-1\""), std::string::npos) << user;
  EXPECT_NE(user.find("\"user_long_name\":\"Ana Lima\""), std::string::npos) << user;
  const auto device = node->admin_get("/v1/devices/MAC-1")->body;
  EXPECT_NE(device.find("\"user_channels\":[{\"udid\":\"" + channel), std::string::npos) << device;
  const auto list = node->admin_get("/v1/devices")->body;
  EXPECT_EQ(list.find(channel), std::string::npos) << "a user channel is listed with its device";

  enqueue("MAC-1", "FOR-DEVICE");
  enqueue(channel, "FOR-USER", "ProfileList");
  auto erase = node->enqueue(channel, command_body("ERASE-USER", "EraseDevice"));
  EXPECT_EQ(erase->status, 500) << erase->body;  // NanoMDM's shape: no ID took it
  EXPECT_NE(erase->body.find("devices only"), std::string::npos) << erase->body;

  auto user_poll = mac.put("/mdm", user_report("Idle").to_xml());
  EXPECT_EQ(command_uuid_of(user_poll), "FOR-USER");
  EXPECT_EQ(mac.put("/mdm", user_report("Acknowledged", "FOR-USER").to_xml())->body, "");
  EXPECT_EQ(answer(mac, "Idle"), "FOR-DEVICE");
  EXPECT_EQ(answer(mac, "Acknowledged", "FOR-DEVICE"), "");
  const auto user_commands = node->admin_get("/v1/devices/" + channel + "/commands")->body;
  EXPECT_NE(user_commands.find("\"command_uuid\":\"FOR-USER\""), std::string::npos);
  EXPECT_EQ(user_commands.find("FOR-DEVICE"), std::string::npos) << user_commands;

  int device_token_updates = 0, user_token_updates = 0, user_authenticated = 0;
  for (const auto& e : logged_events(node->data_dir())) {
    if (const auto* t = std::get_if<events::TokenUpdated>(&e.payload)) {
      ++(e.device == channel ? user_token_updates : device_token_updates);
      EXPECT_EQ(t->token_hex, token_hex_of(e.device == channel ? "MAC-1:user" : "MAC-1"));
    }
    if (const auto* a = std::get_if<events::UserAuthenticated>(&e.payload)) {
      ++user_authenticated;
      EXPECT_EQ(e.device, channel);
      EXPECT_EQ(a->message.body.find("SECRET-DIGEST"), std::string::npos) << a->message.body;
    }
  }
  EXPECT_EQ(device_token_updates, 1);
  EXPECT_EQ(user_token_updates, 1);
  EXPECT_EQ(user_authenticated, 2);
}

// A user channel speaks with its device's identity: another device's certificate, a device
// unknown here, or a checked-out device get nothing; when the Mac enrolls again, its users'
// channels end and what was queued for them is cancelled (as for the device itself).
TEST_F(CommandChannel, AUserChannelIsAuthorizedByItsDeviceAndEndsWithItsEnrollment) {
  TestDevice mac(*node, "MAC-1");
  mac.enroll();
  TestDevice other(*node, "MAC-2");
  other.enroll();
  const std::string channel = std::string("MAC-1:") + kMacUser;
  ASSERT_EQ(mac.checkin(user_token_update().to_xml())->status, 200);    // no UserAuthenticate: fine
  EXPECT_EQ(other.checkin(user_token_update().to_xml())->status, 401);  // MAC-2's certificate
  EXPECT_EQ(other.put("/mdm", user_report("Idle").to_xml())->status, 401);
  EXPECT_EQ(mac.checkin(user_token_update("NEVER-SEEN").to_xml())->status, 401);
  // Another user on MAC-2 is MAC-2's business only.
  EXPECT_EQ(other.checkin(user_token_update("MAC-2").to_xml())->status, 200);

  enqueue(channel, "QUEUED-FOR-USER", "ProfileList");
  ASSERT_EQ(mac.checkin(authenticate_body("MAC-1")).value().status, 200);  // enrolls again
  const auto user = node->admin_get("/v1/devices/" + channel)->body;
  EXPECT_NE(user.find("\"enrollment_state\":\"checked_out\""), std::string::npos) << user;
  const auto commands = node->admin_get("/v1/devices/" + channel + "/commands")->body;
  EXPECT_NE(commands.find("\"status\":\"cancelled\""), std::string::npos) << commands;
  EXPECT_EQ(node->enqueue(channel, command_body("AFTER", "ProfileList"))->status, 500);
  // The user logs in again on the re-enrolled Mac: the channel is back.
  ASSERT_EQ(mac.checkin(token_update_body("MAC-1")).value().status, 200);
  ASSERT_EQ(mac.checkin(user_token_update().to_xml())->status, 200);
  enqueue(channel, "AGAIN", "ProfileList");
  EXPECT_EQ(command_uuid_of(mac.put("/mdm", user_report("Idle").to_xml())), "AGAIN");
  // All of it (channels ended and started again, cancelled queues) is rebuilt the same by replay.
  expect_replay_gives_the_live_projection();
}

// A Shared iPad user is named by UserShortName (every user sends the same UserID), here an email
// address: usable in the admin API's paths as it is.
TEST_F(CommandChannel, ASharedIPadUserIsNamedByItsShortName) {
  TestDevice ipad(*node, "IPAD-1");
  ipad.enroll();
  Plist token = user_token_update("IPAD-1", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF");
  token.set_string("UserShortName", "ana@school.example");
  ASSERT_EQ(ipad.checkin(token.to_xml())->status, 200);
  enqueue("IPAD-1:ana@school.example", "SHARED-1", "ProfileList");
  Plist idle = user_message("", "IPAD-1", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF");
  idle.remove("Topic");
  idle.set_string("Status", "Idle");
  idle.set_string("UserShortName", "ana@school.example");
  EXPECT_EQ(command_uuid_of(ipad.put("/mdm", idle.to_xml())), "SHARED-1");
  // Without a UserShortName there is no telling the users apart: refused, naming it.
  token.remove("UserShortName");
  const auto refused = ipad.checkin(token.to_xml());
  EXPECT_EQ(refused->status, 400);
  EXPECT_NE(refused->body.find("UserShortName"), std::string::npos) << refused->body;
}

// A User Enrollment (a personal device) gives no UDID: its EnrollmentID names it everywhere, on
// both channels and in the admin API.
TEST_F(CommandChannel, AUserEnrollmentIsNamedByItsEnrollmentId) {
  const std::string id = "UE-4F1C2A77B0D94E6F";
  TestDevice byod(*node, id);
  auto message = [&](const char* type) {
    Plist p = Plist::new_dict();
    p.set_string("MessageType", type);
    p.set_string("Topic", "com.apple.mgmt.test");
    p.set_string("EnrollmentID", id);
    return p;
  };
  ASSERT_EQ(byod.checkin(message("Authenticate").to_xml())->status, 200);
  Plist token = message("TokenUpdate");
  token.set_data("Token", push_token_of(id));
  token.set_string("PushMagic", "BYOD-MAGIC");
  ASSERT_EQ(byod.checkin(token.to_xml())->status, 200);
  enqueue(id, "BYOD-1", "ProfileList");
  auto report = [&](const char* status, const std::string& uuid) {
    Plist p = Plist::new_dict();
    p.set_string("Status", status);
    p.set_string("EnrollmentID", id);
    if (!uuid.empty()) p.set_string("CommandUUID", uuid);
    return byod.put("/mdm", p.to_xml());
  };
  EXPECT_EQ(command_uuid_of(report("Idle", "")), "BYOD-1");
  EXPECT_EQ(report("Acknowledged", "BYOD-1")->body, "");
  const auto commands = node->admin_get("/v1/devices/" + id + "/commands")->body;
  EXPECT_NE(commands.find("\"acknowledged\""), std::string::npos) << commands;
  // Its user (EnrollmentUserID, a macOS User Enrollment) is a user channel:
  // "<EnrollmentID>:<user>".
  Plist user = message("TokenUpdate");
  user.set_string("EnrollmentUserID", "UE-USER-1");
  user.set_data("Token", std::string(32, 'u'));
  user.set_string("PushMagic", "USER-MAGIC");
  EXPECT_EQ(byod.checkin(user.to_xml())->status, 200);
  const auto channel = node->admin_get("/v1/devices/" + id + ":UE-USER-1")->body;
  EXPECT_NE(channel.find("\"device_udid\":\"" + id + "\""), std::string::npos) << channel;
  // A message with neither a UDID nor an EnrollmentID is refused, naming both.
  Plist nameless = Plist::new_dict();
  nameless.set_string("Status", "Idle");
  const auto refused = byod.put("/mdm", nameless.to_xml());
  EXPECT_EQ(refused->status, 400);
  EXPECT_NE(refused->body.find("EnrollmentID"), std::string::npos) << refused->body;
}

// A Mac escrows its bootstrap token (SetBootstrapToken): kept sealed, never logged in clear,
// given back only to the device it belongs to (GetBootstrapToken), each return recorded.
TEST_F(CommandChannel, ABootstrapTokenIsEscrowedSealedAndReturnedOnlyToItsDevice) {
  const std::string secret = "BOOTSTRAP-" + std::string(200, 'b');
  TestDevice mac(*node, "MAC-BT"), other(*node, "OTHER-BT");
  mac.enroll();
  other.enroll();
  auto message = [](const char* type, const std::string& udid) {
    Plist p = Plist::new_dict();
    p.set_string("MessageType", type);
    p.set_string("UDID", udid);
    return p;
  };
  Plist set = message("SetBootstrapToken", "MAC-BT");
  set.set_data("BootstrapToken", secret);
  set.set_bool("AwaitingConfiguration", true);
  ASSERT_EQ(mac.checkin(set.to_xml())->status, 200);
  const auto shown = node->admin_get("/v1/devices/MAC-BT")->body;
  EXPECT_NE(shown.find("\"bootstrap_token_escrowed\":true"), std::string::npos) << shown;
  EXPECT_NE(shown.find("\"awaiting_configuration\":true"), std::string::npos) << shown;
  EXPECT_EQ(shown.find(secret), std::string::npos);

  const auto got = mac.checkin(message("GetBootstrapToken", "MAC-BT").to_xml());
  ASSERT_EQ(got->status, 200);
  EXPECT_EQ(Plist::parse(got->body).data("BootstrapToken"), secret);
  // Another device's identity asking for it is refused, and given nothing.
  const auto stolen = other.checkin(message("GetBootstrapToken", "MAC-BT").to_xml());
  EXPECT_EQ(stolen->status, 401);
  EXPECT_EQ(stolen->body.find(base64_encode(secret)), std::string::npos);

  // An empty token removes it: the next request gets an answer without one.
  ASSERT_EQ(mac.checkin(message("SetBootstrapToken", "MAC-BT").to_xml())->status, 200);
  const auto none = mac.checkin(message("GetBootstrapToken", "MAC-BT").to_xml());
  ASSERT_EQ(none->status, 200);
  EXPECT_FALSE(Plist::parse(none->body).has("BootstrapToken"));

  std::vector<bool> returned;
  for (const auto& e : logged_events(node->data_dir())) {
    const auto json = events::encode(e);
    EXPECT_EQ(json.find(secret), std::string::npos) << json;
    EXPECT_EQ(json.find(base64_encode(secret)), std::string::npos) << json;
    if (const auto* r = std::get_if<events::BootstrapTokenReturned>(&e.payload))
      returned.push_back(r->had_token);
  }
  EXPECT_EQ(returned, (std::vector<bool>{true, false}));
}

// A cancelled command never reaches the device; one the device already finished stays finished,
// one delivered and unanswered is cancelled with a warning that it may have run.
TEST_F(CommandChannel, ACancelledCommandNeverReachesTheDevice) {
  TestDevice a(*node, "CANCEL-A"), b(*node, "CANCEL-B");
  a.enroll();
  b.enroll();
  for (const char* uuid : {"CX-1", "CX-2", "CX-3"}) enqueue("CANCEL-A,CANCEL-B", uuid);
  auto admin = node->admin();
  auto cancel = [&](const std::string& uuid, const std::string& query = "") {
    return admin->Post(("/v1/commands/" + uuid + "/cancel" + query).c_str(), "", "text/plain");
  };
  // Every device of CX-2.
  auto r = cancel("CX-2");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body,
            R"({"command_uuid":"CX-2","devices":{"CANCEL-A":"cancelled","CANCEL-B":"cancelled"},)"
            R"("cancelled":2})");
  // A: CX-1, then CX-3 (never CX-2).
  EXPECT_EQ(answer(a, "Idle"), "CX-1");
  EXPECT_EQ(answer(a, "Acknowledged", "CX-1"), "CX-3");
  EXPECT_EQ(answer(a, "Acknowledged", "CX-3"), "");
  EXPECT_EQ(
      cancel("CX-1", "?devices=CANCEL-A")->body,
      R"({"command_uuid":"CX-1","devices":{"CANCEL-A":"already acknowledged"},"cancelled":0})");
  // B: CX-1 delivered and not answered, then cancelled: not sent again.
  EXPECT_EQ(answer(b, "Idle"), "CX-1");
  EXPECT_EQ(cancel("CX-1", "?devices=CANCEL-B")->body,
            R"({"command_uuid":"CX-1","devices":{"CANCEL-B":"cancelled after 1 deliveries: the )"
            R"(device may have run it"},"cancelled":1})");
  EXPECT_EQ(answer(b, "Idle"), "CX-3");
  EXPECT_EQ(answer(b, "Acknowledged", "CX-3"), "");
  const auto status = node->admin_get("/v1/commands/CX-2")->body;
  EXPECT_NE(status.find(R"("status":"cancelled")"), std::string::npos) << status;
  EXPECT_EQ(cancel("NO-SUCH")->status, 404);
  EXPECT_EQ(cancel("CX-3", "?devices=NOBODY")->status, 404);
  EXPECT_EQ(cancel("bad%20uuid")->status, 400);
  // Across the fleet by state: CX-2 on both, CX-1 on B.
  const auto listed = node->admin_get("/v1/commands?status=cancelled")->body;
  for (const auto* expected :
       {R"("udid":"CANCEL-A","command_uuid":"CX-2")", R"("udid":"CANCEL-B","command_uuid":"CX-1")",
        R"("udid":"CANCEL-B","command_uuid":"CX-2")"})
    EXPECT_NE(listed.find(expected), std::string::npos) << expected << " in " << listed;
  // Paged: one, then the other two from its cursor.
  const auto count = [](const std::string& body) {
    size_t n = 0;
    for (auto at = body.find("\"command_uuid\""); at != std::string::npos;
         at = body.find("\"command_uuid\"", at + 1))
      ++n;
    return n;
  };
  const auto page = node->admin_get("/v1/commands?status=cancelled&limit=1")->body;
  EXPECT_EQ(count(page), 1u) << page;
  const auto cursor_at = page.find(R"("next_after":")");
  ASSERT_NE(cursor_at, std::string::npos) << page;
  const auto cursor = page.substr(cursor_at + 14, page.find('"', cursor_at + 14) - cursor_at - 14);
  const auto rest = node->admin_get("/v1/commands?status=cancelled&after=" + cursor)->body;
  EXPECT_EQ(count(rest), 2u) << rest;
  EXPECT_EQ(rest.find("next_after"), std::string::npos) << rest;
  EXPECT_EQ(node->admin_get("/v1/commands?status=whatever")->status, 400);
  // Recorded as events with the admin's name; the replayed projection is the live one.
  size_t cancels = 0;
  for (const auto& e : logged_events(dir.path()))
    if (std::holds_alternative<events::CommandCancelled>(e.payload)) {
      ++cancels;
      EXPECT_NE(e.actor, "device");
    }
  EXPECT_EQ(cancels, 3u);
  expect_replay_gives_the_live_projection();
}

}  // namespace
}  // namespace cairn::testing
