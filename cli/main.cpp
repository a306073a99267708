// The `cairn` command: every role and tool of Cairn from one binary.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "app/audit_tool.hpp"
#include "app/single_node.hpp"
#include "cli/admin_client.hpp"
#include "cli/admin_commands.hpp"
#include "cli/options.hpp"
#include "common/encoding.hpp"
#include "common/files.hpp"
#include "common/logging.hpp"
#include "crypto/certificate.hpp"
#include "crypto/cms_signature.hpp"
#include "crypto/secret_box.hpp"
#include "enrollment/push_certificate_request.hpp"
#include "ingest/api_keys.hpp"
#include "pki/dev_pki.hpp"

namespace {

using namespace cairn::cli;

constexpr const char* kUsage = R"(usage: cairn <command> [options]

commands:
  serve     run ingest, projector and dispatcher on the embedded log (single node)
  ingest | projector | dispatcher   one role of a deployment on Kafka (--kafka-brokers needed):
            ingest: device endpoints + admin API + a projector replica; projector: admin API +
            replica; dispatcher: pushes. All take serve's options and serve /healthz, /metrics.
            --config FILE   options as "name = value" lines (the command line wins)
            --data-dir DIR (data)  --listen HOST:PORT (127.0.0.1:8443)  --no-tls
            --kafka-brokers HOST:PORT,... [--kafka-topic T (cairn.events.v1)]   the log on Kafka
            --kafka-fetch-wait-ms N (100; ~2 against the test broker, see its README)
            --dispatcher-group G (cairn-dispatcher)  --dispatcher-session-timeout-ms N (10000)
            --tls-cert FILE --tls-key FILE --device-ca FILE   (default: the dev PKI in DIR/pki)
            --trusted-proxy-header NAME --trusted-proxy-from CIDR,...   a TLS-terminating
              proxy's header carrying the client certificate, believed from those addresses only
            --max-body-bytes N (4194304)  --threads N (256)
            --max-connections-per-address N (512)  --max-connections N (20000)
            --handshake-timeout-ms N (10000)
            --header-timeout-ms N (10000)  --request-timeout-ms N (60000)
            --max-header-bytes N (65536)   bounds on what one client holds (TLS only)
            --node NAME  --apply-timeout-ms N (5000)  --keep-alive-seconds N (5)
            --refusal-record-interval-seconds N (10)   unauthenticated refusals are recorded
              once per address per N seconds, with a count of the rest (0: every one)
            --apns-url URL (https://api.push.apple.com)  --apns-sandbox-url URL
            --apns-ca-file FILE (system trust)  --push-expiration-seconds N (604800)
            --push-coalesce-seconds N (60)  --repush-silent-after-seconds N (86400)
            --inactive-after-seconds N (2592000)   (0 turns either off)
            --public-url https://HOST[:PORT]   how devices reach the deployment, written into
              enrollment profiles (default: the host name the admin downloading one used)
            --identity-days N (365)   lifetime of device identities issued (SCEP, PKCS#12)
            --ota-device-ca FILE   OTA enrollment: the CA that must have issued the certificate
              signing a device's attributes (Apple's device CA); default: any signer
            --ade-url URL (https://mdmenrollment.apple.com)  --ade-ca-file FILE (system trust)
            --ade-sync-interval-seconds N (300)   Automated Device Enrollment (docs/ade.md)
            --ade-device-ca FILE   the CA that must have issued the certificate signing a device's
              MachineInfo (Apple's iPhone Device CA, PEM); without it ADE enrollment is refused
            --webhook-ca-file FILE (system trust)   CAs of https webhook receivers
            --webhook-timeout-seconds N (10)  --webhook-give-up-hours N (24)   a delivery
              failing that long is dead-lettered (docs/webhooks.md)
            --user-channels on|off (on)   manage users' channels (a Mac's users, Shared iPad
              users); off declines them with 410, as Apple documents
            --audit-checkpoint-seconds N (10)   how often the audit ledger signs a checkpoint of
              each partition that moved; 0: never (docs/audit.md)
  replay    rebuild the projection from the log into a fresh directory, print the digest
            --data-dir DIR  --into DIR (a new temporary directory when omitted)
            --kafka-brokers ... --kafka-topic T   replay from Kafka instead of DIR/log
            --memory-mib N (384)   what the rebuild holds in memory; past it, sorted runs go to
              the new projection on disk (measured: RSS N + ~300 MiB for 100,000 devices)
  audit verify   check the log against its signed checkpoints and name each event changed,
            removed, inserted or moved since (docs/audit.md); exit status 1 when one is found
            --data-dir DIR [--kafka-brokers ... --kafka-topic T]
            --public-key HEX[,HEX...]   the keys trusted to sign (default: DIR's keyring)
            --export FILE   check an export instead (needs only --public-key)
  audit export   a device's events (or all) as JSON lines, each with its proof against a signed
            checkpoint, for an auditor to check without the server   --data-dir DIR
            [--device ID] [--since T] [--until T] [--type EventType] [--kafka-...]
  audit public-key   print the checkpoints' public keys (hex; the signing one first)
            --data-dir DIR
  pki init        create the development PKI in DIR/pki      --data-dir DIR [--ca-key ec|rsa]
  pki import-ca   make an external CA (e.g. an intermediate of your PKI) Cairn's issuing CA, in
            a data directory without one (before its first start)   --data-dir DIR
            --cert FILE (PEM: the CA, then the certificates above it up to the root)
            --key FILE (PEM; if encrypted, its passphrase in $CAIRN_CA_KEY_PASSPHRASE)
  pki passphrase  print the passphrase of the PEM keys Cairn wrote   --data-dir DIR
  pki scep-challenge  print the SCEP challenge enrollment profiles carry   --data-dir DIR
  apikey create   create an API key (shown once)     --data-dir DIR --name NAME
            --role admin|operator|reader|metrics (admin)   operator: commands and pushes, but
              not EraseDevice, DeviceLock, EnableLostMode, ClearPasscode,
              ClearRestrictionsPassword, RemoveProfile, DeleteUser, push certificates or
              re-enrollment; reader: reads only; metrics: /metrics only
  apikey revoke   remove the key called NAME; running nodes refuse it within a second
            --data-dir DIR --name NAME
  apikey list     every key's name and role (keys are made and revoked on a node's data
            directory only: a stolen key cannot make itself a lasting one)   --data-dir DIR

fleet commands, through a running node's admin API (the web console's API; docs/cli.md):
  devices list [FILTER=VALUE ...]   devices, filtered on inventory (os_version=17.1,
            status.passcode.is-compliant=false, …; GET /api/v1/devices lists the filters)
  devices show UDID | commands UDID | events UDID [--since T --until T --type EventType]
  commands send REQUEST_TYPE --devices UDID,... [KEY=VALUE ...] [--json FILE|-] [--no-push]
            [--command-uuid U]   a typed command; each KEY=VALUE typed as the catalog says
            (JSON for arrays, dictionaries and reals)
  commands status UUID | list --status pending|delivered|not_now|acknowledged|error|... |
            cancel UUID [--devices UDID,...] | catalog [REQUEST_TYPE]
  push UDID,...   push now       certificates [--within-days N]   push and fleet certificates
  declarations | sets   the declarations and sets stored for declarative management
            every list: --limit N --after CURSOR, or --all for every page
            every fleet command: --output table|json (table)  --server URL (https://127.0.0.1:8443)
              --api-key KEY  --ca-file F (DIR/pki/ca.crt)   or CAIRN_SERVER, CAIRN_API_KEY,
              CAIRN_CA_FILE, or "server = …" lines in --config F ($CAIRN_CONFIG,
              ~/.config/cairn/cli.conf); the command line wins, then the environment
  profile   download a signed enrollment profile from a running node, check its signature and
            what it holds, write it and print a summary
            --server https://HOST:PORT (https://127.0.0.1:8443)  --api-key KEY ($CAIRN_API_KEY)
            --ca-file F (DIR/pki/ca.crt: verifies the server and the profile's signer)
            --out FILE (enroll.mobileconfig)  --identity scep|pkcs12 (scep)  --topic T
            --access-rights N (8191)  --sign-message  --development-apns  --device-name NAME
  pushcert csr   make the APNs push certificate's key (DIR/pki/push.key, encrypted; never
            replaced) and its CSR for an MDM vendor to sign
            --data-dir DIR  --common-name NAME (Cairn MDM push)  --out FILE (push.csr, PEM)
  pushcert vendor-sign   as the MDM vendor: sign a customer's CSR into the Push Certificate
            Request to upload at https://identity.apple.com/pushcert
            --csr FILE (PEM or DER)  --vendor-p12 FILE (password in $CAIRN_VENDOR_P12_PASSWORD)
            --chain FILE (PEM: Apple's WWDR intermediate and root, when not in the p12)
            --sha1 (the 2011 text's digest; SHA-256 otherwise)  --out FILE (push-request.b64)
  pushcert upload   send the push certificate Apple issued, with DIR/pki/push.key, to a node
            --data-dir DIR --cert FILE (PEM)  --server URL --api-key KEY --ca-file F (as profile)
  ade token-cert   make the certificate to upload to Apple Business Manager for an ADE token (an
            MDM server there) on a running node; its key stays in the node's log, sealed
            --name NAME  --out FILE (NAME.pem)  [--replace]  --server URL --api-key KEY --ca-file F
  ade token-upload   send the server token file Apple Business Manager gave (.p7m); the node
            opens it with the certificate's key and seals the credentials; syncing starts
            --name NAME  --file FILE  --server URL --api-key KEY --ca-file F
  ade status   every ADE token's sync state (JSON)   --server URL --api-key KEY --ca-file F
            (docs/ade.md; the README's "Automated Device Enrollment" walks through it)
)";

// Every option a command reads (options.hpp says why).
const KnownOptions kServeOptions{"config",
                                 "data-dir",
                                 "listen",
                                 "no-tls",
                                 "kafka-brokers",
                                 "kafka-topic",
                                 "kafka-fetch-wait-ms",
                                 "dispatcher-group",
                                 "dispatcher-session-timeout-ms",
                                 "tls-cert",
                                 "tls-key",
                                 "device-ca",
                                 "trusted-proxy-header",
                                 "trusted-proxy-from",
                                 "max-body-bytes",
                                 "threads",
                                 "max-connections-per-address",
                                 "max-connections",
                                 "handshake-timeout-ms",
                                 "header-timeout-ms",
                                 "request-timeout-ms",
                                 "max-header-bytes",
                                 "node",
                                 "apply-timeout-ms",
                                 "keep-alive-seconds",
                                 "refusal-record-interval-seconds",
                                 "apns-url",
                                 "apns-sandbox-url",
                                 "apns-ca-file",
                                 "push-expiration-seconds",
                                 "push-coalesce-seconds",
                                 "repush-silent-after-seconds",
                                 "inactive-after-seconds",
                                 "public-url",
                                 "identity-days",
                                 "ota-device-ca",
                                 "user-channels",
                                 "ade-url",
                                 "ade-ca-file",
                                 "ade-sync-interval-seconds",
                                 "ade-device-ca",
                                 "webhook-ca-file",
                                 "webhook-timeout-seconds",
                                 "webhook-give-up-hours",
                                 "audit-checkpoint-seconds"};
const KnownOptions kAuditOptions{
    "config", "data-dir",   "kafka-brokers", "kafka-topic", "kafka-fetch-wait-ms",
    "node",   "public-key", "export",        "device",      "since",
    "until",  "type"};
const KnownOptions kReplayOptions{"config",        "data-dir",    "into",
                                  "kafka-brokers", "kafka-topic", "kafka-fetch-wait-ms",
                                  "memory-mib",    "node"};
const KnownOptions kProfileOptions{
    "server",        "api-key",      "ca-file",          "out",         "identity", "topic",
    "access-rights", "sign-message", "development-apns", "device-name", "data-dir", "config"};
const KnownOptions kPushcertOptions{"data-dir",   "common-name", "out",     "csr",
                                    "vendor-p12", "chain",       "sha1",    "cert",
                                    "server",     "api-key",     "ca-file", "config"};
const KnownOptions kAdeOptions{"name",    "out",     "replace",  "file",  "server",
                               "api-key", "ca-file", "data-dir", "config"};
const KnownOptions kPkiOptions{"data-dir", "cert", "key", "ca-key"};
const KnownOptions kApikeyOptions{"data-dir", "name", "role"};

// --kafka-brokers and its companions, or nothing (the embedded log).
std::optional<cairn::eventlog::KafkaOptions> kafka_options(const Options& o,
                                                           const std::string& client_id) {
  if (!o.contains("kafka-brokers")) return std::nullopt;
  cairn::eventlog::KafkaOptions k;
  k.bootstrap_servers = o.at("kafka-brokers");
  k.topic = opt(o, "kafka-topic", k.topic);
  k.fetch_wait = std::chrono::milliseconds(
      std::stoll(opt(o, "kafka-fetch-wait-ms", std::to_string(k.fetch_wait.count()))));
  k.client_id = opt(o, "node", client_id);
  return k;
}

int serve(const Options& o, const std::string& role) {
  cairn::app::NodeConfig c;
  c.roles = cairn::app::Roles::named(role);
  if (role != "serve" && !o.contains("kafka-brokers"))
    throw std::invalid_argument("cairn " + role +
                                " is one role of a deployment sharing a log on Kafka: give "
                                "--kafka-brokers (or run cairn serve)");
  c.data_dir = opt(o, "data-dir", "data");
  c.node_name = opt(o, "node", "");
  const std::string listen = opt(o, "listen", "127.0.0.1:8443");
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("--listen wants HOST:PORT");
  c.http.host = listen.substr(0, colon);
  c.http.port = std::stoi(listen.substr(colon + 1));
  c.http.tls = !o.contains("no-tls");
  c.tls_certificate_file = opt(o, "tls-cert", "");
  c.tls_private_key_file = opt(o, "tls-key", "");
  c.device_ca_file = opt(o, "device-ca", "");
  c.http.trusted_proxy_header = opt(o, "trusted-proxy-header", "");
  c.http.trusted_proxy_from = cairn::AddressRanges::parse(opt(o, "trusted-proxy-from", ""));
  if (!c.http.trusted_proxy_header.empty() && c.http.trusted_proxy_from.empty())
    throw std::invalid_argument(
        "--trusted-proxy-header needs --trusted-proxy-from: the addresses of the proxies whose "
        "header is believed (anyone else could name any certificate)");
  c.http.max_body_bytes = std::stoull(opt(o, "max-body-bytes", "4194304"));
  c.http.threads = std::stoi(opt(o, "threads", "256"));
  c.http.keep_alive_seconds = std::stoi(opt(o, "keep-alive-seconds", "5"));
  // A duration option in milliseconds; a flag not given keeps the default already in `c`.
  const auto milliseconds = [&o](const std::string& key, std::chrono::milliseconds fallback) {
    return std::chrono::milliseconds(std::stoll(opt(o, key, std::to_string(fallback.count()))));
  };
  auto& limits = c.http.connection_limits;
  limits.per_address =
      std::stoi(opt(o, "max-connections-per-address", std::to_string(limits.per_address)));
  limits.total = std::stoi(opt(o, "max-connections", std::to_string(limits.total)));
  limits.handshake = milliseconds("handshake-timeout-ms", limits.handshake);
  limits.headers = milliseconds("header-timeout-ms", limits.headers);
  limits.request = milliseconds("request-timeout-ms", limits.request);
  limits.header_bytes =
      std::stoull(opt(o, "max-header-bytes", std::to_string(limits.header_bytes)));
  c.apply_timeout = milliseconds("apply-timeout-ms", std::chrono::milliseconds(5000));
  c.refusal_record_interval =
      std::chrono::seconds(std::stoll(opt(o, "refusal-record-interval-seconds", "10")));
  c.kafka = kafka_options(o, "cairn-" + role);
  c.dispatcher_group = opt(o, "dispatcher-group", c.dispatcher_group);
  c.dispatcher_session_timeout =
      milliseconds("dispatcher-session-timeout-ms", c.dispatcher_session_timeout);
  // One URL sends both environments to a stand-in (the APNs simulator).
  c.apns.endpoints.production = opt(o, "apns-url", c.apns.endpoints.production);
  c.apns.endpoints.sandbox =
      opt(o, "apns-sandbox-url",
          o.contains("apns-url") ? c.apns.endpoints.production : c.apns.endpoints.sandbox);
  c.apns.endpoints.ca_file = opt(o, "apns-ca-file", "");
  c.dispatch.push_expiration =
      std::chrono::seconds(std::stoll(opt(o, "push-expiration-seconds", "604800")));
  c.dispatch.coalesce_window =
      std::chrono::seconds(std::stoll(opt(o, "push-coalesce-seconds", "60")));
  auto seconds = [&](const char* name, const char* fallback) {
    return std::chrono::milliseconds(std::stoll(opt(o, name, fallback)) * 1000);
  };
  c.dispatch.repush_after = seconds("repush-silent-after-seconds", "86400");
  c.dispatch.inactive_after = seconds("inactive-after-seconds", "2592000");
  c.public_url = opt(o, "public-url", "");
  c.identity_days = std::stoi(opt(o, "identity-days", "365"));
  c.ota_device_ca_file = opt(o, "ota-device-ca", "");
  c.ade_url = opt(o, "ade-url", c.ade_url);
  c.ade_ca_file = opt(o, "ade-ca-file", "");
  c.ade_sync_interval = seconds("ade-sync-interval-seconds", "300");
  c.ade_device_ca_file = opt(o, "ade-device-ca", "");
  c.webhooks.ca_file = opt(o, "webhook-ca-file", "");
  c.webhooks.timeout = seconds("webhook-timeout-seconds", "10");
  c.webhooks.give_up_after = seconds("webhook-give-up-hours", "24") * 3600;
  c.audit_checkpoint_every = seconds("audit-checkpoint-seconds", "10");
  const std::string user_channels = opt(o, "user-channels", "on");
  if (user_channels != "on" && user_channels != "off")
    throw UsageError("--user-channels takes on or off");
  c.user_channels = user_channels == "on";

  std::filesystem::create_directories(c.data_dir);
  // The first key is shown on a terminal only: a service's stdout goes to its journal, where a
  // key would stay in clear. A service is given its keys with `cairn apikey create`.
  if (cairn::ingest::ApiKeys(c.data_dir).empty()) {
    if (::isatty(STDOUT_FILENO)) {
      const auto key =
          cairn::ingest::ApiKeys::create(c.data_dir, "admin", cairn::ingest::Role::kAdmin);
      std::cout << "Created the first admin API key (shown only now, stored hashed):\n  " << key
                << "\nUse it as the password of HTTP Basic auth, e.g. curl -u nanomdm:" << key
                << " ...\n"
                << std::flush;
    } else {
      std::cout << "No API key yet: create one with `cairn apikey create --data-dir " << c.data_dir
                << " --name NAME --role admin` (it is shown once, on that terminal)\n"
                << std::flush;
    }
  }
  // Block the stop signals before any thread starts, so only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  cairn::app::SingleNode node(c);
  node.start();
  std::cout << "cairn serving on " << (c.http.tls ? "https://" : "http://") << c.http.host << ":"
            << node.port() << " (role " << role << ", data in " << c.data_dir << ")" << std::endl;
  int sig = 0;
  sigwait(&stop_signals, &sig);
  cairn::logging::info("stopping", {{"signal", std::to_string(sig)}});
  node.stop();
  return 0;
}

int audit(const std::string& step, const Options& o) {
  const std::string data_dir = opt(o, "data-dir", "data");
  std::vector<std::string> keys;
  if (o.contains("public-key")) {
    std::stringstream list(o.at("public-key"));
    for (std::string hex; std::getline(list, hex, ',');) {
      auto key = cairn::hex_decode(hex);
      if (!key || key->size() != 32) throw UsageError("--public-key takes 64 hex digits per key");
      keys.push_back(std::move(*key));
    }
  }
  if (step == "public-key") {
    for (const auto& key : cairn::app::audit_public_keys(data_dir))
      std::cout << cairn::hex_encode(key) << std::endl;
    return 0;
  }
  if (step == "export") {
    const cairn::audit::ExportFilter filter{opt(o, "device", ""), opt(o, "since", ""),
                                            opt(o, "until", ""), opt(o, "type", "")};
    const auto n =
        cairn::app::export_audit(data_dir, kafka_options(o, "cairn-audit"), filter, std::cout);
    std::cerr << n << " events exported" << std::endl;
    return 0;
  }
  if (step != "verify") throw UsageError("audit takes verify, export or public-key");
  cairn::audit::Report report;
  if (o.contains("export")) {
    if (keys.empty()) throw UsageError("checking an export needs --public-key");
    std::ifstream in(o.at("export"));
    if (!in) throw std::runtime_error("cannot read " + o.at("export"));
    report = cairn::audit::verify_export(in, keys);
  } else {
    if (keys.empty()) keys = cairn::app::audit_public_keys(data_dir);
    report = cairn::app::verify_audit_log(data_dir, kafka_options(o, "cairn-audit"), keys);
  }
  for (const auto& f : report.findings) std::cout << cairn::audit::describe(f) << std::endl;
  std::cout << "records " << report.records << ", checkpoints verified "
            << report.checkpoints_verified << ", records after the last checkpoint "
            << report.unsigned_records << ": "
            << (report.intact() ? "intact" : std::to_string(report.findings.size()) + " found")
            << std::endl;
  return report.intact() ? 0 : 1;
}

int replay(const Options& o) {
  const std::string data_dir = opt(o, "data-dir", "data");
  std::string into = opt(o, "into", "");
  const bool temporary = into.empty();
  if (temporary) {
    into = (std::filesystem::temp_directory_path() / ("cairn-replay-" + std::to_string(::getpid())))
               .string();
  }
  const size_t memory_mib = std::stoul(opt(o, "memory-mib", "384"));
  const auto result =
      cairn::app::replay(data_dir, kafka_options(o, "cairn-replay"), into, memory_mib << 20);
  std::cout << "events " << result.events << "\ndigest " << result.digest << std::endl;
  std::cerr << "log opened in " << result.open_seconds << " s, applied in " << result.apply_seconds
            << " s, digest in " << result.digest_seconds << " s" << std::endl;
  if (temporary) std::filesystem::remove_all(into);
  return 0;
}

// The admin API's client, as the fleet commands make it (admin_client.hpp: flags, environment,
// config file).
AdminClient admin_client(const Options& o) {
  return AdminClient(server_settings(o));
}

// `cairn profile`: the admin API's profile download, checked as a device would check it.
int profile(const Options& o) {
  const auto settings = server_settings(o);
  AdminClient admin(settings);
  auto& client = admin.http();
  std::string query;
  for (const char* name :
       {"identity", "topic", "access-rights", "sign-message", "development-apns", "device-name"}) {
    if (!o.contains(name)) continue;
    std::string param = name;
    std::replace(param.begin(), param.end(), '-', '_');
    query +=
        (query.empty() ? "?" : "&") + param + "=" + httplib::detail::encode_query_param(o.at(name));
  }
  const auto r = client.Get("/v1/enrollment/profile" + query);
  expect_ok(r);
  const auto profile = cairn::Plist::parse(cairn::crypto::verify_attached(
      r->body, cairn::crypto::TrustStore::from_pem_file(settings.ca_file)));
  cairn::enrollment::check_references(profile);
  const std::string out = opt(o, "out", "enroll.mobileconfig");
  std::ofstream(out, std::ios::binary) << r->body;
  std::cout << "wrote " << out << " (" << r->body.size() << " bytes, signature verified)\n"
            << "  profile " << profile.string("PayloadUUID").value_or("") << "\n";
  const auto content = *profile.array("PayloadContent");
  for (size_t i = 0; i < content.size(); ++i) {
    const auto payload = content.at(i);
    std::cout << "  " << payload.string("PayloadType").value_or("?");
    if (payload.has("ServerURL"))
      std::cout << ": " << payload.string("ServerURL").value_or("") << ", topic "
                << payload.string("Topic").value_or("") << ", access rights "
                << payload.integer("AccessRights").value_or(0);
    std::cout << "\n";
  }
  return 0;
}

int pushcert(const std::string& step, const Options& o) {
  namespace fs = std::filesystem;
  const std::string data_dir = opt(o, "data-dir", "data");
  const std::string key_path = cairn::pki::dev_pki_paths(data_dir).dir + "/push.key";
  if (step == "csr") {
    if (fs::exists(key_path))
      throw std::invalid_argument(key_path +
                                  " exists: a push certificate issued for it may be in use; move "
                                  "it away first to start over");
    const auto secrets = cairn::crypto::SecretBox::load_or_create(data_dir);
    const auto csr = cairn::enrollment::make_push_csr(opt(o, "common-name", "Cairn MDM push"));
    fs::create_directories(fs::path(key_path).parent_path());
    const std::string passphrase = secrets.derive_passphrase(cairn::pki::kKeyPassphrasePurpose);
    cairn::write_file(key_path, cairn::pki::private_key_pem(csr.key.get(), &passphrase), true);
    const std::string out = opt(o, "out", "push.csr");
    cairn::write_file(out, cairn::enrollment::csr_pem(csr.csr_der), false);
    std::cout << "wrote " << out << " (key: " << key_path << ", encrypted)\n"
              << "Next: an MDM vendor signs it (cairn pushcert vendor-sign); upload the result at "
                 "https://identity.apple.com/pushcert\n";
    return 0;
  }
  if (step == "vendor-sign") {
    // Not an option: command lines are visible to every user of the machine.
    const char* password = std::getenv("CAIRN_VENDOR_P12_PASSWORD");
    if (!password)
      throw std::invalid_argument("set CAIRN_VENDOR_P12_PASSWORD to the vendor p12's password");
    auto vendor =
        cairn::pki::read_pkcs12(cairn::read_file(opt(o, "vendor-p12", "vendor.p12")), password);
    auto extra = o.contains("chain")
                     ? cairn::crypto::parse_certificates_pem(cairn::read_file(o.at("chain")))
                     : std::vector<cairn::crypto::X509Ptr>{};
    std::vector<X509*> chain;
    for (const auto* certs : {&vendor.chain, &extra})
      for (const auto& c : *certs) chain.push_back(c.get());
    const std::string request = cairn::enrollment::vendor_signed_request(
        cairn::enrollment::csr_der_from(cairn::read_file(opt(o, "csr", "push.csr"))),
        vendor.identity, chain, o.contains("sha1") ? EVP_sha1() : EVP_sha256());
    const std::string out = opt(o, "out", "push-request.b64");
    cairn::write_file(out, request, false);
    std::cout << "wrote " << out << ": upload it at https://identity.apple.com/pushcert\n";
    return 0;
  }
  if (step == "upload") {
    const auto secrets = cairn::crypto::SecretBox::load_or_create(data_dir);
    const auto key = cairn::pki::load_private_key(key_path, secrets);
    // The key is clear only inside TLS; the server seals it before recording it.
    auto admin = admin_client(o);
    const auto r = admin.http().Put("/v1/pushcert",
                                    cairn::read_file(opt(o, "cert", "push.pem")) +
                                        cairn::pki::private_key_pem(key.get(), nullptr),
                                    "application/x-pem-file");
    expect_ok(r);
    std::cout << r->body << "\n";
    return 0;
  }
  throw std::invalid_argument("pushcert takes csr, vendor-sign or upload");
}

// ADE through a running node's admin API: the token certificate, the token file, the sync state.
int ade(const std::string& step, const Options& o) {
  auto admin = admin_client(o);
  auto& client = admin.http();
  if (step == "token-cert") {
    const std::string& name = required(o, "name");
    const auto r = client.Post("/v1/ade/tokens/" + name + "/certificate" +
                               (o.contains("replace") ? "?replace=1" : ""));
    expect_ok(r);
    const std::string out = opt(o, "out", name + ".pem");
    cairn::write_file(out, r->body, false);
    std::cout << "wrote " << out
              << ": in Apple Business Manager, add an MDM server (Preferences, Your MDM Servers), "
                 "upload this certificate, download the server token, then: cairn ade "
                 "token-upload --name "
              << name << " --file <the .p7m>\n";
    return 0;
  }
  if (step == "token-upload") {
    const auto r = client.Put("/v1/ade/tokens/" + required(o, "name"),
                              cairn::read_file(required(o, "file")), "application/pkcs7-mime");
    expect_ok(r);
    std::cout << r->body << "\n";
    return 0;
  }
  if (step == "status") {
    const auto r = client.Get("/v1/ade/tokens");
    expect_ok(r);
    std::cout << r->body << "\n";
    return 0;
  }
  throw UsageError("ade takes token-cert, token-upload or status");
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv, argv + argc);
  try {
    if (args.size() < 2) {
      std::cerr << kUsage;
      return 2;
    }
    if (args[1] == "help" || std::find(args.begin(), args.end(), "--help") != args.end() ||
        std::find(args.begin(), args.end(), "-h") != args.end()) {
      std::cout << kUsage;
      return 0;
    }
    const std::string& cmd = args[1];
    if (cmd == "serve" || cmd == "ingest" || cmd == "projector" || cmd == "dispatcher")
      return serve(with_config_file(parse_options(args, 2, kServeOptions), kServeOptions), cmd);
    if (cmd == "replay")
      return replay(with_config_file(parse_options(args, 2, kReplayOptions), kReplayOptions));
    if (is_admin_command(cmd)) return run_admin_command(args);
    if (cmd == "profile") return profile(parse_options(args, 2, kProfileOptions));
    if (cmd == "audit" && args.size() >= 3)
      return audit(args[2], with_config_file(parse_options(args, 3, kAuditOptions), kAuditOptions));
    if (cmd == "pushcert" && args.size() >= 3)
      return pushcert(args[2], parse_options(args, 3, kPushcertOptions));
    if (cmd == "ade" && args.size() >= 3) return ade(args[2], parse_options(args, 3, kAdeOptions));
    if ((cmd == "pki" || cmd == "apikey") && args.size() >= 3) {
      const auto o = parse_options(args, 3, cmd == "pki" ? kPkiOptions : kApikeyOptions);
      const std::string data_dir = opt(o, "data-dir", "data");
      std::filesystem::create_directories(data_dir);
      if (cmd == "pki" && args[2] == "init") {
        const std::string ca_key = opt(o, "ca-key", "ec");
        if (ca_key != "ec" && ca_key != "rsa")
          throw UsageError("--ca-key is ec (P-256, the default) or rsa (RSA 2048)");
        const bool created = cairn::pki::ensure_dev_pki(
            data_dir, cairn::crypto::SecretBox::load_or_create(data_dir),
            ca_key == "rsa" ? cairn::pki::CaKey::kRsa2048 : cairn::pki::CaKey::kEcP256);
        std::cout << (created ? "created" : "kept existing") << " development PKI in "
                  << cairn::pki::dev_pki_paths(data_dir).dir << std::endl;
        return 0;
      }
      if (cmd == "pki" && args[2] == "import-ca") {
        const char* passphrase = std::getenv("CAIRN_CA_KEY_PASSPHRASE");
        const std::string key_passphrase = passphrase ? passphrase : "";
        cairn::pki::import_ca(data_dir, cairn::crypto::SecretBox::load_or_create(data_dir),
                              cairn::read_file(required(o, "cert")),
                              cairn::read_file(required(o, "key")),
                              passphrase ? &key_passphrase : nullptr);
        std::cout << "imported the CA into " << cairn::pki::dev_pki_paths(data_dir).dir
                  << " (its key encrypted under the keyring)" << std::endl;
        return 0;
      }
      if (cmd == "pki" && (args[2] == "passphrase" || args[2] == "scep-challenge")) {
        std::cout << cairn::crypto::SecretBox::load_or_create(data_dir).derive_passphrase(
                         args[2] == "passphrase" ? cairn::pki::kKeyPassphrasePurpose
                                                 : cairn::enrollment::kScepChallengePurpose)
                  << std::endl;
        return 0;
      }
      if (cmd == "apikey" && args[2] == "create") {
        const auto role = cairn::ingest::parse_role(opt(o, "role", "admin"));
        if (!role) throw UsageError("--role must be admin, operator, reader or metrics");
        std::cout << cairn::ingest::ApiKeys::create(data_dir, required(o, "name"), *role)
                  << std::endl;
        return 0;
      }
      if (cmd == "apikey" && args[2] == "list") {
        for (const auto& key : cairn::ingest::ApiKeys(data_dir).principals())
          std::cout << key.name << "  " << cairn::ingest::role_name(key.role) << "\n";
        return 0;
      }
      if (cmd == "apikey" && args[2] == "revoke") {
        const std::string& name = required(o, "name");
        if (!cairn::ingest::ApiKeys::revoke(data_dir, name))
          throw std::invalid_argument("no API key is called " + name);
        std::cout << "revoked " << name << " (running nodes refuse it within a second)"
                  << std::endl;
        return 0;
      }
    }
    std::cerr << kUsage;
    return 2;
  } catch (const UsageError& e) {
    std::cerr << "cairn: " << e.what() << " (cairn --help lists the commands and options)"
              << std::endl;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "cairn: " << e.what() << std::endl;
    return 1;
  }
}
