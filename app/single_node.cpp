#include "app/single_node.hpp"
#include "common/files.hpp"

#include <unistd.h>

#include <csignal>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "ade/ade_api.hpp"
#include "ade/enrollment_service.hpp"
#include "ade/syncer.hpp"
#include "audit/audit_api.hpp"
#include "audit/ledger.hpp"
#include "common/clock.hpp"
#include "common/logging.hpp"
#include "common/metrics.hpp"
#include "crypto/certificate.hpp"
#include "crypto/secret_box.hpp"
#include "dispatcher/push_state.hpp"
#include "eventlog/embedded_log.hpp"
#include "eventlog/kafka_group.hpp"
#include "pki/dev_pki.hpp"
#include "pki/push_certificate.hpp"
#include "projector/projection_store.hpp"
#include "projector/projector.hpp"
#include "projector/queries.hpp"

namespace cairn::app {
namespace {

std::string host_name() {
  char buf[256] = {};
  return gethostname(buf, sizeof buf - 1) == 0 ? buf : "cairn";
}

}  // namespace

Roles Roles::named(const std::string& role) {
  if (role == "serve") return {true, true, true};
  if (role == "ingest") return {true, true, false};
  if (role == "projector") return {false, true, false};
  if (role == "dispatcher") return {false, false, true};
  throw std::invalid_argument("unknown role " + role + " (serve, ingest, projector or dispatcher)");
}

namespace {

// A gauge with one sample per partition of `log`, read at scrape time.
std::function<std::vector<Metrics::Sample>()> per_partition(
    const eventlog::EventLog& log, std::function<int64_t(PartitionId)> read) {
  return [&log, read] {
    std::vector<Metrics::Sample> samples;
    for (int32_t p = 0; p < log.partition_count(); ++p)
      samples.push_back(
          {{{"partition", std::to_string(p)}}, static_cast<double>(read(PartitionId(p)))});
    return samples;
  };
}

// A node with a projection (roles serve, ingest, projector): the projection and the services
// that read it, behind the device and admin routes.
struct Front {
  projector::ProjectionStore store;
  projector::Projector projector;
  projector::ProjectionReader reader;
  ingest::IdentityResolver identity;
  ingest::DeviceService devices;
  ingest::AdminApi admin;
  ingest::CommandApi commands;
  ingest::PushCertificateApi push_certificates;
  ingest::DeclarationApi declarations;
  enrollment::Authority authority;
  enrollment::ScepService scep;
  enrollment::ProfileService profiles;
  enrollment::OtaService ota;
  enrollment::ExpiryReport expiry;
  ade::EnrollmentService ade_enrollment;
  std::unique_ptr<ade::Syncer> ade_syncer;  // on the node that syncs ADE tokens
  ade::AdeApi ade_api;
  webhook::WebhookApi webhook_api;
  store::Database audit_store;
  audit::Signer audit_signer;
  audit::Ledger ledger;
  audit::AuditApi audit_api;

