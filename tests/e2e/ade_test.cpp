// Automated Device Enrollment end to end, against the ADE simulator (ops/ade_simulator) over real
// HTTPS with real OAuth 1.0a signatures: a token certificate, the token file encrypted to it, a
// fetch then syncs with the cursor in the log, profiles defined and assigned by rule, devices at
// first boot enrolling with a signed MachineInfo, released from Setup Assistant with
// DeviceConfigured; a session that ends, a cursor that expires, a 429 and a released device on
// the way; and a replay that rebuilds the same ADE state.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <functional>
#include <list>
#include <thread>
#include <utility>

#include "app/single_node.hpp"
#include "common/files.hpp"
#include "crypto/certificate.hpp"
#include "crypto/cms_signature.hpp"
#include "devsim/scep_client.hpp"
#include "ops/ade_simulator/ade_simulator.hpp"
#include "pki/scep.hpp"
#include "plist/plist.hpp"
#include "tests/support/ade.hpp"
#include "tests/support/apns.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/messages.hpp"
#include "tests/support/shell.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_node.hpp"

namespace cairn::testing {
namespace {

const std::string kTopic = "com.apple.mgmt.ade-test";

rapidjson::Document json_of(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  return d;
}

class Ade : public ::testing::Test {
 protected:
  TempDir dir_;
  TempDir files_;
  AdePki pki_{files_};
  TestApns apns_{files_ / "apns-ca.pem"};  // pushes answered: no failed pushes retried later
  ade_sim::AdeSimulator sim_{pki_.simulator_options()};
  TestNode node_{dir_.path(), options()};

  TestNodeOptions options() const {
    auto o = pki_.node_options(sim_);
    o.apns = apns_.client_options();
    o.refusal_record_interval = std::chrono::seconds(0);
    return o;
  }

  httplib::Result put(const std::string& path, const std::string& body,
                      const char* type = "application/json") const {
    return node_.admin()->Put(path, body, type);
  }
  httplib::Result post(const std::string& path) const { return node_.admin()->Post(path); }

  rapidjson::Document token_state() const {
    return json_of(node_.admin_get("/v1/ade/tokens")->body);
  }
  rapidjson::Document ade_device(const std::string& serial) const {
    return json_of(node_.admin_get("/v1/ade/devices/" + serial)->body);
  }
  bool assigned(const std::string& serial, const std::string& profile) const {
    const auto d = ade_device(serial);
    return d.IsObject() && d.HasMember("assign_status") &&
           std::string(d["assign_status"].GetString()) == "SUCCESS" &&
           std::string(d["assigned_profile"].GetString()) == profile;
  }
  size_t logged(std::string_view type) const {
    size_t n = 0;
    for (const auto& e : logged_events(dir_.path())) n += events::type_name(e.payload) == type;
    return n;
  }

  // The token certificate made, the token file uploaded, the profiles and rules stored.
  void connect() {
    auto cert = post("/v1/ade/tokens/acme/certificate");
    ASSERT_EQ(cert->status, 201) << cert->body;
    EXPECT_EQ(cert->get_header_value("Content-Type"), "application/x-pem-file");
    EXPECT_EQ(post("/v1/ade/tokens/acme/certificate")->status, 409) << "would orphan token files";
    // A token encrypted to some other server's certificate is refused, saying so.
    const auto other = pki::make_ca("someone else", 30, nullptr, pki::CaKey::kRsa2048);
    auto wrong =
        put("/v1/ade/tokens/acme", sim_.token_file(crypto::certificate_pem(other.cert.get())),
            "application/pkcs7-mime");
    EXPECT_EQ(wrong->status, 400);
    EXPECT_NE(wrong->body.find("token certificate"), std::string::npos) << wrong->body;
    auto uploaded =
        put("/v1/ade/tokens/acme", sim_.token_file(cert->body), "application/pkcs7-mime");
    ASSERT_EQ(uploaded->status, 200) << uploaded->body;
    const std::string url = "https://127.0.0.1:" + std::to_string(node_.port()) + "/ade/enroll";
    ASSERT_EQ(put("/v1/ade/profiles/staff", R"({"profile_name":"Staff","is_supervised":true,)"
                                            R"("await_device_configured":true,"url":")" +
                                                url + "\"}")
                  ->status,
              204);
    ASSERT_EQ(
        put("/v1/ade/profiles/ipads", R"({"profile_name":"Shared iPads","is_supervised":true,)"
                                      R"("cairn_release":"manual","url":")" +
                                          url + "\"}")
            ->status,
        204);
    EXPECT_EQ(put("/v1/ade/profiles/bad", R"({"is_supervised":true})")->status, 400);
    auto rules = put("/v1/ade/tokens/acme/assignment",
                     R"({"default_profile":"staff","rules":[{"profile":"ipads",)"
                     R"("match":{"device_family":"iPad","model":"iPad*"}}]})");
    ASSERT_EQ(rules->status, 204) << rules->body;
    auto bad_rule = put("/v1/ade/tokens/acme/assignment",
                        R"({"rules":[{"profile":"x","match":{"order_number":"1"}}]})");
    EXPECT_EQ(bad_rule->status, 400);
    EXPECT_NE(bad_rule->body.find("order_number"), std::string::npos) << bad_rule->body;
  }

