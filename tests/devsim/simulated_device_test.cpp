// The simulated device answers like the 2011 reference says a device does, and keeps its state
// consistent across commands.
#include "devsim/simulated_device.hpp"

#include <gtest/gtest.h>

#include "plist/plist.hpp"

namespace cairn::devsim {
namespace {

class SimulatedDeviceTest : public ::testing::Test {
 protected:
  pki::Identity ca = pki::make_ca("Test CA", 1);
  SimulatedDevice device{"SIM-1",
                         pki::issue_certificate(ca, "SIM-1", pki::CertUsage::kClient, {}, 1),
                         "com.apple.mgmt.test", 42};
  int next_uuid = 0;

  // Runs a command with the given extra keys and returns the parsed result.
  Plist run(const std::string& type, const std::function<void(plist_t)>& fill = nullptr) {
    Plist message = Plist::new_dict();
    message.set_string("CommandUUID", "U" + std::to_string(++next_uuid));
    plist_t command = plist_new_dict();
    plist_dict_set_item(command, "RequestType", plist_new_string(type.c_str()));
    if (fill) fill(command);
    plist_dict_set_item(message.root(), "Command", command);
    Plist result = Plist::parse(device.execute(message.to_xml()));
    EXPECT_EQ(result.string("UDID"), "SIM-1");
    EXPECT_EQ(result.string("CommandUUID"), "U" + std::to_string(next_uuid));
    return result;
  }
  static std::string status(const Plist& p) { return p.string("Status").value_or(""); }
  static plist_t item(const Plist& p, const char* key) {
    return plist_dict_get_item(p.root(), key);
  }
  static void set_string(plist_t d, const char* k, const std::string& v) {
    plist_dict_set_item(d, k, plist_new_string(v.c_str()));
  }
  static void set_data(plist_t d, const char* k, const std::string& v) {
    plist_dict_set_item(d, k, plist_new_data(v.data(), v.size()));
  }
  std::string profile(const std::string& id) {
    Plist p = Plist::new_dict();
    p.set_string("PayloadIdentifier", id);
    p.set_string("PayloadUUID", id + "-uuid");
    return p.to_xml();
  }
};

TEST_F(SimulatedDeviceTest, ProfileListFollowsInstallAndRemove) {
  EXPECT_EQ(device.profile_identifiers().size(), 1u);  // the MDM enrollment profile
  EXPECT_EQ(
      status(run("InstallProfile", [&](plist_t c) { set_data(c, "Payload", profile("com.a")); })),
      "Acknowledged");
  auto list = run("ProfileList");
  EXPECT_EQ(plist_array_get_size(item(list, "ProfileList")), 2u);
  EXPECT_TRUE(device.profile_identifiers().contains("com.a"));
  EXPECT_EQ(status(run("RemoveProfile", [](plist_t c) { set_string(c, "Identifier", "com.a"); })),
            "Acknowledged");
  EXPECT_FALSE(device.profile_identifiers().contains("com.a"));
  // MDM may not remove what it did not install, nor what is not there.
  const auto refused = run("RemoveProfile", [](plist_t c) {
    set_string(c, "Identifier", "com.example.mdm.enrollment");
  });
  EXPECT_EQ(status(refused), "Error");
  EXPECT_EQ(plist_array_get_size(item(refused, "ErrorChain")), 1u);
  EXPECT_EQ(
      status(run("InstallProfile", [](plist_t c) { set_data(c, "Payload", "not a profile"); })),
      "Error");
}

TEST_F(SimulatedDeviceTest, ClearPasscodeNeedsTheRightUnlockToken) {
  EXPECT_EQ(status(run("ClearPasscode", [](plist_t c) { set_data(c, "UnlockToken", "wrong"); })),
            "Error");
  EXPECT_TRUE(device.passcode_present());
  const auto token = device.unlock_token();
  EXPECT_EQ(token.size(), 2048u);
  EXPECT_EQ(status(run("ClearPasscode", [&](plist_t c) { set_data(c, "UnlockToken", token); })),
            "Acknowledged");
  EXPECT_FALSE(device.passcode_present());
  auto security = run("SecurityInfo");
  uint8_t present = 1;
  plist_get_bool_val(plist_dict_get_item(item(security, "SecurityInfo"), "PasscodePresent"),
                     &present);
  EXPECT_EQ(present, 0);
}

TEST_F(SimulatedDeviceTest, LockedDeviceAnswersNotNowExceptToGuaranteedCommands) {
  device.set_locked(true);
  EXPECT_EQ(status(run("InstallProfile", [&](plist_t c) { set_data(c, "Payload", profile("x")); })),
            "NotNow");
  EXPECT_FALSE(device.profile_identifiers().contains("x"));  // NotNow changes nothing
  for (const char* guaranteed :
       {"DeviceInformation", "ProfileList", "CertificateList", "ProvisioningProfileList",
        "InstalledApplicationList", "Restrictions"})
    EXPECT_EQ(status(run(guaranteed)), "Acknowledged") << guaranteed;
  EXPECT_EQ(status(run("SecurityInfo")), "NotNow");
}

// Automated Device Enrollment: the device tells the server it waits in Setup Assistant until
// DeviceConfigured; a device that is not waiting refuses the command.
TEST_F(SimulatedDeviceTest, AnAutomatedEnrollmentWaitsForDeviceConfigured) {
  EXPECT_EQ(status(run("DeviceConfigured")), "Error");
  device.begin_automated_enrollment("C02ADE1");
  EXPECT_EQ(Plist::parse(device.machine_info()).string("SERIAL"), "C02ADE1");
  EXPECT_EQ(Plist::parse(device.token_update()).boolean("AwaitingConfiguration"), true);
  EXPECT_EQ(Plist::parse(device.authenticate()).string("SerialNumber"), "C02ADE1");
  EXPECT_EQ(status(run("DeviceConfigured")), "Acknowledged");
  EXPECT_FALSE(device.awaiting_configuration());
  EXPECT_FALSE(Plist::parse(device.token_update()).has("AwaitingConfiguration"));
}

TEST_F(SimulatedDeviceTest, UnknownOrMalformedCommandsGetCommandFormatError) {
  EXPECT_EQ(status(run("TeleportDevice")), "CommandFormatError");
  auto r = Plist::parse(
      device.execute("<plist><dict><key>CommandUUID</key><string>X</string></dict></plist>"));
  EXPECT_EQ(r.string("Status"), "CommandFormatError");
  EXPECT_EQ(Plist::parse(device.execute("garbage")).string("Status"), "CommandFormatError");
}

TEST_F(SimulatedDeviceTest, DeviceInformationAnswersOnlyWhatWasAsked) {
  auto r = run("DeviceInformation", [](plist_t c) {
    plist_t queries = plist_new_array();
    for (const char* q : {"UDID", "OSVersion", "NoSuchQuery", "BatteryLevel"})
      plist_array_append_item(queries, plist_new_string(q));
    plist_dict_set_item(c, "Queries", queries);
  });
  plist_t responses = item(r, "QueryResponses");
  EXPECT_EQ(plist_dict_get_size(responses), 3u);  // unknown queries are dropped
  EXPECT_NE(plist_dict_get_item(responses, "UDID"), nullptr);
  EXPECT_EQ(plist_get_node_type(plist_dict_get_item(responses, "BatteryLevel")), PLIST_REAL);
}

TEST_F(SimulatedDeviceTest, ManagedAppsAndProvisioningProfilesStayConsistent) {
  auto install = run("InstallApplication", [](plist_t c) {
    plist_dict_set_item(c, "iTunesStoreID", plist_new_uint(361285480));  // even: free
  });
  const auto bundle = install.string("Identifier").value();
  auto managed = run("ManagedApplicationList");
  EXPECT_NE(plist_dict_get_item(item(managed, "ManagedApplicationList"), bundle.c_str()), nullptr);
  EXPECT_EQ(status(run("InstallApplication",
                       [](plist_t c) {
                         plist_dict_set_item(c, "iTunesStoreID", plist_new_uint(361285480));
                       })),
            "Error");  // AppAlreadyInstalled
  EXPECT_EQ(
      status(run("RemoveApplication", [&](plist_t c) { set_string(c, "Identifier", bundle); })),
      "Acknowledged");
  EXPECT_EQ(
      status(run("RemoveApplication", [&](plist_t c) { set_string(c, "Identifier", bundle); })),
      "Error");
  EXPECT_EQ(status(run("InstallProvisioningProfile",
                       [](plist_t c) { set_data(c, "ProvisioningProfile", "pp"); })),
            "Acknowledged");
  auto list = run("ProvisioningProfileList");
  ASSERT_EQ(plist_array_get_size(item(list, "ProvisioningProfileList")), 1u);
}

TEST_F(SimulatedDeviceTest, EraseDeviceAcknowledgesThenWipes) {
  EXPECT_EQ(status(run("EraseDevice")), "Acknowledged");
  EXPECT_TRUE(device.erased());
  EXPECT_TRUE(device.profile_identifiers().empty());
}

TEST_F(SimulatedDeviceTest, CheckinMessagesCarryWhatTheReferenceLists) {
  const auto token = Plist::parse(device.token_update());
  EXPECT_EQ(token.data("Token")->size(), 32u);
  EXPECT_EQ(token.data("UnlockToken")->size(), 2048u);
  EXPECT_FALSE(token.string("PushMagic")->empty());
  EXPECT_EQ(Plist::parse(device.authenticate()).string("Topic"), "com.apple.mgmt.test");
}

// A User Enrollment names itself by EnrollmentID everywhere a device gives its UDID, and keeps
// the hardware's identifiers (serial, UDID, IMEI) and an UnlockToken to itself.
TEST(SimulatedUserEnrollment, SendsItsEnrollmentIdAndNoHardwareIdentifiers) {
  const pki::Identity ca = pki::make_ca("Test CA", 1);
  SimulatedDevice byod("UE-1", pki::issue_certificate(ca, "UE-1", pki::CertUsage::kClient, {}, 1),
                       "com.apple.mgmt.test", 7, SimulatedDevice::Enrollment::kUser);
  for (const auto& body : {byod.authenticate(), byod.token_update(), byod.idle()}) {
    const Plist p = Plist::parse(body);
    EXPECT_EQ(p.string("EnrollmentID"), "UE-1") << body;
    EXPECT_FALSE(p.has("UDID")) << body;
    EXPECT_FALSE(p.has("SerialNumber")) << body;
    EXPECT_FALSE(p.has("UnlockToken")) << body;
  }
  const Plist info = Plist::parse(byod.execute(
      "<plist><dict><key>CommandUUID</key><string>C-1</string><key>Command</key><dict>"
      "<key>RequestType</key><string>DeviceInformation</string></dict></dict></plist>"));
  EXPECT_EQ(info.string("EnrollmentID"), "UE-1");
  const auto answers = info.dict("QueryResponses");
  ASSERT_TRUE(answers);
  EXPECT_TRUE(answers->has("OSVersion"));
  EXPECT_FALSE(answers->has("SerialNumber"));
  EXPECT_FALSE(answers->has("UDID"));
}

// A Mac user's channel: every message names the device and the user, it has a push token of its
// own, shares the device's identity, and escrows no UnlockToken.
TEST_F(SimulatedDeviceTest, AMacUsersChannelNamesTheDeviceAndTheUser) {
  const SimulatedDevice user = SimulatedDevice::mac_user(device, "USER-7", 9);
  EXPECT_TRUE(user.is_user_channel());
  EXPECT_FALSE(device.is_user_channel());
  EXPECT_EQ(user.channel_id(), "SIM-1:USER-7");
  EXPECT_EQ(device.channel_id(), "SIM-1");
  EXPECT_NE(user.push_token_hex(), device.push_token_hex());
  EXPECT_EQ(X509_cmp(user.identity().cert.get(), device.identity().cert.get()), 0);
  for (const auto& body : {user.user_authenticate(), user.token_update(), user.idle()}) {
    const Plist p = Plist::parse(body);
    EXPECT_EQ(p.string("UDID"), "SIM-1") << body;
    EXPECT_EQ(p.string("UserID"), "USER-7") << body;
    EXPECT_FALSE(p.has("UnlockToken")) << body;
  }
  EXPECT_EQ(Plist::parse(user.user_authenticate()).string("MessageType"), "UserAuthenticate");
}

}  // namespace
}  // namespace cairn::devsim