  // `ade_syncs_here`: whether this node is the one syncing ADE tokens now; null: it never is.
  Front(const NodeConfig& c, eventlog::EventLog& log, projector::AppliedWatermark& watermark,
        Metrics& metrics, ingest::EventWriter& writer, const crypto::SecretBox& secrets,
        std::shared_ptr<const crypto::TrustStore> device_ca, enrollment::Authority enrollment,
        std::function<bool()> ade_syncs_here)
      : store(c.data_dir + "/projection"),
        projector(log, store, watermark,
                  &metrics.histogram(
                      "cairn_projection_apply_delay_seconds",
                      "Seconds from an event's time (written by ingest) to its "
                      "application in this node's projection",
                      {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60})),
        reader(store),
        identity(std::move(device_ca)),
        devices(writer, reader, secrets, c.user_channels),
        admin(writer, reader, store, log),
        commands(writer, reader),
        push_certificates(writer, reader, secrets),
        declarations(writer, reader, log),
        authority(std::move(enrollment)),
        scep(authority, reader, writer),
        profiles(authority, c.public_url, reader, writer),
        ota(profiles, reader, writer,
            c.ota_device_ca_file.empty()
                ? nullptr
                : std::make_shared<const crypto::TrustStore>(
                      crypto::TrustStore::from_pem_file(c.ota_device_ca_file)),
            c.public_url),
        expiry(authority, reader),
        ade_enrollment(profiles, store, writer,
                       c.ade_device_ca_file.empty() ? nullptr
                                                    : std::make_shared<const ade::DeviceCa>(
                                                          read_file(c.ade_device_ca_file))),
        ade_syncer(ade_syncs_here ? std::make_unique<ade::Syncer>(store, writer, secrets,
                                                                  ade_options(c, ade_syncs_here))
                                  : nullptr),
        ade_api(writer, reader, secrets, ade_syncer.get()),
        webhook_api(writer, reader, secrets),
        audit_store(c.data_dir + "/audit", audit::kStoreLayout),
        audit_signer(secrets),
        ledger(log, audit_store, audit_signer,
               {c.node_name.empty() ? host_name() : c.node_name, c.audit_checkpoint_every}),
        audit_api(log, ledger.reader()) {}

  ade::SyncerOptions ade_options(const NodeConfig& c, std::function<bool()> syncs_here) const {
    // The session and the OAuth header would cross the network in clear.
    if (!c.ade_url.starts_with("https://"))
      throw std::invalid_argument("--ade-url must be an https:// URL");
    ade::SyncerOptions o;
    o.client.url = c.ade_url;
    o.client.ca_file = c.ade_ca_file;
    o.interval = c.ade_sync_interval;
    if (!c.public_url.empty()) o.enrollment_url = c.public_url + "/ade/enroll";
    o.anchor_certs_der = authority.trust_certificates_der();
    o.may_run = std::move(syncs_here);
    return o;
  }

  http::Services services() {
    return {devices,
            admin,
            commands,
            push_certificates,
            declarations,
            http::EnrollmentEndpoints{scep, profiles, ota, expiry},
            http::AdeEndpoints{ade_api, ade_enrollment},
            webhook_api,
            audit_api,
            identity};
  }

  void register_gauges(Metrics& metrics, const eventlog::EventLog& log) {
    metrics.gauge(
        "cairn_projection_next_offset",
        "The next offset the projector applies; cairn_log_end_offset minus this is its lag",
        per_partition(log, [this](PartitionId p) { return store.next_offset(p).value(); }));
    metrics.gauge(
        "cairn_audit_next_offset",
        "The next offset the audit ledger chains; cairn_log_end_offset minus this is its lag",
        per_partition(log, [this](PartitionId p) { return audit_store.next_offset(p).value(); }));
    // Counts kept by the projector since it started, read at scrape time.
    auto count = [](auto read) {
      return [read] { return std::vector<Metrics::Sample>{{{}, static_cast<double>(read())}}; };
    };
    metrics.gauge("cairn_projector_skipped_events",
                  "Events this version could not decode, skipped (they stay in the log)",
                  count([this] { return projector.skipped_events(); }));
    metrics.gauge("cairn_projector_uninterpretable_results",
                  "Command results applied without their body, which did not parse",
                  count([this] { return projector.uninterpretable_results(); }));
    // The certificates are read from the projection.
    expiry.register_gauges(metrics);
    metrics.gauge("cairn_push_certificate_expiry_timestamp_seconds",
                  "When each topic's push certificate expires (Unix time)", [this] {
                    std::vector<Metrics::Sample> samples;
                    for (const auto& c : reader.push_certificates())
                      if (const auto t = parse_rfc3339(c.not_after))
                        samples.push_back(
                            {{{"topic", c.topic}},
                             static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                                     t->time_since_epoch())
                                                     .count())});
                    return samples;
                  });
    metrics.gauge("cairn_push_certificate_expiring_soon",
                  "1 while a topic's push certificate has under 30 days left: renew it at Apple",
                  [this] {
                    std::vector<Metrics::Sample> samples;
                    for (const auto& c : reader.push_certificates())
                      samples.push_back({{{"topic", c.topic}},
                                         pki::days_until_expiry(c.certificate_pem) <
                                                 pki::kPushCertificateWarningDays
                                             ? 1.0
                                             : 0.0});
                    return samples;
                  });
  }
};

