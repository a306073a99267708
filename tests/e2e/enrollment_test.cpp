// End to end over real HTTPS: an admin downloads a signed enrollment profile, a device follows
// its SCEP payload to an identity from Cairn's CA, then enrolls and runs a command with it (over
// mTLS and over Mdm-Signature). Refusals are FAILURE replies and events, never silence.
#include <gtest/gtest.h>
#include <openssl/pkcs12.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/encoding.hpp"
#include "common/files.hpp"
#include "crypto/certificate.hpp"
#include "crypto/cms_signature.hpp"
#include "crypto/digest.hpp"
#include "crypto/secret_box.hpp"
#include "devsim/scep_client.hpp"
#include "enrollment/authority.hpp"
#include "pki/dev_pki.hpp"
#include "pki/scep.hpp"
#include "plist/plist.hpp"
#include "tests/support/messages.hpp"
#include "tests/support/shell.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_node.hpp"

namespace cairn::testing {
namespace {

// A command's output, errors included.
std::string run(const std::string& command, int& status) {
  return run_shell(command + " 2>&1", status);
}

const std::string kTopic = "com.apple.mgmt.enrollment-test";

// These tests assert the event of each refusal: every one is recorded (refusal_record_interval 0).
// Aggregation per address is tested in hostile_client_test.cpp.
TestNodeOptions every_refusal_recorded() {
  TestNodeOptions o;
  o.refusal_record_interval = std::chrono::seconds(0);
  return o;
}

class Enrollment : public ::testing::Test {
 protected:
  TempDir dir_;
  TestNode node_{dir_.path(), every_refusal_recorded()};

