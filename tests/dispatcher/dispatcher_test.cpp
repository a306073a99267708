// The dispatcher against the APNs simulator, with a real embedded log and RocksDB store. The
// dispatcher's two steps (consume the log, send what is due) are driven one at a time, so each
// test states exactly which events exist when a push is or is not sent.
#include "dispatcher/dispatcher.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "common/clock.hpp"
#include "crypto/certificate.hpp"
#include "crypto/digest.hpp"
#include "dispatcher/push_state.hpp"
#include "eventlog/embedded_log.hpp"
#include "ops/apns_simulator/apns_simulator.hpp"
#include "pki/issuer.hpp"
#include "pki/push_certificate.hpp"
#include "schemas/events.hpp"
#include "tests/support/temp_dir.hpp"

namespace cairn::dispatcher {
namespace {

using namespace std::chrono_literals;

const std::string kTopic = "com.apple.mgmt.External.dispatcher-test";

std::string token_of(const std::string& udid) {
  return crypto::sha256_hex(udid);  // 64 hex digits, like a real token
}

class DispatcherTest : public ::testing::Test {
 protected:
  DispatcherTest()
      : log_(dir_ / "log"),
        store_(dir_ / "dispatcher", kStoreLayout),
        secrets_({crypto::random_bytes(32)}),
        ca_(pki::make_ca("Test APNs CA", 1)),
        server_(
            pki::issue_certificate(ca_, "127.0.0.1", pki::CertUsage::kServer, {"127.0.0.1"}, 1)),
        push_cert_(pki::issue_push_certificate(ca_, kTopic, 1)) {
    std::ofstream(dir_ / "ca.pem") << crypto::certificate_pem(ca_.cert.get());
    start_simulator(0);
    apns_.endpoints.production = "https://127.0.0.1:" + std::to_string(port_);
    apns_.endpoints.ca_file = dir_ / "ca.pem";
    apns_.timeout = 2s;
    pusher_ = std::make_unique<ApnsPusher>(apns_);
    // The dispatcher's clock (and the test's events) run on a virtual time the tests move
    // forward: backoff, pauses and liveness windows keep their production values, and no test
    // depends on how fast this machine is.
    options_.clock = [this] { return std::chrono::system_clock::now() + offset_; };
    dispatcher_ =
        std::make_unique<Dispatcher>(log_, store_, secrets_, *pusher_, metrics_, options_);
  }

  void start_simulator(int port) {
    sim_ = std::make_unique<apns_sim::ApnsSimulator>(
        apns_sim::Options{"127.0.0.1", port, crypto::certificate_pem(server_.cert.get()),
                          pki::private_key_pem(server_.key.get(), nullptr), dir_ / "ca.pem"});
    port_ = sim_->port();
  }

  void advance(std::chrono::milliseconds by) { offset_ += by; }
  void append(const std::string& device, events::Payload payload) {
    auto e = events::make_event(device, "test", "test", std::move(payload));
    e.time = format_rfc3339(options_.clock());
    log_.append({events::to_record(e)});
  }
  void upload_certificate() {
    append("", events::PushCertificateUploaded{
                   kTopic, crypto::certificate_pem(push_cert_.cert.get()),
                   secrets_.seal(pki::private_key_pem(push_cert_.key.get(), nullptr),
                                 pki::push_certificate_sealing_context(kTopic)),
                   "2027-01-01T00:00:00.000Z"});
  }
  void token_update(const std::string& udid, const std::string& token) {
    append(udid, events::TokenUpdated{kTopic, token, "magic-" + udid, "", false, "", {}});
  }
  void enqueue(const std::string& udid, const std::string& uuid, bool no_push = false) {
    append(udid, events::CommandEnqueued{uuid, "ProfileList", "<plist/>", no_push});
  }
  void reported(const std::string& udid) {
    append(udid, events::CommandReported{"Idle", "", "", {}, {}});
  }
  void one_pushable_device() {
    upload_certificate();
    token_update("D1", token_of("D1"));
  }
  // Rounds until the outbox is empty, ten virtual minutes apart (past any backoff), at most 20.
  void drain() {
    for (int i = 0; i < 20 && dispatcher_->pending() > 0; ++i) {
      advance(10min);
      round();
    }
  }
  // One round, as the dispatcher's thread does it.
  size_t round() {
    dispatcher_->consume(0ms);
    return dispatcher_->send_due();
  }
  template <class T>
  std::vector<T> logged() {
    std::vector<T> out;
    for (const auto& r : log_.read(PartitionId(0), Offset(0), 100000, 0ms))
      if (const auto e = events::decode(r.value); std::holds_alternative<T>(e.payload))
        out.push_back(std::get<T>(e.payload));
    return out;
  }

