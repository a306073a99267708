// End to end: who may speak for a device (mTLS, Mdm-Signature, trusted proxy header), when 401 is
// right (only unmanaged devices), bad input (4xx + event, others unaffected) and injected
// failures (5xx, never 401; nothing acknowledged lost).
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include <openssl/ssl.h>

#include "common/encoding.hpp"
#include "crypto/certificate.hpp"
#include "projector/projection_store.hpp"
#include "tests/support/faulty_log.hpp"
#include "tests/support/messages.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_node.hpp"

namespace cairn::testing {
namespace {

int count_rejections(const std::string& data_dir, int status, const std::string& reason_part) {
  int n = 0;
  for (const auto& e : logged_events(data_dir))
    if (auto* r = std::get_if<events::MessageRejected>(&e.payload))
      n += r->http_status == status && r->reason.find(reason_part) != std::string::npos;
  return n;
}

// Options that wrap the node's log in a FaultyLog and hand it back through `faulty`.
TestNodeOptions with_faulty_log(FaultyLog*& faulty) {
  TestNodeOptions o;
  o.wrap_log = [&faulty](std::unique_ptr<eventlog::EventLog> inner) {
    auto wrapped = std::make_unique<FaultyLog>(std::move(inner));
    faulty = wrapped.get();
    return std::unique_ptr<eventlog::EventLog>(std::move(wrapped));
  };
  return o;
}

class Identity : public ::testing::Test {
 protected:
  TempDir dir;
  TestNode node{dir.path()};
};

TEST_F(Identity, UnknownDeviceGets401) {
  TestDevice d(node, "NEVER-ENROLLED");
  auto r = d.report("Idle");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(count_rejections(dir.path(), 401, "unknown device"), 1);
}

TEST_F(Identity, AnotherDevicesCertificateGets401) {
  TestDevice victim(node, "VICTIM"), attacker(node, "ATTACKER");
  victim.enroll();
  attacker.enroll();
  auto spoof = attacker.put("/mdm", report_body("VICTIM", "Idle"));
  EXPECT_EQ(spoof->status, 401);
  // A certificate bound to one UDID cannot authenticate another.
  auto steal = attacker.checkin(authenticate_body("NEW-UDID"));
  EXPECT_EQ(steal->status, 401);
  EXPECT_NE(steal->body.find("bound to another device"), std::string::npos) << steal->body;
  EXPECT_EQ(victim.report("Idle")->status, 200);  // the victim is unaffected
}

TEST_F(Identity, CheckedOutDeviceGets401UntilItReEnrolls) {
  TestDevice d(node, "DEV-1");
  d.enroll();
  EXPECT_EQ(d.checkin(checkout_body("DEV-1"))->status, 200);
  EXPECT_EQ(d.report("Idle")->status, 401);
  d.enroll();
  EXPECT_EQ(d.report("Idle")->status, 200);
}

TEST_F(Identity, CertificateFromAnotherCaIsRefusedAtTheHandshake) {
  const auto rogue_ca = pki::make_ca("Rogue", 1);
  const auto rogue = pki::issue_certificate(rogue_ca, "rogue", pki::CertUsage::kClient, {}, 1);
  TestDevice d(node, "ROGUE", &rogue);
  auto r = d.checkin(authenticate_body("ROGUE"));
  EXPECT_FALSE(r);  // TLS refuses an unverifiable client certificate
}

TEST_F(Identity, NoIdentityIs400Not401) {
  TestDevice anonymous(node, "DEV-1", nullptr);
  auto r = anonymous.report("Idle");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("no device identity"), std::string::npos);
}

TEST_F(Identity, MdmSignatureWithSha1AndSha256) {
  const auto id = node.issue_device_identity("signing device");
  TestDevice proxied(node, "SIGNED-1", nullptr);  // no TLS client certificate
  auto signed_put = [&](const std::string& path, const std::string& body, const EVP_MD* md) {
    return proxied.put(path, body,
                       {{"Mdm-Signature", mdm_signature(body, id.cert.get(), id.key.get(), md)}});
  };
  EXPECT_EQ(signed_put("/checkin", authenticate_body("SIGNED-1"), EVP_sha1())->status, 200);
  EXPECT_EQ(signed_put("/checkin", token_update_body("SIGNED-1"), EVP_sha256())->status, 200);
  EXPECT_EQ(node.enqueue("SIGNED-1", command_body("S1", "ProfileList"))->status, 200);
  auto poll = signed_put("/mdm", report_body("SIGNED-1", "Idle"), EVP_sha256());
  EXPECT_EQ(command_uuid_of(poll), "S1");
  // A signature over other bytes is a bad request, not an unenrollment.
  auto body = report_body("SIGNED-1", "Acknowledged", "S1");
  auto forged = proxied.put(
      "/mdm", body,
      {{"Mdm-Signature", mdm_signature(body + " ", id.cert.get(), id.key.get(), EVP_sha256())}});
  EXPECT_EQ(forged->status, 400);
  EXPECT_NE(forged->body.find("does not verify"), std::string::npos) << forged->body;
}

TEST(ProxyHeader, TrustedProxyPassesTheClientCertificate) {
  TempDir dir;
  TestNodeOptions options;
  options.trusted_proxy_header = "X-Ssl-Client-Cert";
  TestNode node(dir.path(), options);
  const auto id = node.issue_device_identity("proxied device");
  // nginx's $ssl_client_escaped_cert: the PEM, URL-escaped.
  std::string escaped;
  for (char c : crypto::certificate_pem(id.cert.get())) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      escaped += c;
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      escaped += buf;
    }
  }
  TestDevice behind_proxy(node, "PROXIED", nullptr);
  const httplib::Headers h{{"X-Ssl-Client-Cert", escaped}};
  EXPECT_EQ(behind_proxy.put("/checkin", authenticate_body("PROXIED"), h)->status, 200);
  EXPECT_EQ(behind_proxy.put("/checkin", token_update_body("PROXIED"), h)->status, 200);
  EXPECT_EQ(behind_proxy.put("/mdm", report_body("PROXIED", "Idle"), h)->status, 200);
  const auto rogue_ca = pki::make_ca("Rogue", 1);
  const auto rogue = pki::issue_certificate(rogue_ca, "rogue", pki::CertUsage::kClient, {}, 1);
  const httplib::Headers bad{{"X-Ssl-Client-Cert", crypto::certificate_pem(rogue.cert.get())}};
  EXPECT_EQ(behind_proxy.put("/mdm", report_body("PROXIED", "Idle"), bad)->status, 400);
}

