// Every event type round-trips through its JSON encoding and matches its published JSON Schema,
// so consumers of the log can rely on schemas/events/*.schema.json.
#include "schemas/events.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace cairn::events {
namespace {

std::vector<Event> one_of_each() {
  const auto raw = raw_message("<plist>caf\xc3\xa9</plist>");
  auto binary = raw_message(std::string("bplist00\xff\x00", 10));
  TokenUpdated token{"com.apple.mgmt.x",   "00ff", "magic", "v1.0123456789abcdef.AAAA", true,
                     std::string(64, 'a'), raw};
  token.message.redacted = "UnlockToken";
  MessageRejected rejected{400,         "unsupported MessageType \"X\"",
                           "/checkin",  "text/xml",
                           12,          std::string(64, 'b'),
                           "127.0.0.1", ""};
  std::vector<Payload> payloads{
      DeviceAuthenticated{"com.apple.mgmt.x", "SERIAL1", std::string(64, 'c'), "tls", binary,
                          "5B2C1E43-7A39-4F0A-9C1D-2E3F4A5B6C7D", true},
      token,
      DeviceCheckedOut{"com.apple.mgmt.x", std::string(64, 'c'), raw},
      CommandEnqueued{"CMD-1", "DeviceLock", "<plist/>", true},
      CommandDelivered{"CMD-1"},
      CommandReported{"Error",
                      "CMD-1",
                      std::string(64, 'c'),
                      raw,
                      {{"MCInstallationErrorDomain", 4001, "Profile Installation Failed"},
                       {"MCProfileErrorDomain", 1009, "The profile is not signed."}}},
      PushRequested{"admin request"},
      rejected,
      PushCertificateUploaded{"com.apple.mgmt.x", "-----BEGIN CERTIFICATE-----\n...",
                              "v1.0123456789abcdef.AAAA", "2027-11-23T00:00:00.000Z"},
      PushSent{"com.apple.mgmt.x", "00ff", "6E2B1B0C-4F2E-4C47-A0A4-3E4C3B1D2A10"},
      PushFailed{"com.apple.mgmt.x", 429, "TooManyRequests", "", 2, true},
      PushTokenInvalidated{"com.apple.mgmt.x", "00ff", 410, "Unregistered"},
      DeviceInactive{"2026-10-01T08:00:00.000Z"},
      CertificateIssued{"scep", "0a1b", "CN=device,O=Cairn", std::string(64, 'd'),
                        "2027-11-23T00:00:00.000Z", "TX-1", std::string(64, 'a')},
      EnrollmentRefused{"scep", "wrong challenge", "badRequest", "TX-2", "10.0.0.7"},
      ProfileIssued{"5B2C1E43-7A39-4F0A-9C1D-2E3F4A5B6C7D", "scep", "com.apple.mgmt.x", 8191, "",
                    std::string(64, 'a'), "2026-12-23T00:00:00.000Z", "UDID-9", true},
      EnrollmentInvited{std::string(64, 'e'), "2026-11-24T00:00:00.000Z", "for Ana's iPad"},
      EnrollmentRequested{std::string(64, 'e'), "UDID-9", "SERIAL9", "iPad13,1", "21A329",
                          "35 000000 000000 0", "CN=device", std::string(64, 'f')},
      IdentityBound{std::string(64, 'd'), "2027-11-23T00:00:00.000Z", "renewal",
                    std::string(64, 'c')},
      ReenrollmentAllowed{"erased by hand at the service desk", "2026-11-24T00:00:00.000Z"},
      BootstrapTokenSet{"v1.0123456789abcdef.AAAA", true, std::string(64, 'a'), raw},
      BootstrapTokenReturned{true, false, std::string(64, 'a'), raw},
      UserAuthenticated{"ana", "Ana Lima", false, std::string(64, 'a'), raw},
      DeclarationStored{"com.example.act",
                        "com.apple.activation.simple",
                        "0123456789abcdef0123456789abcdef",
                        R"({"Type":"com.apple.activation.simple","Identifier":"com.example.act",)"
                        R"("Payload":{"StandardConfigurations":["com.example.passcode"]}})",
                        {"com.example.passcode"}},
      DeclarationDeleted{"com.example.act"},
      SetDeclarationChanged{"staff", "com.example.act", true},
      EnrollmentSetChanged{"staff", true},
      DeclarativeRequested{"tokens", "0123456789abcdef0123456789abcdef", std::string(64, 'a'), raw},
      StatusReported{true, std::string(64, 'a'), raw},
      AdeTokenCertificateCreated{"acme", "-----BEGIN CERTIFICATE-----\n...",
                                 "v1.0123456789abcdef.AAAA", "2027-11-23T00:00:00.000Z"},
      AdeTokenStored{"acme", "v1.0123456789abcdef.AAAA", "2027-11-23T00:00:00Z"},
      AdeDevicesSynced{"acme",
                       "sync",
                       "MTIzNDU2Nzg4OQ==",
                       "MTIzNDU2Nzg5MA==",
                       false,
                       false,
                       "2026-12-06T00:00:00Z",
                       {{"C02XK0AAJGH5", "iPad Pro", "IPAD PRO WI-FI 11", "SPACE GRAY", "", "iOS",
                         "iPad", "empty", "", "", "", "2026-12-01T10:00:00Z", "buyer@example.com",
                         "added", "2026-12-01T10:00:00Z"}}},
      AdeSyncFailed{"acme", "sync", 400, "EXPIRED_CURSOR", "refetch", 0, "MTIzNDU2Nzg4OQ=="},
      AdeProfileStored{"staff", R"({"profile_name":"Staff","is_supervised":true})"},
      AdeProfileDefined{"acme", "staff", "6F8B1D3C2A", std::string(64, 'a')},
      AdeAssignmentSet{"acme", "staff",
                       R"([{"profile":"ipads","match":{"device_family":"iPad"}}])"},
      AdeProfileAssigned{"acme", "staff", "6F8B1D3C2A", {{"C02XK0AAJGH5", "SUCCESS"}}, 0},
      AdeEnrollmentRequested{"C02XK0AAJGH5", "UDID-9", "iPad13,1", "17.5.1", "acme", "staff",
                             std::string(64, 'f'), "5B2C1E43-7A39-4F0A-9C1D-2E3F4A5B6C7D", true},
      AdeDevicesHeld{{"C02XK0AAJGH5"}, true},
      AdeProfileRemoved{"acme", {{"C02XK0AAJGH5", "SUCCESS"}}},
      WebhookEndpointSet{
          "inventory", "https://hooks.example.com/mdm", {"mdm.Authenticate"}, "c2VhbGVk"},
      WebhookEndpointRemoved{"inventory"},
      WebhookDeadLettered{"inventory", "5B2C1E43-7A39-4F0A-9C1D-2E3F4A5B6C7D", "mdm.Connect",
                          "UDID-1", 0, 42, 3, 500, "HTTP 500", "2026-12-06T00:00:00.000Z"},
      WebhookRedeliveryRequested{"inventory", {{"5B2C1E43-7A39-4F0A-9C1D-2E3F4A5B6C7D", 0, 42}}},
      WebhooksDelivered{"inventory", 0, 43},
      CommandCancelled{"CMD-1"},
      AuditCheckpointed{0, 0, 42, std::string(64, 'a'), std::string(64, 'b'), "0123456789abcdef",
                        "c2lnbmF0dXJl"},
  };
  EXPECT_EQ(payloads.size(), std::variant_size_v<Payload>);
  std::vector<Event> out;
  for (auto& p : payloads)
    out.push_back(Event{"id-1", "2026-11-22T01:02:03.456Z", "UDID-1", "node-a", "device", p});
  return out;
}

// Events written before a field was added still read, the field empty.
TEST(Events, AFieldAddedLaterIsEmptyInOlderEvents) {
  Event e = one_of_each().front();
  auto json = encode(e);
  const std::string field =
      ",\"enrollment_profile\":\"5B2C1E43-7A39-4F0A-9C1D-2E3F4A5B6C7D\",\"development_apns\":true";
  const auto at = json.find(field);
  ASSERT_NE(at, std::string::npos) << json;
  json.erase(at, field.size());
  const auto old = decode(json);
  EXPECT_EQ(std::get<DeviceAuthenticated>(old.payload).enrollment_profile, "");
  EXPECT_FALSE(std::get<DeviceAuthenticated>(old.payload).development_apns);
  EXPECT_EQ(std::get<DeviceAuthenticated>(old.payload).serial_number, "SERIAL1");
}

// A record is keyed by the device: a user's channel ("<UDID>:<user>") shares its device's
// partition, so the device's events and its users' are applied in the order they happened.
TEST(Events, AUserChannelsRecordIsKeyedByItsDevice) {
  Event e = one_of_each().front();
  EXPECT_EQ(to_record(e).key, "UDID-1");
  e.device = "UDID-1:A1B2-USER";
  EXPECT_EQ(to_record(e).key, "UDID-1");
  EXPECT_EQ(decode(to_record(e).value).device, "UDID-1:A1B2-USER");
}

TEST(Events, RoundTripEveryType) {
  for (const auto& e : one_of_each()) {
    const auto json = encode(e);
    EXPECT_EQ(json.find('\n'), std::string::npos) << json;
    const auto back = decode(json);
    EXPECT_EQ(encode(back), json);
    EXPECT_EQ(type_name(back.payload), type_name(e.payload));
  }
}

TEST(Events, DecodingWithoutBodiesKeepsEverythingElse) {
  for (const auto& e : one_of_each()) {
    auto json = encode(e);
    const std::string before = json;
    auto without = decode(json, Bodies::kSkip);
    EXPECT_EQ(json, before);  // parsed in a private copy
    std::visit(
        [&](auto& p) {
          if constexpr (requires { p.message; }) {
            auto& original = std::get<std::decay_t<decltype(p)>>(e.payload).message;
            ASSERT_FALSE(original.body.empty()) << "the fixture should carry a body";
            EXPECT_TRUE(p.message.body.empty());
            EXPECT_EQ(p.message.sha256, original.sha256);  // still proves what was said
            p.message.body = original.body;
          }
        },
        without.payload);
    EXPECT_EQ(encode(without), json);
  }
}

TEST(Events, MatchTheirJsonSchemas) {
  for (const auto& e : one_of_each()) {
    const std::string type(type_name(e.payload));
    std::ifstream in(std::string(CAIRN_SCHEMAS_DIR) + "/events/" + type + ".schema.json");
    ASSERT_TRUE(in) << "no schema for " << type;
    std::stringstream ss;
    ss << in.rdbuf();
    rapidjson::Document schema_doc;
    ASSERT_FALSE(schema_doc.Parse(ss.str().c_str()).HasParseError()) << type;
    rapidjson::SchemaDocument schema(schema_doc);
    rapidjson::Document event_doc;
    const auto json = encode(e);
    ASSERT_FALSE(event_doc.Parse(json.c_str()).HasParseError()) << json;
    rapidjson::SchemaValidator validator(schema);
    const bool valid = event_doc.Accept(validator);
    rapidjson::StringBuffer where;
    validator.GetInvalidDocumentPointer().StringifyUriFragment(where);
    EXPECT_TRUE(valid) << type << ": " << validator.GetInvalidSchemaKeyword() << " at "
                       << where.GetString();
  }
}

TEST(Events, SchemaCatchesAMissingField) {
  // The schema test above can fail: drop a required payload field and validation must say so.
  std::ifstream in(std::string(CAIRN_SCHEMAS_DIR) + "/events/CommandDelivered.schema.json");
  std::stringstream ss;
  ss << in.rdbuf();
  rapidjson::Document schema_doc;
  schema_doc.Parse(ss.str().c_str());
  rapidjson::SchemaDocument schema(schema_doc);
  rapidjson::Document event_doc;
  event_doc.Parse(
      R"({"id":"i","type":"CommandDelivered","version":1,"time":"2026-11-22T01:02:03.456Z",
      "device":"d","node":"n","actor":"server","payload":{}})");
  rapidjson::SchemaValidator validator(schema);
  EXPECT_FALSE(event_doc.Accept(validator));
}

