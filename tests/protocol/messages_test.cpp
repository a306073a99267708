// The protocol codec against real device messages (NanoMDM's captures) and against every
// check-in message Apple's schemas describe.
#include "protocol/messages.hpp"
#include "tests/support/fixtures.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/errors.hpp"

namespace cairn::protocol {
namespace {

Plist device_message(const std::string& name) {
  return Plist::parse(testing::fixture("device-messages/" + name));
}

TEST(Checkin, DecodesRealAuthenticate) {
  for (const char* name : {"Authenticate.1.plist", "Authenticate.2.plist"}) {
    auto m = decode_checkin(device_message(name));
    ASSERT_TRUE(std::holds_alternative<Authenticate>(m)) << name;
    const auto& a = std::get<Authenticate>(m);
    EXPECT_FALSE(a.channel.id.value().empty());
    EXPECT_FALSE(a.channel.is_user());
    EXPECT_TRUE(a.topic.starts_with("com.apple.mgmt.")) << a.topic;
  }
}

TEST(Checkin, DecodesRealTokenUpdateWithUnlockToken) {
  auto m = decode_checkin(device_message("TokenUpdate.1.plist"));
  const auto& t = std::get<TokenUpdate>(m);
  EXPECT_EQ(t.channel.id.value(), "663b07bb783e9ade1dae4fbb92ea12afc0ce5b69");
  EXPECT_EQ(t.token.size(), 32u);
  EXPECT_EQ(t.push_magic, "CEFDF0BD-E342-4A27-8742-E930EA116B0A");
  ASSERT_TRUE(t.unlock_token);
  EXPECT_GT(t.unlock_token->size(), 1000u);
  EXPECT_FALSE(t.awaiting_configuration);
}

TEST(Report, DecodesRealDeviceInformationResult) {
  auto r = decode_report(device_message("DeviceInformation.1.plist"));
  EXPECT_EQ(r.status, Status::kAcknowledged);
  ASSERT_TRUE(r.command_uuid);
  EXPECT_FALSE(r.command_uuid->value().empty());
}

TEST(Report, StatusRules) {
  auto idle = Plist::parse(
      "<plist><dict><key>Status</key><string>Idle</string><key>UDID</key>"
      "<string>X</string></dict></plist>");
  EXPECT_EQ(decode_report(idle).status, Status::kIdle);
  EXPECT_FALSE(decode_report(idle).command_uuid);
  auto missing_uuid = Plist::parse(
      "<plist><dict><key>Status</key><string>Acknowledged</string>"
      "<key>UDID</key><string>X</string></dict></plist>");
  EXPECT_EQ(decode_report(missing_uuid).status, Status::kAcknowledged);  // "if any": recorded
  EXPECT_FALSE(decode_report(missing_uuid).command_uuid);
  auto bogus = Plist::parse(
      "<plist><dict><key>Status</key><string>Maybe</string><key>UDID</key>"
      "<string>X</string></dict></plist>");
  EXPECT_THROW(decode_report(bogus), BadRequest);
  EXPECT_TRUE(is_final(Status::kAcknowledged));
  EXPECT_TRUE(is_final(Status::kError));
  EXPECT_TRUE(is_final(Status::kCommandFormatError));
  EXPECT_FALSE(is_final(Status::kNotNow));
  EXPECT_FALSE(is_final(Status::kIdle));
}

// The ErrorChain is read within bounds, and whatever shape it has never refuses the result (a
// refused result would be sent again forever).
TEST(Report, ErrorChainsAreReadLenientlyAndBounded) {
  auto error = [](const std::string& chain) {
    return decode_report(Plist::parse(
        "<plist><dict><key>Status</key><string>Error</string><key>UDID</key><string>X</string>"
        "<key>CommandUUID</key><string>C</string><key>ErrorChain</key>" +
        chain + "</dict></plist>"));
  };
  EXPECT_TRUE(error("<string>not a chain</string>").error_chain.empty());
  std::string links;
  for (int i = 0; i < 40; ++i)
    links += "<dict><key>ErrorDomain</key><string>D</string><key>ErrorCode</key><integer>" +
             std::to_string(i) + "</integer><key>LocalizedDescription</key><string>" +
             std::string(5000, 'x') + "</string></dict><string>odd link</string>";
  const auto r = error("<array>" + links + "</array>");
  ASSERT_EQ(r.error_chain.size(), 16u);
  EXPECT_EQ(r.error_chain[3].code, 3);
  EXPECT_EQ(r.error_chain[3].description.size(), 1024u);
}

// Schuetz's 2011 captures: redacted UDIDs, empty CommandUUIDs, and a TokenUpdate that is not a
// valid plist as printed.
Plist schuetz(const std::string& name) {
  return Plist::parse(testing::fixture("schuetz/" + name));
}

TEST(Schuetz2011, CheckinAndReportCapturesDecode) {
  const auto auth = std::get<Authenticate>(decode_checkin(schuetz("Authenticate.plist")));
  EXPECT_EQ(auth.topic, "com.example.mdm.pushcert");
  EXPECT_EQ(auth.channel.id.value(), " [ redacted ] ");  // decodes; ingest refuses it as a UDID
  EXPECT_EQ(decode_report(schuetz("Idle.plist")).status, Status::kIdle);
  const auto ack = decode_report(schuetz("Acknowledged.plist"));
  EXPECT_EQ(ack.status, Status::kAcknowledged);
  EXPECT_FALSE(ack.command_uuid);  // sent empty in 2011
}

TEST(Schuetz2011, MalformedCapturesAreClearBadRequests) {
  EXPECT_THROW(schuetz("TokenUpdate.redacted.plist"), BadRequest);
  // A command must carry a CommandUUID to be tracked; the 2011 example left it empty.
  EXPECT_THROW(decode_command(schuetz("DeviceLock.command.plist")), BadRequest);
}

// A value of the schema's type for a payload key.
void set_sample(plist_t dict, const std::string& key, const std::string& type) {
  plist_t v = type == "<data>"         ? plist_new_data("\x01\x02\x03", 3)
              : type == "<boolean>"    ? plist_new_bool(0)
              : type == "<integer>"    ? plist_new_uint(7)
              : type == "<real>"       ? plist_new_real(1.5)
              : type == "<date>"       ? plist_new_date(0, 0)
              : type == "<array>"      ? plist_new_array()
              : type == "<dictionary>" ? plist_new_dict()
                                       : plist_new_string(("sample-" + key).c_str());
  plist_dict_set_item(dict, key.c_str(), v);
}

// Every key Apple documents for each check-in message, with a value of its type: the messages
// Cairn handles decode on the device channel (extra keys are fine); with the UserID or
// EnrollmentUserID their schema lists they speak for the user channel "<UDID>:<user>", except the
// device-only ones (refused naming the channel); UserAuthenticate is a user channel's;
// DeclarativeManagement needs its Endpoint; GetToken is refused naming its service, and any other
// gets a clear "unsupported MessageType".
TEST(Checkin, EveryAppleCheckinSchema) {
  const std::filesystem::path dir = std::string(CAIRN_APPLE_SCHEMAS) + "/mdm/checkin";
  const std::set<std::string> user_channel_keys{"UserID", "EnrollmentUserID"};
  const std::set<std::string> device_only{"Authenticate", "SetBootstrapToken", "GetBootstrapToken"};
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const YAML::Node doc = YAML::LoadFile(entry.path().string());
    const std::string type = doc["payload"]["requesttype"].as<std::string>();
    Plist message = Plist::new_dict();
    std::vector<std::string> user_keys;
    for (const auto& key : doc["payloadkeys"]) {
      const auto name = key["key"].as<std::string>();
      set_sample(message.root(), name, key["type"].as<std::string>());
      if (user_channel_keys.contains(name)) user_keys.push_back(name);
    }
    message.set_string("MessageType", type);
    message.set_string("UDID", "0000-SCHEMA");
    message.set_string("Topic", "com.apple.mgmt.schema");
    ++files;
    // A device enrollment's user is named by UserID; EnrollmentUserID is a User Enrollment's.
    Plist user_copy = Plist::parse(message.to_xml());
    if (user_copy.has("UserID")) user_copy.remove("EnrollmentUserID");
    const auto as_user = Plist::parse(user_copy.to_xml());
    for (const auto& key : user_keys) message.remove(key.c_str());
    const auto as_device = Plist::parse(message.to_xml());
    auto channel_id = [](const CheckinMessage& m) {
      return std::visit([](const auto& v) { return v.channel.id.value(); }, m);
    };
    if (type == "DeclarativeManagement") {
      const auto ddm = std::get<DeclarativeManagement>(decode_checkin(as_device));
      EXPECT_EQ(ddm.endpoint, "sample-Endpoint");
      EXPECT_EQ(ddm.data, "\x01\x02\x03");
      EXPECT_EQ(channel_id(decode_checkin(as_user)),
                user_keys.empty() ? "0000-SCHEMA" : "0000-SCHEMA:sample-UserID");
      message.remove("Endpoint");
      EXPECT_THROW(decode_checkin(Plist::parse(message.to_xml())), BadRequest);
    } else if (type == "TokenUpdate" || type == "CheckOut" || device_only.contains(type)) {
      EXPECT_EQ(channel_id(decode_checkin(as_device)), "0000-SCHEMA") << type;
      if (user_keys.empty()) continue;
      if (device_only.contains(type)) {
        try {
          decode_checkin(as_user);
          ADD_FAILURE() << type << " was accepted on a user channel";
        } catch (const BadRequest& e) {
          EXPECT_NE(std::string(e.what()).find("device channel only"), std::string::npos);
        }
      } else {
        EXPECT_EQ(channel_id(decode_checkin(as_user)), "0000-SCHEMA:sample-UserID") << type;
      }
    } else if (type == "UserAuthenticate") {
      const auto user = std::get<UserAuthenticate>(decode_checkin(as_user));
      EXPECT_EQ(user.channel.id.value(), "0000-SCHEMA:sample-UserID");
      EXPECT_EQ(user.channel.device.value(), "0000-SCHEMA");
      EXPECT_TRUE(user.digest_response_given);              // the schema's sample has one
      EXPECT_THROW(decode_checkin(as_device), BadRequest);  // no UserID: no user to authenticate
    } else if (type == "GetToken") {
      try {
        decode_checkin(as_device);
        ADD_FAILURE() << "GetToken was accepted";
      } catch (const BadRequest& e) {  // the service it asked for, named
        EXPECT_NE(std::string(e.what()).find("GetToken"), std::string::npos) << e.what();
      }
    } else {
      try {
        decode_checkin(as_device);
        ADD_FAILURE() << type << " was accepted";
      } catch (const UnknownMessageType& e) {
        EXPECT_EQ(e.type(), type);
        EXPECT_NE(std::string(e.what()).find(type), std::string::npos);
      }
    }
  }
  EXPECT_EQ(files, 8);
}

Plist user_message(std::initializer_list<std::pair<const char*, const char*>> keys) {
  Plist m = Plist::new_dict();
  m.set_string("MessageType", "TokenUpdate");
  for (const auto& [key, value] : keys) m.set_string(key, value);
  return m;
}

// Channels are named as NanoMDM names enrollments: a Mac user by UserID, a Shared iPad user
// (whose UserID is the same for everyone) by UserShortName, a macOS User Enrollment's user by
// EnrollmentUserID after the EnrollmentID.
TEST(Channel, NamedAsNanoMdmNamesEnrollments) {
  const auto mac_user = channel_of(user_message(
      {{"UDID", "MAC-1"}, {"UserID", "A1B2"}, {"UserShortName", "ana"}, {"UserLongName", "Ana"}}));
  EXPECT_EQ(mac_user.id.value(), "MAC-1:A1B2");
  EXPECT_EQ(mac_user.device.value(), "MAC-1");
  EXPECT_TRUE(mac_user.is_user());
  EXPECT_EQ(mac_user.user_short_name, "ana");
  EXPECT_EQ(mac_user.user_long_name, "Ana");
  const auto shared_ipad =
      channel_of(user_message({{"UDID", "IPAD-1"},
                               {"UserID", std::string(kSharedIPadUserId).c_str()},
                               {"UserShortName", "ana@school.example"}}));
  EXPECT_EQ(shared_ipad.id.value(), "IPAD-1:ana@school.example");
  EXPECT_THROW(channel_of(user_message(
                   {{"UDID", "IPAD-1"}, {"UserID", std::string(kSharedIPadUserId).c_str()}})),
               BadRequest);
  const auto byod_user =
      channel_of(user_message({{"EnrollmentID", "E-1"}, {"EnrollmentUserID", "EU-9"}}));
  EXPECT_EQ(byod_user.id.value(), "E-1:EU-9");
  EXPECT_EQ(byod_user.device.value(), "E-1");
  const auto device = channel_of(user_message({{"UDID", "MAC-1"}, {"UserShortName", "ana"}}));
  EXPECT_FALSE(device.is_user());
  EXPECT_EQ(device.user_short_name, "");
  // The other enrollment style's user key is malformed, never quietly the device channel.
  EXPECT_THROW(channel_of(user_message({{"EnrollmentID", "E-1"}, {"UserID", "U"}})), BadRequest);
  EXPECT_THROW(channel_of(user_message({{"UDID", "MAC-1"}, {"EnrollmentUserID", "U"}})),
               BadRequest);
  // Names are kept within bounds.
  const auto long_name = channel_of(user_message(
      {{"UDID", "MAC-1"}, {"UserID", "U"}, {"UserLongName", std::string(5000, 'x').c_str()}}));
  EXPECT_EQ(long_name.user_long_name.size(), 256u);
}

TEST(Channel, AUsersMessageIsKnownBeforeItDecodes) {
  EXPECT_TRUE(names_a_user(user_message({{"UserID", "U"}})));  // no UDID: malformed, still a user's
  EXPECT_TRUE(names_a_user(user_message({{"EnrollmentUserID", "U"}})));
  Plist authenticate = Plist::new_dict();
  authenticate.set_string("MessageType", "UserAuthenticate");
  EXPECT_TRUE(names_a_user(authenticate));
  EXPECT_FALSE(names_a_user(user_message({{"UDID", "MAC-1"}})));
}

TEST(Channel, IdsKeepStoreKeysAndPathsSafe) {
  EXPECT_TRUE(is_valid_channel_id("MAC-1"));
  EXPECT_TRUE(is_valid_channel_id("MAC-1:A1B2-C3"));
  EXPECT_TRUE(is_valid_channel_id("IPAD-1:ana+1@school.example"));
  EXPECT_FALSE(is_valid_channel_id("MAC-1:"));
  EXPECT_FALSE(is_valid_channel_id(":A1B2"));
  EXPECT_FALSE(is_valid_channel_id("MAC-1:a/b"));
  EXPECT_FALSE(is_valid_channel_id("MAC-1:a:b"));
  EXPECT_FALSE(is_valid_channel_id("MAC@1:a"));  // '@' only in the user part
  EXPECT_FALSE(is_valid_channel_id("MAC-1:" + std::string(129, 'a')));
  EXPECT_EQ(device_channel_of("MAC-1:A1B2").value(), "MAC-1");
  EXPECT_EQ(device_channel_of("MAC-1").value(), "MAC-1");
}

TEST(Checkin, MissingOrMistypedFieldsAreBadRequests) {
  auto no_udid = Plist::parse(
      "<plist><dict><key>MessageType</key><string>Authenticate</string>"
      "<key>Topic</key><string>t</string></dict></plist>");
  EXPECT_THROW(decode_checkin(no_udid), BadRequest);
  auto token_as_string = Plist::parse(
      "<plist><dict><key>MessageType</key><string>TokenUpdate</string><key>Topic</key><string>t"
      "</string><key>UDID</key><string>u</string><key>Token</key><string>abc</string><key>"
      "PushMagic</key><string>m</string></dict></plist>");
  EXPECT_THROW(decode_checkin(token_as_string), BadRequest);
}

TEST(Command, RequiresUuidAndRequestType) {
  auto ok = Plist::parse(
      "<plist><dict><key>CommandUUID</key><string>U1</string><key>Command</key>"
      "<dict><key>RequestType</key><string>ProfileList</string></dict></dict></plist>");
  EXPECT_EQ(decode_command(ok).request_type, "ProfileList");
  auto no_type = Plist::parse(
      "<plist><dict><key>CommandUUID</key><string>U1</string><key>Command"
      "</key><dict/></dict></plist>");
  EXPECT_THROW(decode_command(no_type), BadRequest);
}

}  // namespace
}  // namespace cairn::protocol