  testing::TempDir dir_;
  eventlog::EmbeddedLog log_;
  store::Database store_;
  crypto::SecretBox secrets_;
  pki::Identity ca_, server_, push_cert_;
  std::unique_ptr<apns_sim::ApnsSimulator> sim_;
  int port_ = 0;
  ApnsClient::Options apns_;
  std::unique_ptr<ApnsPusher> pusher_;
  std::chrono::milliseconds offset_{0};
  DispatcherOptions options_;
  Metrics metrics_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_F(DispatcherTest, AnEnqueuedCommandPushesTheDeviceWithItsLatestToken) {
  upload_certificate();
  token_update("D1", token_of("old"));
  token_update("D1", token_of("D1"));
  enqueue("D1", "C1");
  EXPECT_EQ(round(), 1u);
  const auto pushes = sim_->pushes();
  ASSERT_EQ(pushes.size(), 1u);
  EXPECT_EQ(pushes[0].status, 200);
  EXPECT_EQ(pushes[0].token_hex, token_of("D1"));
  EXPECT_EQ(pushes[0].body, R"({"mdm":"magic-D1"})");
  EXPECT_EQ(pushes[0].headers.at("apns-topic"), kTopic);
  const auto expiration = std::stoll(pushes[0].headers.at("apns-expiration"));
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  EXPECT_NEAR(expiration, now + 7 * 24 * 3600, 60);
  const auto sent = logged<events::PushSent>();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].apns_id, pushes[0].apns_id);
  EXPECT_EQ(dispatcher_->pending(), 0u);
}

// UseDevelopmentAPNS in the profile a device enrolled with (its Authenticate says so) sends its
// pushes, and its users' channels', to APNs's sandbox; everyone else's go to production.
TEST_F(DispatcherTest, DevicesEnrolledForDevelopmentArePushedThroughTheSandbox) {
  dispatcher_.reset();
  apns_.endpoints.sandbox = apns_.endpoints.production;
  apns_.endpoints.production = "https://127.0.0.1:1";  // nothing listens there
  pusher_ = std::make_unique<ApnsPusher>(apns_);
  dispatcher_ = std::make_unique<Dispatcher>(log_, store_, secrets_, *pusher_, metrics_, options_);
  upload_certificate();
  for (const auto& [udid, development] : {std::pair{"DEV", true}, {"PROD", false}}) {
    append(udid, events::DeviceAuthenticated{kTopic, "", "", "tls", {}, "", development});
    token_update(udid, token_of(udid));
    enqueue(udid, std::string("C-") + udid);
    const std::string user = std::string(udid) + ":USER";  // a user's channel on it
    token_update(user, token_of(user));
    enqueue(user, "C-" + user);
  }
  round();
  std::set<std::string> pushed;
  for (const auto& p : sim_->pushes()) pushed.insert(p.token_hex);
  EXPECT_EQ(pushed, (std::set<std::string>{token_of("DEV"), token_of("DEV:USER")}));
  const auto failed = logged<events::PushFailed>();
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(failed[0].http_status, 0);  // production: no answer
}

// A device that checks out or enrolls again ends its users' channels: their old tokens are not
// pushed any more (until a user's next TokenUpdate).
TEST_F(DispatcherTest, UsersChannelsEndWithTheirDeviceForPushes) {
  upload_certificate();
  for (const char* udid : {"OUT", "AGAIN"}) {
    append(udid, events::DeviceAuthenticated{kTopic, "", "", "tls", {}, "", false});
    token_update(udid, token_of(udid));
    token_update(std::string(udid) + ":USER", token_of(std::string(udid) + ":USER"));
  }
  append("OUT", events::DeviceCheckedOut{kTopic, "", {}});
  append("AGAIN", events::DeviceAuthenticated{kTopic, "", "", "tls", {}, "", false});
  enqueue("OUT:USER", "C-1");
  enqueue("AGAIN:USER", "C-2");
  round();
  EXPECT_TRUE(sim_->pushes().empty());
  token_update("AGAIN:USER", token_of("AGAIN:USER-NEW"));  // the user logs in again
  round();
  ASSERT_EQ(sim_->pushes().size(), 1u);
  EXPECT_EQ(sim_->pushes()[0].token_hex, token_of("AGAIN:USER-NEW"));
}

TEST_F(DispatcherTest, NopushCommandsAndUnenrolledDevicesAreNotPushed) {
  one_pushable_device();
  enqueue("D1", "C1", /*no_push=*/true);
  enqueue("NEVER-ENROLLED", "C2");
  append("D1", events::PushRequested{"admin request"});
  EXPECT_EQ(round(), 1u);  // only the explicit push request
  EXPECT_EQ(sim_->push_count(), 1u);
}

TEST_F(DispatcherTest, ABurstOfCommandsIsOnePushWhileItIsOutstanding) {
  one_pushable_device();
  for (int i = 0; i < 100; ++i) enqueue("D1", "C" + std::to_string(i));
  round();
  EXPECT_EQ(sim_->push_count(), 1u);
  enqueue("D1", "LATER");  // the device has not polled since the push: no new one
  round();
  EXPECT_EQ(sim_->push_count(), 1u);
  reported("D1");  // it polled
  enqueue("D1", "AFTER-POLL");
  round();
  EXPECT_EQ(sim_->push_count(), 2u);
}

TEST_F(DispatcherTest, AnUnregisteredTokenIsInvalidatedAndNotPushedUntilANewTokenUpdate) {
  one_pushable_device();
  sim_->fail_token(token_of("D1"), {410, "Unregistered"});
  enqueue("D1", "C1");
  round();
  const auto invalidated = logged<events::PushTokenInvalidated>();
  ASSERT_EQ(invalidated.size(), 1u);
  EXPECT_EQ(invalidated[0].http_status, 410);
  EXPECT_EQ(invalidated[0].reason, "Unregistered");
  EXPECT_EQ(invalidated[0].token_hex, token_of("D1"));
  reported("D1");
  enqueue("D1", "C2");
  append("D1", events::PushRequested{"admin request"});
  round();
  EXPECT_EQ(sim_->push_count(), 1u);  // nothing more to a dead token
  token_update("D1", token_of("D1-new"));
  enqueue("D1", "C3");
  round();
  ASSERT_EQ(sim_->push_count(), 2u);
  EXPECT_EQ(sim_->pushes()[1].token_hex, token_of("D1-new"));
  EXPECT_EQ(sim_->pushes()[1].status, 200);
  const auto metrics = metrics_.prometheus_text();
  EXPECT_NE(metrics.find("cairn_pushes_total{outcome=\"token_invalidated\"} 1\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("cairn_pushes_total{outcome=\"sent\"} 1\n"), std::string::npos);
}

TEST_F(DispatcherTest, ACommandQueuedBeforeTheTokenArrivesIsPushedWhenItDoes) {
  upload_certificate();
  enqueue("D1", "AT-ENROLLMENT");  // e.g. queued when the device authenticated
  EXPECT_EQ(round(), 0u);          // nowhere to push yet
  token_update("D1", token_of("D1"));
  EXPECT_EQ(round(), 1u);
  ASSERT_EQ(sim_->push_count(), 1u);
  EXPECT_EQ(sim_->pushes()[0].token_hex, token_of("D1"));
}

TEST_F(DispatcherTest, APendingPushGoesToTheDevicesNewToken) {
  one_pushable_device();
  sim_->fail_share(1.0, {500, "InternalServerError"});
  enqueue("D1", "C1");
  round();
  token_update("D1", token_of("D1-new"));  // while the push waits out its backoff
  sim_->clear_failures();
  drain();
  const auto pushes = sim_->pushes();
  ASSERT_EQ(pushes.size(), 2u);
  EXPECT_EQ(pushes[1].token_hex, token_of("D1-new"));
  EXPECT_EQ(pushes[1].body, R"({"mdm":"magic-D1"})");
  EXPECT_EQ(pushes[1].status, 200);
}

TEST_F(DispatcherTest, TooManyRequestsBacksOffThenSucceeds) {
  one_pushable_device();
  sim_->fail_share(1.0, {429, "TooManyRequests"});
  enqueue("D1", "C1");
  EXPECT_EQ(round(), 1u);
  const auto failed = logged<events::PushFailed>();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].http_status, 429);
  EXPECT_TRUE(failed[0].will_retry);
  EXPECT_EQ(dispatcher_->pending(), 1u);
  EXPECT_EQ(round(), 0u);  // backing off: no immediate retry
  sim_->clear_failures();
  drain();
  EXPECT_EQ(dispatcher_->pending(), 0u);
  EXPECT_EQ(logged<events::PushSent>().size(), 1u);
  EXPECT_EQ(sim_->push_count(), 2u);  // one refused, one accepted
  const auto metrics = metrics_.prometheus_text();
  EXPECT_NE(metrics.find("cairn_pushes_total{outcome=\"failed\"} 1\n"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("cairn_pushes_total{outcome=\"sent\"} 1\n"), std::string::npos);
}

TEST_F(DispatcherTest, EveryPushIsSentOnceApnsComesBack) {
  upload_certificate();
  for (int d = 0; d < 20; ++d) token_update("D" + std::to_string(d), token_of(std::to_string(d)));
  const int port = port_;
  sim_->stop();
  for (int d = 0; d < 20; ++d) enqueue("D" + std::to_string(d), "C");
  round();
  EXPECT_EQ(dispatcher_->pending(), 20u);  // no answer, nothing forgotten
  round();
  start_simulator(port);
  drain();
  EXPECT_EQ(dispatcher_->pending(), 0u);
  std::set<std::string> tokens;
  for (const auto& p : sim_->pushes()) tokens.insert(p.token_hex);
  EXPECT_EQ(tokens.size(), 20u);
  EXPECT_EQ(sim_->push_count(), 20u);  // each device once
}

TEST_F(DispatcherTest, ATopicWithoutACertificateIsReportedNotSkipped) {
  token_update("D1", token_of("D1"));
  enqueue("D1", "C1");
  round();
  const auto failed = logged<events::PushFailed>();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].http_status, 0);
  EXPECT_NE(failed[0].reason.find("no push certificate"), std::string::npos);
  EXPECT_EQ(dispatcher_->pending(), 1u);  // kept: it goes out once a certificate is uploaded
  upload_certificate();
  round();  // sent at once: the pause was for want of a certificate
  EXPECT_EQ(sim_->push_count(), 1u);
  EXPECT_EQ(dispatcher_->pending(), 0u);
}