// A node that pushes (role dispatcher): its own store, the push certificates (decrypted only
// here), the APNs connection and, on Kafka, its share of the partitions. It delivers webhooks
// too, from a store of its own, sharing the partitions the same way.
struct Dispatch {
  dispatcher::ApnsPusher pusher;
  store::Database store;
  std::unique_ptr<eventlog::KafkaGroupMembership> group;  // dispatchers on Kafka share partitions
  dispatcher::Dispatcher dispatcher;
  store::Database webhook_store;
  webhook::Deliverer webhooks;

  Dispatch(const NodeConfig& c, eventlog::EventLog& log, const crypto::SecretBox& secrets,
           Metrics& metrics)
      : pusher(c.apns),
        store(c.data_dir + "/dispatcher", dispatcher::kStoreLayout),
        group(c.kafka ? std::make_unique<eventlog::KafkaGroupMembership>(
                            *c.kafka, c.dispatcher_group, c.dispatcher_session_timeout)
                      : nullptr),
        dispatcher(log, store, secrets, pusher, metrics, options(c)),
        webhook_store(c.data_dir + "/webhooks", webhook::kStoreLayout),
        webhooks(log, webhook_store, secrets, metrics, webhook_options(c)) {}

  webhook::DelivererOptions webhook_options(const NodeConfig& c) const {
    auto o = c.webhooks;
    o.node = c.node_name.empty() ? host_name() : c.node_name;
    if (group) {
      o.owns = [g = group.get()](PartitionId p) { return g->owns(p); };
      o.progress_every = std::chrono::seconds(5);  // the standbys drop what was delivered
    }
    return o;
  }

  dispatcher::DispatcherOptions options(const NodeConfig& c) const {
    auto o = c.dispatch;
    o.node = c.node_name.empty() ? host_name() : c.node_name;
    if (group) o.owns = [g = group.get()](PartitionId p) { return g->owns(p); };
    return o;
  }

  void register_gauges(Metrics& metrics, const eventlog::EventLog& log) {
    if (group)
      metrics.gauge("cairn_dispatcher_owned_partitions",
                    "Partitions whose devices this dispatcher pushes (its share of the group)",
                    [this, &log] {
                      double owned = 0;
                      for (int32_t p = 0; p < log.partition_count(); ++p)
                        owned += group->owns(PartitionId(p)) ? 1 : 0;
                      return std::vector<Metrics::Sample>{{{}, owned}};
                    });
    metrics.gauge(
        "cairn_dispatcher_next_offset",
        "The next offset the dispatcher consumes; cairn_log_end_offset minus this is its lag",
        per_partition(log, [this](PartitionId p) { return store.next_offset(p).value(); }));
    metrics.gauge(
        "cairn_webhook_next_offset",
        "The next offset the webhook deliverer consumes; cairn_log_end_offset minus this is its "
        "lag",
        per_partition(log, [this](PartitionId p) { return webhook_store.next_offset(p).value(); }));
    metrics.gauge("cairn_dispatcher_outbox_pushes", "Pushes waiting to be sent or retried", [this] {
      return std::vector<Metrics::Sample>{{{}, static_cast<double>(dispatcher.pending())}};
    });
  }
};

}  // namespace

// Each role builds only its parts: an ingest node never opens the dispatcher's store or decrypts
// push certificates, a dispatcher never opens a projection.
struct SingleNode::Parts {
  Metrics metrics;  // first: every part below may count in it
  crypto::SecretBox secrets;
  std::unique_ptr<eventlog::EventLog> log;
  projector::AppliedWatermark watermark;
  ingest::ApiKeys api_keys;
  ingest::EventWriter writer;
  std::unique_ptr<Dispatch> dispatch;  // when roles.dispatcher; before front: its syncer asks it
  std::unique_ptr<Front> front;        // when roles.projector()
  std::unique_ptr<http::HttpServer> http;