  // What a device at first boot sends: MachineInfo, signed by `signer`.
  static std::string machine_info(const std::string& udid, const std::string& serial,
                                  const pki::Identity& signer) {
    Plist info = Plist::new_dict();
    info.set_string("UDID", udid);
    info.set_string("SERIAL", serial);
    info.set_string("PRODUCT", "iPad13,1");
    info.set_string("VERSION", "21F90");
    info.set_string("OS_VERSION", "17.5.1");
    return crypto::sign_attached(info.to_xml(), signer.cert.get(), signer.key.get(), {});
  }
  // The whole first boot: MachineInfo signed by `signer`, the enrollment profile, SCEP, then
  // Authenticate and TokenUpdate (AwaitingConfiguration). Null if the server refused the device's
  // Authenticate (the profile and SCEP must succeed).
  std::unique_ptr<TestDevice> enroll_device(const std::string& serial, const std::string& udid,
                                            const pki::Identity& signer) {
    auto profile = enroll_at_first_boot(machine_info(udid, serial, signer));
    EXPECT_EQ(profile->status, 200) << profile->body;
    EXPECT_EQ(profile->get_header_value("Content-Type"), "application/x-apple-aspen-config");
    const Plist enrollment = Plist::parse(crypto::verify_attached(
        profile->body,
        crypto::TrustStore::from_pem(crypto::certificate_pem(node_.ca().cert.get()))));
    const Plist scep = *enrollment.array("PayloadContent")->at(1).dict("PayloadContent");
    httplib::SSLClient anonymous("127.0.0.1", node_.port());
    anonymous.set_ca_cert_path(node_.ca_file());
    const auto ra = pki::scep::read_certs_only(anonymous.Get("/scep?operation=GetCACert")->body);
    devsim::ScepRequestOptions o;
    o.challenge = *scep.string("Challenge");
    devsim::ScepClient client(ra.at(0).get(), o);
    auto issued = client.read_reply(
        anonymous
            .Post("/scep?operation=PKIOperation", client.pkcs_req(), "application/x-pki-message")
            ->body);
    EXPECT_EQ(issued.pki_status, pki::scep::kSuccess) << issued.problem;
    identities_.push_back(client.identity(std::move(issued.certificate)));
    auto device = std::make_unique<TestDevice>(node_, udid, &identities_.back());
    Plist authenticate = Plist::parse(authenticate_body(udid, kTopic));
    authenticate.set_string("SerialNumber", serial);
    if (device->checkin(authenticate.to_xml())->status != 200) return nullptr;
    Plist token_update = Plist::parse(token_update_body(udid, "", kTopic));
    token_update.set_bool("AwaitingConfiguration", true);
    EXPECT_EQ(device->checkin(token_update.to_xml())->status, 200);
    return device;
  }
  std::list<pki::Identity> identities_;  // the devices' (a TestDevice keeps a reference)

