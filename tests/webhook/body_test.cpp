// The webhook body in NanoMDM's shape (what MicroMDM/NanoMDM listeners such as MDMDirector
// parse), the topic of each message, and the signature.
#include "webhook/body.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "common/encoding.hpp"
#include "tests/support/messages.hpp"

namespace cairn::webhook {
namespace {

using testing::authenticate_body;
using testing::report_body;

events::Event event_of(std::string device, events::Payload payload) {
  return events::make_event(std::move(device), "node", "device", std::move(payload));
}

rapidjson::Document parse(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  EXPECT_FALSE(d.HasParseError()) << json;
  return d;
}

TEST(WebhookBody, ACheckinCarriesTheDeviceMessageAsReceived) {
  const std::string plist = authenticate_body("UDID-1");
  events::DeviceAuthenticated auth;
  auth.topic = "com.apple.mgmt.External.test";
  auth.message = events::raw_message(plist);
  const auto e = event_of("UDID-1", auth);
  const auto topic = topic_of(e.payload);
  ASSERT_EQ(topic, "mdm.Authenticate");
  EXPECT_EQ(topic_of_type("DeviceAuthenticated"), topic);
  const auto d = parse(body_of(e, *topic));
  EXPECT_STREQ(d["topic"].GetString(), "mdm.Authenticate");
  EXPECT_EQ(d["event_id"].GetString(), e.id);
  EXPECT_EQ(d["created_at"].GetString(), e.time);
  ASSERT_TRUE(d.HasMember("checkin_event"));
  EXPECT_FALSE(d.HasMember("acknowledge_event"));
  EXPECT_STREQ(d["checkin_event"]["udid"].GetString(), "UDID-1");
  // Standard base64 of the exact bytes (MDMDirector decodes it into a []byte and reads the plist).
  EXPECT_EQ(base64_decode(d["checkin_event"]["raw_payload"].GetString()), plist);
  EXPECT_FALSE(d["checkin_event"].HasMember("ids"));
}

TEST(WebhookBody, AResultIsAnAcknowledgeEventWithStatusAndCommand) {
  const std::string plist = report_body("UDID-2", "Acknowledged", "CMD-1");
  const auto e = event_of(
      "UDID-2",
      events::CommandReported{"Acknowledged", "CMD-1", "", events::raw_message(plist), {}});
  const auto d = parse(body_of(e, *topic_of(e.payload)));
  EXPECT_STREQ(d["topic"].GetString(), "mdm.Connect");
  const auto& ack = d["acknowledge_event"];
  EXPECT_STREQ(ack["udid"].GetString(), "UDID-2");
  EXPECT_STREQ(ack["status"].GetString(), "Acknowledged");
  EXPECT_STREQ(ack["command_uuid"].GetString(), "CMD-1");
  EXPECT_EQ(base64_decode(ack["raw_payload"].GetString()), plist);

  // Idle has no command: the key is left out (NanoMDM's omitempty), not sent empty.
  const auto idle = event_of(
      "UDID-2", events::CommandReported{"Idle", "", "", events::raw_message("<plist/>"), {}});
  const auto i = parse(body_of(idle, "mdm.Connect"));
  EXPECT_FALSE(i["acknowledge_event"].HasMember("command_uuid"));
}

TEST(WebhookBody, AUserChannelNamesItsDeviceAndItself) {
  events::UserAuthenticated user;
  user.user_short_name = "alice";
  user.message = events::raw_message("<plist/>");
  const auto e = event_of("UDID-3:alice", user);
  const auto d = parse(body_of(e, *topic_of(e.payload)));
  EXPECT_STREQ(d["topic"].GetString(), "mdm.UserAuthenticate");
  const auto& c = d["checkin_event"];
  EXPECT_STREQ(c["udid"].GetString(), "UDID-3");
  EXPECT_STREQ(c["ids"]["id"].GetString(), "UDID-3:alice");
  EXPECT_STREQ(c["ids"]["parent_id"].GetString(), "UDID-3");
  EXPECT_STREQ(c["ids"]["type"].GetString(), "User");
}

TEST(WebhookBody, OnlyDeviceMessagesHaveATopic) {
  EXPECT_FALSE(topic_of(events::PushSent{"t", "aa", "id"}));
  EXPECT_FALSE(topic_of_type("PushSent"));
  EXPECT_FALSE(topic_of_type("WebhookDeadLettered"));
  EXPECT_EQ(topic_of_type("TokenUpdated"), "mdm.TokenUpdate");
  EXPECT_EQ(topic_of_type("DeviceCheckedOut"), "mdm.CheckOut");
  EXPECT_EQ(topic_of_type("BootstrapTokenSet"), "mdm.SetBootstrapToken");
  EXPECT_EQ(topic_of_type("BootstrapTokenReturned"), "mdm.GetBootstrapToken");
  EXPECT_EQ(topic_of_type("DeclarativeRequested"), "mdm.DeclarativeManagement");
  EXPECT_EQ(topic_of_type("StatusReported"), "mdm.DeclarativeManagement");
  // Every topic produced is one an endpoint can ask for.
  for (const auto* type : {"DeviceAuthenticated", "TokenUpdated", "DeviceCheckedOut",
                           "UserAuthenticated", "BootstrapTokenSet", "BootstrapTokenReturned",
                           "DeclarativeRequested", "StatusReported", "CommandReported"}) {
    const auto topic = topic_of_type(type);
    ASSERT_TRUE(topic) << type;
    EXPECT_NE(std::find(known_topics().begin(), known_topics().end(), *topic), known_topics().end())
        << type;
  }
}

// NanoMDM's X-Hmac-Signature: standard base64 of HMAC-SHA256 over the body. Pinned to RFC 4231's
// test case 2, so sender and a receiver written from the same misunderstanding cannot agree.
TEST(WebhookBody, TheSignatureIsBase64HmacSha256OfTheBody) {
  EXPECT_EQ(hex_encode(base64_decode(signature_of("Jefe", "what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(signature_of("Jefe", "what do ya want for nothing?"),
            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
}

}  // namespace
}  // namespace cairn::webhook
