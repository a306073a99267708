#include "tests/support/test_node.hpp"

#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/files.hpp"
#include "crypto/certificate.hpp"
#include "eventlog/embedded_log.hpp"
#include "ingest/api_keys.hpp"
#include "pki/dev_pki.hpp"
#include "plist/plist.hpp"
#include "tests/support/messages.hpp"

namespace cairn::testing {

TestNode::TestNode(std::string data_dir, TestNodeOptions options)
    : data_dir_(std::move(data_dir)), options_(std::move(options)) {
  api_key_ = ingest::ApiKeys::create(data_dir_, "tester", ingest::Role::kAdmin);
  start();
  const auto secrets = crypto::SecretBox::load_or_create(data_dir_);
  const auto paths = pki::dev_pki_paths(data_dir_);
  ca_file_ = paths.ca_cert();
  ca_.key = pki::load_private_key(paths.ca_key(), secrets);
  ca_.cert = crypto::parse_certificate_pem(read_file(paths.ca_cert()));
}

TestNode::~TestNode() {
  stop();
}

void TestNode::start() {
  if (options_.separate_process) {
    start_process();
    return;
  }
  app::NodeConfig config;
  config.data_dir = data_dir_;
  config.node_name = "test-node";
  config.http.port = 0;
  config.http.threads = 16;
  config.http.keep_alive_seconds = kKeepAliveSeconds;
  config.http.trusted_proxy_header = options_.trusted_proxy_header;
  config.http.trusted_proxy_from = AddressRanges::parse(options_.trusted_proxy_from);
  config.http.max_body_bytes = options_.max_body_bytes;
  config.http.tls = options_.tls;
  config.http.connection_limits = options_.connection_limits;
  config.identity_days = options_.identity_days;
  config.ota_device_ca_file = options_.ota_device_ca_file;
  config.ade_url = options_.ade_url;
  config.ade_ca_file = options_.ade_ca_file;
  config.ade_device_ca_file = options_.ade_device_ca_file;
  config.ade_sync_interval = options_.ade_sync_interval;
  config.user_channels = options_.user_channels;
  config.apply_timeout = options_.apply_timeout;
  config.refusal_record_interval = options_.refusal_record_interval;
  config.apns = options_.apns;
  config.webhooks = options_.webhooks;
  config.audit_checkpoint_every = options_.audit_checkpoint_every;
  config.kafka = options_.kafka;
  config.dispatcher_session_timeout = options_.dispatcher_session_timeout;
  node_ = std::make_unique<app::SingleNode>(config, options_.wrap_log);
  node_->start();
}

void TestNode::stop() {
  if (node_) node_->stop();
  node_.reset();
  if (child_ > 0) {
    ::kill(child_, SIGTERM);
    ::waitpid(child_, nullptr, 0);
    child_ = -1;
  }
}

void TestNode::kill_hard() {
  ASSERT_GT(child_, 0) << "kill_hard needs separate_process";
  ::kill(child_, SIGKILL);
  ::waitpid(child_, nullptr, 0);
  child_ = -1;
}

void TestNode::start_process() {
  // The same options as an in-process node, as `cairn <role>` arguments (built before fork: no
  // allocation after it).
  std::vector<std::string> args{
      "cairn",
      options_.role,
      "--data-dir",
      data_dir_,
      "--listen",
      "127.0.0.1:0",
      "--threads",
      "16",
      "--keep-alive-seconds",
      std::to_string(kKeepAliveSeconds),
      "--audit-checkpoint-seconds",
      std::to_string((options_.audit_checkpoint_every.count() + 999) / 1000)};
  if (options_.kafka)
    args.insert(args.end(),
                {"--kafka-brokers", options_.kafka->bootstrap_servers, "--kafka-fetch-wait-ms",
                 std::to_string(options_.kafka->fetch_wait.count())});
  if (options_.apns.endpoints.ca_file.size())
    args.insert(args.end(), {"--apns-url", options_.apns.endpoints.production, "--apns-ca-file",
                             options_.apns.endpoints.ca_file});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  child_ = ::fork();
  ASSERT_GE(child_, 0);
  if (child_ == 0) {
    // Dies with the test: a test killed by ctest's timeout must not leave nodes running.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    ::execv(CAIRN_BINARY, argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  // Wait for "cairn serving on https://127.0.0.1:<port> ...".
  std::string text;
  const std::string marker = "cairn serving on https://127.0.0.1:";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (text.find(marker) == std::string::npos ||
         text.find(' ', text.find(marker) + marker.size()) == std::string::npos) {
    pollfd p{out[0], POLLIN, 0};
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "cairn serve did not start: " << text;
    if (::poll(&p, 1, 200) <= 0) continue;
    char buf[256];
    const ssize_t n = ::read(out[0], buf, sizeof buf);
    ASSERT_GT(n, 0) << "cairn serve exited: " << text;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(out[0]);
  child_port_ = std::stoi(text.substr(text.find(marker) + marker.size()));
}

void TestNode::restart() {
  stop();
  start();
}

pki::Identity TestNode::issue_device_identity(const std::string& name) const {
  return pki::issue_certificate(ca_, name, pki::CertUsage::kClient, {}, 30);
}

std::unique_ptr<httplib::SSLClient> TestNode::admin(const std::string& key) const {
  auto client = std::make_unique<httplib::SSLClient>("127.0.0.1", port());
  client->set_ca_cert_path(ca_file_.c_str());
  client->enable_server_certificate_verification(true);
  client->set_basic_auth("nanomdm", (key.empty() ? api_key_ : key).c_str());
  client->set_tcp_nodelay(true);
  return client;
}

httplib::Result TestNode::admin_get(const std::string& path) const {
  return admin()->Get(path.c_str());
}

double TestNode::metric(const std::string& sample) const {
  return metrics({sample}).front();
}

std::vector<double> TestNode::metrics(const std::vector<std::string>& samples) const {
  const auto body = admin_get("/metrics")->body;
  std::vector<double> values;
  for (const auto& sample : samples) {
    const auto at = body.find("\n" + sample + " ");
    values.push_back(at == std::string::npos ? -1 : std::stod(body.substr(at + sample.size() + 2)));
  }
  return values;
}

httplib::Result TestNode::upload_push_certificate(const std::string& topic) const {
  const auto push = pki::issue_push_certificate(ca_, topic, 30);
  return admin()->Put(
      "/v1/pushcert",
      crypto::certificate_pem(push.cert.get()) + pki::private_key_pem(push.key.get(), nullptr),
      "application/x-pem-file");
}

httplib::Result TestNode::enqueue(const std::string& ids, const std::string& command_plist,
                                  const std::string& query) const {
  return admin()->Put(("/v1/enqueue/" + ids + query).c_str(), command_plist, "application/xml");
}

TestDevice::TestDevice(const TestNode& node, std::string udid)
    : udid_(std::move(udid)), identity_(node.issue_device_identity(udid_)) {
  reconnect(node);
}

TestDevice::TestDevice(const TestNode& node, std::string udid, const pki::Identity* identity)
    : udid_(std::move(udid)) {
  if (identity) {
    identity_.cert.reset(X509_dup(identity->cert.get()));
    EVP_PKEY_up_ref(identity->key.get());
    identity_.key.reset(identity->key.get());
  } else {
    present_certificate_ = false;
  }
  reconnect(node);
}

void TestDevice::reconnect(const TestNode& node) {
  // Writing to a server that was just killed must fail the request, not end the test process.
  std::signal(SIGPIPE, SIG_IGN);
  port_ = node.port();
  ca_file_ = node.ca_file();
  client_ = make_client();
}

std::unique_ptr<httplib::SSLClient> TestDevice::make_client() const {
  auto client = present_certificate_
                    ? std::make_unique<httplib::SSLClient>("127.0.0.1", port_, identity_.cert.get(),
                                                           identity_.key.get())
                    : std::make_unique<httplib::SSLClient>("127.0.0.1", port_);
  client->set_ca_cert_path(ca_file_.c_str());
  client->enable_server_certificate_verification(true);
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);  // httplib writes headers and body apart: no 40 ms Nagle stalls
  client->set_read_timeout(10, 0);
  return client;
}

httplib::Result TestDevice::put(const std::string& path, const std::string& body,
                                const httplib::Headers& headers) {
  const char* type = path == "/checkin" ? "application/x-apple-aspen-mdm-checkin"
                                        : "application/x-apple-aspen-mdm";
  // The server closes a keep-alive connection idle for kKeepAliveSeconds with a TLS
  // close_notify, which httplib's liveness peek takes for data: reusing it then fails the request.
  // Like a device starting a new transaction burst, open a fresh connection after a pause instead.
  const auto now = std::chrono::steady_clock::now();
  if (now - last_request_ > std::chrono::milliseconds(TestNode::kKeepAliveSeconds * 1000 / 2))
    client_ = make_client();
  auto r = client_->Put(path.c_str(), headers, body, type);
  last_request_ = std::chrono::steady_clock::now();
  return r;
}

httplib::Result TestDevice::report(const std::string& status, const std::string& uuid) {
  return put("/mdm", report_body(udid_, status, uuid));
}

void TestDevice::enroll() {
  auto a = checkin(authenticate_body(udid_));
  ASSERT_TRUE(a);
  ASSERT_EQ(a->status, 200) << a->body;
  auto t = checkin(token_update_body(udid_, "unlock-" + udid_));
  ASSERT_TRUE(t);
  ASSERT_EQ(t->status, 200) << t->body;
}

std::string command_uuid_of(const httplib::Result& answer) {
  if (!answer || answer->body.empty()) return "";
  return Plist::parse(answer->body).string("CommandUUID").value_or("");
}

}  // namespace cairn::testing

namespace cairn::testing {
std::vector<events::Event> logged_events(const std::string& data_dir) {
  eventlog::EmbeddedLog log(data_dir + "/log", eventlog::EmbeddedLog::Mode::kReadOnly);
  std::vector<events::Event> out;
  for (const auto& r :
       log.read(PartitionId(0), Offset(0), 10'000'000, std::chrono::milliseconds(0)))
    out.push_back(events::decode(r.value));
  return out;
}
}  // namespace cairn::testing
