// The typed command API end to end over real HTTPS: JSON in, a validated plist to each device,
// mistakes refused naming the field, and the AccessRights a device enrolled with gating what it
// may be sent.
#include <gtest/gtest.h>

#include "crypto/certificate.hpp"
#include "crypto/cms_signature.hpp"
#include "pki/issuer.hpp"
#include "tests/support/messages.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_node.hpp"

namespace cairn::testing {
namespace {

class TypedCommands : public ::testing::Test {
 protected:
  TempDir dir_;
  TestNode node_{dir_.path()};

  httplib::Result post(const std::string& json) const {
    return node_.admin()->Post("/api/v1/commands", json, "application/json");
  }
  // A device enrolled at the CheckInURL of a Cairn profile granting `access_rights`.
  std::unique_ptr<TestDevice> enrolled_with_rights(const std::string& udid, int access_rights) {
    if (node_.admin_get("/v1/pushcerts")->body.find("com.apple.mgmt") == std::string::npos) {
      EXPECT_EQ(node_.upload_push_certificate("com.apple.mgmt.typed")->status, 200);
    }
    const auto download =
        node_.admin_get("/v1/enrollment/profile?access_rights=" + std::to_string(access_rights));
    EXPECT_EQ(download->status, 200) << download->body;
    const Plist profile = Plist::parse(crypto::verify_attached(
        download->body,
        crypto::TrustStore::from_pem(crypto::certificate_pem(node_.ca().cert.get()))));
    auto device = std::make_unique<TestDevice>(node_, udid);
    const std::string check_in = "/checkin?profile=" + *profile.string("PayloadUUID");
    EXPECT_EQ(device->put(check_in, authenticate_body(udid))->status, 200);
    EXPECT_EQ(device->put(check_in, token_update_body(udid))->status, 200);
    return device;
  }
};

TEST_F(TypedCommands, JsonBecomesTheCommandEachDeviceReceives) {
  TestDevice a(node_, "TYPED-A"), b(node_, "TYPED-B");
  a.enroll();
  b.enroll();
  const auto r = post(R"({"request_type": "DeviceLock", "PIN": "123456",
                          "Message": "Call IT", "devices": ["TYPED-A", "TYPED-B", "NOBODY"]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 207) << r->body;
  EXPECT_NE(r->body.find("\"queued\":2"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("\"NOBODY\":\"unknown device\""), std::string::npos) << r->body;
  const auto at = r->body.find("\"command_uuid\":\"");
  ASSERT_NE(at, std::string::npos);
  const std::string uuid = r->body.substr(at + 16, 36);
  for (TestDevice* d : {&a, &b}) {
    const auto poll = d->report("Idle");
    ASSERT_EQ(poll->status, 200);
    const Plist command = Plist::parse(poll->body);
    EXPECT_EQ(command.string("CommandUUID"), uuid);  // one UUID for the whole request
    EXPECT_EQ(command.dict("Command")->string("RequestType"), "DeviceLock");
    EXPECT_EQ(command.dict("Command")->string("PIN"), "123456");
  }
  const auto status = node_.admin_get("/v1/commands/" + uuid);
  EXPECT_NE(status->body.find("TYPED-B"), std::string::npos) << status->body;
  const auto catalog = node_.admin_get("/api/v1/catalog");
  EXPECT_EQ(catalog->status, 200);
  EXPECT_NE(catalog->body.find("\"request_type\":\"EraseDevice\""), std::string::npos);
}

TEST_F(TypedCommands, MistakesAreRefusedNamingTheField) {
  TestDevice d(node_, "TYPED-C");
  d.enroll();
  auto refused = [&](const std::string& json) {
    const auto r = post(json);
    EXPECT_EQ(r->status, 400) << json;
    return r->body;
  };
  EXPECT_NE(refused(R"({"request_type": "DeviceLock", "PIN": 1234, "devices": ["TYPED-C"]})")
                .find("Command.PIN: must be a string"),
            std::string::npos);
  EXPECT_NE(refused(R"({"request_type": "DeviceLock", "Pin": "1", "devices": ["TYPED-C"]})")
                .find("Command.Pin"),
            std::string::npos);
  EXPECT_NE(refused(R"({"request_type": "Teleport", "devices": ["TYPED-C"]})")
                .find("unknown request type"),
            std::string::npos);
  EXPECT_NE(refused(R"({"request_type": "DeviceLock"})").find("devices"), std::string::npos);
  EXPECT_NE(refused("not json").find("JSON"), std::string::npos);
  // Raw plists through NanoMDM's endpoint are checked the same way, unless told not to.
  const std::string unknown_key =
      "<plist><dict><key>CommandUUID</key><string>RAW-1</string><key>Command</key><dict>"
      "<key>RequestType</key><string>DeviceLock</string><key>Colour</key><string>red</string>"
      "</dict></dict></plist>";
  const auto raw = node_.enqueue("TYPED-C", unknown_key);
  EXPECT_EQ(raw->status, 400);
  EXPECT_NE(raw->body.find("Command.Colour"), std::string::npos) << raw->body;
  EXPECT_EQ(node_.enqueue("TYPED-C", unknown_key, "?validate=0")->status, 200);
  EXPECT_EQ(command_uuid_of(d.report("Idle")), "RAW-1");
}

TEST_F(TypedCommands, AccessRightsFromTheEnrollmentProfileGateCommands) {
  // 4087 = everything but 8 (device erase).
  const auto no_erase = enrolled_with_rights("RIGHTS-1", 4087);
  const auto erase = post(R"({"request_type": "EraseDevice", "devices": ["RIGHTS-1"]})");
  EXPECT_EQ(erase->status, 403) << erase->body;
  EXPECT_NE(erase->body.find("8 (AllowDeviceErase)"), std::string::npos) << erase->body;
  EXPECT_EQ(node_.enqueue("RIGHTS-1", command_body("RAW-ERASE", "EraseDevice"))->status, 403);
  EXPECT_EQ(post(R"({"request_type": "DeviceLock", "devices": ["RIGHTS-1"]})")->status, 200);

  const auto everything = enrolled_with_rights("RIGHTS-2", 8191);
  const auto mixed =
      post(R"({"request_type": "EraseDevice", "devices": ["RIGHTS-1", "RIGHTS-2"]})");
  EXPECT_EQ(mixed->status, 207) << mixed->body;
  EXPECT_EQ(command_uuid_of(no_erase->report("Idle")).empty(), false);  // the DeviceLock only
  const auto sent = Plist::parse(everything->report("Idle")->body);
  EXPECT_EQ(sent.dict("Command")->string("RequestType"), "EraseDevice");
}

// An Error result keeps its ErrorChain in the command's status.
TEST_F(TypedCommands, AnErrorResultKeepsItsErrorChain) {
  TestDevice d(node_, "TYPED-E");
  d.enroll();
  ASSERT_EQ(node_.enqueue("TYPED-E", command_body("FAILS", "InstallProfile"))->status, 200);
  ASSERT_EQ(command_uuid_of(d.report("Idle")), "FAILS");
  Plist result = Plist::new_dict();
  result.set_string("UDID", "TYPED-E");
  result.set_string("Status", "Error");
  result.set_string("CommandUUID", "FAILS");
  Plist chain = Plist::new_array();
  for (const auto& [domain, code, description] :
       {std::tuple{"MCInstallationErrorDomain", 4001, "Profile Installation Failed"},
        std::tuple{"MCProfileErrorDomain", 1009, "The profile is not signed."}}) {
    Plist link = Plist::new_dict();
    link.set_string("ErrorDomain", domain);
    link.set_integer("ErrorCode", code);
    link.set_string("LocalizedDescription", description);
    link.set_string("USEnglishDescription", description);
    chain.append(std::move(link));
  }
  result.set("ErrorChain", std::move(chain));
  ASSERT_EQ(d.put("/mdm", result.to_xml())->status, 200);
  const auto status = node_.admin_get("/v1/commands/FAILS")->body;
  EXPECT_NE(status.find("\"status\":\"error\""), std::string::npos) << status;
  EXPECT_NE(status.find(
                R"("error_chain":[{"domain":"MCInstallationErrorDomain","code":4001,)"
                R"("description":"Profile Installation Failed"},{"domain":"MCProfileErrorDomain")"),
            std::string::npos)
      << status;
}

}  // namespace
}  // namespace cairn::testing