class BadInput : public ::testing::Test {
 protected:
  TempDir dir;
  TestNode node{dir.path(), small_body_limit()};
  static TestNodeOptions small_body_limit() {
    TestNodeOptions o;
    o.max_body_bytes = 64 * 1024;
    return o;
  }
};

TEST_F(BadInput, EachIsAClear4xxRecordedAndOthersKeepBeingServed) {
  TestDevice good(node, "GOOD"), bad(node, "BAD");
  good.enroll();
  bad.enroll();
  ASSERT_EQ(node.enqueue("GOOD", command_body("G1", "ProfileList"))->status, 200);

  struct Case {
    std::string name, path, body, expect_in_reason;
    int status;
  };
  std::string deep_binary = "bplist00";
  for (int i = 0; i < 1000; ++i) deep_binary += "\xA1\x00";  // malformed refs: refused by the walk
  std::vector<Case> cases{
      {"non-plist", "/mdm", "hello, server", "not a plist", 400},
      {"truncated", "/mdm", report_body("BAD", "Idle").substr(0, 120), "plist", 400},
      {"binary bomb", "/mdm", deep_binary, "binary plist", 400},
      {"wrong type", "/mdm",
       "<plist><dict><key>UDID</key><integer>1</integer><key>Status</key><string>Idle</string></"
       "dict></plist>",
       "UDID must be a string", 400},
      {"missing UDID", "/mdm", "<plist><dict><key>Status</key><string>Idle</string></dict></plist>",
       "missing UDID", 400},
      {"unknown status", "/mdm", report_body("BAD", "Sleepy"), "unknown Status", 400},
      {"bad UDID", "/mdm", report_body("../../etc", "Idle"), "UDID must be", 400},
      {"unknown MessageType", "/checkin",
       plist_xml({{"MessageType", "Teleport"}, {"UDID", "BAD"}, {"Topic", "t"}}), "Teleport", 400},
      {"too large", "/mdm", std::string(100 * 1024, 'x'), "exceeds the limit", 413},
  };
  for (const auto& c : cases) {
    const int recorded_before = count_rejections(dir.path(), c.status, c.expect_in_reason);
    const auto started = std::chrono::steady_clock::now();
    auto r = bad.put(c.path, c.body);
    ASSERT_TRUE(r) << c.name;
    EXPECT_EQ(r->status, c.status) << c.name << ": " << r->body;
    EXPECT_NE(r->body.find(c.expect_in_reason), std::string::npos) << c.name << ": " << r->body;
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5)) << c.name;
    EXPECT_EQ(count_rejections(dir.path(), c.status, c.expect_in_reason), recorded_before + 1)
        << c.name;
    if (c.status == 413) bad.reconnect(node);  // the server closes after refusing a large body
  }
  EXPECT_EQ(command_uuid_of(good.report("Idle")), "G1");
  EXPECT_EQ(bad.report("Idle")->status, 200);  // the sender of bad input is still managed
}