  httplib::Result enroll_at_first_boot(const std::string& body) const {
    httplib::SSLClient c("127.0.0.1", node_.port());
    c.set_ca_cert_path(node_.ca_file());
    c.enable_server_certificate_verification(true);
    return c.Post("/ade/enroll", body, "application/pkcs7-signature");
  }
};

TEST_F(Ade, SyncsAssignsEnrollsAndReleasesThroughTheSimulator) {
  ASSERT_EQ(put("/v1/pushcert", apns_.push_certificate_upload(kTopic, 30), "application/x-pem-file")
                ->status,
            200);
  const auto ipads = sim_.add_devices(5, "IPAD", "iPad", "iPad Pro");
  const auto phones = sim_.add_devices(3, "PHONE", "iPhone", "iPhone 15");
  // More than one event's worth (a page's devices are recorded 100 per event).
  const auto macs = sim_.add_devices(230, "MAC", "Mac", "MacBook Air");
  connect();

  // The first sync is a full fetch; every device then gets its profile by rule or default.
  ASSERT_TRUE(eventually([&] {
    return std::all_of(ipads.begin(), ipads.end(), [&](auto& s) { return assigned(s, "ipads"); }) &&
           std::all_of(phones.begin(), phones.end(), [&](auto& s) { return assigned(s, "staff"); });
  })) << node_.admin_get("/v1/ade/devices")->body;
  ASSERT_TRUE(eventually([&] { return sim_.counts().assigned == 238; }));
  EXPECT_EQ(sim_.counts().profiles_defined, 2);
  EXPECT_TRUE(assigned(macs.back(), "staff"));
  auto all = json_of(node_.admin_get("/v1/ade/devices?limit=1000")->body);
  EXPECT_EQ(all["devices"].Size(), 238u);
  // Apple is given its own fields: Cairn's cairn_release stays home, anchors are filled in.
  const auto at_apple = sim_.cloud_configuration(ipads[0])->profile_json;
  EXPECT_EQ(at_apple.find("cairn_release"), std::string::npos) << at_apple;
  EXPECT_NE(at_apple.find("anchor_certs"), std::string::npos) << at_apple;
  EXPECT_EQ(sim_.counts().oauth_refused, 0);
  const auto device = ade_device(ipads[0]);
  EXPECT_STREQ(device["model"].GetString(), "iPad Pro");
  EXPECT_STREQ(device["enrollment"].GetString(), "not_enrolled");

  // The session ends at Apple: the next call is refused, a new session is started, nothing is lost.
  sim_.end_sessions();
  const auto late = sim_.add_devices(2, "LATE", "iPhone", "iPhone 15");
  ASSERT_EQ(post("/v1/ade/tokens/acme/sync")->status, 202);
  ASSERT_TRUE(eventually([&] { return assigned(late[0], "staff") && assigned(late[1], "staff"); }));
  EXPECT_GE(sim_.counts().sessions, 2);

  // The cursor expires: the syncer records it and fetches everything again.
  sim_.expire_cursors();
  const auto after_expiry = sim_.add_devices(1, "AFTER", "iPhone", "iPhone 15");
  ASSERT_TRUE(eventually([&] { return assigned(after_expiry[0], "staff"); }));
  EXPECT_GE(logged("AdeSyncFailed"), 1u);
  EXPECT_GE(sim_.counts().fetch_calls, 2);

  // A 429: recorded with Apple's Retry-After; the token waits, and an operator's sync goes on.
  sim_.throttle_calls(1, 1);
  const auto throttled = sim_.add_devices(1, "THROTTLED", "iPhone", "iPhone 15");
  ASSERT_TRUE(eventually([&] {
    const auto t = token_state();
    return t["tokens"][0].HasMember("failure") &&
           t["tokens"][0]["failure"]["status"].GetInt() == 429;
  })) << node_.admin_get("/v1/ade/tokens")->body;
  ASSERT_EQ(post("/v1/ade/tokens/acme/sync")->status, 202);
  ASSERT_TRUE(eventually([&] { return assigned(throttled[0], "staff"); }));
  // A device Apple answers THROTTLED is assigned again once its retry_after_seconds passed.
  sim_.throttle_assignments(1);
  const auto later = sim_.add_devices(1, "LATER", "iPhone", "iPhone 15");
  ASSERT_TRUE(eventually([&] {
    const auto d = ade_device(later[0]);
    return d.IsObject() && d.HasMember("assign_status") &&
           std::string(d["assign_status"].GetString()) == "THROTTLED";
  })) << node_.admin_get("/v1/ade/devices/" + later[0])->body;
  ASSERT_TRUE(eventually([&] { return assigned(later[0], "staff"); }));

  // Held by an administrator: its profile is removed at Apple and no rule gives it another, until
  // it is given back to the rules.
  ASSERT_EQ(node_.admin()->Put("/v1/ade/devices/" + ipads[4] + "/hold")->status, 204);
  ASSERT_TRUE(eventually([&] {
    const auto d = ade_device(ipads[4]);
    return std::string(d["profile_status"].GetString()) == "removed" && d["held"].GetBool();
  })) << node_.admin_get("/v1/ade/devices/" + ipads[4])->body;
  EXPECT_EQ(sim_.counts().removed, 1);
  EXPECT_FALSE(sim_.cloud_configuration(ipads[4])) << "a booting device would get no profile";
  ASSERT_EQ(post("/v1/ade/tokens/acme/sync")->status, 202);  // Apple's change comes back...
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_FALSE(sim_.cloud_configuration(ipads[4])) << "...and no rule assigns it again";
  ASSERT_EQ(node_.admin()->Delete("/v1/ade/devices/" + ipads[4] + "/hold")->status, 204);
  ASSERT_TRUE(eventually([&] { return sim_.cloud_configuration(ipads[4]).has_value(); }));
  EXPECT_EQ(node_.admin()->Put("/v1/ade/devices/NOSUCH1/hold")->status, 404);

  // A device at first boot: Apple tells it its profile; it sends its signed MachineInfo there,
  // follows the enrollment profile's SCEP payload to its identity and enrolls; it waits in Setup
  // Assistant. Its profile says cairn_release "automatic" (the default): DeviceConfigured is
  // queued for it, its next poll gets it, and it finishes Setup Assistant.
  ASSERT_TRUE(sim_.cloud_configuration(phones[1]));
  const auto phone_identity =
      pki::issue_certificate(pki_.device_ca, "iPhone device", pki::CertUsage::kClient, {}, 30);
  auto phone = enroll_device(phones[1], "ADE-UDID-1", phone_identity);
  ASSERT_TRUE(phone);
  // The device is pushed (a real one would be asleep in Setup Assistant's screen).
  EXPECT_TRUE(eventually([&] { return apns_.sim().push_count() >= 1; }));
  const auto command = phone->report("Idle");
  ASSERT_EQ(command->status, 200);
  EXPECT_NE(command->body.find("DeviceConfigured"), std::string::npos) << command->body;
  EXPECT_EQ(command_uuid_of(phone->report("Acknowledged", command_uuid_of(command))), "");
  const auto enrolled = ade_device(phones[1]);
  EXPECT_STREQ(enrolled["enrollment"].GetString(), "enrolled");
  EXPECT_STREQ(enrolled["udid"].GetString(), "ADE-UDID-1");

  // The iPads' profile says cairn_release "manual": the device waits for the administrator.
  const auto ipad_identity =
      pki::issue_certificate(pki_.device_ca, "iPad device", pki::CertUsage::kClient, {}, 30);
  auto ipad = enroll_device(ipads[0], "ADE-UDID-2", ipad_identity);
  ASSERT_TRUE(ipad);
  EXPECT_EQ(command_uuid_of(ipad->report("Idle")), "") << "nothing queued: it stays in Setup";
  auto release = node_.admin()->Post(
      "/api/v1/commands", R"({"request_type":"DeviceConfigured","devices":["ADE-UDID-2"]})",
      "application/json");
  ASSERT_EQ(release->status, 200) << release->body;
  EXPECT_NE(ipad->report("Idle")->body.find("DeviceConfigured"), std::string::npos);

  // Another device's identity (stolen) naming an enrolled UDID gets a profile, but its identity
  // cannot take the UDID over; the same device set up again (same signer, same UDID) can.
  const auto thief =
      pki::issue_certificate(pki_.device_ca, "another device", pki::CertUsage::kClient, {}, 30);
  EXPECT_FALSE(enroll_device(ipads[1], "ADE-UDID-1", thief)) << "took over ADE-UDID-1";
  EXPECT_FALSE(enroll_device(ipads[1], "ADE-UDID-1", thief)) << "took it over on a second try";
  EXPECT_TRUE(enroll_device(phones[1], "ADE-UDID-1", phone_identity)) << "erased and set up again";
  // A serial number's device identity is pinned at its first enrollment.
  auto other = enroll_at_first_boot(machine_info("ADE-UDID-1", phones[1], thief));
  EXPECT_EQ(other->status, 403);
  EXPECT_NE(other->body.find("another device identity"), std::string::npos) << other->body;
  // A held device does not enroll here.
  ASSERT_EQ(node_.admin()->Put("/v1/ade/devices/" + ipads[3] + "/hold")->status, 204);
  auto held = enroll_at_first_boot(machine_info("ADE-UDID-5", ipads[3], ipad_identity));
  EXPECT_EQ(held->status, 403);
  EXPECT_NE(held->body.find("held"), std::string::npos) << held->body;

  // Refusals name why, and are events: an unknown serial, a signer that is not a device's.
  auto unknown = enroll_at_first_boot(machine_info("ADE-UDID-8", "NOTOURS1", phone_identity));
  EXPECT_EQ(unknown->status, 403);
  EXPECT_NE(unknown->body.find("not assigned to this MDM server"), std::string::npos)
      << unknown->body;
  const auto stranger =
      pki::issue_certificate(pki_.ca, "not a device", pki::CertUsage::kClient, {}, 30);
  auto forged = enroll_at_first_boot(machine_info("ADE-UDID-3", ipads[1], stranger));
  EXPECT_NE(forged->body.find("not trusted"), std::string::npos) << forged->body;
  // A file holding the device CA's root too would not make a CA's own certificate a device.
  auto ca_signed = enroll_at_first_boot(machine_info("ADE-UDID-3", ipads[1], pki_.device_ca));
  EXPECT_EQ(ca_signed->status, 400);
  EXPECT_NE(ca_signed->body.find("is a CA"), std::string::npos) << ca_signed->body;
  EXPECT_EQ(forged->status, 400) << forged->body;
  EXPECT_EQ(enroll_at_first_boot("not CMS at all")->status, 400);
  EXPECT_GE(logged("EnrollmentRefused"), 3u);

  // Released in Apple Business Manager: the next sync says so, and it may not enroll here.
  sim_.release_device(phones[0]);
  ASSERT_TRUE(eventually([&] { return ade_device(phones[0])["released"].GetBool(); }));
  auto released = enroll_at_first_boot(machine_info("ADE-UDID-4", phones[0], phone_identity));
  EXPECT_EQ(released->status, 403);
  EXPECT_NE(released->body.find("released"), std::string::npos) << released->body;

  // The token's credentials are sealed in the log, never in clear.
  for (const auto& e : logged_events(dir_.path())) {
    if (const auto* stored = std::get_if<events::AdeTokenStored>(&e.payload)) {
      EXPECT_EQ(stored->credentials_sealed.find("CS_"), std::string::npos);
    }
  }

  // A replay rebuilds the same projection, ADE state included (once the node is quiet: the
  // syncer and the dispatcher write on their own).
  std::string settled;
  ASSERT_TRUE(eventually([&] {
    const auto now = node_.admin_get("/v1/projection")->body;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    return std::exchange(settled, now) == now;
  }));
  auto live = node_.admin_get("/v1/projection");
  ASSERT_EQ(live->status, 200);
  node_.stop();
  TempDir fresh;
  const auto replayed = app::replay(dir_.path(), std::nullopt, fresh / "projection");
  EXPECT_NE(live->body.find("\"digest\":\"" + replayed.digest + "\""), std::string::npos)
      << live->body << " vs " << replayed.digest;
}

