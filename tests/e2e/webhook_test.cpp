// Webhooks end to end: endpoints set through the admin API of a real node, devices speaking the
// protocol over mTLS, a real HTTP receiver; and a kill -9 of the node while deliveries flow.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/encoding.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/messages.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_node.hpp"
#include "tests/support/webhook_receiver.hpp"
#include "webhook/body.hpp"

namespace cairn::testing {
namespace {

using namespace std::chrono_literals;

httplib::Result put_endpoint(const TestNode& node, const std::string& name,
                             const std::string& json) {
  return node.admin()->Put(("/v1/webhooks/" + name).c_str(), json, "application/json");
}

// Ids of the events of the log that carry a device message, by device, in log order.
std::map<std::string, std::vector<std::string>> device_messages_logged(const std::string& dir) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& e : logged_events(dir))
    if (webhook::topic_of(e.payload)) out[e.device].push_back(e.id);
  return out;
}

TEST(Webhooks, EndpointsFromTheApiGetEveryDeviceMessageSignedAndDeadLettersCanBeRedelivered) {
  TempDir dir;
  TestNodeOptions options;
  options.webhooks.retry_base = 20ms;
  options.webhooks.retry_max = 200ms;
  TestNode node(dir.path(), options);
  WebhookReceiver all, results, refusing;
  refusing.set_mode(WebhookReceiver::Mode::kRefuse);

  // Refusals name what was wrong.
  struct Bad {
    std::string name, json, says;
  };
  for (const auto& bad : std::vector<Bad>{
           {"x", R"({"url":"ftp://example.com/"})", "http:// or https://"},
           {"x", R"({"url":"https://"})", "host"},
           {"x", R"({"url":"http://a b/"})", "spaces"},
           {"x", R"({"url":"https://user:pw@h/"})", "credentials"},
           {"x", R"({"topics":["mdm.Connect"]})", "url is required"},
           {"x", "[1]", "JSON object"},
           {"x", R"({"url":"http://h/","topics":["mdm.Everything"]})", "unknown topic"},
           {"x", R"({"url":"http://h/","topics":"mdm.Connect"})", "array"},
           {"bad%20name", R"({"url":"http://h/"})", "names are"},
       }) {
    auto r = put_endpoint(node, bad.name, bad.json);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad.json;
    EXPECT_NE(r->body.find(bad.says), std::string::npos) << bad.json << " → " << r->body;
  }
  ASSERT_EQ(
      put_endpoint(node, "all", R"({"url":")" + all.url() + R"(","secret":"hook-s3cret"})")->status,
      204);
  ASSERT_EQ(put_endpoint(node, "results",
                         R"({"url":")" + results.url() + R"(","topics":["mdm.Connect"]})")
                ->status,
            204);
  ASSERT_EQ(put_endpoint(node, "refusing", R"({"url":")" + refusing.url() + R"("})")->status, 204);
  const auto listed = node.admin_get("/v1/webhooks");
  ASSERT_EQ(listed->status, 200);
  EXPECT_NE(
      listed->body.find(R"("name":"all","url":")" + all.url() + R"(","topics":[],"signed":true)"),
      std::string::npos)
      << listed->body;
  EXPECT_NE(listed->body.find(R"("topics":["mdm.Connect"],"signed":false)"), std::string::npos);
  EXPECT_EQ(listed->body.find("hook-s3cret"), std::string::npos);

  TestDevice a(node, "HOOK-A"), b(node, "HOOK-B");
  a.enroll();
  b.enroll();
  ASSERT_EQ(a.checkin(token_update_body("HOOK-A", "UNLOCK-ME"))->status, 200);
  ASSERT_EQ(node.enqueue("HOOK-A,HOOK-B", command_body("HOOK-CMD", "ProfileList"))->status, 200);
  for (auto* d : {&a, &b}) {
    ASSERT_EQ(command_uuid_of(d->report("Idle")), "HOOK-CMD");
    ASSERT_EQ(d->report("Acknowledged", "HOOK-CMD")->status, 200);
  }
  const auto logged = device_messages_logged(dir.path());
  size_t expected = 0;
  for (const auto& [device, ids] : logged) expected += ids.size();
  ASSERT_TRUE(eventually([&] { return all.accepted().size() >= expected; }));
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(all.accepted().size(), expected);
  std::map<std::string, std::vector<std::string>> received;
  std::set<std::string> topics;
  for (const auto& r : all.accepted()) {
    received[r.udid].push_back(r.event_id);
    topics.insert(r.topic);
    EXPECT_EQ(r.signature, webhook::signature_of("hook-s3cret", r.body));
    EXPECT_EQ(base64_decode(r.raw_payload).find("UNLOCK-ME"), std::string::npos)
        << "the UnlockToken stays sealed";
  }
  EXPECT_EQ(received, logged) << "each device's messages once, in the order they came";
  EXPECT_EQ(topics, (std::set<std::string>{"mdm.Authenticate", "mdm.TokenUpdate", "mdm.Connect"}));
  ASSERT_TRUE(eventually([&] { return results.accepted().size() >= 4; }));
  for (const auto& r : results.accepted()) EXPECT_EQ(r.topic, "mdm.Connect");
  EXPECT_GE(node.metric(R"(cairn_webhook_deliveries_total{endpoint="all",outcome="delivered"})"),
            static_cast<double>(expected));

  // The refusing receiver's deliveries are dead letters, listed with why; redelivered on request.
  std::string dead;
  ASSERT_TRUE(eventually([&] {
    dead = node.admin_get("/v1/webhooks/refusing/dead-letters")->body;
    size_t n = 0;
    for (auto at = dead.find("\"event_id\""); at != std::string::npos;
         at = dead.find("\"event_id\"", at + 1))
      ++n;
    return n == expected;
  })) << dead;
  EXPECT_NE(dead.find(R"("http_status":422,"reason":"HTTP 422")"), std::string::npos) << dead;
  const auto page = node.admin_get("/v1/webhooks/refusing/dead-letters?limit=2")->body;
  ASSERT_NE(page.find("\"next\":\""), std::string::npos) << page;
  EXPECT_EQ(node.admin_get("/v1/webhooks/refusing/dead-letters?after=nonsense")->status, 400);
  EXPECT_EQ(node.admin_get("/v1/webhooks/nobody/dead-letters")->status, 404);
  refusing.set_mode(WebhookReceiver::Mode::kAccept);
  auto redelivered = node.admin()->Post("/v1/webhooks/refusing/redeliver", "", "application/json");
  ASSERT_EQ(redelivered->status, 202) << redelivered->body;
  EXPECT_EQ(redelivered->body, R"({"redelivered":)" + std::to_string(expected) + "}");
  ASSERT_TRUE(eventually([&] { return refusing.accepted().size() >= expected; }));
  EXPECT_NE(node.admin_get("/v1/webhooks/refusing/dead-letters")->body.find(R"("dead_letters":[])"),
            std::string::npos);

  ASSERT_EQ(node.admin()->Delete("/v1/webhooks/refusing")->status, 204);
  EXPECT_EQ(node.admin()->Delete("/v1/webhooks/refusing")->status, 404);
  // The secret is in the log only sealed.
  for (const auto& e : logged_events(dir.path()))
    EXPECT_EQ(events::encode(e).find("hook-s3cret"), std::string::npos);
}

// The issue's "Done when": a receiver sees every check-in and result across a kill -9 of the node;
// duplicates only after the crash, none lost.
TEST(Webhooks, KillMinus9RepeatsDeliveriesAndLosesNone) {
  TempDir dir;
  TestNodeOptions options;
  options.separate_process = true;
  TestNode node(dir.path(), options);
  WebhookReceiver receiver;
  ASSERT_EQ(put_endpoint(node, "hook", R"({"url":")" + receiver.url() + R"("})")->status, 204);
  constexpr int kDevices = 4, kCommands = 30;
  std::vector<std::unique_ptr<TestDevice>> devices;
  std::string ids;
  for (int i = 0; i < kDevices; ++i) {
    devices.push_back(std::make_unique<TestDevice>(node, "WEBHOOK-" + std::to_string(i)));
    devices.back()->enroll();
    ids += (i ? "," : "") + devices.back()->udid();
  }
  for (int c = 0; c < kCommands; ++c)
    ASSERT_EQ(node.enqueue(ids, command_body("W" + std::to_string(c), "ProfileList"))->status, 200);
  std::atomic<bool> killed{false};
  std::vector<std::thread> threads;
  for (auto& d : devices)
    threads.emplace_back([&, device = d.get()] {
      std::string next = command_uuid_of(device->report("Idle"));
      while (!next.empty() && !killed) {
        auto r = device->report("Acknowledged", next);
        if (!r || r->status != 200) break;
        next = command_uuid_of(r);
      }
    });
  // Killed while the devices work and deliveries flow (or after 20 s).
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (receiver.accepted().size() < kDevices * kCommands / 4 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  node.kill_hard();
  killed = true;
  for (auto& t : threads) t.join();
  const auto before_kill = receiver.accepted();
  ASSERT_GT(before_kill.size(), 0u) << "the kill came before any delivery: nothing was tested";
  std::set<std::string> seen;
  for (const auto& r : before_kill)
    EXPECT_TRUE(seen.insert(r.event_id).second) << "duplicate before the crash";

  node.restart();
  for (auto& d : devices) {
    d->reconnect(node);
    std::string next = command_uuid_of(d->report("Idle"));
    while (!next.empty()) next = command_uuid_of(d->report("Acknowledged", next));
  }
  const auto logged = device_messages_logged(dir.path());
  std::set<std::string> expected;
  for (const auto& [device, ids] : logged) expected.insert(ids.begin(), ids.end());
  std::set<std::string> received;
  ASSERT_TRUE(eventually(
      [&] {
        received.clear();
        for (const auto& r : receiver.accepted()) received.insert(r.event_id);
        return std::includes(received.begin(), received.end(), expected.begin(), expected.end());
      },
      60s))
      << received.size() << " of " << expected.size() << " event ids delivered";
  EXPECT_EQ(received, expected) << "nothing that is not in the log";
  // Each device's messages first arrived in log order.
  std::map<std::string, std::vector<std::string>> first_arrivals;
  std::set<std::string> arrived;
  for (const auto& r : receiver.accepted())
    if (arrived.insert(r.event_id).second) first_arrivals[r.udid].push_back(r.event_id);
  EXPECT_EQ(first_arrivals, logged);
  std::cout << "delivered " << receiver.accepted().size() << " for " << expected.size()
            << " device messages (" << receiver.accepted().size() - expected.size()
            << " repeated after the kill)\n";
}

}  // namespace
}  // namespace cairn::testing
