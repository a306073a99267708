// A real Cairn node on loopback (TLS, embedded log, RocksDB) for end-to-end tests, and devices
// that talk to it over mTLS with certificates issued by the node's own development CA.
#pragma once

#include <httplib.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "app/single_node.hpp"
#include "crypto/secret_box.hpp"
#include "pki/issuer.hpp"
#include "schemas/events.hpp"

namespace cairn::testing {

struct TestNodeOptions {
  // Run the real `cairn serve` binary as a child process instead of in this process, so tests
  // can kill -9 it. (wrap_log is not available then.)
  bool separate_process = false;
  std::string role = "serve";  // separate_process only: `cairn <role>`
  std::string trusted_proxy_header;
  std::string trusted_proxy_from = "127.0.0.1/32";  // in-process nodes: whose header is believed
  bool tls = true;          // in-process nodes: false serves plain HTTP (as behind a TLS proxy)
  int identity_days = 365;  // in-process nodes: lifetime of the identities its CA issues
  std::string ota_device_ca_file;  // in-process nodes: see NodeConfig
  // In-process nodes: Automated Device Enrollment (NodeConfig's ade_*).
  std::string ade_url = "https://mdmenrollment.apple.com";
  std::string ade_ca_file;
  std::string ade_device_ca_file;
  std::chrono::milliseconds ade_sync_interval{std::chrono::minutes(5)};
  bool user_channels = true;  // in-process nodes: see NodeConfig
  size_t max_body_bytes = 4u << 20;
  std::chrono::milliseconds apply_timeout{5000};
  std::chrono::seconds refusal_record_interval{10};  // in-process nodes
  http::ConnectionLimits connection_limits;          // in-process nodes
  dispatcher::ApnsClient::Options apns;  // in-process nodes: where the dispatcher pushes
  webhook::DelivererOptions webhooks;    // in-process nodes: retries, timeouts
  // Off unless a test asks: a checkpoint is an event the node appends on its own, and tests that
  // compare the live projection with a replay of the log need a log nobody else writes to.
  std::chrono::milliseconds audit_checkpoint_every{0};
  std::optional<eventlog::KafkaOptions> kafka;                 // the log on Kafka
  std::chrono::milliseconds dispatcher_session_timeout{3000};  // on Kafka: a quick takeover
  std::function<std::unique_ptr<eventlog::EventLog>(std::unique_ptr<eventlog::EventLog>)> wrap_log;
};

class TestNode {
 public:
  // Short, so that stopping a node (which waits out idle keep-alive connections) is quick.
  static constexpr int kKeepAliveSeconds = 1;

  explicit TestNode(std::string data_dir, TestNodeOptions options = {});
  ~TestNode();

  void restart();  // stop, then start again on the same data directory (and a new port)
  void stop();
  void kill_hard();  // separate_process only: SIGKILL, no chance to flush or clean up

  int port() const { return node_ ? node_->port() : child_port_; }
  std::vector<http::HttpServer::Route> served_routes() const { return node_->served_routes(); }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& ca_file() const { return ca_file_; }
  pki::Identity issue_device_identity(const std::string& name) const;
  const pki::Identity& ca() const { return ca_; }
  const std::string& api_key() const { return api_key_; }

  // An admin client (HTTP Basic with `key`, by default the node's own admin key), verifying the
  // server certificate.
  std::unique_ptr<httplib::SSLClient> admin(const std::string& key = "") const;
  // The admin API's answer to GET `path`, parsed as status + body.
  httplib::Result admin_get(const std::string& path) const;
  // A sample's value in the node's /metrics (`name{labels}` as written there), or -1.
  double metric(const std::string& sample) const;
  // Several samples from one scrape (values that move together, read at one moment).
  std::vector<double> metrics(const std::vector<std::string>& samples) const;
  // A push certificate for `topic` from the node's CA, with its key, through PUT /v1/pushcert.
  httplib::Result upload_push_certificate(const std::string& topic) const;
  httplib::Result enqueue(const std::string& ids, const std::string& command_plist,
                          const std::string& query = "") const;

 private:
  void start();
  void start_process();
  std::string data_dir_;
  TestNodeOptions options_;
  std::string ca_file_;
  std::string api_key_;
  pki::Identity ca_;
  std::unique_ptr<app::SingleNode> node_;
  pid_t child_ = -1;
  int child_port_ = 0;
};

class TestDevice {
 public:
  // A device with its own identity certificate from the node's CA.
  TestDevice(const TestNode& node, std::string udid);
  // A device presenting a given identity (or none, with a null identity).
  TestDevice(const TestNode& node, std::string udid, const pki::Identity* identity);

  const std::string& udid() const { return udid_; }
  const pki::Identity& identity() const { return identity_; }

  httplib::Result put(const std::string& path, const std::string& body,
                      const httplib::Headers& headers = {});
  httplib::Result checkin(const std::string& body) { return put("/checkin", body); }
  httplib::Result report(const std::string& status, const std::string& uuid = "");
  // Authenticate + TokenUpdate, both expected to answer 200.
  void enroll();

  // Reconnects to a node that restarted on another port.
  void reconnect(const TestNode& node);

 private:
  std::string udid_;
  pki::Identity identity_;
  std::unique_ptr<httplib::SSLClient> make_client() const;
  bool present_certificate_ = true;
  int port_ = 0;
  std::string ca_file_;
  std::unique_ptr<httplib::SSLClient> client_;
  std::chrono::steady_clock::time_point last_request_;
};

// The CommandUUID of a command the server answered with, or "" for an empty 200.
std::string command_uuid_of(const httplib::Result& answer);

}  // namespace cairn::testing

namespace cairn::testing {
// Every event in the node's log (read beside the running server, read-only).
std::vector<events::Event> logged_events(const std::string& data_dir);
}  // namespace cairn::testing