TEST_F(DispatcherTest, ARefusedCertificatePausesTheTopicInsteadOfSpinning) {
  one_pushable_device();
  sim_->fail_share(1.0, {403, "BadCertificate"});
  enqueue("D1", "C1");
  EXPECT_EQ(round(), 1u);
  EXPECT_EQ(round(), 0u);
  EXPECT_EQ(round(), 0u);
  EXPECT_EQ(sim_->push_count(), 1u);
  EXPECT_EQ(dispatcher_->pending(), 1u);
  sim_->clear_failures();  // the certificate was fixed at Apple
  advance(options_.certificate_pause);
  EXPECT_EQ(round(), 1u);  // tried again after the pause, and sent
  EXPECT_EQ(dispatcher_->pending(), 0u);
}

TEST_F(DispatcherTest, ASilentDeviceIsPushedAgainThenRecordedInactive) {
  one_pushable_device();
  dispatcher_->consume(0ms);
  EXPECT_EQ(dispatcher_->sweep(), 0u);  // just heard from
  advance(options_.repush_after + 1min);
  EXPECT_EQ(dispatcher_->sweep(), 1u);
  EXPECT_EQ(dispatcher_->send_due(), 1u);
  EXPECT_EQ(sim_->push_count(), 1u);
  EXPECT_EQ(dispatcher_->sweep(), 0u);  // pushed just now: not again before repush_after
  EXPECT_TRUE(logged<events::DeviceInactive>().empty());
  advance(options_.inactive_after);
  dispatcher_->sweep();
  dispatcher_->sweep();
  const auto inactive = logged<events::DeviceInactive>();
  ASSERT_EQ(inactive.size(), 1u);  // recorded once
  reported("D1");                  // it is back
  dispatcher_->consume(0ms);
  EXPECT_EQ(dispatcher_->sweep(), 0u);
  advance(options_.inactive_after + 1min);
  dispatcher_->sweep();
  EXPECT_EQ(logged<events::DeviceInactive>().size(), 2u);  // silent again, recorded again
}

