// Issue 13: a node facing the internet, tried as an attacker would. Each test sends what a
// hostile stranger or a hostile enrolled device can send, to a real node over mTLS, and checks
// the refusal is clear, costs the node little, and leaves every other device served.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/encoding.hpp"
#include "common/files.hpp"
#include "crypto/certificate.hpp"
#include "ingest/api_keys.hpp"
#include "tests/support/messages.hpp"
#include "tests/support/raw_tls.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_node.hpp"

namespace cairn::testing {
namespace {

std::string percent_encode(std::string_view s) {
  std::string out;
  for (char c : s) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
    out += buf;
  }
  return out;
}

class Hostile : public ::testing::Test {
 protected:
  TempDir dir;
  TestNode node{dir.path()};
};

// Item 1: 200,000 levels of nesting behind a quote in a tag, sent by an enrolled device as the
// answer to a DeviceInformation. It used to be logged, kill the node while freeing the parse, and
// kill it again at every restart while the projector re-read it.
TEST_F(Hostile, NestingHiddenBehindAQuoteIsRefusedAndTheNodeLivesOn) {
  TestDevice attacker(node, "ATTACKER"), bystander(node, "BYSTANDER");
  attacker.enroll();
  bystander.enroll();
  ASSERT_EQ(node.enqueue("ATTACKER", command_body("INFO-1", "DeviceInformation"))->status, 200);
  ASSERT_EQ(command_uuid_of(attacker.report("Idle")), "INFO-1");
  std::string body =
      "<plist version=\"1.0\"><dict '><key>UDID</key><string>ATTACKER</string>"
      "<key>Status</key><string>Acknowledged</string><key>CommandUUID</key><string>INFO-1</string>"
      "<key>QueryResponses</key><dict><key>a</key>";
  for (int i = 0; i < 200000; ++i) body += "<array>";
  for (int i = 0; i < 200000; ++i) body += "</array>";
  body += "</dict></dict '></plist>";
  const auto refused = attacker.put("/mdm", body);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400) << refused->body;
  EXPECT_NE(refused->body.find("malformed plist"), std::string::npos) << refused->body;
  // The same nesting without the quote: refused at the 65th level.
  const std::string plain = body.replace(body.find("<dict '>"), 8, "<dict>");
  EXPECT_NE(attacker.put("/mdm", plain)->body.find("nests deeper"), std::string::npos);
  EXPECT_EQ(bystander.report("Idle")->status, 200);
  node.restart();
  bystander.reconnect(node);
  EXPECT_EQ(bystander.report("Idle")->status, 200);
}

// Item 2: bodies the node would buffer or inflate without a bound are refused on their headers,
// before a byte of them is read, and the connection is closed rather than read on.
TEST_F(Hostile, UnboundedBodiesAreRefusedOnTheirHeaders) {
  TestDevice device(node, "DEV");
  device.enroll();
  const std::string head = "PUT /mdm HTTP/1.1\r\nHost: localhost\r\n";
  struct Case {
    const char* name;
    std::string headers;
    int status;
  };
  for (const Case& c : std::vector<Case>{
           {"chunked, capitalised", "Transfer-Encoding: Chunked\r\n", 411},
           {"chunked after gzip", "Transfer-Encoding: gzip, chunked\r\n", 411},
           {"gzip bomb", "Content-Encoding: gzip\r\nContent-Length: 500000\r\n", 415},
           {"no length", "", 411},
           {"length not a number", "Content-Length: 12abc\r\n", 400},
           {"multipart", "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 9\r\n",
            415}}) {
    RawTlsConnection connection(node.port(), &device.identity());
    ASSERT_TRUE(connection.send(head + c.headers + "\r\n")) << c.name;
    EXPECT_EQ(connection.read_status(), c.status) << c.name;
    // What follows is not read as a request: the node ends the connection instead.
    connection.send(std::string(1 << 20, 'x'));
    EXPECT_TRUE(connection.closed_by_server(5)) << c.name;
  }
  EXPECT_EQ(device.report("Idle")->status, 200);
}