  // A client without a certificate, as a device before it has an identity.
  std::unique_ptr<httplib::SSLClient> anonymous() const {
    auto c = std::make_unique<httplib::SSLClient>("127.0.0.1", node_.port());
    c->set_ca_cert_path(node_.ca_file());
    c->enable_server_certificate_verification(true);
    return c;
  }
  void upload_push_certificate() {
    const auto r = node_.upload_push_certificate(kTopic);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  // The profile's content after checking its signature chains to the node's CA (it is signed
  // with the TLS certificate, a serverAuth certificate, as MDM servers commonly do).
  Plist verified_profile(const std::string& signed_der) const {
    return Plist::parse(crypto::verify_attached(
        signed_der, crypto::TrustStore::from_pem(crypto::certificate_pem(node_.ca().cert.get()))));
  }
  crypto::X509Ptr ra_certificate() const {
    auto r = anonymous()->Get("/scep?operation=GetCACert");
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/x-x509-ca-ra-cert");
    auto certs = pki::scep::read_certs_only(r->body);
    EXPECT_EQ(certs.size(), 2u);
    return std::move(certs.at(0));
  }
  // PKIOperation by POST, or by GET with the message in the query as certmonger sends it.
  devsim::ScepClient::Outcome pki_operation(const devsim::ScepClient& client, bool post) const {
    httplib::Result r = post ? anonymous()->Post("/scep?operation=PKIOperation", client.pkcs_req(),
                                                 "application/x-pki-message")
                             : anonymous()->Get("/scep?operation=PKIOperation&message=" +
                                                httplib::detail::encode_query_param(
                                                    base64_encode(client.pkcs_req())));
    EXPECT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/x-pki-message");
    return client.read_reply(r->body);
  }
  // A device identity through SCEP with the challenge of a profile downloaded with `query`;
  // `check_in_path` receives the profile's CheckInURL path.
  pki::Identity scep_identity(const std::string& query, std::string* check_in_path = nullptr) {
    auto r = node_.admin_get("/v1/enrollment/profile" + query);
    EXPECT_EQ(r->status, 200) << r->body;
    const Plist profile = verified_profile(r->body);
    devsim::ScepRequestOptions o;
    o.challenge =
        *profile.array("PayloadContent")->at(1).dict("PayloadContent")->string("Challenge");
    const auto ra = ra_certificate();
    devsim::ScepClient client(ra.get(), o);
    auto outcome = pki_operation(client, /*post=*/true);
    EXPECT_EQ(outcome.pki_status, pki::scep::kSuccess) << outcome.problem;
    if (check_in_path) *check_in_path = "/checkin?profile=" + *profile.string("PayloadUUID");
    return client.identity(std::move(outcome.certificate));
  }
  std::string device_record(const std::string& udid) const {
    return node_.admin_get("/v1/devices/" + udid)->body;
  }
  size_t count_events(std::string_view type) const {
    size_t n = 0;
    for (const auto& e : logged_events(node_.data_dir())) n += events::type_name(e.payload) == type;
    return n;
  }
};

TEST_F(Enrollment, ScepCapabilitiesAndCertificates) {
  auto caps = anonymous()->Get("/scep?operation=GetCACaps");
  ASSERT_EQ(caps->status, 200);
  for (const char* cap : {"POSTPKIOperation", "SHA-256", "SHA-1", "AES", "DES3", "SCEPStandard"})
    EXPECT_NE(caps->body.find(cap), std::string::npos) << cap;
  const auto ra = ra_certificate();
  EXPECT_EQ(X509_check_issued(node_.ca().cert.get(), ra.get()), X509_V_OK);
  auto unknown = anonymous()->Get("/scep?operation=GetNextCACert");
  EXPECT_EQ(unknown->status, 400);
  EXPECT_NE(unknown->body.find("unknown SCEP operation"), std::string::npos);
}

TEST_F(Enrollment, AProfileLeadsThroughScepToAManagedDevice) {
  // No push certificate yet: a profile would enroll devices nobody can wake.
  auto early = node_.admin_get("/v1/enrollment/profile");
  EXPECT_EQ(early->status, 409);
  EXPECT_NE(early->body.find("PUT /v1/pushcert"), std::string::npos);
  upload_push_certificate();
  auto download = node_.admin_get("/v1/enrollment/profile?access_rights=4095");
  ASSERT_EQ(download->status, 200) << download->body;
  EXPECT_EQ(download->get_header_value("Content-Type"), "application/x-apple-aspen-config");
  const Plist profile = verified_profile(download->body);
  const auto content = *profile.array("PayloadContent");
  ASSERT_EQ(content.size(), 3u);  // Cairn's CA (the TLS chain's root), SCEP, MDM
  EXPECT_EQ(content.at(0).data("PayloadContent"), crypto::certificate_der(node_.ca().cert.get()));
  const Plist scep = *content.at(1).dict("PayloadContent");
  const Plist mdm = content.at(2);
  const std::string base = "https://127.0.0.1:" + std::to_string(node_.port());
  EXPECT_EQ(scep.string("URL"), base + "/scep");
  EXPECT_EQ(mdm.string("ServerURL"), base + "/mdm");
  EXPECT_EQ(mdm.string("Topic"), kTopic);
  EXPECT_EQ(mdm.integer("AccessRights"), 4095);

  // CAFingerprint pins the CA as Apple's SCEP client checks it: the SHA-1 of the top of the
  // chain that GetCACert's certificates form (here Cairn's own, self-signed CA).
  const auto ca_certs =
      pki::scep::read_certs_only(anonymous()->Get("/scep?operation=GetCACert")->body);
  std::string top;
  for (const auto& c : ca_certs)
    if (X509_check_issued(c.get(), c.get()) == X509_V_OK) top = crypto::certificate_der(c.get());
  ASSERT_FALSE(top.empty()) << "GetCACert has no self-signed CA";
  EXPECT_EQ(scep.data("CAFingerprint"), crypto::sha1(top));

  // The device follows the SCEP payload: its challenge, the RA from GetCACert.
  const auto ra = ra_certificate();
  devsim::ScepRequestOptions o;
  o.challenge = *scep.string("Challenge");
  devsim::ScepClient client(ra.get(), o);
  auto outcome = pki_operation(client, /*post=*/true);
  ASSERT_EQ(outcome.problem, "");
  ASSERT_EQ(outcome.pki_status, pki::scep::kSuccess);
  const auto identity = client.identity(std::move(outcome.certificate));

  // The device checks in at the profile's CheckInURL, which names the profile: the server then
  // knows the AccessRights it was enrolled with.
  const std::string profile_uuid = *profile.string("PayloadUUID");
  const std::string check_in = *mdm.string("CheckInURL");
  EXPECT_EQ(check_in, base + "/checkin?profile=" + profile_uuid);
  TestDevice device(node_, "SCEP-1", &identity);
  const std::string check_in_path = check_in.substr(base.size());
  ASSERT_EQ(device.put(check_in_path, authenticate_body("SCEP-1"))->status, 200);
  ASSERT_EQ(device.put(check_in_path, token_update_body("SCEP-1"))->status, 200);
  const auto record = node_.admin_get("/v1/devices/SCEP-1")->body;
  EXPECT_NE(record.find("\"enrollment_profile\":\"" + profile_uuid + "\""), std::string::npos)
      << record;
  EXPECT_NE(record.find("\"access_rights\":4095"), std::string::npos) << record;
  EXPECT_EQ(device.put("/checkin?profile=../x", authenticate_body("SCEP-1"))->status, 400);
  ASSERT_EQ(node_.enqueue("SCEP-1", command_body("AFTER-SCEP", "DeviceInformation"))->status, 200);
  EXPECT_EQ(command_uuid_of(device.report("Idle")), "AFTER-SCEP");
  EXPECT_EQ(command_uuid_of(device.report("Acknowledged", "AFTER-SCEP")), "");

  // The profile's challenge was one-time: replaying it gets a FAILURE.
  const auto replayed = pki_operation(devsim::ScepClient(ra.get(), o), /*post=*/true);
  EXPECT_EQ(replayed.pki_status, pki::scep::kFailure);
  EXPECT_EQ(replayed.fail_info, "2");  // badRequest
  // A profile for many devices carries the deployment's reusable challenge instead.
  auto shared = node_.admin_get("/v1/enrollment/profile?reusable_challenge=1");
  ASSERT_EQ(shared->status, 200);
  o.challenge = *verified_profile(shared->body)
                     .array("PayloadContent")
                     ->at(1)
                     .dict("PayloadContent")
                     ->string("Challenge");
  EXPECT_EQ(pki_operation(devsim::ScepClient(ra.get(), o), false).pki_status, pki::scep::kSuccess);
  // A second device enrolls by GET and speaks through a proxy with Mdm-Signature only.
  devsim::ScepClient second(ra.get(), o);
  auto second_outcome = pki_operation(second, /*post=*/false);
  ASSERT_EQ(second_outcome.pki_status, pki::scep::kSuccess) << second_outcome.problem;
  const auto signer = second.identity(std::move(second_outcome.certificate));
  TestDevice proxied(node_, "SCEP-2", nullptr);
  auto signed_put = [&](const std::string& path, const std::string& body) {
    return proxied.put(path, body,
                       {{"Mdm-Signature",
                         mdm_signature(body, signer.cert.get(), signer.key.get(), EVP_sha256())}});
  };
  EXPECT_EQ(signed_put("/checkin", authenticate_body("SCEP-2"))->status, 200);
  EXPECT_EQ(signed_put("/checkin", token_update_body("SCEP-2"))->status, 200);
  ASSERT_EQ(node_.enqueue("SCEP-2", command_body("SIGNED", "ProfileList"))->status, 200);
  EXPECT_EQ(command_uuid_of(signed_put("/mdm", report_body("SCEP-2", "Idle"))), "SIGNED");

  EXPECT_EQ(count_events("CertificateIssued"), 3u);
  EXPECT_EQ(count_events("ProfileIssued"), 2u);
  EXPECT_EQ(count_events("EnrollmentRefused"), 1u);
}

// Renewal (RFC 8894 RenewalReq, signed with the current identity) gives the enrolled device a
// successor identity bound to its UDID; its first use retires the old one.
TEST_F(Enrollment, ARenewedIdentityIsBoundToTheSameDeviceAndRetiresTheOld) {
  upload_push_certificate();
  const auto first = scep_identity("");
  TestDevice device(node_, "RENEW-1", &first);
  device.enroll();
  const auto ra = ra_certificate();
  devsim::ScepRequestOptions o;
  o.renew = &first;
  devsim::ScepClient renewal(ra.get(), o);
  auto outcome = pki_operation(renewal, /*post=*/true);
  ASSERT_EQ(outcome.pki_status, pki::scep::kSuccess) << outcome.problem;
  const auto second = renewal.identity(std::move(outcome.certificate));
  const std::string renewed = crypto::certificate_fingerprint(second.cert.get());
  EXPECT_NE(device_record("RENEW-1").find("\"pending_identities\":[\"" + renewed + "\"]"),
            std::string::npos);
  EXPECT_EQ(device.report("Idle")->status, 200);  // the old one works until the new one is used

  ASSERT_EQ(node_.enqueue("RENEW-1", command_body("AFTER-RENEWAL", "DeviceInformation"))->status,
            200);
  TestDevice renewed_device(node_, "RENEW-1", &second);
  EXPECT_EQ(command_uuid_of(renewed_device.report("Idle")), "AFTER-RENEWAL");
  EXPECT_NE(device_record("RENEW-1").find("\"certificate_fingerprint\":\"" + renewed),
            std::string::npos);
  EXPECT_EQ(device.report("Idle")->status, 401);

  // The retired identity cannot renew again, nor can one from another CA.
  devsim::ScepRequestOptions retired;
  retired.renew = &first;
  const auto again = pki_operation(devsim::ScepClient(ra.get(), retired), true);
  EXPECT_EQ(again.pki_status, pki::scep::kFailure);
  EXPECT_EQ(again.fail_info, "4");  // badCertId
  const auto stranger = pki::issue_certificate(pki::make_ca("Not Cairn", 1), "RENEW-1",
                                               pki::CertUsage::kClient, {}, 1);
  devsim::ScepRequestOptions foreign;
  foreign.renew = &stranger;
  EXPECT_EQ(pki_operation(devsim::ScepClient(ra.get(), foreign), true).fail_info, "4");
  // Generic SCEP clients renew what they hold with the challenge they were given: judged like a
  // PKCSReq (an identity, bound to no device).
  foreign.challenge =
      *verified_profile(node_.admin_get("/v1/enrollment/profile?reusable_challenge=1")->body)
           .array("PayloadContent")
           ->at(1)
           .dict("PayloadContent")
           ->string("Challenge");
  EXPECT_EQ(pki_operation(devsim::ScepClient(ra.get(), foreign), true).pki_status,
            pki::scep::kSuccess);
  EXPECT_EQ(count_events("IdentityBound"), 1u);
  const auto caps = anonymous()->Get("/scep?operation=GetCACaps");
  EXPECT_NE(caps->body.find("Renewal"), std::string::npos);
}

// Another identity claiming an enrolled UDID would receive that device's commands: refused,
// unless the identity was issued for that UDID or an admin allowed it.
TEST_F(Enrollment, AnEnrolledDeviceIsNotTakenOverByAnotherIdentity) {
  upload_push_certificate();
  const auto owner = scep_identity("");
  TestDevice device(node_, "HELD-1", &owner);
  device.enroll();
  // The deployment's reusable challenge gives anyone an identity, but not this device.
  const auto other = scep_identity("?reusable_challenge=1");
  TestDevice intruder(node_, "HELD-1", &other);
  const auto refused = intruder.checkin(authenticate_body("HELD-1"));
  EXPECT_EQ(refused->status, 403);
  EXPECT_NE(refused->body.find("/v1/devices/HELD-1/reenrollment"), std::string::npos);
  EXPECT_EQ(device.report("Idle")->status, 200);

  // A profile made for this device (sent with InstallProfile to replace its identity, say).
  std::string check_in;
  const auto vouched = scep_identity("?udid=HELD-1&development_apns=1", &check_in);
  TestDevice replacement(node_, "HELD-1", &vouched);
  EXPECT_EQ(replacement.put(check_in, authenticate_body("HELD-1"))->status, 200);
  EXPECT_NE(device_record("HELD-1").find("\"development_apns\":true"), std::string::npos);
  EXPECT_EQ(node_.admin_get("/v1/enrollment/profile?udid=a/b")->status, 400);
  EXPECT_EQ(node_.admin_get("/v1/enrollment/profile?udid=HELD-1&reusable_challenge=1")->status,
            400);

  // An admin allows one re-enrollment (the device was reset by hand).
  EXPECT_EQ(intruder.checkin(authenticate_body("HELD-1"))->status, 403);
  EXPECT_EQ(
      node_.admin()->Post("/v1/devices/HELD-1/reenrollment?hours=0", "", "text/plain")->status,
      400);
  const auto allowed =
      node_.admin()->Post("/v1/devices/HELD-1/reenrollment?note=reset", "", "text/plain");
  EXPECT_EQ(allowed->status, 200);
  EXPECT_NE(allowed->body.find("reenrollment_allowed_until"), std::string::npos);
  EXPECT_EQ(intruder.checkin(authenticate_body("HELD-1"))->status, 200);
  EXPECT_EQ(node_.admin()->Post("/v1/devices/NOPE/reenrollment", "", "text/plain")->status, 404);
  EXPECT_EQ(count_events("ReenrollmentAllowed"), 1u);
}

TEST_F(Enrollment, WrongOrMissingChallengeAndBadSignaturesGetFailureRepliesAndEvents) {
  const auto ra = ra_certificate();
  devsim::ScepRequestOptions wrong;
  wrong.challenge = "guessed";
  auto outcome = pki_operation(devsim::ScepClient(ra.get(), wrong), true);
  EXPECT_EQ(outcome.problem, "");
  EXPECT_EQ(outcome.pki_status, pki::scep::kFailure);
  EXPECT_EQ(outcome.fail_info, "2");                                // badRequest
  outcome = pki_operation(devsim::ScepClient(ra.get(), {}), true);  // no challenge at all
  EXPECT_EQ(outcome.fail_info, "2");
  devsim::ScepRequestOptions forged;
  forged.challenge = "guessed";
  forged.corrupt_signature = true;
  outcome = pki_operation(devsim::ScepClient(ra.get(), forged), false);
  EXPECT_EQ(outcome.fail_info, "1");  // badMessageCheck
  auto garbage = anonymous()->Post("/scep?operation=PKIOperation", "not a pkiMessage",
                                   "application/x-pki-message");
  EXPECT_EQ(garbage->status, 400);
  EXPECT_EQ(count_events("EnrollmentRefused"), 4u);
  EXPECT_EQ(count_events("CertificateIssued"), 0u);
  // The server keeps serving everyone else.
  EXPECT_EQ(anonymous()->Get("/scep?operation=GetCACaps")->status, 200);
}

TEST_F(Enrollment, APkcs12ProfileCarriesAnIdentityTheServerAccepts) {
  upload_push_certificate();
  auto download = node_.admin_get("/v1/enrollment/profile?identity=pkcs12&device_name=Kiosk%2017");
  ASSERT_EQ(download->status, 200) << download->body;
  const Plist p12_payload = verified_profile(download->body).array("PayloadContent")->at(1);
  ASSERT_EQ(p12_payload.string("PayloadType"), "com.apple.security.pkcs12");
  const auto der = *p12_payload.data("PayloadContent");
  const auto* q = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<PKCS12, decltype(&PKCS12_free)> p12(
      d2i_PKCS12(nullptr, &q, static_cast<long>(der.size())), PKCS12_free);
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  ASSERT_EQ(PKCS12_parse(p12.get(), p12_payload.string("Password")->c_str(), &key, &cert, nullptr),
            1);
  const pki::Identity identity{crypto::PkeyPtr(key), crypto::X509Ptr(cert)};
  EXPECT_NE(crypto::certificate_subject(identity.cert.get()).find("Kiosk 17"), std::string::npos);
  TestDevice device(node_, "P12-1", &identity);
  device.enroll();
  EXPECT_EQ(count_events("CertificateIssued"), 1u);
  // No secret reached the log: neither the password nor the key.
  for (const auto& e : logged_events(node_.data_dir()))
    EXPECT_EQ(events::encode(e).find(*p12_payload.string("Password")), std::string::npos);

  EXPECT_EQ(node_.admin_get("/v1/enrollment/profile?identity=ldap")->status, 400);
  EXPECT_EQ(node_.admin_get("/v1/enrollment/profile?access_rights=2")->status, 400);
  EXPECT_EQ(node_.admin_get("/v1/enrollment/profile?topic=com.apple.mgmt.other")->status, 409);
}

// OTA enrollment, the flow in the seeds: invitation → signed Profile Service payload → the
// device's signed attributes → the enrollment profile, once per invitation.
TEST(EnrollmentOta, AnInvitationLeadsThroughSignedAttributesToOneProfile) {
  TempDir files, data;
  const auto device_ca = pki::make_ca("Stand-in Apple device CA", 30);
  write_file(files / "device-ca.pem", crypto::certificate_pem(device_ca.cert.get()), false);
  TestNodeOptions options = every_refusal_recorded();
  options.ota_device_ca_file = files / "device-ca.pem";
  TestNode node(data.path(), options);
  ASSERT_EQ(node.upload_push_certificate(kTopic)->status, 200);
  auto invite = [&](const std::string& query) {
    auto r = node.admin()->Post("/v1/enrollment/invitations" + query, "", "text/plain");
    EXPECT_EQ(r->status, 201) << r->body;
    const auto at = r->body.find("\"token\":\"");
    return r->body.substr(at + 9, 32);
  };
  auto device = std::make_unique<httplib::SSLClient>("127.0.0.1", node.port());
  device->set_ca_cert_path(node.ca_file());
  device->enable_server_certificate_verification(true);
  const auto trust = crypto::TrustStore::from_pem(crypto::certificate_pem(node.ca().cert.get()));
  const auto attested =
      pki::issue_certificate(device_ca, "iPhone device", pki::CertUsage::kClient, {}, 30);
  auto attributes = [](const std::string& challenge, const std::string& udid) {
    Plist p = Plist::new_dict();
    p.set_string("CHALLENGE", challenge);
    p.set_string("UDID", udid);
    p.set_string("PRODUCT", "iPhone15,2");
    p.set_string("VERSION", "21A329");
    p.set_string("SERIAL", "F2LXK0ABCDEF");
    return p.to_xml();
  };
  auto post = [&](const std::string& token, const std::string& body, const pki::Identity& signer) {
    return device->Post("/enroll/" + token,
                        crypto::sign_attached(body, signer.cert.get(), signer.key.get(), {}),
                        "application/pkcs7-signature");
  };

  const std::string token = invite("?ttl_seconds=600&note=Ana");
  // Phase 1: the link opened on the device.
  auto phase1 = device->Get("/enroll/" + token);
  ASSERT_EQ(phase1->status, 200) << phase1->body;
  EXPECT_EQ(phase1->get_header_value("Content-Type"), "application/x-apple-aspen-config");
  const Plist service = Plist::parse(crypto::verify_attached(phase1->body, trust));
  EXPECT_EQ(service.string("PayloadType"), "Profile Service");
  const Plist content = *service.dict("PayloadContent");
  EXPECT_EQ(content.string("URL"),
            "https://127.0.0.1:" + std::to_string(node.port()) + "/enroll/" + token);
  EXPECT_EQ(content.string("Challenge"), token);
  EXPECT_EQ(content.array("DeviceAttributes")->size(), 6u);
  // Phase 2: the device's signed attributes; the answer is the enrollment profile.
  auto phase2 = post(token, attributes(token, "OTA-UDID-1"), attested);
  ASSERT_EQ(phase2->status, 200) << phase2->body;
  const Plist profile = Plist::parse(crypto::verify_attached(phase2->body, trust));
  EXPECT_EQ(profile.array("PayloadContent")->at(2).string("Topic"), kTopic);
  // The token is used up.
  EXPECT_EQ(post(token, attributes(token, "OTA-UDID-2"), attested)->status, 410);
  EXPECT_EQ(device->Get("/enroll/" + token)->status, 410);

  const std::string second = invite("");
  const auto stranger = pki::issue_certificate(pki::make_ca("Not Apple", 30), "fake",
                                               pki::CertUsage::kClient, {}, 30);
  auto untrusted = post(second, attributes(second, "OTA-UDID-3"), stranger);
  EXPECT_EQ(untrusted->status, 400);
  EXPECT_NE(untrusted->body.find("not trusted"), std::string::npos) << untrusted->body;
  EXPECT_EQ(post(second, attributes(invite(""), "OTA-UDID-3"), attested)->status, 400);
  EXPECT_EQ(post(second, attributes(second, "bad/udid"), attested)->status, 400);
  EXPECT_EQ(device->Get("/enroll/00000000000000000000000000000000")->status, 404);
  const std::string brief = invite("?ttl_seconds=1");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto expired = device->Get("/enroll/" + brief);
  EXPECT_EQ(expired->status, 410);
  EXPECT_NE(expired->body.find("expired"), std::string::npos);
  EXPECT_EQ(
      node.admin()->Post("/v1/enrollment/invitations?ttl_seconds=0", "", "text/plain")->status,
      400);

  size_t requested = 0, refused = 0;
  for (const auto& e : logged_events(node.data_dir())) {
    requested += events::type_name(e.payload) == "EnrollmentRequested";
    // The device CA vouched for the UDID: the profile (and the identity it yields) is for it.
    if (const auto* issued = std::get_if<events::ProfileIssued>(&e.payload)) {
      EXPECT_EQ(issued->udid, "OTA-UDID-1");
    }
    refused += events::type_name(e.payload) == "EnrollmentRefused";
    // The token never reaches the log; only its hash does.
    EXPECT_EQ(events::encode(e).find(token), std::string::npos);
  }
  EXPECT_EQ(requested, 1u);
  EXPECT_EQ(refused, 7u);
}

// Every certificate that can strand the fleet or a device is reported before it expires.
TEST(EnrollmentExpiry, CertificatesAndIdentitiesAreReportedWithDaysLeft) {
  TempDir dir;
  TestNodeOptions options;
  options.identity_days = 10;  // issued identities expire inside the 30-day window
  TestNode node(dir.path(), options);
  auto anonymous = std::make_unique<httplib::SSLClient>("127.0.0.1", node.port());
  anonymous->set_ca_cert_path(node.ca_file());
  anonymous->enable_server_certificate_verification(true);
  const auto ra = pki::scep::read_certs_only(anonymous->Get("/scep?operation=GetCACert")->body);
  devsim::ScepRequestOptions o;
  o.common_name = "soon-expiring-device";
  o.challenge = crypto::SecretBox::load_or_create(node.data_dir())
                    .derive_passphrase(enrollment::kScepChallengePurpose);
  devsim::ScepClient client(ra.at(0).get(), o);
  const auto reply = anonymous->Post("/scep?operation=PKIOperation", client.pkcs_req(),
                                     "application/x-pki-message");
  ASSERT_EQ(client.read_reply(reply->body).pki_status, pki::scep::kSuccess);

  const auto report = node.admin_get("/v1/certificates")->body;  // 30 days by default
  for (const char* role : {"\"role\":\"tls\"", "\"role\":\"ca\"", "\"role\":\"scep-ra\""})
    EXPECT_NE(report.find(role), std::string::npos) << role << " in " << report;
  EXPECT_NE(report.find("soon-expiring-device"), std::string::npos) << report;
  EXPECT_NE(report.find("\"days_left\":9"), std::string::npos) << report;
  EXPECT_EQ(node.admin_get("/v1/certificates?within_days=5")->body.find("soon-expiring-device"),
            std::string::npos);
  EXPECT_EQ(node.admin_get("/v1/certificates?within_days=x")->status, 400);
  const auto metrics = node.admin_get("/metrics")->body;
  EXPECT_NE(metrics.find("cairn_device_identities_expiring{within_days=\"30\"} 1\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("cairn_certificate_expiry_timestamp_seconds{role=\"ca\""),
            std::string::npos);
}

// `cairn profile`: the same download from the command line, checked and summarized.
TEST_F(Enrollment, TheProfileCommandDownloadsAndChecksTheProfile) {
  const std::string command =
      std::string(CAIRN_BINARY) +
      " profile --server https://127.0.0.1:" + std::to_string(node_.port()) + " --api-key " +
      node_.api_key() + " --ca-file " + node_.ca_file() + " --out " + (dir_ / "p.mobileconfig");
  int status = 0;
  auto out = run(command, status);
  EXPECT_EQ(status, 1);  // no push certificate yet: the server's 409 reaches the admin
  EXPECT_NE(out.find("409"), std::string::npos) << out;
  upload_push_certificate();
  out = run(command + " --access-rights 4095 --sign-message", status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("signature verified"), std::string::npos) << out;
  EXPECT_NE(out.find("com.apple.security.scep"), std::string::npos) << out;
  EXPECT_NE(out.find("topic " + kTopic + ", access rights 4095"), std::string::npos) << out;
  const auto mdm =
      verified_profile(read_file(dir_ / "p.mobileconfig")).array("PayloadContent")->at(2);
  EXPECT_EQ(mdm.boolean("SignMessage"), true);
  // A profile the admin's CA file does not vouch for is refused, not written.
  TempDir other;
  std::ofstream(other / "ca.pem") << crypto::certificate_pem(pki::make_ca("Other", 1).cert.get());
  out = run(std::string(CAIRN_BINARY) + " profile --server https://127.0.0.1:" +
                std::to_string(node_.port()) + " --api-key " + node_.api_key() + " --ca-file " +
                (other / "ca.pem") + " --out " + (other / "p.mobileconfig"),
            status);
  EXPECT_EQ(status, 1);
  EXPECT_FALSE(std::filesystem::exists(other / "p.mobileconfig"));
}

// The push-certificate workflow from the command line: the customer's CSR, the vendor's
// signature, and the certificate "Apple" issues for the CSR's key uploaded with that key.
TEST_F(Enrollment, PushCertificateWorkflowFromTheCommandLine) {
  const std::string cairn = CAIRN_BINARY;
  int status = 0;
  auto out =
      run(cairn + " pushcert csr --data-dir " + node_.data_dir() + " --out " + (dir_ / "push.csr"),
          status);
  ASSERT_EQ(status, 0) << out;
  out = run(cairn + " pushcert csr --data-dir " + node_.data_dir(), status);
  EXPECT_EQ(status, 1);  // the key is never replaced behind the admin's back
  EXPECT_NE(out.find("move it away"), std::string::npos) << out;

  // The vendor's RSA identity, in a p12 as vendors keep it.
  pki::Identity vendor{pki::generate_rsa_key(2048), nullptr};
  crypto::X509Ptr vendor_name(X509_new());
  X509_NAME_add_entry_by_txt(X509_get_subject_name(vendor_name.get()), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("MDM Vendor"), -1, -1, 0);
  vendor.cert = pki::issue_for_public_key(node_.ca(), X509_get_subject_name(vendor_name.get()),
                                          vendor.key.get(), 30);
  write_file(dir_ / "vendor.p12", pki::pkcs12_der(vendor, {}, "vendor-pw", "vendor"), false);
  out = run(cairn + " pushcert vendor-sign --csr " + (dir_ / "push.csr") + " --vendor-p12 " +
                (dir_ / "vendor.p12") + " --out " + (dir_ / "request.b64"),
            status);
  EXPECT_EQ(status, 1);  // the password comes from the environment only
  out = run("CAIRN_VENDOR_P12_PASSWORD=vendor-pw " + cairn + " pushcert vendor-sign --csr " +
                (dir_ / "push.csr") + " --vendor-p12 " + (dir_ / "vendor.p12") + " --out " +
                (dir_ / "request.b64"),
            status);
  ASSERT_EQ(status, 0) << out;
  const Plist request = Plist::parse(base64_decode(read_file(dir_ / "request.b64")));
  const std::string csr_der = base64_decode(*request.string("PushCertRequestCSR"));

  // "Apple" issues the push certificate for the CSR's key, with the topic as the subject's UID.
  const auto* p = reinterpret_cast<const unsigned char*>(csr_der.data());
  pki::scep::X509ReqPtr csr(d2i_X509_REQ(nullptr, &p, static_cast<long>(csr_der.size())),
                            X509_REQ_free);
  ASSERT_TRUE(csr);
  crypto::X509Ptr subject(X509_new());
  X509_NAME_add_entry_by_NID(X509_get_subject_name(subject.get()), NID_userId, MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(kTopic.c_str()), -1, -1, 0);
  const auto issued = pki::issue_for_public_key(node_.ca(), X509_get_subject_name(subject.get()),
                                                X509_REQ_get0_pubkey(csr.get()), 365);
  write_file(dir_ / "push.pem", crypto::certificate_pem(issued.get()), false);
  out =
      run(cairn + " pushcert upload --data-dir " + node_.data_dir() + " --cert " +
              (dir_ / "push.pem") + " --server https://127.0.0.1:" + std::to_string(node_.port()) +
              " --api-key " + node_.api_key() + " --ca-file " + node_.ca_file(),
          status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(node_.admin_get("/v1/pushcerts")->body.find(kTopic), std::string::npos);
}

// Interop with a SCEP client that is not ours: certmonger's scep-submit (Debian's certmonger).
// It sends PKIOperation by GET, checks the CertRep's signature, transaction and nonces itself,
// and prints the still-encrypted envelope on success (exit 0) or the failInfo (exit 2). It
// trusts its -R file for its first request only (then the system store), so it talks plain HTTP
// here, as SCEP often does: the messages are signed and encrypted end to end.
TEST(EnrollmentInterop, CertmongersScepSubmitEnrolls) {
  const std::string scep_submit = "/usr/lib/certmonger/scep-submit";
  ASSERT_TRUE(std::filesystem::exists(scep_submit)) << "ops/install-deps.sh installs certmonger";
  TempDir dir_;
  TestNodeOptions plain;
  plain.tls = false;
  TestNode node_(dir_.path(), plain);
  const std::string url = "http://127.0.0.1:" + std::to_string(node_.port()) + "/scep";
  const std::string base = scep_submit + " -u " + url;
  int status = 0;
  EXPECT_NE(run(base + " -c", status).find("POSTPKIOperation"), std::string::npos);
  EXPECT_EQ(status, 0);
  const std::string certs = run(base + " -C", status);
  EXPECT_EQ(status, 0);
  const auto pem = crypto::parse_certificates_pem(certs);
  ASSERT_EQ(pem.size(), 2u) << certs;  // the RA, then the CA
  const auto& ra = pem[0];
  std::ofstream(dir_ / "ra.pem") << crypto::certificate_pem(ra.get());
  std::ofstream(dir_ / "ca.pem") << crypto::certificate_pem(pem[1].get());

  devsim::ScepRequestOptions o;
  o.challenge = cairn::crypto::SecretBox::load_or_create(node_.data_dir())
                    .derive_passphrase(enrollment::kScepChallengePurpose);
  o.digest = EVP_sha1();
  o.cipher = EVP_des_ede3_cbc();
  devsim::ScepClient client(ra.get(), o);
  std::ofstream(dir_ / "request.b64") << base64_encode(client.pkcs_req());
  const std::string submit = base + " -r " + (dir_ / "ra.pem") + " -N " + (dir_ / "ca.pem") +
                             " -p " + (dir_ / "request.b64");
  const std::string issued = run(submit, status);
  ASSERT_EQ(status, 0) << issued;
  const auto begin = issued.find("-----BEGIN PKCS7-----");
  const auto end = issued.find("-----END PKCS7-----");
  ASSERT_NE(begin, std::string::npos) << issued;
  const std::string b64 = issued.substr(begin + 21, end - begin - 21);
  const auto certificate = client.certificate_from(base64_decode(b64));
  ASSERT_TRUE(certificate);
  EXPECT_EQ(X509_check_issued(node_.ca().cert.get(), certificate.get()), X509_V_OK);

  devsim::ScepRequestOptions wrong = o;
  wrong.challenge = "not it";
  devsim::ScepClient refused(ra.get(), wrong);
  std::ofstream(dir_ / "refused.b64") << base64_encode(refused.pkcs_req());
  run(base + " -r " + (dir_ / "ra.pem") + " -N " + (dir_ / "ca.pem") + " -p " +
          (dir_ / "refused.b64"),
      status);
  EXPECT_EQ(status, 2);  // rejected, as certmonger reads our FAILURE reply
}

// An organisation's own PKI: an intermediate of its root becomes Cairn's issuing CA. The server
// serves its certificate with the intermediate, profiles carry what devices must trust, and only
// identities from the intermediate (not the whole root) are device identities.
TEST(EnrollmentExternalCa, AnImportedIntermediateIssuesTheServerAndDeviceIdentities) {
  TempDir files, data;
  const auto root = pki::make_ca("Org Root CA", 30);
  const auto issuing = pki::make_ca("Org MDM CA", 30, &root);
  const std::string passphrase = "org-secret";
  const std::string issuing_pem = crypto::certificate_pem(issuing.cert.get());
  const std::string root_pem = crypto::certificate_pem(root.cert.get());
  write_file(files / "chain.pem", issuing_pem + root_pem, false);
  write_file(files / "reversed.pem", root_pem + issuing_pem, false);
  write_file(files / "root.pem", root_pem, false);
  write_file(files / "ca.key", pki::private_key_pem(issuing.key.get(), &passphrase), true);
  const auto leaf = pki::issue_certificate(root, "not a CA", pki::CertUsage::kClient, {}, 30);
  write_file(files / "leaf.pem", crypto::certificate_pem(leaf.cert.get()), false);
  auto import = [&](const std::string& cert, const std::string& key_passphrase, int& status) {
    return run("CAIRN_CA_KEY_PASSPHRASE=" + key_passphrase + " " + std::string(CAIRN_BINARY) +
                   " pki import-ca --data-dir " + data.path() + " --cert " + (files / cert) +
                   " --key " + (files / "ca.key"),
               status);
  };
  int status = 0;
  EXPECT_NE(import("leaf.pem", passphrase, status).find("not a CA"), std::string::npos);
  EXPECT_NE(status, 0);
  EXPECT_NE(import("chain.pem", "wrong", status).find("passphrase"), std::string::npos);
  EXPECT_NE(import("reversed.pem", passphrase, status).find("did not issue the one before"),
            std::string::npos);
  const auto imported = import("chain.pem", passphrase, status);
  ASSERT_EQ(status, 0) << imported;
  EXPECT_NE(import("chain.pem", passphrase, status).find("exists"), std::string::npos);
  EXPECT_NE(status, 0);
  const std::string stored_key = read_file(pki::dev_pki_paths(data.path()).ca_key());
  EXPECT_NE(stored_key.find("ENCRYPTED"), std::string::npos);

  TestNode node(data.path());
  EXPECT_EQ(X509_cmp(node.ca().cert.get(), issuing.cert.get()), 0);
  // A client that trusts the root alone reaches the server: it serves the intermediate.
  httplib::SSLClient by_root("127.0.0.1", node.port());
  by_root.set_ca_cert_path(files / "root.pem");
  by_root.enable_server_certificate_verification(true);
  const auto health = by_root.Get("/healthz");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);

  TestDevice device(node, "EXT-1");  // its identity from the node's CA: the intermediate
  device.enroll();
  // Another certificate of the same organisation is no device identity here.
  TestDevice stranger(node, "EXT-2", &leaf);
  const auto refused = stranger.checkin(authenticate_body("EXT-2"));
  EXPECT_TRUE(!refused || refused->status != 200);
  EXPECT_EQ(node.admin_get("/v1/devices/EXT-2")->status, 404);

  ASSERT_EQ(node.upload_push_certificate(kTopic)->status, 200);
  const auto download = node.admin_get("/v1/enrollment/profile");
  ASSERT_EQ(download->status, 200) << download->body;
  const Plist profile =
      Plist::parse(crypto::verify_attached(download->body, crypto::TrustStore::from_pem(root_pem)));
  const auto content = *profile.array("PayloadContent");
  ASSERT_EQ(content.size(), 4u);  // the intermediate, the root, SCEP, MDM
  EXPECT_EQ(content.at(0).data("PayloadContent"), crypto::certificate_der(issuing.cert.get()));
  EXPECT_EQ(content.at(1).data("PayloadContent"), crypto::certificate_der(root.cert.get()));
}

}  // namespace
}  // namespace cairn::testing
