// The webhook deliverer against a real HTTP receiver, with a real embedded log and RocksDB store:
// order per device, signatures, topic filters, a receiver that fails, stalls, goes away and
// refuses, dead letters and their redelivery, and the standbys' progress on Kafka-style sharing.
#include "webhook/deliverer.hpp"

#include <gtest/gtest.h>

#include <map>

#include "common/encoding.hpp"
#include "crypto/digest.hpp"
#include "eventlog/embedded_log.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/messages.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/webhook_receiver.hpp"
#include "webhook/body.hpp"

namespace cairn::webhook {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::WebhookReceiver;

class DelivererTest : public ::testing::Test {
 protected:
  DelivererTest() : log_(dir_.path() + "/log"), secrets_({crypto::random_bytes(32)}) {
    options_.timeout = 300ms;
    options_.retry_base = 20ms;
    options_.retry_max = 100ms;
  }
  ~DelivererTest() override {
    for (auto& d : deliverers_) d->stop();
  }

  Deliverer& deliverer(DelivererOptions options, const std::string& store = "webhooks") {
    stores_.push_back(std::make_unique<store::Database>(dir_.path() + "/" + store, kStoreLayout));
    deliverers_.push_back(
        std::make_unique<Deliverer>(log_, *stores_.back(), secrets_, metrics_, std::move(options)));
    deliverers_.back()->start();
    return *deliverers_.back();
  }
  Deliverer& deliverer() { return deliverer(options_); }

  // The event as appended, with its log offset.
  std::pair<events::Event, int64_t> append(const std::string& device, events::Payload payload) {
    auto e = events::make_event(device, "test", "device", std::move(payload));
    const auto positions = log_.append({events::to_record(e)});
    return {e, positions.front().offset.value()};
  }
  void set_endpoint(const std::string& name, const std::string& url,
                    std::vector<std::string> topics = {}, const std::string& secret = "") {
    append("", events::WebhookEndpointSet{
                   name, url, std::move(topics),
                   secret.empty() ? "" : secrets_.seal(secret, "webhook-secret:" + name)});
  }
  std::string result(const std::string& udid, const std::string& status,
                     const std::string& uuid = "") {
    return append(udid, events::CommandReported{status,
                                                uuid,
                                                "",
                                                events::raw_message(
                                                    testing::report_body(udid, status, uuid)),
                                                {}})
        .first.id;
  }
  std::string authenticate(const std::string& udid) {
    events::DeviceAuthenticated a;
    a.topic = "com.apple.mgmt.External.test";
    a.message = events::raw_message(testing::authenticate_body(udid));
    return append(udid, a).first.id;
  }
  template <class Payload>
  std::vector<Payload> logged() {
    std::vector<Payload> out;
    for (const auto& r : log_.read(PartitionId(0), Offset(0), 1000000, 0ms))
      if (r.type == Payload::kType)
        out.push_back(std::get<Payload>(events::decode(r.value).payload));
    return out;
  }
  static std::vector<std::string> ids(const std::vector<WebhookReceiver::Received>& received) {
    std::vector<std::string> out;
    for (const auto& r : received) out.push_back(r.event_id);
    return out;
  }

