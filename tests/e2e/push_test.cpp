// The whole loop with pushes, through a real node: an admin uploads a push certificate and
// enqueues a command; the dispatcher pushes the device through the APNs simulator (HTTP/2, TLS,
// client certificate); the device, woken, polls and acknowledges.
#include <gtest/gtest.h>
#include <openssl/pkcs12.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "common/encoding.hpp"
#include "crypto/certificate.hpp"
#include "devsim/fleet.hpp"
#include "ops/apns_simulator/apns_simulator.hpp"
#include "pki/issuer.hpp"
#include "tests/support/apns.hpp"
#include "tests/support/messages.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_node.hpp"

namespace cairn::testing {
namespace {

using namespace std::chrono_literals;

const std::string kTopic = "com.apple.mgmt.test";  // the test devices' topic

class Push : public ::testing::Test {
 protected:
  Push() {
    apns_.sim().on_accepted([this](const apns_sim::RecordedPush& p) {
      std::lock_guard lock(mu_);
      woken_.push_back(p.token_hex);
      cv_.notify_all();
    });
    TestNodeOptions options;
    options.apns = apns_.client_options();
    std::filesystem::create_directories(dir_ / "node");
    node_ = std::make_unique<TestNode>(dir_ / "node", options);
  }

  httplib::Result upload(const std::string& body) {
    return node_->admin()->Put("/v1/pushcert", body, "application/x-pem-file");
  }
  std::string push_certificate_upload(int days) {
    return apns_.push_certificate_upload(kTopic, days);
  }
  bool wait_for_push(size_t count) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return woken_.size() >= count; });
  }

  TempDir dir_;
  TestApns apns_{dir_ / "apns-ca.pem"};
  std::unique_ptr<TestNode> node_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> woken_;
};

TEST_F(Push, EnqueuePushPollAcknowledge) {
  auto uploaded = upload(push_certificate_upload(400));
  ASSERT_TRUE(uploaded);
  ASSERT_EQ(uploaded->status, 200) << uploaded->body;
  EXPECT_NE(uploaded->body.find("\"topic\":\"" + kTopic + "\""), std::string::npos);
  auto listed = node_->admin_get("/v1/pushcerts");
  EXPECT_NE(listed->body.find("\"expiring_soon\":false"), std::string::npos) << listed->body;
  EXPECT_EQ(listed->body.find("PRIVATE KEY"), std::string::npos);

  TestDevice d(*node_, "PUSHED-1");
  d.enroll();
  ASSERT_EQ(node_->enqueue("PUSHED-1", command_body("CMD-1", "ProfileList"))->status, 200);
  ASSERT_TRUE(wait_for_push(1)) << "no push reached the simulator";
  const auto push = apns_.sim().pushes().back();
  EXPECT_EQ(push.token_hex, token_hex_of("PUSHED-1"));
  EXPECT_EQ(push.body, R"({"mdm":"PUSH-MAGIC-PUSHED-1"})");
  // Woken, the device polls and works through its queue.
  EXPECT_EQ(command_uuid_of(d.report("Idle")), "CMD-1");
  EXPECT_EQ(command_uuid_of(d.report("Acknowledged", "CMD-1")), "");
  // The dispatcher records PushSent once APNs answered; the device API shows it when applied.
  std::string device;
  for (int i = 0; i < 100 && device.find("\"last_push_at\"") == std::string::npos; ++i) {
    if (i) std::this_thread::sleep_for(100ms);
    device = node_->admin_get("/v1/devices/PUSHED-1")->body;
  }
  EXPECT_NE(device.find("\"last_push_at\""), std::string::npos) << device;
  // Nothing in the log holds the push certificate's private key in clear.
  for (const auto& e : logged_events(node_->data_dir())) {
    if (auto* c = std::get_if<events::PushCertificateUploaded>(&e.payload)) {
      EXPECT_TRUE(c->private_key_sealed.starts_with("v1."));
    }
  }
  std::ifstream log(node_->data_dir() + "/log/events.log", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(log)), {});
  EXPECT_EQ(bytes.find("PRIVATE KEY"), std::string::npos);
}

