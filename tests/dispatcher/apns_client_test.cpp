// The APNs client against the APNs simulator: real HTTP/2 over TLS with client certificates on
// loopback. What is asserted is what Apple requires of an MDM push, byte for byte.
#include "dispatcher/apns_client.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "crypto/certificate.hpp"
#include "ops/apns_simulator/apns_simulator.hpp"
#include "pki/issuer.hpp"
#include "tests/support/temp_dir.hpp"

namespace cairn::dispatcher {
namespace {

const std::string kTopic = "com.apple.mgmt.External.0f9a3c1e-test";
const std::string kToken(64, 'a');

class ApnsClientTest : public ::testing::Test {
 protected:
  ApnsClientTest()
      : ca_(pki::make_ca("Test APNs CA", 1)),
        server_(
            pki::issue_certificate(ca_, "127.0.0.1", pki::CertUsage::kServer, {"127.0.0.1"}, 1)),
        push_(pki::issue_push_certificate(ca_, kTopic, 1)) {
    std::ofstream(dir_ / "ca.pem") << crypto::certificate_pem(ca_.cert.get());
    sim_ = std::make_unique<apns_sim::ApnsSimulator>(
        apns_sim::Options{"127.0.0.1", 0, crypto::certificate_pem(server_.cert.get()),
                          pki::private_key_pem(server_.key.get(), nullptr), dir_ / "ca.pem"});
  }

  ApnsClient::Options options() const {
    ApnsClient::Options o;
    o.endpoints.production = "https://127.0.0.1:" + std::to_string(sim_->port());
    o.endpoints.sandbox = o.endpoints.production;
    o.endpoints.ca_file = dir_ / "ca.pem";
    o.timeout = std::chrono::milliseconds(5000);
    return o;
  }
  ApnsClient client(const pki::Identity& identity) const {
    return ApnsClient(options(), crypto::certificate_pem(identity.cert.get()),
                      pki::private_key_pem(identity.key.get(), nullptr));
  }
  static Push push(const std::string& token = kToken, const std::string& topic = kTopic) {
    return Push{token, topic, "3FA1-MAGIC", false, 1800000000};
  }

