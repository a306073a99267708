// The typed command API end to end over real HTTPS: JSON in, a validated plist to each device,
// mistakes refused naming the field, and the AccessRights a device enrolled with gating what it
// may be sent.
#include <gtest/gtest.h>

#include "common/encoding.hpp"
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

// ClearPasscode needs the device's UnlockToken, which Cairn holds sealed and no admin can read:
// the admin leaves it out, Cairn inserts the device's own at delivery, and neither the log nor
// the projection ever holds it in clear. A device with none escrowed is refused by name.
TEST_F(TypedCommands, ClearPasscodeReachesTheDeviceWithItsOwnUnlockTokenNeverLogged) {
  const std::string secret = "UNLOCK-TOKEN-" + std::string(100, 'z');
  TestDevice with(node_, "CLEAR-1"), without(node_, "CLEAR-2");
  ASSERT_EQ(with.checkin(authenticate_body("CLEAR-1"))->status, 200);
  ASSERT_EQ(with.checkin(token_update_body("CLEAR-1", secret))->status, 200);
  ASSERT_EQ(without.checkin(authenticate_body("CLEAR-2"))->status, 200);
  ASSERT_EQ(without.checkin(token_update_body("CLEAR-2"))->status, 200);  // no UnlockToken
  const auto r = post(R"({"request_type": "ClearPasscode", "devices": ["CLEAR-1", "CLEAR-2"]})");
  ASSERT_EQ(r->status, 207) << r->body;
  EXPECT_NE(r->body.find("\"CLEAR-2\":\"no UnlockToken escrowed"), std::string::npos) << r->body;
  const auto delivered = Plist::parse(with.report("Idle")->body);
  EXPECT_EQ(delivered.dict("Command")->string("RequestType"), "ClearPasscode");
  EXPECT_EQ(delivered.dict("Command")->data("UnlockToken"), secret);
  EXPECT_EQ(without.report("Idle")->body, "");  // nothing was queued for it

  // An admin who sends a token is refused, whichever way: it would be logged in clear.
  const auto typed = post(R"({"request_type": "ClearPasscode", "UnlockToken": "AAEC",
                              "devices": ["CLEAR-1"]})");
  EXPECT_EQ(typed->status, 400);
  EXPECT_NE(typed->body.find("Command.UnlockToken: leave it out"), std::string::npos)
      << typed->body;
  const auto raw = node_.enqueue("CLEAR-1", R"(<plist version="1.0"><dict>
      <key>CommandUUID</key><string>RAW-CLEAR</string><key>Command</key><dict>
      <key>RequestType</key><string>ClearPasscode</string>
      <key>UnlockToken</key><data>AAEC</data></dict></dict></plist>)");
  EXPECT_EQ(raw->status, 400) << raw->body;

  const std::string encoded = base64_encode(secret);
  for (const auto& e : logged_events(node_.data_dir())) {
    const auto json = events::encode(e);
    EXPECT_EQ(json.find(secret), std::string::npos) << json;
    EXPECT_EQ(json.find(encoded), std::string::npos) << json;
  }
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