  testing::TempDir dir_;
  eventlog::EmbeddedLog log_;
  crypto::SecretBox secrets_;
  Metrics metrics_;
  DelivererOptions options_;
  std::vector<std::unique_ptr<store::Database>> stores_;
  std::vector<std::unique_ptr<Deliverer>> deliverers_;
};

TEST_F(DelivererTest, SendsEveryMessageOnceInOrderSignedAndFilteredByTopic) {
  WebhookReceiver all, results;
  const std::string before = authenticate("EARLY");  // before any endpoint: reaches none
  set_endpoint("all", all.url(), {}, "s3cret");
  set_endpoint("results", results.url(), {"mdm.Connect"});
  std::vector<std::string> expected, expected_results;
  for (int round = 0; round < 3; ++round)
    for (const std::string udid : {"UDID-A", "UDID-B"}) {
      if (round == 0) {
        expected.push_back(authenticate(udid));
        continue;
      }
      const auto id = result(udid, "Acknowledged", udid + "-CMD-" + std::to_string(round));
      expected.push_back(id);
      expected_results.push_back(id);
    }
  append("UDID-A", events::PushSent{"t", "aa", "apns-1"});  // not a device message
  deliverer();
  ASSERT_TRUE(eventually([&] {
    return all.accepted().size() >= expected.size() &&
           results.accepted().size() >= expected_results.size();
  }));
  std::this_thread::sleep_for(300ms);  // anything more would be a duplicate or a stray
  // Once each, in log order (one sender, one partition: the devices' messages interleave as read).
  EXPECT_EQ(ids(all.accepted()), expected);
  EXPECT_EQ(ids(results.accepted()), expected_results);
  for (const auto& r : all.accepted()) {
    EXPECT_EQ(r.signature, signature_of("s3cret", r.body));
    EXPECT_EQ(r.content_type, "application/json; charset=utf-8");
    EXPECT_NE(r.event_id, before);
  }
  for (const auto& r : results.accepted()) {
    EXPECT_EQ(r.topic, "mdm.Connect");
    EXPECT_EQ(r.status, "Acknowledged");
    EXPECT_TRUE(r.signature.empty()) << "no secret, no signature";
  }
  EXPECT_EQ(all.accepted().front().topic, "mdm.Authenticate");
  EXPECT_EQ(base64_decode(all.accepted().front().raw_payload),
            testing::authenticate_body("UDID-A"));
}

TEST_F(DelivererTest, AFailingReceiverDelaysDeliveriesButLosesNoneAndKeepsTheirOrder) {
  WebhookReceiver receiver;
  receiver.set_mode(WebhookReceiver::Mode::kFail);
  set_endpoint("hook", receiver.url());
  std::vector<std::string> expected;
  for (int i = 0; i < 10; ++i)
    expected.push_back(
        result(i % 2 ? "UDID-A" : "UDID-B", "Acknowledged", "CMD-" + std::to_string(i)));
  auto& d = deliverer();
  ASSERT_TRUE(eventually([&] { return receiver.attempts() >= 5; }));
  EXPECT_TRUE(receiver.accepted().empty());
  EXPECT_EQ(d.pending("hook"), expected.size());
  // While failing, the endpoint retries its first delivery, not the others (the order holds).
  receiver.set_mode(WebhookReceiver::Mode::kAccept);
  ASSERT_TRUE(eventually([&] { return receiver.accepted().size() >= expected.size(); }));
  EXPECT_EQ(ids(receiver.accepted()), expected);
  EXPECT_TRUE(eventually([&] { return d.pending("hook") == 0; }));
  EXPECT_TRUE(logged<events::WebhookDeadLettered>().empty());
}

TEST_F(DelivererTest, AMisconfiguredReceiverPausesTheEndpointInsteadOfDeadLetteringAll) {
  WebhookReceiver receiver;
  receiver.set_mode(WebhookReceiver::Mode::kNotFound);  // a wrong path, a moved receiver
  set_endpoint("hook", receiver.url());
  const std::vector<std::string> expected{result("UDID-A", "Idle"), result("UDID-B", "Idle"),
                                          result("UDID-A", "Acknowledged", "CMD-1")};
  auto& d = deliverer();
  ASSERT_TRUE(eventually([&] { return receiver.attempts() >= 3; }));
  EXPECT_EQ(d.pending("hook"), expected.size());
  EXPECT_TRUE(logged<events::WebhookDeadLettered>().empty());
  receiver.set_mode(WebhookReceiver::Mode::kAccept);  // fixed
  ASSERT_TRUE(eventually([&] { return receiver.accepted().size() >= expected.size(); }));
  EXPECT_EQ(ids(receiver.accepted()), expected);
}

TEST_F(DelivererTest, AnAnswerThatNeverEndsIsCutOffAndItsStatusCounts) {
  WebhookReceiver receiver;
  receiver.set_mode(WebhookReceiver::Mode::kEndlessAnswer);
  set_endpoint("hook", receiver.url());
  const std::vector<std::string> expected{result("UDID-A", "Idle"), result("UDID-B", "Idle")};
  auto& d = deliverer();
  // Without the cut-off the sender would read the first answer forever.
  ASSERT_TRUE(eventually([&] { return receiver.accepted().size() >= expected.size(); }));
  ASSERT_TRUE(eventually([&] { return d.pending("hook") == 0; }));
  std::this_thread::sleep_for(200ms);             // time for a repeat, were it to come
  EXPECT_EQ(ids(receiver.accepted()), expected);  // each once: its 200 was taken
  EXPECT_TRUE(logged<events::WebhookDeadLettered>().empty());
}

TEST_F(DelivererTest, AStallingReceiverIsTimedOutAndTriedAgain) {
  WebhookReceiver receiver;
  receiver.stall_for = 1000ms;  // past the deliverer's 300 ms timeout
  receiver.set_mode(WebhookReceiver::Mode::kStall);
  set_endpoint("hook", receiver.url());
  const auto first = result("UDID-A", "Idle");
  const auto second = result("UDID-A", "Acknowledged", "CMD-1");
  deliverer();
  ASSERT_TRUE(eventually([&] { return receiver.attempts() >= 2; }));
  receiver.set_mode(WebhookReceiver::Mode::kAccept);
  ASSERT_TRUE(eventually([&] { return receiver.accepted().size() >= 2; }));
  EXPECT_EQ(ids(receiver.accepted()), (std::vector<std::string>{first, second}));
}

TEST_F(DelivererTest, AReceiverThatGoesAwayGetsEverythingWhenItComesBack) {
  WebhookReceiver receiver;
  set_endpoint("hook", receiver.url());
  auto& d = deliverer();
  const auto first = authenticate("UDID-A");
  ASSERT_TRUE(eventually([&] { return receiver.accepted().size() == 1; }));
  receiver.stop();  // connections refused from now on
  const auto second = result("UDID-A", "Idle");
  const auto third = result("UDID-B", "Idle");
  ASSERT_TRUE(eventually([&] { return d.pending("hook") == 2; }));
  std::this_thread::sleep_for(300ms);  // a few failed attempts
  receiver.restart();
  ASSERT_TRUE(eventually([&] { return receiver.accepted().size() >= 3; }));
  EXPECT_EQ(ids(receiver.accepted()), (std::vector<std::string>{first, second, third}));
}

TEST_F(DelivererTest, ARefusedDeliveryIsDeadLetteredTheRestGoesAndItCanBeRedelivered) {
  WebhookReceiver receiver;
  set_endpoint("hook", receiver.url());
  const auto [refused_event, refused_offset] = append(
      "UDID-A", events::CommandReported{
                    "Acknowledged",
                    "CMD-1",
                    "",
                    events::raw_message(testing::report_body("UDID-A", "Acknowledged", "CMD-1")),
                    {}});
  receiver.refuse(refused_event.id);
  const auto next = result("UDID-A", "Idle");
  deliverer();
  ASSERT_TRUE(eventually([&] { return !receiver.accepted().empty(); }));
  EXPECT_EQ(ids(receiver.accepted()), (std::vector<std::string>{next}));
  ASSERT_TRUE(eventually([&] { return logged<events::WebhookDeadLettered>().size() == 1; }));
  const auto dead = logged<events::WebhookDeadLettered>().front();
  EXPECT_EQ(dead.endpoint, "hook");
  EXPECT_EQ(dead.event_id, refused_event.id);
  EXPECT_EQ(dead.topic, "mdm.Connect");
  EXPECT_EQ(dead.event_device, "UDID-A");
  EXPECT_EQ(dead.http_status, 400);
  EXPECT_EQ(dead.attempts, 1);
  EXPECT_EQ(dead.offset, refused_offset);

  receiver.accept_all();
  append("", events::WebhookRedeliveryRequested{"hook",
                                                {{dead.event_id, dead.partition, dead.offset},
                                                 {"not-that-event", dead.partition, dead.offset},
                                                 {"beyond", 0, 1'000'000}}});
  ASSERT_TRUE(eventually([&] { return receiver.accepted().size() >= 2; }));
  std::this_thread::sleep_for(200ms);
  // The named event once: a reference that names another event, or nothing, is skipped.
  EXPECT_EQ(ids(receiver.accepted()), (std::vector<std::string>{next, refused_event.id}));
}

TEST_F(DelivererTest, ADeliveryFailingPastTheGiveUpTimeIsDeadLettered) {
  WebhookReceiver receiver;
  receiver.set_mode(WebhookReceiver::Mode::kFail);
  set_endpoint("hook", receiver.url());
  const auto id = result("UDID-A", "Idle");
  auto options = options_;
  options.give_up_after = 200ms;
  auto& d = deliverer(options);
  ASSERT_TRUE(eventually([&] { return logged<events::WebhookDeadLettered>().size() == 1; }));
  const auto dead = logged<events::WebhookDeadLettered>().front();
  EXPECT_EQ(dead.event_id, id);
  EXPECT_EQ(dead.http_status, 503);
  EXPECT_GT(dead.attempts, 1);
  EXPECT_EQ(d.pending("hook"), 0u);
}

TEST_F(DelivererTest, ARemovedEndpointDropsWhatWaitedForIt) {
  WebhookReceiver receiver;
  receiver.set_mode(WebhookReceiver::Mode::kFail);
  set_endpoint("hook", receiver.url());
  result("UDID-A", "Idle");
  auto& d = deliverer();
  ASSERT_TRUE(eventually([&] { return receiver.attempts() >= 1; }));
  append("", events::WebhookEndpointRemoved{"hook"});
  ASSERT_TRUE(eventually([&] { return d.pending("hook") == 0; }));
  receiver.set_mode(WebhookReceiver::Mode::kAccept);
  result("UDID-A", "Idle");
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(receiver.accepted().empty());
}

// On Kafka every dispatcher node's deliverer reads every partition; the owner sends and records
// its progress, by which a standby drops its copies (and after a takeover repeats only the rest).
TEST_F(DelivererTest, AStandbyKeepsCopiesUntilTheOwnerRecordsItsProgress) {
  WebhookReceiver receiver;
  set_endpoint("hook", receiver.url());
  std::vector<std::string> expected;
  for (int i = 0; i < 5; ++i) expected.push_back(result("UDID-A", "Idle"));
  auto standby_options = options_;
  standby_options.owns = [](PartitionId) { return false; };
  auto& standby = deliverer(standby_options, "standby");
  ASSERT_TRUE(eventually([&] { return standby.pending("hook") == expected.size(); }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(receiver.attempts(), 0) << "a standby sends nothing";

  auto owner_options = options_;
  owner_options.progress_every = 100ms;
  deliverer(owner_options, "owner");
  ASSERT_TRUE(eventually([&] { return receiver.accepted().size() >= expected.size(); }));
  EXPECT_EQ(ids(receiver.accepted()), expected);
  ASSERT_TRUE(eventually([&] { return standby.pending("hook") == 0; }));
  const auto progress = logged<events::WebhooksDelivered>();
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().endpoint, "hook");
  EXPECT_GT(progress.back().below_offset, 0);
}

// The owner may record progress past an event before it reads a request to redeliver that event;
// the standby's copy of the redelivery must outlive that progress, or a takeover loses it.
TEST_F(DelivererTest, AStandbyKeepsARedeliveryThatProgressRecordedEarlierDoesNotCover) {
  WebhookReceiver receiver;
  set_endpoint("hook", receiver.url());
  const auto [event, offset] =
      append("UDID-A",
             events::CommandReported{
                 "Idle", "", "", events::raw_message(testing::report_body("UDID-A", "Idle")), {}});
  append("", events::WebhookRedeliveryRequested{"hook", {{event.id, 0, offset}}});
  // Settled below the event and the request alike would drop both; this covers the event only.
  append("", events::WebhooksDelivered{"hook", 0, offset + 1});
  auto standby_options = options_;
  standby_options.owns = [](PartitionId) { return false; };
  auto& standby = deliverer(standby_options, "standby");
  ASSERT_TRUE(eventually([&] { return standby.pending("hook") == 1; }))
      << standby.pending("hook") << " copies kept";
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(standby.pending("hook"), 1u) << "the redelivery's copy stays until it is settled";
  append("", events::WebhooksDelivered{"hook", 0, offset + 3});
  EXPECT_TRUE(eventually([&] { return standby.pending("hook") == 0; }));
}

TEST_F(DelivererTest, ARestartedDelivererResumesWhereItStopped) {
  WebhookReceiver receiver;
  set_endpoint("hook", receiver.url());
  const auto first = result("UDID-A", "Idle");
  {
    store::Database store(dir_.path() + "/webhooks", kStoreLayout);
    Deliverer d(log_, store, secrets_, metrics_, options_);
    d.start();
    ASSERT_TRUE(eventually([&] { return receiver.accepted().size() == 1; }));
  }
  const auto second = result("UDID-A", "Idle");
  deliverer();
  ASSERT_TRUE(eventually([&] { return receiver.accepted().size() >= 2; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(ids(receiver.accepted()), (std::vector<std::string>{first, second}));
}

}  // namespace
}  // namespace cairn::webhook