TEST_F(BadInput, RejectedEventsKeepNoBodyAndNoSecret) {
  TestDevice d(node, "DEV-1");
  d.enroll();
  const std::string secret = "TOP-SECRET-UNLOCK";
  // A TokenUpdate that fails (certificate of another device) must not leak its UnlockToken.
  TestDevice other(node, "DEV-2");
  auto r = other.checkin(token_update_body("DEV-1", secret));
  EXPECT_EQ(r->status, 401);
  for (const auto& e : logged_events(dir.path()))
    EXPECT_EQ(events::encode(e).find(base64_encode(secret)), std::string::npos);
}

TEST(Secrets, UnlockTokenNeverInClearInLogOrProjection) {
  TempDir dir;
  const std::string secret = "ESCROW-KEY-0123456789-abcdefghij";
  {
    TestNode node(dir.path());
    TestDevice d(node, "DEV-1");
    ASSERT_EQ(d.checkin(authenticate_body("DEV-1"))->status, 200);
    ASSERT_EQ(d.checkin(token_update_body("DEV-1", secret))->status, 200);
  }
  const auto encoded = base64_encode(secret);
  for (const auto& e : logged_events(dir.path())) {
    const auto json = events::encode(e);
    EXPECT_EQ(json.find(secret), std::string::npos);
    EXPECT_EQ(json.find(encoded), std::string::npos);
  }
  projector::ProjectionStore store(dir / "projection");
  int values = 0;
  store.scan("", "", [&](std::string_view k, std::string_view v) {
    ++values;
    EXPECT_EQ(v.find(secret), std::string::npos) << k;
    EXPECT_EQ(v.find(encoded), std::string::npos) << k;
    return true;
  });
  EXPECT_GT(values, 0);
}