  Parts(const NodeConfig& c, crypto::SecretBox box, std::unique_ptr<eventlog::EventLog> event_log,
        std::shared_ptr<const crypto::TrustStore> device_ca, enrollment::Authority enrollment)
      : secrets(std::move(box)),
        log(std::move(event_log)),
        api_keys(c.data_dir),
        writer(*log, watermark, c.node_name.empty() ? host_name() : c.node_name, c.apply_timeout,
               c.refusal_record_interval),
        dispatch(c.roles.dispatcher ? std::make_unique<Dispatch>(c, *log, secrets, metrics)
                                    : nullptr),
        front(c.roles.projector() ? std::make_unique<Front>(c, *log, watermark, metrics, writer,
                                                            secrets, std::move(device_ca),
                                                            std::move(enrollment), ade_syncs_here())
                                  : nullptr) {
    register_gauges();
  }

  // ADE tokens are synced by one node: a `serve` node on the embedded log; on Kafka, the serve
  // node whose dispatcher owns partition 0 now (the group elects it; in a rebalance two may
  // briefly sync at once, which repeats a page: applying one twice changes nothing).
  std::function<bool()> ade_syncs_here() const {
    if (!dispatch) return nullptr;
    if (!dispatch->group) return [] { return true; };
    return [g = dispatch->group.get()] { return g->owns(PartitionId(0)); };
  }

  // Read at scrape time from where each number already lives.
  void register_gauges() {
    metrics.gauge("cairn_refusals_not_recorded",
                  "Refusals counted but not recorded (one per source per 10 s is), since start",
                  [this] {
                    return std::vector<Metrics::Sample>{
                        {{}, static_cast<double>(writer.refusals_not_recorded())}};
                  });
    metrics.gauge(
        "cairn_log_end_offset", "The offset after the newest event, per partition",
        per_partition(*log, [this](PartitionId p) { return log->end_offset(p).value(); }));
    if (front) front->register_gauges(metrics, *log);
    if (dispatch) dispatch->register_gauges(metrics, *log);
  }
};

SingleNode::SingleNode(
    NodeConfig config,
    std::function<std::unique_ptr<eventlog::EventLog>(std::unique_ptr<eventlog::EventLog>)>
        wrap_log) {
  std::filesystem::create_directories(config.data_dir);
  auto secrets = crypto::SecretBox::load_or_create(config.data_dir);
  if (config.tls_certificate_file.empty()) {
    pki::ensure_dev_pki(config.data_dir, secrets);
    const auto paths = pki::dev_pki_paths(config.data_dir);
    config.tls_certificate_file = paths.server_cert();
    config.tls_private_key_file = paths.server_key();
  }
  auto authority = enrollment::Authority::load(
      config.data_dir, secrets, config.tls_certificate_file, config.tls_private_key_file);
  authority.identity_days = config.identity_days;
  // Devices enrolled through Cairn's SCEP or PKCS#12 present identities from Cairn's CA (only
  // that CA, not the root above an imported one); --device-ca adds identities from elsewhere.
  config.http.client_ca_pem =
      (config.device_ca_file.empty() ? std::string() : read_file(config.device_ca_file) + "\n") +
      crypto::certificate_pem(authority.ca.cert.get());
  config.http.device_routes = config.roles.devices;
  config.http.admin_routes = config.roles.admin;
  if (config.http.tls) {
    config.http.tls_certificate_pem = read_file(config.tls_certificate_file);
    const std::string passphrase = secrets.derive_passphrase(pki::kKeyPassphrasePurpose);
    auto key = pki::parse_private_key_pem(read_file(config.tls_private_key_file), &passphrase);
    config.http.tls_private_key_pem = pki::private_key_pem(key.get(), nullptr);  // memory only
    // Every node holding the keyring opens the others' session tickets (http/tls_tickets.hpp).
    config.http.tls_ticket_secret = secrets.derive_seeds("cairn-tls-tickets").front();
  }
  std::unique_ptr<eventlog::EventLog> log;
  if (config.kafka)
    log = std::make_unique<eventlog::KafkaLog>(*config.kafka);
  else
    log = std::make_unique<eventlog::EmbeddedLog>(config.data_dir + "/log");
  if (wrap_log) log = wrap_log(std::move(log));
  auto device_ca = std::make_shared<const crypto::TrustStore>(
      crypto::TrustStore::from_pem(config.http.client_ca_pem));
  parts_ = std::make_unique<Parts>(config, std::move(secrets), std::move(log), std::move(device_ca),
                                   std::move(authority));
  parts_->http = std::make_unique<http::HttpServer>(
      config.http, parts_->front ? std::optional(parts_->front->services()) : std::nullopt,
      parts_->api_keys, parts_->writer, parts_->metrics);
  port_ = parts_->http->bind();
}