// Without the device CA to check MachineInfo with, a serial number printed on a box would enroll
// anyone: ADE enrollment is refused, saying why.
TEST(AdeWithoutDeviceCa, RefusesEveryEnrollment) {
  TempDir dir;
  TestNode node(dir.path());
  httplib::SSLClient c("127.0.0.1", node.port());
  c.set_ca_cert_path(node.ca_file());
  const auto signer = pki::make_ca("a device", 1);
  Plist info = Plist::new_dict();
  info.set_string("UDID", "UDID-1");
  info.set_string("SERIAL", "C02ABC");
  auto r = c.Post("/ade/enroll",
                  crypto::sign_attached(info.to_xml(), signer.cert.get(), signer.key.get(), {}),
                  "application/pkcs7-signature");
  EXPECT_EQ(r->status, 503);
  EXPECT_NE(r->body.find("--ade-device-ca"), std::string::npos) << r->body;
}

// What an administrator types: the token certificate to give Apple Business Manager, then the
// token file it gives back.
TEST_F(Ade, TheCommandLineConnectsAToken) {
  const std::string cairn = std::string(CAIRN_BINARY) + " ade ";
  const std::string node = " --server https://127.0.0.1:" + std::to_string(node_.port()) +
                           " --api-key " + node_.api_key() + " --ca-file " + node_.ca_file();
  int status = 1;
  auto out = run_shell(cairn + "token-cert --name cli --out " + files_ / "cli.pem" + node + " 2>&1",
                       status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("Apple Business Manager"), std::string::npos) << out;
  write_file(files_ / "cli.p7m", sim_.token_file(read_file(files_ / "cli.pem")), false);
  out = run_shell(cairn + "token-upload --name cli --file " + files_ / "cli.p7m" + node + " 2>&1",
                  status);
  ASSERT_EQ(status, 0) << out;
  out = run_shell(cairn + "status" + node + " 2>&1", status);
  EXPECT_EQ(status, 0);
  EXPECT_NE(out.find(R"("token":"cli","certificate_not_after")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("uploaded":true)"), std::string::npos) << out;
  // The certificate is made once: a second would orphan the token files made for the first.
  out = run_shell(cairn + "token-cert --name cli --out " + files_ / "again.pem" + node + " 2>&1",
                  status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("409"), std::string::npos) << out;
}