TEST(Failures, LogFailureIs503AndNothingAcknowledgedIsLost) {
  TempDir dir;
  FaultyLog* faulty = nullptr;
  TestNode node(dir.path(), with_faulty_log(faulty));
  TestDevice d(node, "DEV-1");
  d.enroll();
  ASSERT_EQ(node.enqueue("DEV-1", command_body("A", "ProfileList"))->status, 200);
  EXPECT_EQ(command_uuid_of(d.report("Idle")), "A");

  faulty->fail_appends = true;
  auto during = d.report("Acknowledged", "A");
  ASSERT_TRUE(during);
  EXPECT_EQ(during->status, 503);  // the device retries; 401 would unenroll it
  EXPECT_EQ(during->get_header_value("Retry-After"), "5");
  EXPECT_EQ(d.checkin(token_update_body("DEV-1"))->status, 503);
  EXPECT_EQ(node.enqueue("DEV-1", command_body("B", "ProfileList"))->status, 503);
  faulty->fail_appends = false;

  // The device resends its result; it is recorded now and A is done.
  EXPECT_EQ(command_uuid_of(d.report("Acknowledged", "A")), "");
  auto status = node.admin_get("/v1/commands/A");
  EXPECT_NE(status->body.find("\"status\":\"acknowledged\""), std::string::npos) << status->body;
}

TEST(Failures, StalledProjectionIs503NotAStaleAnswer) {
  TempDir dir;
  FaultyLog* faulty = nullptr;
  auto options = with_faulty_log(faulty);
  options.apply_timeout = std::chrono::milliseconds(300);
  TestNode node(dir.path(), options);
  TestDevice d(node, "DEV-1");
  d.enroll();
  ASSERT_EQ(node.enqueue("DEV-1", command_body("A", "ProfileList"))->status, 200);
  EXPECT_EQ(command_uuid_of(d.report("Idle")), "A");
  faulty->stall_reads = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(250));  // let an in-flight read return
  auto r = d.report("Acknowledged", "A");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);  // not A again (stale), not 401
  faulty->stall_reads = false;
  // The result was durably recorded before the timeout; once applied, A is done.
  auto next = d.report("Idle");
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(command_uuid_of(next), "");
}

// A device that hangs up while a large command is being written to it costs that response only:
// the process lives and keeps serving (a write to a closed socket raises SIGPIPE unless ignored).
TEST(Failures, DeviceHangingUpMidResponseDoesNotTakeTheServerDown) {
  TempDir dir;
  TestNode node(dir.path());
  TestDevice quitter(node, "QUITTER"), other(node, "OTHER");
  quitter.enroll();
  other.enroll();
  Plist command = Plist::parse(command_body("BIG", "InstallProfile"));
  plist_t inner = plist_dict_get_item(command.root(), "Command");
  const std::string profile(2u << 20, 'p');  // ~2.8 MB once base64-encoded
  plist_dict_set_item(inner, "Payload", plist_new_data(profile.data(), profile.size()));
  ASSERT_EQ(node.enqueue("QUITTER", command.to_xml())->status, 200);

  for (int attempt = 0; attempt < 3; ++attempt) {
    // Raw TLS: send the poll, then close without reading the ~2.8 MB answer.
    crypto::BioPtr bio(BIO_new_ssl_connect(SSL_CTX_new(TLS_client_method())));
    SSL* ssl = nullptr;
    BIO_get_ssl(bio.get(), &ssl);
    SSL_CTX* ctx = SSL_get_SSL_CTX(ssl);
    SSL_CTX_use_certificate(ctx, quitter.identity().cert.get());
    SSL_CTX_use_PrivateKey(ctx, quitter.identity().key.get());
    SSL_CTX_free(ctx);  // the connection holds its own reference
    BIO_set_conn_hostname(bio.get(), ("127.0.0.1:" + std::to_string(node.port())).c_str());
    ASSERT_EQ(BIO_do_connect(bio.get()), 1) << crypto::drain_openssl_errors();
    const std::string body = report_body("QUITTER", "Idle");
    const std::string request =
        "PUT /mdm HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
        "application/x-apple-aspen-mdm\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    BIO_write(bio.get(), request.data(), static_cast<int>(request.size()));
    char first[16];
    BIO_read(bio.get(), first, sizeof first);  // the answer has started: now hang up
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto r = other.report("Idle");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace cairn::testing