SingleNode::~SingleNode() {
  stop();
}

void SingleNode::start() {
  // OpenSSL writes with write(2): a device that drops its connection mid-response raises SIGPIPE,
  // which by default ends the process. httplib's Server happens to ignore it too; this must not
  // depend on that. The failed write is then an error on that connection only.
  std::signal(SIGPIPE, SIG_IGN);
  // Serve only from a projection that has caught up with the log (after a crash or a deleted
  // projection it may be far behind); the watermark check in ingest covers later lag.
  if (auto& front = parts_->front) {
    const auto applied = front->projector.catch_up();
    if (applied > 0) logging::info("projection caught up", {{"events", std::to_string(applied)}});
    front->projector.start();
    front->ledger.start();
    if (front->ade_syncer) front->ade_syncer->start();
  }
  if (parts_->dispatch) {
    parts_->dispatch->dispatcher.start();
    parts_->dispatch->webhooks.start();
  }
  http_thread_ = std::thread([this] { parts_->http->serve(); });
  parts_->http->wait_until_serving();
  logging::info("cairn serving", {{"port", std::to_string(port_)}});
}

void SingleNode::stop() {
  if (!parts_) return;
  parts_->http->stop();
  if (http_thread_.joinable()) http_thread_.join();
  if (parts_->front && parts_->front->ade_syncer) parts_->front->ade_syncer->stop();
  if (parts_->dispatch) {
    parts_->dispatch->webhooks.stop();
    parts_->dispatch->dispatcher.stop();
  }
  if (parts_->front) {
    parts_->front->ledger.stop();
    parts_->front->projector.stop();
  }
}

ReplayResult replay(const std::string& data_dir, const std::optional<eventlog::KafkaOptions>& kafka,
                    const std::string& into, size_t memory_bytes) {
  if (std::filesystem::exists(into) && !std::filesystem::is_empty(into))
    throw std::runtime_error(into + " is not empty: replay builds a fresh projection");
  using Clock = std::chrono::steady_clock;
  auto seconds_since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  ReplayResult result;
  auto start = Clock::now();
  std::unique_ptr<eventlog::EventLog> log;
  if (kafka)
    log = std::make_unique<eventlog::KafkaLog>(*kafka);
  else
    log = std::make_unique<eventlog::EmbeddedLog>(data_dir + "/log",
                                                  eventlog::EmbeddedLog::Mode::kReadOnly);
  result.open_seconds = seconds_since(start);
  start = Clock::now();
  projector::ProjectionStore store(into);
  projector::AppliedWatermark watermark;
  projector::Projector projector(*log, store, watermark);
  result.events = projector.rebuild(memory_bytes);
  result.apply_seconds = seconds_since(start);
  start = Clock::now();
  result.digest = store.digest().sha256;
  result.digest_seconds = seconds_since(start);
  return result;
}

std::vector<http::HttpServer::Route> SingleNode::served_routes() const {
  return parts_ && parts_->http ? parts_->http->served_routes()
                                : std::vector<http::HttpServer::Route>{};
}

}  // namespace cairn::app
