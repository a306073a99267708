// A Cairn node: ingest, projector and dispatcher as threads of one process (`cairn serve`), or
// some of them (a role: `cairn ingest`, `cairn projector`, `cairn dispatcher`, for nodes sharing
// a log on Kafka). Its data directory:
//   <data>/log/events.log   the event log (source of truth), unless it is on Kafka
//   <data>/projection/      RocksDB, rebuilt from the log by `cairn replay`
//   <data>/dispatcher/      RocksDB: the dispatcher's push targets, outbox and log position
//   <data>/webhooks/        RocksDB: the webhook deliverer's endpoints, outboxes and position
//   <data>/audit/           RocksDB: the audit ledger (every record's chain, devices' timelines)
//   <data>/pki/             development PKI (when no certificates are configured)
//   <data>/secrets/keyring  the key that seals secrets at rest
//   <data>/api_keys         admin API key hashes
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "dispatcher/dispatcher.hpp"
#include "eventlog/event_log.hpp"
#include "eventlog/kafka_log.hpp"
#include "http/http_server.hpp"
#include "projector/projector.hpp"
#include "webhook/deliverer.hpp"

namespace cairn::app {

// What a node runs. A projector replica runs whenever devices or admins are served (answers wait
// for it); /healthz and /metrics are always served.
struct Roles {
  bool devices = true;     // /mdm and /checkin
  bool admin = true;       // the admin API
  bool dispatcher = true;  // pushes
  bool projector() const { return devices || admin; }
  // "serve" (everything), "ingest" (devices + admin), "projector" (admin), "dispatcher".
  static Roles named(const std::string& role);
};

struct NodeConfig {
  Roles roles;
  std::string data_dir = "data";
  std::string node_name;  // defaults to the host name
  http::HttpOptions http;
  // Files; empty means the development PKI in <data>/pki.
  std::string tls_certificate_file;
  std::string tls_private_key_file;  // PEM; encrypted keys are opened with the keyring
  std::string device_ca_file;
  // How devices reach this deployment (https://host[:port]), written into enrollment profiles;
  // empty: the host name the admin downloading the profile used.
  std::string public_url;
  int identity_days = 365;  // lifetime of device identities Cairn's CA issues
  // OTA enrollment: the CA whose certificates must sign devices' attributes (Apple's device CA,
  // PEM); empty accepts any signer (the one-time invitation token alone gates enrollment).
  std::string ota_device_ca_file;
  // Automated Device Enrollment: the ADE service (Apple's; the ADE simulator's in tests), the CA
  // file its TLS certificate chains to (empty: the system's), how often each token syncs, and the
  // CA that must have issued the certificate signing devices' MachineInfo (Apple's iPhone Device
  // CA, PEM; its validity is not checked, as Apple still uses it past 2014; empty: ADE
  // enrollments are refused, as a serial number alone would let anyone enroll).
  std::string ade_url = "https://mdmenrollment.apple.com";
  std::string ade_ca_file;
  std::chrono::milliseconds ade_sync_interval{std::chrono::minutes(5)};
  std::string ade_device_ca_file;
  // Whether users' channels are managed (a Mac's users, Shared iPad users); off: declined (410).
  bool user_channels = true;
  std::chrono::milliseconds apply_timeout{5000};
  // Unauthenticated refusals are recorded (event and log line) once per address per this long,
  // with a count of the rest; 0 records every one.
  std::chrono::seconds refusal_record_interval{10};
  // The log on Kafka instead of <data>/log (cluster mode); the projection and the dispatcher's
  // store stay in <data>, as this node's replicas of what the log says.
  std::optional<eventlog::KafkaOptions> kafka;
  // On Kafka, dispatchers share the partitions in this consumer group; one that is silent for the
  // session timeout loses its partitions to the others.
  std::string dispatcher_group = "cairn-dispatcher";
  std::chrono::milliseconds dispatcher_session_timeout{10000};
  // Where pushes go (Apple's hosts by default; the APNs simulator's in tests and load tests).
  dispatcher::ApnsClient::Options apns;
  dispatcher::DispatcherOptions dispatch;
  webhook::DelivererOptions webhooks;  // timeouts, retries, give-up time, receivers' CA file
  // How often the audit ledger signs a checkpoint of each partition that moved (zero: never).
  std::chrono::milliseconds audit_checkpoint_every{10000};
};

class SingleNode {
 public:
  // Opens everything and binds the port. `log` may be given to wrap the embedded log (tests
  // inject faults this way); by default the node opens <data>/log.
  explicit SingleNode(
      NodeConfig config,
      std::function<std::unique_ptr<eventlog::EventLog>(std::unique_ptr<eventlog::EventLog>)>
          wrap_log = nullptr);
  ~SingleNode();

  void start();  // projector and HTTP threads
  void stop();
  int port() const { return port_; }
  // The routes its HTTP server serves (none for a dispatcher).
  std::vector<http::HttpServer::Route> served_routes() const;

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
  int port_ = 0;
  std::thread http_thread_;
};

// Rebuilds a projection from the whole log into `into` (a new directory) and returns its digest.
struct ReplayResult {
  uint64_t events = 0;
  std::string digest;
  double open_seconds = 0;    // scanning and checking the log
  double apply_seconds = 0;   // decoding and applying every event, writing the store
  double digest_seconds = 0;  // hashing the rebuilt store
};
// The log is <data_dir>/log, or on Kafka when `kafka` is given; the rebuild holds at most
// `memory_bytes` of projection in memory (Projector::rebuild).
ReplayResult replay(const std::string& data_dir, const std::optional<eventlog::KafkaOptions>& kafka,
                    const std::string& into,
                    size_t memory_bytes = projector::Projector::kRebuildMemoryBytes);

}  // namespace cairn::app