TEST(Events, EverySchemaFileHasAType) {
  int files = 0;
  for (const auto& f :
       std::filesystem::directory_iterator(std::string(CAIRN_SCHEMAS_DIR) + "/events")) {
    ++files;
    const auto name = f.path().filename().string();
    const auto type = name.substr(0, name.find('.'));
    bool known = false;
    for (const auto& e : one_of_each()) known |= type_name(e.payload) == type;
    EXPECT_TRUE(known) << name << " describes no event type";
  }
  EXPECT_EQ(files, static_cast<int>(std::variant_size_v<Payload>));
}

TEST(Events, RawMessageKeepsTextVerbatimAndBinaryAsBase64) {
  const std::string text = "<plist>\n\t<dict/>\n</plist>\n";
  EXPECT_EQ(raw_message(text).body, text);
  EXPECT_EQ(raw_message(text).encoding, "utf8");
  EXPECT_EQ(raw_message(std::string("\xff\xfe", 2)).encoding, "base64");
}

TEST(Events, DecodeRejectsUnknownTypesAndVersions) {
  auto json = encode(one_of_each()[4]);
  EXPECT_THROW(decode("{not json"), std::runtime_error);
  EXPECT_THROW(decode("[1,2]"), std::runtime_error);
  auto mistyped = json;
  mistyped.replace(mistyped.find("\"version\":1"), 11, "\"version\":\"1\"");
  EXPECT_THROW(decode(mistyped), std::runtime_error);
  auto unknown = json;
  unknown.replace(unknown.find("CommandDelivered"), 16, "CommandExploded!");
  EXPECT_THROW(decode(unknown), std::runtime_error);
  auto future = json;
  future.replace(future.find("\"version\":1"), 11, "\"version\":9");
  EXPECT_THROW(decode(future), std::runtime_error);
}

}  // namespace
}  // namespace cairn::events