  testing::TempDir dir_;
  pki::Identity ca_, server_, push_;
  std::unique_ptr<apns_sim::ApnsSimulator> sim_;
};

TEST_F(ApnsClientTest, SendsExactlyWhatAppleRequiresOfAnMdmPush) {
  auto apns = client(push_);
  const auto results = apns.send({push()});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status, 200) << results[0].error << results[0].reason;
  EXPECT_EQ(results[0].apns_id.size(), 36u);
  const auto pushes = sim_->pushes();
  ASSERT_EQ(pushes.size(), 1u);
  const auto& p = pushes[0];
  EXPECT_EQ(p.method, "POST");
  EXPECT_EQ(p.path, "/3/device/" + kToken);
  EXPECT_EQ(p.headers.at("apns-topic"), kTopic);
  EXPECT_EQ(p.headers.at("apns-push-type"), "mdm");
  EXPECT_EQ(p.headers.at("apns-priority"), "10");
  EXPECT_EQ(p.headers.at("apns-expiration"), "1800000000");
  EXPECT_EQ(p.body, R"({"mdm":"3FA1-MAGIC"})");  // no "aps"
  EXPECT_EQ(p.client_topic, kTopic);             // authenticated by the push certificate
  EXPECT_EQ(p.apns_id, results[0].apns_id);
}

std::vector<Push> batch_of(int count) {
  std::vector<Push> batch;
  for (int i = 0; i < count; ++i) {
    char token[65];
    std::snprintf(token, sizeof token, "%064x", i);
    batch.push_back(Push{token, kTopic, "3FA1-MAGIC", false, 1800000000});
  }
  return batch;
}

TEST_F(ApnsClientTest, ManyPushesShareAFewConnections) {
  auto apns = client(push_);
  const auto results = apns.send(batch_of(5000));
  for (const auto& r : results) ASSERT_EQ(r.status, 200) << r.error << r.reason;
  EXPECT_EQ(sim_->push_count(), 5000u);
  EXPECT_LE(sim_->connections_accepted(), 2u);
  apns.send({push()});  // the next batch reuses them
  EXPECT_LE(sim_->connections_accepted(), 2u);
}

// APNs limits the streams open on a connection (SETTINGS) and takes servers out of service with
// GOAWAY: pushes beyond the limit wait for a stream, pushes it did not process are sent again on
// a new connection, each exactly once.
TEST_F(ApnsClientTest, StreamLimitsAndGoawayLoseAndRepeatNothing) {
  auto options = sim_->options();
  options.port = 0;
  options.max_concurrent_streams = 10;
  options.goaway_after_streams = 150;
  sim_ = std::make_unique<apns_sim::ApnsSimulator>(options);
  auto apns = client(push_);
  const auto results = apns.send(batch_of(1000));
  for (const auto& r : results) ASSERT_EQ(r.status, 200) << "error: " << r.error << r.reason;
  EXPECT_EQ(sim_->push_count(), 1000u) << "a push sent twice or lost";
  std::set<std::string> tokens;
  for (const auto& p : sim_->pushes()) tokens.insert(p.token_hex);
  EXPECT_EQ(tokens.size(), 1000u);
  EXPECT_GE(sim_->connections_accepted(), 7u);  // one per 150 pushes at least
}

// A connection kept between batches that APNs closed meanwhile (a restart, an idle timeout) is
// noticed before the next batch and replaced, not used.
TEST_F(ApnsClientTest, AKeptConnectionClosedWhileIdleIsReplaced) {
  auto apns = client(push_);
  ASSERT_EQ(apns.send({push()})[0].status, 200);
  auto options = sim_->options();
  options.port = sim_->port();
  sim_->stop();
  sim_ = std::make_unique<apns_sim::ApnsSimulator>(options);
  const auto results = apns.send({push(), push()});
  for (const auto& r : results) EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(sim_->push_count(), 2u);
}

TEST_F(ApnsClientTest, RejectionsComeBackWithApnsReasons) {
  auto apns = client(push_);
  const std::string gone(64, 'b');
  sim_->fail_token(gone, {410, "Unregistered"});
  auto results = apns.send({push(), push(gone), push(kToken, "com.apple.mgmt.other")});
  EXPECT_EQ(results[0].status, 200);
  EXPECT_EQ(results[1].status, 410);
  EXPECT_EQ(results[1].reason, "Unregistered");
  EXPECT_EQ(results[2].status, 400);
  EXPECT_EQ(results[2].reason, "TopicDisallowed");
  sim_->fail_share(1.0, {429, "TooManyRequests"});
  results = apns.send({push()});
  EXPECT_EQ(results[0].status, 429);
  EXPECT_EQ(results[0].reason, "TooManyRequests");
}

TEST_F(ApnsClientTest, APushCertificateFromAnotherCaIsRefusedAtTheHandshake) {
  const auto stranger_ca = pki::make_ca("Stranger", 1);
  auto apns = client(pki::issue_push_certificate(stranger_ca, kTopic, 1));
  const auto results = apns.send({push()});
  EXPECT_EQ(results[0].status, 0);
  EXPECT_FALSE(results[0].error.empty());
  EXPECT_EQ(sim_->push_count(), 0u);
}

TEST_F(ApnsClientTest, NoServerIsATransportFailureNotAnAnswer) {
  auto apns = client(push_);
  sim_->stop();
  const auto results = apns.send({push(), push()});
  for (const auto& r : results) {
    EXPECT_EQ(r.status, 0);
    EXPECT_FALSE(r.error.empty());
  }
}

}  // namespace
}  // namespace cairn::dispatcher