TEST_F(Push, BadUploadsAreClear400s) {
  const auto good = push_certificate_upload(400);
  const auto cert_only = good.substr(0, good.find("-----BEGIN PRIVATE KEY"));
  const auto other = push_certificate_upload(400);
  const auto other_key = other.substr(other.find("-----BEGIN PRIVATE KEY"));
  const auto stranger =
      pki::issue_certificate(apns_.ca(), "not a push cert", pki::CertUsage::kClient, {}, 400);
  const std::vector<std::pair<std::string, std::string>> cases{
      {"garbage", "no PEM certificate"},
      {cert_only, "no clear PEM private key"},
      {cert_only + other_key, "does not belong to the certificate"},
      {crypto::certificate_pem(stranger.cert.get()) +
           pki::private_key_pem(stranger.key.get(), nullptr),
       "no UID"},
  };
  for (const auto& [body, reason] : cases) {
    auto r = upload(body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << reason;
    EXPECT_NE(r->body.find(reason), std::string::npos) << r->body;
  }
  EXPECT_NE(node_->admin_get("/v1/pushcerts")->body.find("\"push_certificates\":[]"),
            std::string::npos);
}

TEST_F(Push, APkcs12FileOpensWithItsPasswordOnly) {
  const auto cert = pki::issue_push_certificate(apns_.ca(), kTopic, 400);
  std::unique_ptr<PKCS12, crypto::OpensslDeleter<PKCS12, PKCS12_free>> p12(PKCS12_create(
      "s3cret pass", "push", cert.key.get(), cert.cert.get(), nullptr, 0, 0, 0, 0, 0));
  ASSERT_TRUE(p12);
  unsigned char* der = nullptr;
  const int len = i2d_PKCS12(p12.get(), &der);
  const std::string file(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  auto put = [&](const std::string& password) {
    return node_->admin()->Put("/v1/pushcert", {{"Cairn-PKCS12-Password", password}}, file,
                               "application/x-pkcs12");
  };
  auto wrong = put("not it");
  EXPECT_EQ(wrong->status, 400);
  EXPECT_NE(wrong->body.find("wrong password"), std::string::npos) << wrong->body;
  auto right = put("s3cret pass");
  EXPECT_EQ(right->status, 200) << right->body;
  EXPECT_NE(right->body.find(kTopic), std::string::npos);
  // The password is nowhere in the log.
  std::ifstream log(node_->data_dir() + "/log/events.log", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(log)), {});
  EXPECT_EQ(bytes.find("s3cret pass"), std::string::npos);
}

// In the API and in the metrics an SRE alerts on.
TEST_F(Push, ACertificateNearItsEndIsFlagged) {
  ASSERT_EQ(upload(push_certificate_upload(10))->status, 200);
  auto listed = node_->admin_get("/v1/pushcerts");
  EXPECT_NE(listed->body.find("\"expiring_soon\":true"), std::string::npos) << listed->body;
  const auto metrics = node_->admin_get("/metrics");
  ASSERT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->get_header_value("Content-Type"), "text/plain; version=0.0.4");
  EXPECT_NE(
      metrics->body.find("cairn_push_certificate_expiring_soon{topic=\"" + kTopic + "\"} 1\n"),
      std::string::npos)
      << metrics->body;
  const auto expiry = metrics->body.find(
      "cairn_push_certificate_expiry_timestamp_seconds{topic=\"" + kTopic + "\"} ");
  ASSERT_NE(expiry, std::string::npos) << metrics->body;
  const auto days_left = (std::stoll(metrics->body.substr(metrics->body.find("} ", expiry) + 2)) -
                          std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count()) /
                         86400.0;
  EXPECT_NEAR(days_left, 10, 1);
  EXPECT_NE(metrics->body.find("cairn_http_requests_total{route=\"admin\",status=\"200\"}"),
            std::string::npos);
  // Not for anonymous scrapers: the topics and the fleet's activity are the admin's business.
  httplib::SSLClient anonymous("127.0.0.1", node_->port());
  anonymous.enable_server_certificate_verification(false);
  EXPECT_EQ(anonymous.Get("/metrics")->status, 401);
}

// A fleet that polls only when pushed (the load generator's push mode), with locked devices,
// duplicate and lost results, and Macs with a user logged in (the user's channel is pushed on its
// own token): every command is completed on every channel, each drained, nothing errs.
TEST_F(Push, AFleetWokenOnlyByPushesDrainsEveryQueue) {
  ASSERT_EQ(upload(push_certificate_upload(400))->status, 200);
  devsim::Endpoint endpoint;
  endpoint.port = node_->port();
  endpoint.server_ca_file = node_->ca_file();
  devsim::Fleet fleet({endpoint}, node_->ca(), 16, "WOKEN", kTopic, {0.3, 0.2, 0.2, 0, 0}, 11,
                      {.mac_users = 0.5});
  size_t users = 0;
  for (size_t i = 0; i < fleet.size(); ++i) users += fleet.device(i).is_user_channel();
  ASSERT_GT(users, 0u);
  apns_.sim().on_accepted([&](const apns_sim::RecordedPush& p) { fleet.wake(p.token_hex); });
  devsim::Stats stats;
  fleet.enroll(4, stats);
  std::string ids;
  for (const auto& udid : fleet.udids()) ids += (ids.empty() ? "" : ",") + udid;
  bool completed = false;
  const auto expected = static_cast<int64_t>(fleet.size()) * 3;
  std::thread devices([&] { completed = fleet.poll_on_push(4, expected, 20s, stats); });
  for (int c = 0; c < 3; ++c)
    EXPECT_EQ(node_->enqueue(ids, command_body("WAVE-" + std::to_string(c), "ProfileList"))->status,
              200);
  devices.join();
  EXPECT_TRUE(completed) << fleet.commands_completed() << " commands completed; " << stats.json();
  EXPECT_EQ(stats.errors(), 0) << stats.json();
  EXPECT_NE(stats.json().find("\"push_to_poll\""), std::string::npos);
  for (const auto& udid : fleet.udids()) {
    const auto commands = node_->admin_get("/v1/devices/" + udid + "/commands")->body;
    EXPECT_NE(commands.find("\"queue\":[]"), std::string::npos) << udid << ": " << commands;
  }
}

}  // namespace
}  // namespace cairn::testing