TEST_F(DispatcherTest, TheSweepIsBatchedSoItNeverFloodsApns) {
  options_.max_sweep_pushes = 20;
  dispatcher_ = std::make_unique<Dispatcher>(log_, store_, secrets_, *pusher_, metrics_, options_);
  upload_certificate();
  for (int d = 0; d < 50; ++d) token_update("D" + std::to_string(d), token_of(std::to_string(d)));
  dispatcher_->consume(0ms);
  advance(options_.repush_after);
  EXPECT_EQ(dispatcher_->sweep(), 20u);
  EXPECT_EQ(dispatcher_->sweep(), 20u);  // the next 20, not the same ones
  EXPECT_EQ(dispatcher_->sweep(), 10u);
  EXPECT_EQ(dispatcher_->pending(), 50u);
  while (dispatcher_->send_due() > 0) {
  }
  std::set<std::string> tokens;
  for (const auto& p : sim_->pushes()) tokens.insert(p.token_hex);
  EXPECT_EQ(tokens.size(), 50u);
}

TEST_F(DispatcherTest, ConsumedPushesSurviveARestartBeforeTheyAreSent) {
  one_pushable_device();
  enqueue("D1", "C1");
  dispatcher_->consume(0ms);
  dispatcher_.reset();  // as if the process died after recording its outbox
  pusher_ = std::make_unique<ApnsPusher>(apns_);
  dispatcher_ = std::make_unique<Dispatcher>(log_, store_, secrets_, *pusher_, metrics_, options_);
  EXPECT_EQ(dispatcher_->consume(0ms), 0u);  // the position was stored with the outbox
  EXPECT_EQ(dispatcher_->send_due(), 1u);    // and the certificate reloaded from the store
  EXPECT_EQ(sim_->push_count(), 1u);
}

}  // namespace
}  // namespace cairn::dispatcher