// A revoked token stops the syncer (no retry loop against Apple) until a new one is uploaded.
TEST_F(Ade, ARevokedTokenStopsSyncingUntilANewOneIsUploaded) {
  sim_.add_devices(2, "DEV", "iPhone", "iPhone 15");
  auto cert = post("/v1/ade/tokens/acme/certificate");
  ASSERT_EQ(cert->status, 201);
  sim_.reject_token();
  ASSERT_EQ(
      put("/v1/ade/tokens/acme", sim_.token_file(cert->body), "application/pkcs7-mime")->status,
      200);
  ASSERT_TRUE(eventually([&] {
    const auto t = token_state();
    return t["tokens"][0].HasMember("failure") &&
           std::string(t["tokens"][0]["failure"]["outcome"].GetString()) == "stopped";
  })) << node_.admin_get("/v1/ade/tokens")->body;
  const int calls = sim_.counts().refused_calls;
  std::this_thread::sleep_for(std::chrono::milliseconds(800));  // several sync intervals
  EXPECT_EQ(sim_.counts().refused_calls, calls) << "a stopped token must not be retried";
  sim_.accept_token();
  ASSERT_EQ(
      put("/v1/ade/tokens/acme", sim_.token_file(cert->body), "application/pkcs7-mime")->status,
      200);
  ASSERT_TRUE(eventually([&] { return ade_device("DEV1").HasMember("serial_number"); }));
}

}  // namespace
}  // namespace cairn::testing