// Item 8: a device's body is taken as sent whatever its Content-Type (httplib's form parser
// answered a form-typed body over 8 KB with an empty 413 before Cairn saw it).
TEST_F(Hostile, AnyContentTypeIsAcceptedOnDevicePaths) {
  TestDevice device(node, "FORMS");
  device.enroll();
  std::string body = report_body("FORMS", "Idle");
  body.insert(body.find("<dict>") + 6,
              "<key>Padding</key><string>" + std::string(20000, 'p') + "</string>");
  const httplib::Headers form{{"Content-Type", "application/x-www-form-urlencoded"}};
  auto r = device.put("/mdm", body, form);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

// Item 5: a stranger's refusals are answered every time but recorded once per address per
// interval (with a count of the rest), and what the stranger chose is capped in what is kept.
TEST_F(Hostile, TenThousandRefusalsFromOneAddressLeaveTheLogWithinABound) {
  TestDevice bystander(node, "BYSTANDER");
  bystander.enroll();
  TestDevice stranger(node, "STRANGER", nullptr);  // no certificate: nobody
  const std::string long_type = "multipart/" + std::string(4000, 'x');
  const auto first = stranger.put("/mdm", "x", {{"Content-Type", long_type}});
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 415);
  stranger.reconnect(node);  // a refusal on headers ends its connection
  const auto started = std::chrono::steady_clock::now();
  int answered_400 = 0;
  for (int i = 0; i < 10000; ++i) answered_400 += stranger.put("/mdm", "x")->status == 400;
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started)
          .count();
  EXPECT_EQ(answered_400, 10000);
  EXPECT_EQ(bystander.report("Idle")->status, 200);
  size_t recorded = 0;
  uint64_t repeated = 0;
  for (const auto& e : logged_events(dir.path()))
    if (const auto* r = std::get_if<events::MessageRejected>(&e.payload)) {
      ++recorded;
      repeated += r->repeated;
      EXPECT_LE(r->content_type.size(), 256u);
      EXPECT_LE(r->reason.size(), 256u);
    }
  // One per 10 s interval begun, whatever the rate; every refusal accounted for.
  EXPECT_LE(recorded, static_cast<size_t>(seconds / 10 + 2));
  EXPECT_GE(recorded, 1u);
  EXPECT_LE(repeated, 10000u);
}

