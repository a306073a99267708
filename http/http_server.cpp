#include "http/http_server.hpp"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "common/json_writer.hpp"
#include "common/logging.hpp"
#include "console/assets.hpp"
#include "crypto/certificate.hpp"
#include "crypto/digest.hpp"
#include "pki/issuer.hpp"
#include "protocol/messages.hpp"

namespace cairn::http {

using ingest::ApiKeys;
using ingest::ApiResponse;
using ingest::DeviceService;
using ingest::EventWriter;
using ingest::IdentityEvidence;
using ingest::IdentityResolver;
using ingest::kMaxRecordedField;
using ingest::Principal;
using ingest::Role;
using ingest::split_ids;
namespace {

// A whole-number query parameter up to `most` digits of value, or `fallback` when absent;
// BadRequest naming it otherwise (`range` says what is expected).
int64_t number_param(const httplib::Request& req, const char* name, int64_t fallback,
                     size_t most_digits, const char* range) {
  if (!req.has_param(name)) return fallback;
  const std::string v = req.get_param_value(name);
  if (v.empty() || v.size() > most_digits || v.find_first_not_of("0123456789") != std::string::npos)
    throw BadRequest(std::string(name) + " must be a number " + range);
  return std::stoll(v);
}

// Where the client reached us, for URLs in profiles when no --public-url is configured.
std::string host_url(const httplib::Request& req) {
  return "https://" + req.get_header_value("Host");
}

// GET /v1/enrollment/profile?identity=scep|pkcs12&topic=…&access_rights=N&sign_message=1&
// development_apns=1&device_name=… (device_name: the PKCS#12 certificate's common name).
enrollment::ProfileRequest profile_request(const httplib::Request& req) {
  enrollment::ProfileRequest r;
  auto flag = [&](const char* name) {
    const std::string v = req.get_param_value(name);
    if (v.empty() || v == "0" || v == "false") return false;
    if (v == "1" || v == "true") return true;
    throw BadRequest(std::string(name) + " must be 0, 1, true or false");
  };
  if (req.has_param("identity")) r.identity = req.get_param_value("identity");
  r.topic = req.get_param_value("topic");
  r.access_rights = number_param(req, "access_rights", r.access_rights, 5, "from 1 to 8191");
  r.sign_message = flag("sign_message");
  r.use_development_apns = flag("development_apns");
  r.reusable_challenge = flag("reusable_challenge");
  if (req.has_param("device_name")) r.device_name = req.get_param_value("device_name");
  r.udid = req.get_param_value("udid");
  if (!r.udid.empty() && !protocol::is_valid_identifier(r.udid))
    throw BadRequest("udid must be 1-128 characters of [A-Za-z0-9._-]");
  r.host_url = host_url(req);
  return r;
}

std::string error_json(std::string_view reason) {
  JsonWriter j;
  j.begin_object().field("error", reason).end_object();
  return j.str();
}

constexpr const char* kHandshakes = "cairn_tls_handshakes_total";
constexpr const char* kHandshakesHelp =
    "TLS handshakes completed: new sessions, and sessions resumed from a ticket or the cache";

bool configure_tls(SSL_CTX& ctx, const HttpOptions& o, const TlsTicketKeys* tickets) {
  SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
  auto cert = crypto::parse_certificate_pem(o.tls_certificate_pem);
  auto key = pki::parse_private_key_pem(o.tls_private_key_pem, nullptr);
  if (SSL_CTX_use_certificate(&ctx, cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(&ctx, key.get()) != 1 || SSL_CTX_check_private_key(&ctx) != 1)
    return false;
  // Client certificates are requested and verified against the device CA when sent, but not
  // required: admin clients use API keys and proxied devices use Mdm-Signature.
  X509_STORE* store = SSL_CTX_get_cert_store(&ctx);
  // Every listed CA is a trust anchor, an intermediate included (an imported issuing CA): a
  // device identity chains to it, not to whatever root issued it.
  X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
  auto bio = crypto::memory_bio(o.client_ca_pem);
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  while (crypto::X509Ptr ca{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    X509_STORE_add_cert(store, ca.get());
    sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(ca.get())));
  }
  crypto::drain_openssl_errors();
  SSL_CTX_set_client_CA_list(&ctx, names);
  SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER, nullptr);
  // Devices reconnect for every burst; resumption saves most of the handshake. Tickets for
  // TLS 1.3 and clients of 1.2 that take them; this process's cache for other 1.2 clients.
  static const unsigned char kSessionContext[] = "cairn";
  SSL_CTX_set_session_id_context(&ctx, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_session_cache_mode(&ctx, SSL_SESS_CACHE_SERVER);
  if (tickets) tickets->install(ctx);
  return true;
}

}  // namespace

HttpServer::HttpServer(HttpOptions options, std::optional<Services> services,
                       const ApiKeys& api_keys, EventWriter& writer, Metrics& metrics)
    : options_(std::move(options)),
      services_(std::move(services)),
      api_keys_(api_keys),
      writer_(writer),
      metrics_(metrics) {
  if (options_.tls) {
    if (!options_.tls_ticket_secret.empty())
      tickets_ = std::make_unique<TlsTicketKeys>(std::exchange(options_.tls_ticket_secret, {}),
                                                 crypto::sha256(options_.client_ca_pem));
    server_ = std::make_unique<BoundedTlsServer>(
        options_.connection_limits, options_.threads,
        [this](SSL_CTX& ctx) { return configure_tls(ctx, options_, tickets_.get()); },
        ConnectionCounters{
            metrics_.counter("cairn_http_connections_refused_total",
                             "Connections closed at once: their address, or the node, had too "
                             "many open"),
            metrics_.counter("cairn_http_requests_cut_off_total",
                             "Handshakes and requests ended by a deadline or the header budget"),
            metrics_.counter(kHandshakes, kHandshakesHelp, {{"session", "new"}}),
            metrics_.counter(kHandshakes, kHandshakesHelp, {{"session", "resumed"}})});
  } else {
    server_ = std::make_unique<httplib::Server>();
    const int threads = options_.threads;
    // httplib takes ownership of the queue it gets from this factory.
    server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  }
  if (!server_->is_valid())
    throw std::runtime_error("cannot set up TLS with the given certificate");
  server_->set_tcp_nodelay(true);
  server_->set_keep_alive_max_count(100000);
  server_->set_keep_alive_timeout(options_.keep_alive_seconds);
  // A backstop: the pre-routing check (intake_refusal) answers and records over-limit requests
  // before their body is read, and refuses every body without a Content-Length.
  server_->set_payload_max_length(std::max(options_.max_body_bytes, options_.max_admin_body_bytes) +
                                  1);
  // httplib's default socket options, plus keeping the descriptor to raise the backlog in bind().
  server_->set_socket_options([this](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_socket_ = sock;
  });
  routes();
}

HttpServer::~HttpServer() {
  stop();
}

int HttpServer::bind() {
  if (options_.port == 0) {
    int port = server_->bind_to_any_port(options_.host);
    if (port < 0) throw std::runtime_error("cannot bind " + options_.host);
    options_.port = port;
  } else if (!server_->bind_to_port(options_.host, options_.port)) {
    throw std::runtime_error("cannot bind " + options_.host + ":" + std::to_string(options_.port));
  }
  // Listening again on a listening socket only changes its backlog (Linux).
  if (listen_socket_ >= 0 && ::listen(listen_socket_, options_.listen_backlog) != 0)
    logging::warn("could not raise the listen backlog", {{"error", std::strerror(errno)}});
  return options_.port;
}

void HttpServer::serve() {
  server_->listen_after_bind();
}

void HttpServer::wait_until_serving() const {
  // Bounded: a serve() that ended at once (it logs why) must not hang the caller.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->is_running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void HttpServer::stop() {
  if (server_) server_->stop();
}

void HttpServer::reject(const httplib::Request& req, std::string_view body, httplib::Response& res,
                        int status, const std::string& reason, const std::string& udid,
                        const std::string& fingerprint) {
  res.status = status;
  res.set_content(error_json(reason), "application/json");
  // A sender without a verified identity is anyone: its refusals are recorded once per address
  // per interval. A device identity's are all recorded (a stolen one can be revoked).
  const auto repeated =
      fingerprint.empty() ? writer_.admit_refusal(req.remote_addr) : std::optional<uint64_t>(0);
  if (!repeated) return;  // counted: this address was recorded moments ago
  // Fields the sender chose are capped. An OTA link's path is its one-time token: never kept.
  const std::string path(req.path.starts_with("/enroll/")
                             ? std::string_view("/enroll/…")
                             : utf8_prefix(req.path, kMaxRecordedField));
  const std::string capped_reason(utf8_prefix(reason, kMaxRecordedField));
  logging::warn("request rejected", {{"status", std::to_string(status)},
                                     {"reason", capped_reason},
                                     {"path", path},
                                     {"udid", udid},
                                     {"remote", req.remote_addr},
                                     {"repeated", std::to_string(*repeated)}});
  events::MessageRejected p;
  p.http_status = status;
  p.reason = capped_reason;
  p.path = path;
  p.content_type = utf8_prefix(req.get_header_value("Content-Type"), kMaxRecordedField);
  p.repeated = *repeated;
  p.body_size = body.size();
  p.body_sha256 = crypto::sha256_hex(body);
  p.remote_address = req.remote_addr;
  p.certificate_fingerprint = fingerprint;
  try {
    writer_.append({writer_.make(udid, "device", std::move(p))});
  } catch (const std::exception& e) {
    logging::error("could not record a rejected request", {{"error", e.what()}});
  }
}

void HttpServer::answer(httplib::Response& res, Format format, std::string_view what,
                        const logging::Field& about, const Refused& refused,
                        const std::function<void()>& call) {
  auto fail = [&](int status, const std::string& reason) {
    res.status = status;
    if (format == kJson)
      res.set_content(error_json(reason), "application/json");
    else
      res.set_content(reason + "\n", "text/plain");
  };
  try {
    call();
  } catch (const NotManaged& e) {
    refused(401, e.what());  // the only 401 (it unenrolls a device)
  } catch (const ClientError& e) {
    refused(e.status(), e.what());
  } catch (const Unavailable& e) {
    logging::error(std::string(what) + " unavailable", {{"error", e.what()}, about});
    res.set_header("Retry-After", "5");
    fail(503, e.what());
  } catch (const std::exception& e) {
    logging::error(std::string(what) + " failed", {{"error", e.what()}, about});
    fail(500, "internal error");
  }
}

void HttpServer::handle_device(const httplib::Request& req, const std::string& body,
                               httplib::Response& res, Channel channel) {
  std::string udid;
  std::string fingerprint;
  auto refused = [&](int status, const std::string& reason) {
    reject(req, body, res, status, reason, udid, fingerprint);
  };
  answer(res, kJson, "device request", {"udid", udid}, refused, [&] {
    IdentityEvidence evidence;
    crypto::X509Ptr peer;
    if (req.ssl) peer.reset(SSL_get1_peer_certificate(req.ssl));
    evidence.tls_peer = peer.get();
    if (req.has_header("Mdm-Signature"))
      evidence.mdm_signature = req.get_header_value("Mdm-Signature");
    if (!options_.trusted_proxy_header.empty() &&
        req.has_header(options_.trusted_proxy_header.c_str())) {
      // Anyone can send the header; only a configured proxy is believed (it verified the
      // certificate's key in its own handshake).
      if (!options_.trusted_proxy_from.contains(req.remote_addr))
        throw ClientError(403,
                          options_.trusted_proxy_header + " is only accepted from a trusted proxy");
      evidence.proxy_certificate = req.get_header_value(options_.trusted_proxy_header.c_str());
    }
    const auto who = services_->identity.resolve(evidence, body);
    fingerprint = who.fingerprint;
    const Plist message = Plist::parse(body);
    udid = protocol::claimed_udid(message).value_or("");
    const bool is_checkin =
        channel == Channel::kCheckin ||
        req.get_header_value("Content-Type").starts_with(protocol::kCheckinContentType) ||
        message.has("MessageType");
    const auto reply =
        is_checkin ? services_->devices.checkin(message, body, who, req.get_param_value("profile"))
                   : services_->devices.report(message, body, who);
    res.status = 200;
    if (!reply.body.empty()) res.set_content(reply.body, reply.content_type);
  });
}

void HttpServer::handle_enrollment(httplib::Response& res, const std::string& route,
                                   const std::function<enrollment::Reply()>& call) {
  auto refused = [&res](int status, const std::string& reason) {
    res.status = status;
    res.set_content(reason + "\n", "text/plain");
  };
  answer(res, kText, "enrollment request", {"route", route}, refused, [&] {
    auto reply = call();
    res.status = reply.status;
    res.set_content(reply.body, reply.content_type);
  });
}

void HttpServer::handle_admin(const httplib::Request& req, httplib::Response& res, Role needed,
                              const std::function<ApiResponse(const Principal&)>& call) {
  auto principal = api_keys_.authenticate(req.get_header_value("Authorization"));
  if (!principal) {
    res.status = 401;
    res.set_header("WWW-Authenticate", "Basic realm=\"cairn\"");
    res.set_content(error_json("missing or unknown API key"), "application/json");
    return;
  }
  auto refused = [&](int status, const std::string& reason) {
    logging::warn("admin request refused", {{"status", std::to_string(status)},
                                            {"reason", reason},
                                            {"path", req.path},
                                            {"actor", principal->name}});
    res.status = status;
    res.set_content(error_json(reason), "application/json");
  };
  answer(res, kJson, "admin request", {"path", req.path}, refused, [&] {
    if (!principal->may(needed))
      throw ClientError(403, "this API key's role (" + std::string(role_name(principal->role)) +
                                 ") may not do this: it needs " + std::string(role_name(needed)));
    auto r = call(*principal);
    res.status = r.status;
    if (r.status != 204 && r.status != 304) res.set_content(r.json, r.content_type);  // no content
  });
}

// The admin API (NanoMDM-compatible writes, reads of the projection). `admin` wraps a call with
// API-key authentication and the error mapping.
template <class Admin>
void HttpServer::admin_routes(Admin admin) {
  auto enqueue = admin(Role::kOperator, [this](const httplib::Request& req, const Principal& p) {
    const bool no_push = req.has_param("nopush") && req.get_param_value("nopush") != "0";
    // validate=0: the plist goes out as given, unchecked against the catalog (experiments).
    const bool validate = req.get_param_value("validate") != "0";
    return services_->commands.enqueue(split_ids(req.matches[1].str()), req.body, no_push, p,
                                       validate);
  });
  on("PUT", "/v1/enqueue/{ids}", enqueue);
  on("POST", "/v1/enqueue/{ids}", enqueue);
  on("POST", "/api/v1/commands",
     admin(Role::kOperator, [this](const httplib::Request& req, const Principal& p) {
       return services_->commands.enqueue_typed(req.body, p);
     }));
  on("GET", "/api/v1/catalog",
     admin(Role::kReader, [this](const httplib::Request&, const Principal&) {
       return services_->commands.catalog();
     }));
  on("GET", "/v1/push/{ids}",
     admin(Role::kOperator, [this](const httplib::Request& req, const Principal& p) {
       return services_->commands.push(split_ids(req.matches[1].str()), p);
     }));
  // Reads reflect every event acknowledged before they began, wherever it was appended (on
  // Kafka another node may have written it): the projection catches up to the log's end first.
  auto admin_read = [this, admin](auto call, Role needed = Role::kReader) {
    return admin(needed, [this, call](const httplib::Request& req, const Principal& p) {
      writer_.wait_caught_up();
      return call(req, p);
    });
  };
  on("GET", "/v1/devices", admin_read([this](const httplib::Request& req, const Principal&) {
       const auto limit = number_param(req, "limit", 100, 6, "from 1 to 1000");
       return services_->admin.devices(req.get_param_value("after"),
                                       static_cast<size_t>(std::clamp<int64_t>(limit, 1, 1000)));
     }));
  // One device (with its inventory), under NanoMDM-style and typed-API paths alike.
  const auto one_device = admin_read([this](const httplib::Request& req, const Principal&) {
    return services_->admin.device(req.matches[1].str());
  });
  on("GET", "/v1/devices/{id}", one_device);
  on("GET", "/api/v1/devices/{id}", one_device);
  on("GET", "/api/v1/devices", admin_read([this](const httplib::Request& req, const Principal&) {
       const auto limit = number_param(req, "limit", 100, 6, "from 1 to 1000");
       ingest::DeviceFilters filters;
       for (const auto& [name, value] : req.params)
         if (name != "limit" && name != "after") filters.emplace_back(name, value);
       return services_->admin.devices_matching(
           filters, req.get_param_value("after"),
           static_cast<size_t>(std::clamp<int64_t>(limit, 1, 1000)));
     }));
  // An enrolled device may enroll again with a new identity (erased or restored by hand): a new
  // identity takes over the UDID, so only an admin allows it.
  on("POST", "/v1/devices/{id}/reenrollment",
     admin(Role::kAdmin, [this](const httplib::Request& req, const Principal& p) {
       const auto hours = number_param(req, "hours", 24, 3, "from 1 to 720");
       return services_->admin.allow_reenrollment(req.matches[1].str(), req.get_param_value("note"),
                                                  std::chrono::hours(hours), p);
     }));
  // The device's events from the log (audit/audit_api.hpp), for an auditor's reader key.
  on("GET", "/v1/devices/{id}/events",
     admin_read([this](const httplib::Request& req, const Principal&) {
       const auto limit = number_param(req, "limit", 100, 6, "from 1 to 1000");
       return services_->audit.device_events(
           req.matches[1].str(), req.get_param_value("since"), req.get_param_value("until"),
           req.get_param_value("type"), req.get_param_value("after"),
           static_cast<size_t>(std::clamp<int64_t>(limit, 1, 1000)));
     }));
  on("GET", "/v1/devices/{id}/commands",
     admin_read([this](const httplib::Request& req, const Principal&) {
       return services_->admin.device_commands(req.matches[1].str());
     }));
  on("GET", "/v1/commands", admin_read([this](const httplib::Request& req, const Principal&) {
       const auto limit = number_param(req, "limit", 100, 6, "from 1 to 1000");
       return services_->admin.commands(req.get_param_value("status"), req.get_param_value("after"),
                                        static_cast<size_t>(std::clamp<int64_t>(limit, 1, 1000)));
     }));
  on("GET", "/v1/commands/{uuid}",
     admin_read([this](const httplib::Request& req, const Principal&) {
       return services_->admin.command(req.matches[1].str());
     }));
  // POST /v1/commands/{uuid}/cancel[?devices=a,b]: where it is still queued (all its devices
  // without `devices`).
  on("POST", "/v1/commands/{uuid}/cancel",
     admin(Role::kOperator, [this](const httplib::Request& req, const Principal& p) {
       const auto devices = req.get_param_value("devices");
       return services_->commands.cancel(
           req.matches[1].str(), devices.empty() ? std::vector<std::string>{} : split_ids(devices),
           p);
     }));
  // PEM (NanoMDM's format), or PKCS#12 by Content-Type with its password in a header (a query
  // string would end up in access logs).
  on("PUT", "/v1/pushcert",
     admin(Role::kAdmin, [this](const httplib::Request& req, const Principal& p) {
       if (req.get_header_value("Content-Type") == "application/x-pkcs12")
         return services_->push_certificates.upload_pkcs12(
             req.body, req.get_header_value("Cairn-PKCS12-Password"), p);
       return services_->push_certificates.upload(req.body, p);
     }));
  on("GET", "/v1/pushcerts", admin_read([this](const httplib::Request&, const Principal&) {
       return services_->push_certificates.list();
     }));
  on("GET", "/v1/projection", admin_read([this](const httplib::Request&, const Principal&) {
       return services_->admin.projection();
     }));
  // A profile carries the SCEP challenge, which enrolls any device: operators and admins only.
  on("GET", "/v1/enrollment/profile",
     admin_read(
         [this](const httplib::Request& req, const Principal& p) {
           return ApiResponse{
               200, services_->enrollment.profiles.issue(profile_request(req), p.name).signed_der,
               "application/x-apple-aspen-config"};
         },
         Role::kOperator));
  // POST /v1/enrollment/invitations?ttl_seconds=N&note=…: an OTA enrollment link (its token is
  // shown only in this answer).
  on("POST", "/v1/enrollment/invitations",
     admin(Role::kOperator, [this](const httplib::Request& req, const Principal& p) {
       const auto ttl = number_param(req, "ttl_seconds", 86400, 7, "of seconds");
       const auto invitation = services_->enrollment.ota.invite(
           std::chrono::seconds(ttl), req.get_param_value("note"), p.name, host_url(req));
       JsonWriter j;
       j.begin_object()
           .field("url", invitation.url)
           .field("token", invitation.token)
           .field("expires_at", invitation.expires_at)
           .end_object();
       return ApiResponse{201, j.str()};
     }));
  declaration_routes(admin, admin_read);
  ade_routes(admin, admin_read);
  webhook_routes(admin);
  on("GET", "/v1/certificates", admin_read([this](const httplib::Request& req, const Principal&) {
       const auto days = number_param(req, "within_days", 30, 4, "from 0 to 9999");
       return ApiResponse{200, services_->enrollment.expiry.json(static_cast<int>(days))};
     }));
}

// Automated Device Enrollment (ade/ade_api.hpp). Tokens and profiles are the admin's; a sync on
// demand is an operator's.
template <class Admin, class AdminRead>
void HttpServer::ade_routes(Admin admin, AdminRead admin_read) {
  auto& api = services_->ade.api;
  on("POST", "/v1/ade/tokens/{name}/certificate",
     admin(Role::kAdmin, [&api](const httplib::Request& req, const Principal& p) {
       return api.create_certificate(req.matches[1].str(), req.get_param_value("replace") == "1",
                                     p);
     }));
  on("GET", "/v1/ade/tokens/{name}/certificate",
     admin_read([&api](const httplib::Request& req, const Principal&) {
       return api.certificate(req.matches[1].str());
     }));
  on("PUT", "/v1/ade/tokens/{name}",
     admin(Role::kAdmin, [&api](const httplib::Request& req, const Principal& p) {
       return api.upload_token(req.matches[1].str(), req.body, p);
     }));
  on("GET", "/v1/ade/tokens",
     admin_read([&api](const httplib::Request&, const Principal&) { return api.tokens(); }));
  on("POST", "/v1/ade/tokens/{name}/sync",
     admin(Role::kOperator, [&api](const httplib::Request& req, const Principal&) {
       return api.sync(req.matches[1].str());
     }));
  on("PUT", "/v1/ade/tokens/{name}/assignment",
     admin(Role::kAdmin, [&api](const httplib::Request& req, const Principal& p) {
       return api.set_assignment(req.matches[1].str(), req.body, p);
     }));
  on("PUT", "/v1/ade/profiles/{name}",
     admin(Role::kAdmin, [&api](const httplib::Request& req, const Principal& p) {
       return api.store_profile(req.matches[1].str(), req.body, p);
     }));
  on("GET", "/v1/ade/profiles",
     admin_read([&api](const httplib::Request&, const Principal&) { return api.profiles(); }));
  on("GET", "/v1/ade/devices", admin_read([&api](const httplib::Request& req, const Principal&) {
       const auto limit = number_param(req, "limit", 100, 6, "from 1 to 1000");
       return api.devices(req.get_param_value("after"),
                          static_cast<size_t>(std::clamp<int64_t>(limit, 1, 1000)));
     }));
  for (const bool held : {true, false})
    on(held ? "PUT" : "DELETE", "/v1/ade/devices/{serial}/hold",
       admin(Role::kAdmin, [&api, held](const httplib::Request& req, const Principal& p) {
         return api.hold(req.matches[1].str(), held, p);
       }));
  on("GET", "/v1/ade/devices/{serial}",
     admin_read([&api](const httplib::Request& req, const Principal&) {
       return api.device(req.matches[1].str());
     }));
}

// Webhooks (webhook/webhook_api.hpp): endpoints carry a secret and choose what leaves the
// server, so they are the admin's; dead letters and their redelivery are an operator's.
template <class Admin>
void HttpServer::webhook_routes(Admin admin) {
  auto& api = services_->webhooks;
  on("PUT", "/v1/webhooks/{name}",
     admin(Role::kAdmin, [&api](const httplib::Request& req, const Principal& p) {
       return api.set_endpoint(req.matches[1].str(), req.body, p);
     }));
  on("DELETE", "/v1/webhooks/{name}",
     admin(Role::kAdmin, [&api](const httplib::Request& req, const Principal& p) {
       return api.remove_endpoint(req.matches[1].str(), p);
     }));
  // A receiver's URL may carry its own token: the list is the admin's too.
  on("GET", "/v1/webhooks", admin(Role::kAdmin, [&api](const httplib::Request&, const Principal&) {
       return api.endpoints();
     }));
  on("GET", "/v1/webhooks/{name}/dead-letters",
     admin(Role::kOperator, [&api](const httplib::Request& req, const Principal&) {
       const auto limit = number_param(req, "limit", 100, 6, "from 1 to 1000");
       return api.dead_letters(req.matches[1].str(), req.get_param_value("after"),
                               static_cast<size_t>(std::clamp<int64_t>(limit, 1, 1000)));
     }));
  on("POST", "/v1/webhooks/{name}/redeliver",
     admin(Role::kOperator, [&api](const httplib::Request& req, const Principal& p) {
       return api.redeliver(req.matches[1].str(), req.body, p);
     }));
}

// Declarative device management, in KMFDDM's shape (ingest/declaration_api): its paths, its
// `nonotify`, its 204/304.
// The web console's files are public (they hold no secret); every call the page makes carries an
// API key like any admin client's. The policy lets the page run its own script and reach this
// server only, so text a device reported can never run as code even if a page mishandled it.
void HttpServer::console_routes() {
  auto serve = [](std::string_view name, httplib::Response& res) {
    const auto asset = console::asset(name);
    if (!asset) {
      res.status = 404;
      res.set_content(error_json("the console has no file called that"), "application/json");
      return;
    }
    res.set_header("Content-Security-Policy",
                   "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                   "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_header("Cache-Control", "no-cache");
    res.set_content(std::string(asset->body), std::string(asset->content_type));
  };
  on("GET", "/console",
     [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/console/", 308); });
  on("GET", "/console/",
     [serve](const httplib::Request&, httplib::Response& res) { serve("index.html", res); });
  on("GET", "/console/{file}", [serve](const httplib::Request& req, httplib::Response& res) {
    serve(req.matches[1].str(), res);
  });
}

template <class Admin, class AdminRead>
void HttpServer::declaration_routes(Admin admin, AdminRead admin_read) {
  auto& ddm = services_->declarations;
  const auto notify = [](const httplib::Request& req) {
    const std::string v = req.get_param_value("nonotify");
    return v.empty() || v == "0" || v == "false";
  };
  const auto values = [](const httplib::Request& req, const char* name) {
    std::vector<std::string> out;
    for (size_t i = 0; i < req.get_param_value_count(name); ++i)
      out.push_back(req.get_param_value(name, i));
    return out;
  };
  const auto id = [](const httplib::Request& req) { return req.matches[1].str(); };
  on("PUT", "/v1/declarations",
     admin(Role::kOperator, [&ddm, notify](const httplib::Request& req, const Principal& p) {
       return ddm.put_declaration(req.body, notify(req), p);
     }));
  on("GET", "/v1/declarations",
     admin_read([&ddm](const httplib::Request&, const Principal&) { return ddm.declarations(); }));
  // Reads of one thing by its name.
  using ByName = ApiResponse (ingest::DeclarationApi::*)(const std::string&) const;
  const std::pair<const char*, ByName> by_name[] = {
      {"/v1/declarations/{id}", &ingest::DeclarationApi::declaration},
      {"/v1/set-declarations/{set}", &ingest::DeclarationApi::set_declarations},
      {"/v1/declaration-sets/{id}", &ingest::DeclarationApi::declaration_sets},
      {"/v1/set-enrollments/{set}", &ingest::DeclarationApi::set_enrollments},
      {"/v1/enrollment-sets/{id}", &ingest::DeclarationApi::enrollment_sets},
  };
  // (Bindings are copied into the lambdas: clang before 16 cannot capture them.)
  for (const auto& [path, function] : by_name)
    on("GET", path,
       admin_read([&ddm, id, read = function](const httplib::Request& req, const Principal&) {
         return (ddm.*read)(id(req));
       }));
  on("DELETE", "/v1/declarations/{id}",
     admin(Role::kOperator, [&ddm, id](const httplib::Request& req, const Principal& p) {
       return ddm.delete_declaration(id(req), p);
     }));
  on("POST", "/v1/declarations/{id}/touch",
     admin(Role::kOperator, [&ddm, id, notify](const httplib::Request& req, const Principal& p) {
       return ddm.touch_declaration(id(req), notify(req), p);
     }));
  on("GET", "/v1/sets",
     admin_read([&ddm](const httplib::Request&, const Principal&) { return ddm.sets(); }));
  for (const bool member : {true, false}) {
    const char* method = member ? "PUT" : "DELETE";
    on(method, "/v1/set-declarations/{set}",
       admin(Role::kOperator,
             [&ddm, id, notify, member](const httplib::Request& req, const Principal& p) {
               return ddm.change_set_declaration(id(req), req.get_param_value("declaration"),
                                                 member, notify(req), p);
             }));
    on(method, "/v1/enrollment-sets/{id}",
       admin(Role::kOperator,
             [&ddm, id, notify, member](const httplib::Request& req, const Principal& p) {
               return ddm.change_enrollment_set(id(req), req.get_param_value("set"), member,
                                                notify(req), p);
             }));
    on(method, "/v1/enrollment-sets",
       admin(Role::kOperator,
             [&ddm, notify, member](const httplib::Request& req, const Principal& p) {
               ingest::DeviceFilters filters;
               for (const auto& [name, value] : req.params)
                 if (name != "set" && name != "nonotify" && name != "all")
                   filters.emplace_back(name, value);
               const std::string all = req.get_param_value("all");
               return ddm.change_matching_enrollments_set(filters, all == "true" || all == "1",
                                                          req.get_param_value("set"), member,
                                                          notify(req), p);
             }));
  }
  on("POST", "/v1/notify",
     admin(Role::kOperator, [&ddm, values](const httplib::Request& req, const Principal& p) {
       return ddm.notify(values(req, "id"), values(req, "set"), values(req, "declaration"), p);
     }));
  using ByIds = ApiResponse (ingest::DeclarationApi::*)(const std::vector<std::string>&) const;
  const std::pair<const char*, ByIds> by_ids[] = {
      {"/v1/declaration-status/{ids}", &ingest::DeclarationApi::declaration_status},
      {"/v1/status-errors/{ids}", &ingest::DeclarationApi::status_errors},
  };
  for (const auto& [path, function] : by_ids)
    on("GET", path,
       admin_read([&ddm, id, read = function](const httplib::Request& req, const Principal&) {
         return (ddm.*read)(split_ids(id(req)));
       }));
  on("GET", "/v1/status-values/{ids}",
     admin_read([&ddm, id](const httplib::Request& req, const Principal&) {
       return ddm.status_values(split_ids(id(req)), req.get_param_value("prefix"));
     }));
  on("GET", "/v1/status-report/{id}",
     admin_read([&ddm, id](const httplib::Request& req, const Principal&) {
       const auto index = number_param(req, "index", 0, 2, "from 0 to 9");
       return ddm.status_report(id(req), static_cast<size_t>(index));
     }));
}

void HttpServer::end_connection_if_marked(const httplib::Request& req,
                                          const httplib::Response& res) const {
  // httplib keeps a connection open after an answer given before the body was read, and would
  // read that body as the next request: the connection ends after the answer instead, once what
  // the client is still sending of the declared body (up to the device body limit) is read and
  // dropped. (Plain HTTP, used behind a TLS proxy, has no connection of ours: the proxy frames
  // requests there.)
  if (!req.ssl || res.get_header_value(kEndConnection) != "1") return;
  const auto declared = req.has_header("Transfer-Encoding") ? std::nullopt : declared_length(req);
  BoundedTlsServer::end_connection_after_answer(
      declared ? std::min<uint64_t>(*declared, options_.max_body_bytes) : options_.max_body_bytes);
}

std::string HttpServer::route(std::string_view method, const std::string& path) {
  routes_.push_back({std::string(method), path});
  std::string pattern;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '{') {
      pattern += path[i];
      continue;
    }
    pattern += "([^/]+)";
    i = path.find('}', i);
  }
  return pattern;
}

void HttpServer::on(std::string_view method, const std::string& path,
                    httplib::Server::Handler handler) {
  const std::string pattern = route(method, path);
  if (method == "GET")
    server_->Get(pattern, std::move(handler));
  else if (method == "POST")
    server_->Post(pattern, std::move(handler));
  else if (method == "DELETE")
    server_->Delete(pattern, std::move(handler));
  else
    server_->Put(pattern, std::move(handler));
}

void HttpServer::on_device_body(std::string_view method, const std::string& path,
                                DeviceBodyHandler handler) {
  // Read through a content reader: httplib then hands over the bytes as sent, whatever the
  // Content-Type says (its form parser would answer a form-typed body over 8 KB with an empty
  // 413). The length is known and within the limit: intake_refusal checked it.
  httplib::Server::HandlerWithContentReader read_then_handle =
      [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res,
                                     const httplib::ContentReader& read) {
        std::string body;
        if (!read([&](const char* data, size_t size) {
              body.append(data, size);
              return true;
            })) {
          res.status = 400;
          return;
        }
        handler(req, body, res);
      };
  const std::string pattern = route(method, path);
  if (method == "POST")
    server_->Post(pattern, std::move(read_then_handle));
  else
    server_->Put(pattern, std::move(read_then_handle));
}

void HttpServer::routes() {
  auto& s = *server_;
  // Framing is checked on headers alone, before httplib reads a body byte: nobody makes the
  // server buffer or inflate more than the limits, credentials or not.
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    // RFC 9112 §6.3: a request with neither Content-Length nor Transfer-Encoding has no body, and
    // admin clients send such PUTs and POSTs (KMFDDM's scripts: curl -X PUT). httplib would read
    // a body until the connection closed: the empty one is made explicit before it reads. Device
    // messages always have a body; theirs without a length stay refused (411).
    if ((req.path.starts_with("/v1/") || req.path.starts_with("/api/")) &&
        !req.has_header("Content-Length") && !req.has_header("Transfer-Encoding"))
      const_cast<httplib::Request&>(req).set_header("Content-Length", "0");
    const auto refusal =
        intake_refusal(req, {options_.max_body_bytes, options_.max_admin_body_bytes}, api_keys_);
    if (!refusal) return httplib::Server::HandlerResponse::Unhandled;
    if (refusal->status == 401) {
      res.status = 401;
      res.set_header("WWW-Authenticate", "Basic realm=\"cairn\"");
      res.set_content(error_json(refusal->reason), "application/json");
    } else {
      crypto::X509Ptr peer;
      if (req.ssl) peer.reset(SSL_get1_peer_certificate(req.ssl));
      reject(req, "", res, refusal->status, refusal->reason, "",
             peer ? crypto::certificate_fingerprint(peer.get()) : "");
    }
    res.set_header("Connection", "close");
    res.set_header(kEndConnection, "1");
    return httplib::Server::HandlerResponse::Handled;
  });
  auto device = [this](Channel c) {
    return [this, c](const httplib::Request& req, const std::string& body, httplib::Response& res) {
      handle_device(req, body, res, c);
    };
  };
  if (services_ && options_.device_routes) {
    on_device_body("PUT", "/mdm", device(Channel::kServerUrl));
    on_device_body("PUT", "/checkin", device(Channel::kCheckin));
    // SCEP answers refusals in band (a FAILURE CertRep, 200); only non-SCEP input is a 4xx.
    auto scep = [this](const httplib::Request& req, const std::string& body,
                       httplib::Response& res) {
      handle_enrollment(res, "/scep", [&] {
        return services_->enrollment.scep.handle(req.get_param_value("operation"),
                                                 req.get_param_value("message"),
                                                 req.method == "POST", body, req.remote_addr);
      });
    };
    on("GET", "/scep",
       [scep](const httplib::Request& req, httplib::Response& res) { scep(req, "", res); });
    on_device_body("POST", "/scep", scep);
    on("GET", "/enroll/{token}", [this](const httplib::Request& req, httplib::Response& res) {
      handle_enrollment(res, "/enroll/{token}", [&] {  // the token is a secret: not logged
        return services_->enrollment.ota.profile_service(req.matches[1].str(), req.remote_addr,
                                                         host_url(req));
      });
    });
    // Automated Device Enrollment: a device at first boot sends its signed MachineInfo here (the
    // URL Cairn writes into its ADE profiles).
    on_device_body(
        "POST", "/ade/enroll",
        [this](const httplib::Request& req, const std::string& body, httplib::Response& res) {
          handle_enrollment(res, "/ade/enroll", [&] {
            return services_->ade.enrollment.enroll(body, req.remote_addr, host_url(req));
          });
        });
    on_device_body(
        "POST", "/enroll/{token}",
        [this](const httplib::Request& req, const std::string& body, httplib::Response& res) {
          handle_enrollment(res, "/enroll/{token}", [&] {
            return services_->enrollment.ota.enroll(req.matches[1].str(), body, req.remote_addr,
                                                    host_url(req));
          });
        });
  }

  auto admin = [this](Role needed, auto call) {
    return [this, needed, call](const httplib::Request& req, httplib::Response& res) {
      handle_admin(req, res, needed, [&](const Principal& p) { return call(req, p); });
    };
  };
  if (services_ && options_.admin_routes) {
    admin_routes(admin);
    console_routes();
  }
  // Prometheus scrapes with the same Basic credentials as any admin client.
  on("GET", "/metrics", admin(Role::kMetrics, [this](const httplib::Request&, const Principal&) {
       return ApiResponse{200, metrics_.prometheus_text(), "text/plain; version=0.0.4"};
     }));
  s.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    end_connection_if_marked(req, res);
    const std::string route = req.path == "/mdm" || req.path == "/checkin" ? "device"
                              : req.path == "/scep"                        ? "scep"
                              : req.path.starts_with("/v1/") || req.path.starts_with("/api/")
                                  ? "admin"
                                  : "other";
    ++metrics_.counter("cairn_http_requests_total", "HTTP requests answered, by route and status",
                       {{"route", route}, {"status", std::to_string(res.status)}});
  });
  on("GET", "/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
}

}  // namespace cairn::http