// Only an API key holder may send more than a device's body limit (or a body of unknown
// length): nobody else makes the server buffer an admin-sized body.
TEST(TypedCommandLimits, LargeBodiesNeedAnApiKeyFirst) {
  TempDir dir;
  TestNodeOptions options;
  options.max_body_bytes = 1024;  // a device's limit, small enough for the test's bodies
  TestNode node(dir.path(), options);
  httplib::SSLClient anonymous("127.0.0.1", node.port());
  anonymous.set_ca_cert_path(node.ca_file());
  anonymous.enable_server_certificate_verification(true);
  const std::string big(4096, ' ');
  const auto refused = anonymous.Post("/api/v1/commands", big, "application/json");
  ASSERT_TRUE(refused) << httplib::to_string(refused.error());
  EXPECT_EQ(refused->status, 401);
  const auto accepted = node.admin()->Post(
      "/api/v1/commands", R"({"request_type": "DeviceLock", "devices": ["NOBODY"]})" + big,
      "application/json");
  ASSERT_TRUE(accepted);
  EXPECT_EQ(accepted->status, 422) << accepted->body;  // read and parsed: no such device
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

// A device answers the command it is sent with `result` (the keys of its Acknowledged result).
void acknowledge_with(TestDevice& d, const std::string& request_type, Plist result) {
  const auto poll = d.report("Idle");
  ASSERT_EQ(poll->status, 200);
  const Plist command = Plist::parse(poll->body);
  ASSERT_EQ(command.dict("Command")->string("RequestType"), request_type);
  result.set_string("UDID", d.udid());
  result.set_string("Status", "Acknowledged");
  result.set_string("CommandUUID", *command.string("CommandUUID"));
  ASSERT_EQ(d.put("/mdm", result.to_xml())->status, 200);
}

Plist device_information(const std::string& os, const std::string& model) {
  Plist answers = Plist::new_dict();
  answers.set_string("OSVersion", os);
  answers.set_string("ProductName", model);
  answers.set_string("DeviceName", "Ana's device");
  plist_dict_set_item(answers.root(), "BatteryLevel", plist_new_real(0.75));
  Plist result = Plist::new_dict();
  result.set("QueryResponses", std::move(answers));
  return result;
}

Plist app_list(std::initializer_list<const char*> identifiers) {
  Plist apps = Plist::new_array();
  for (const char* id : identifiers) {
    Plist app = Plist::new_dict();
    app.set_string("Identifier", id);
    app.set_string("Name", id);
    apps.append(std::move(app));
  }
  Plist result = Plist::new_dict();
  result.set("InstalledApplicationList", std::move(apps));
  return result;
}

Plist security_info(bool compliant) {
  Plist info = Plist::new_dict();
  info.set_bool("PasscodePresent", true);
  info.set_bool("PasscodeCompliant", compliant);
  Plist result = Plist::new_dict();
  result.set("SecurityInfo", std::move(info));
  return result;
}

// Results become typed inventory: each field's latest value with when and which command; the
// fleet is filtered on it and paged through with a cursor.
TEST_F(TypedCommands, ResultsBecomeInventoryTheFleetIsFilteredOn) {
  TestDevice a(node_, "INV-A"), b(node_, "INV-B"), c(node_, "INV-C");
  for (TestDevice* d : {&a, &b, &c}) d->enroll();
  auto ask = [&](const std::string& json) { ASSERT_EQ(post(json)->status, 200) << json; };
  ask(R"({"request_type": "DeviceInformation", "Queries": ["OSVersion", "ProductName"],
          "devices": ["INV-A", "INV-B", "INV-C"]})");
  acknowledge_with(a, "DeviceInformation", device_information("17.1", "iPhone15,2"));
  acknowledge_with(b, "DeviceInformation", device_information("16.6", "iPad13,1"));
  acknowledge_with(c, "DeviceInformation", device_information("17.1", "iPhone15,2"));
  ask(R"({"request_type": "InstalledApplicationList", "devices": ["INV-A", "INV-B"]})");
  acknowledge_with(a, "InstalledApplicationList", app_list({"com.example.notes"}));
  acknowledge_with(b, "InstalledApplicationList", app_list({"com.example.maps"}));
  ask(R"({"request_type": "SecurityInfo", "devices": ["INV-A", "INV-B"]})");
  acknowledge_with(a, "SecurityInfo", security_info(true));
  acknowledge_with(b, "SecurityInfo", security_info(false));

  const auto device = node_.admin_get("/api/v1/devices/INV-A")->body;
  EXPECT_NE(device.find(R"("DeviceInformation.OSVersion":{"value":"17.1","updated_at":")"),
            std::string::npos)
      << device;
  EXPECT_NE(device.find(R"("DeviceInformation.BatteryLevel":{"value":0.75)"), std::string::npos);
  EXPECT_NE(device.find(R"("SecurityInfo.PasscodeCompliant":{"value":true)"), std::string::npos);
  EXPECT_NE(
      device.find(R"("InstalledApplicationList":{"value":[{"Identifier":"com.example.notes")"),
      std::string::npos);

  auto udids = [&](const std::string& query) {
    const auto r = node_.admin_get("/api/v1/devices?" + query);
    EXPECT_EQ(r->status, 200) << r->body;
    std::vector<std::string> out;
    for (size_t at = r->body.find("\"udid\":\""); at != std::string::npos;
         at = r->body.find("\"udid\":\"", at + 1))
      out.push_back(r->body.substr(at + 8, 5));
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(udids("os_version=17.1"), (V{"INV-A", "INV-C"}));
  EXPECT_EQ(udids("model=iPad13,1"), V{"INV-B"});
  EXPECT_EQ(udids("app=com.example.maps"), V{"INV-B"});
  EXPECT_EQ(udids("passcode_compliant=false"), V{"INV-B"});
  EXPECT_EQ(udids("os_version=17.1&passcode_compliant=true"), V{"INV-A"});
  EXPECT_EQ(udids("os_version=17.1&passcode_compliant=false"), V{});
  const auto first = node_.admin_get("/api/v1/devices?os_version=17.1&limit=1")->body;
  EXPECT_NE(first.find(R"("next_after":"INV-A")"), std::string::npos) << first;
  EXPECT_EQ(udids("os_version=17.1&limit=1&after=INV-A"), V{"INV-C"});
  EXPECT_EQ(node_.admin_get("/api/v1/devices?colour=red")->status, 400);

  // A newer list replaces the older one, and the filter follows.
  ask(R"({"request_type": "InstalledApplicationList", "devices": ["INV-A"]})");
  acknowledge_with(a, "InstalledApplicationList", app_list({"com.example.maps"}));
  EXPECT_EQ(udids("app=com.example.notes"), V{});
  EXPECT_EQ(udids("app=com.example.maps"), (V{"INV-A", "INV-B"}));
}

}  // namespace
}  // namespace cairn::testing