namespace cairn::dispatcher {
namespace {

// The device polls (woken by the push) before the push's outcome reaches the log, and a new
// command arrives: the outcome must not settle the push that new command needs. (Found by the
// 10,000-device push loop in bench/run.sh.)
TEST_F(DispatcherTest, AnOutcomeLoggedAfterTheDevicePolledDoesNotSwallowTheNextPush) {
  one_pushable_device();
  enqueue("D1", "C1");
  dispatcher_->consume(0ms);
  reported("D1");  // in the log before the dispatcher records PushSent for C1's push
  enqueue("D1", "C2");
  EXPECT_EQ(dispatcher_->send_due(), 1u);
  round();  // consumes the report, C2, then the PushSent of C1's push
  EXPECT_EQ(sim_->push_count(), 2u);
}

// With several dispatchers each pushes only the partitions it owns, but all keep the same state
// from the log, ready for a takeover: a push is settled by the device's next message (whoever
// sent it), so the one that takes a partition over may repeat a push but never misses one.
TEST_F(DispatcherTest, ADispatcherThatDoesNotOwnThePartitionKeepsStateButDoesNotPush) {
  bool owns = false;
  options_.owns = [&](PartitionId) { return owns; };
  dispatcher_ = std::make_unique<Dispatcher>(log_, store_, secrets_, *pusher_, metrics_, options_);
  one_pushable_device();
  enqueue("D1", "C1");
  EXPECT_EQ(round(), 0u);
  EXPECT_EQ(dispatcher_->pending(), 1u);  // ready for a takeover
  append("D1", events::PushSent{kTopic, token_of("D1"), "apns-id-from-the-owner"});
  reported("D1");  // woken by the owner's push, the device polled
  enqueue("D1", "C2");
  round();
  EXPECT_EQ(sim_->push_count(), 0u);
  EXPECT_EQ(dispatcher_->pending(), 1u);  // for C2: the owner is pushing it, or will
  owns = true;  // the owner died; this one takes over (it looks again within a second)
  advance(2s);
  round();
  EXPECT_EQ(sim_->push_count(), 1u);
  append("D1", events::PushTokenInvalidated{kTopic, token_of("D1"), 410, "Unregistered"});
  enqueue("D1", "C3");  // an outcome recorded by another dispatcher counts here too
  round();
  EXPECT_EQ(sim_->push_count(), 1u);
}

}  // namespace
}  // namespace cairn::dispatcher