// Item 3, the head's budget: request line and headers beyond 64 KiB are answered 431 and the
// connection ends, before httplib holds a single header.
TEST_F(Hostile, AnOversizedHeadIsAnswered431) {
  TestDevice device(node, "DEV");
  device.enroll();
  RawTlsConnection greedy(node.port());
  ASSERT_TRUE(greedy.send("GET /healthz HTTP/1.1\r\nHost: cairn\r\n"));
  std::string headers;
  for (int i = 0; headers.size() < 70'000; ++i)
    headers += "X-Filler-" + std::to_string(i) + ": " + std::string(50, 'a') + "\r\n";
  greedy.send(headers + "\r\n");  // the node may end the connection before it is all sent
  EXPECT_EQ(greedy.read_status(), 431);
  EXPECT_TRUE(greedy.closed_by_server(5));
  EXPECT_EQ(device.report("Idle")->status, 200);
}

// How many connections (each two descriptors here: the test's end and the node's) this process
// can open, up to `wanted`, with the soft descriptor limit raised to the hard one.
int connections_we_can_open(int wanted) {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  return static_cast<int>(std::min<rlim_t>(wanted, (limit.rlim_cur - 300) / 2));
}

// Item 3, slow clients: a thousand connections from one stranger, half stopped in the middle of a
// request's head and half silent before the TLS handshake, wait without holding any of the
// node's 16 request threads, so devices are answered while all of them are open; then each is cut
// at its deadline.
TEST(HostileSlowClients, AThousandSlowConnectionsWaitWithoutHoldingTheThreadsDevicesNeed) {
  const int n = connections_we_can_open(1000);
  ASSERT_GE(n, 300) << "the descriptor limit is too low for this test";
  TempDir dir;
  TestNodeOptions options;
  options.connection_limits.per_address = n;  // this test is about time, not about addresses
  options.connection_limits.handshake = std::chrono::seconds(10);
  options.connection_limits.headers = std::chrono::seconds(10);
  TestNode node(dir.path(), options);
  TestDevice device(node, "PATIENT");
  device.enroll();
  std::vector<std::unique_ptr<RawTlsConnection>> stalled;
  for (int i = 0; i < n / 2; ++i) {
    stalled.push_back(std::make_unique<RawTlsConnection>(node.port(), nullptr, "127.0.0.2"));
    ASSERT_TRUE(stalled.back()->send("PUT /mdm HTTP/1.1\r\nHost: cairn\r\nContent-Len"));
  }
  std::vector<std::unique_ptr<TcpConnection>> silent;
  for (int i = 0; i < n / 2; ++i)
    silent.push_back(std::make_unique<TcpConnection>(node.port(), "127.0.0.2"));
  for (int i = 0; i < 20; ++i) ASSERT_EQ(device.report("Idle")->status, 200);
  int silent_open = 0;
  for (const auto& c : silent) silent_open += !c->ended();
  EXPECT_EQ(silent_open, n / 2) << "devices were answered only after slow connections ended";
  int ended = 0;
  for (const auto& c : silent) ended += c->ended_within(15);
  for (const auto& c : stalled) ended += c->closed_by_server(15);
  EXPECT_EQ(ended, n / 2 * 2);
  EXPECT_GE(node.metric("cairn_http_requests_cut_off_total"), n / 2 * 2);
  EXPECT_EQ(device.report("Idle")->status, 200);
}

// Item 3, one address: past its share of connections, the next are closed at once, and the
// places come back as its connections end. Other addresses are not affected.
TEST(HostileSlowClients, OneAddressHoldsAtMostItsShareOfConnections) {
  TempDir dir;
  TestNodeOptions options;
  options.connection_limits.per_address = 8;
  TestNode node(dir.path(), options);
  TestDevice device(node, "NEIGHBOUR");
  device.enroll();
  std::vector<std::unique_ptr<TcpConnection>> greedy;
  for (int i = 0; i < 20; ++i)
    greedy.push_back(std::make_unique<TcpConnection>(node.port(), "127.0.0.2"));
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (node.metric("cairn_http_connections_refused_total") < 12 &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(node.metric("cairn_http_connections_refused_total"), 12);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the last refusals reach us
  int ended = 0;
  for (const auto& c : greedy) ended += c->ended();
  EXPECT_EQ(ended, 12);
  EXPECT_EQ(device.report("Idle")->status, 200);
  greedy.clear();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the node sees them end
  std::vector<std::unique_ptr<TcpConnection>> again;
  for (int i = 0; i < 8; ++i)
    again.push_back(std::make_unique<TcpConnection>(node.port(), "127.0.0.2"));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  for (const auto& c : again) EXPECT_FALSE(c->ended());
  EXPECT_EQ(node.metric("cairn_http_connections_refused_total"), 12);
}

// Item 4: the proxy header names a certificate, and only a configured proxy is believed. The SCEP
// RA's certificate (public: GetCACert hands it out) used to enroll a made-up device through it.
TEST(HostileProxyHeader, OnlyAConfiguredProxyIsBelievedAndOnlyForClientCertificates) {
  TempDir dir;
  TestNodeOptions options;
  options.trusted_proxy_header = "X-Ssl-Client-Cert";
  options.trusted_proxy_from = "10.255.255.1/32,fd00::1/128";  // not us
  TestNode node(dir.path(), options);
  const std::string ra_pem = read_file(dir.path() + "/pki/scep-ra.crt");
  TestDevice stranger(node, "MADE-UP", nullptr);
  const auto refused = stranger.put("/checkin", authenticate_body("MADE-UP"),
                                    {{"X-Ssl-Client-Cert", percent_encode(ra_pem)}});
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403) << refused->body;

  TempDir dir2;
  options.trusted_proxy_from = "127.0.0.0/8";
  TestNode proxied(dir2.path(), options);
  TestDevice behind(proxied, "SERVERCERT", nullptr);
  const auto server =
      pki::issue_certificate(proxied.ca(), "a server", pki::CertUsage::kServer, {}, 1);
  const auto r = behind.put(
      "/checkin", authenticate_body("SERVERCERT"),
      {{"X-Ssl-Client-Cert", percent_encode(crypto::certificate_pem(server.cert.get()))}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("not a client certificate"), std::string::npos) << r->body;
}

// Item 7: a key does what its role allows and no more; keys made and revoked while the node runs
// take effect without a restart; the key's name is the actor of what it queued.
TEST_F(Hostile, EachKeyDoesWhatItsRoleAllowsAndRevokedKeysStopWorking) {
  TestDevice device(node, "FLEET-1");
  device.enroll();
  const std::string scraper =
      ingest::ApiKeys::create(dir.path(), "prometheus", ingest::Role::kMetrics);
  const std::string auditor = ingest::ApiKeys::create(dir.path(), "auditor", ingest::Role::kReader);
  const std::string helpdesk =
      ingest::ApiKeys::create(dir.path(), "helpdesk", ingest::Role::kOperator);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the node looks once a second
  auto status = [&](const std::string& key, const std::string& method, const std::string& path,
                    const std::string& body = "") {
    auto client = node.admin(key);
    const auto r = method == "GET"    ? client->Get(path)
                   : method == "POST" ? client->Post(path, body, "application/json")
                                      : client->Put(path, body, "application/xml");
    return r ? r->status : -1;
  };
  auto typed = [](const std::string& type, const std::string& uuid) {
    return R"({"request_type": ")" + type + R"(", "devices": ["FLEET-1"], "command_uuid": ")" +
           uuid + R"("})";
  };
  EXPECT_EQ(status(scraper, "GET", "/metrics"), 200);
  EXPECT_EQ(status(scraper, "GET", "/v1/devices"), 403);
  EXPECT_EQ(status(auditor, "GET", "/v1/devices/FLEET-1"), 200);
  EXPECT_EQ(status(auditor, "PUT", "/v1/enqueue/FLEET-1", command_body("R-1", "DeviceInformation")),
            403);
  EXPECT_EQ(status(auditor, "GET", "/v1/enrollment/profile"), 403);  // it holds the SCEP challenge
  EXPECT_EQ(
      status(helpdesk, "PUT", "/v1/enqueue/FLEET-1", command_body("H-1", "DeviceInformation")),
      200);
  for (const std::string type : {"EraseDevice", "DeviceLock", "ClearPasscode", "RemoveProfile"}) {
    EXPECT_EQ(status(helpdesk, "PUT", "/v1/enqueue/FLEET-1", command_body("H-" + type, type)), 403)
        << type;
    EXPECT_EQ(status(helpdesk, "POST", "/api/v1/commands", typed(type, "T-" + type)), 403) << type;
  }
  EXPECT_EQ(status(helpdesk, "PUT", "/v1/pushcert", "x"), 403);
  EXPECT_EQ(status("", "PUT", "/v1/enqueue/FLEET-1", command_body("A-1", "EraseDevice")), 200);
  size_t by_helpdesk = 0;
  for (const auto& e : logged_events(dir.path()))
    if (const auto* q = std::get_if<events::CommandEnqueued>(&e.payload)) {
      EXPECT_TRUE(e.actor == "helpdesk" ? q->request_type == "DeviceInformation"
                                        : e.actor == "tester")
          << e.actor << " queued " << q->request_type;
      by_helpdesk += e.actor == "helpdesk";
    }
  EXPECT_EQ(by_helpdesk, 1u);

  ASSERT_TRUE(ingest::ApiKeys::revoke(dir.path(), "helpdesk"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(status(helpdesk, "GET", "/v1/devices"), 401);
  EXPECT_EQ(status(auditor, "GET", "/v1/devices"), 200);  // the others stay
}

}  // namespace
}  // namespace cairn::testing
