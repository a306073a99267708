// The HTTP(S) front of a node: device endpoints (ServerURL /mdm, CheckInURL /checkin, SCEP /scep),
// the admin API (/v1/...), health. Maps errors to status codes in one place (see
// common/errors.hpp): only NotManaged becomes 401; every 4xx is logged and recorded as a
// MessageRejected event.
#pragma once

#include <httplib.h>

#include <memory>
#include <optional>
#include <string>

#include "ade/ade_api.hpp"
#include "ade/enrollment_service.hpp"
#include "audit/audit_api.hpp"
#include "common/address_ranges.hpp"
#include "common/logging.hpp"
#include "common/metrics.hpp"
#include "enrollment/expiry_report.hpp"
#include "enrollment/ota_service.hpp"
#include "enrollment/profile_service.hpp"
#include "enrollment/scep_service.hpp"
#include "http/bounded_tls_server.hpp"
#include "http/intake.hpp"
#include "http/tls_tickets.hpp"
#include "ingest/admin_api.hpp"
#include "ingest/api_keys.hpp"
#include "ingest/command_api.hpp"
#include "ingest/declaration_api.hpp"
#include "ingest/device_service.hpp"
#include "ingest/identity.hpp"
#include "ingest/push_certificate_api.hpp"
#include "webhook/webhook_api.hpp"

namespace cairn::http {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8443;  // 0: pick a free port
  bool tls = true;
  std::string tls_certificate_pem;
  std::string tls_private_key_pem;  // decrypted
  std::string client_ca_pem;        // device CA; client certificates are optional but verified
  // 32 bytes from the keyring that every node derives alike: TLS session tickets any node opens
  // (tls_tickets.hpp). Empty: OpenSSL's random keys, which only this process opens.
  std::string tls_ticket_secret;
  std::string trusted_proxy_header;  // e.g. X-Ssl-Client-Cert; empty disables
  AddressRanges trusted_proxy_from;  // the only peers whose proxy header is believed
  size_t max_body_bytes = 4u << 20;
  size_t max_admin_body_bytes = 64u << 20;  // /api/ and /v1/ requests (a command to 100k devices)
  // Threads answering requests, which block on log syncs. With TLS a connection holds one only
  // while a request is answered (bounded_tls_server); plain HTTP keeps httplib's thread per open
  // connection, idle keep-alive included.
  int threads = 256;
  int keep_alive_seconds = 5;  // how long an idle keep-alive connection is held
  // Pending connections the kernel queues. Debian's httplib listens with a backlog of 5: a burst
  // of devices connecting at once then waits out 1 s SYN retransmits.
  int listen_backlog = 4096;
  // Bounds on connections and requests (TLS only; behind a TLS proxy, the proxy's).
  ConnectionLimits connection_limits;
  // Which routes this node serves (its role): the device endpoints (/mdm, /checkin) and the admin
  // API. /healthz and /metrics are always served.
  bool device_routes = true;
  bool admin_routes = true;
};

// What the HTTP front serves for enrollment: SCEP and OTA to devices; profiles, invitations and
// expiry to admins.
struct EnrollmentEndpoints {
  enrollment::ScepService& scep;
  enrollment::ProfileService& profiles;
  enrollment::OtaService& ota;
  const enrollment::ExpiryReport& expiry;
};

// Automated Device Enrollment: the admin API and the enrollment of devices at first boot.
struct AdeEndpoints {
  ade::AdeApi& api;
  ade::EnrollmentService& enrollment;
};

// The services behind the device and admin routes, all reading the node's projection.
struct Services {
  ingest::DeviceService& devices;
  ingest::AdminApi& admin;
  ingest::CommandApi& commands;
  ingest::PushCertificateApi& push_certificates;
  ingest::DeclarationApi& declarations;
  EnrollmentEndpoints enrollment;
  AdeEndpoints ade;
  webhook::WebhookApi& webhooks;
  audit::AuditApi& audit;
  const ingest::IdentityResolver& identity;
};

class HttpServer {
 public:
  // Serves `services` (which of their routes: HttpOptions), or, without them (a node with no
  // projection: a dispatcher), only /healthz and /metrics. Serves `metrics` at GET /metrics
  // (API key required), counts every request there, records refusals through `writer`.
  HttpServer(HttpOptions options, std::optional<Services> services, const ingest::ApiKeys& api_keys,
             ingest::EventWriter& writer, Metrics& metrics);
  ~HttpServer();

  // Binds the port (throws if it cannot); returns the bound port.
  int bind();
  // Serves until stop(); call from its own thread.
  void serve();
  // Returns once serve() is accepting: a stop() before that would be lost (httplib only stops a
  // running server) and serve() would never return.
  void wait_until_serving() const;
  void stop();

  struct Route {
    std::string method;  // GET, POST, PUT
    std::string path;    // OpenAPI style: /v1/devices/{id}
  };
  // Every route served: schemas/openapi.yaml must describe each (tests/e2e/openapi_test.cpp).
  const std::vector<Route>& served_routes() const { return routes_; }

 private:
  enum class Channel { kServerUrl, kCheckin };
  void routes();
  template <class Admin>
  void admin_routes(Admin admin);
  template <class Admin, class AdminRead>
  void declaration_routes(Admin admin, AdminRead admin_read);
  template <class Admin, class AdminRead>
  void ade_routes(Admin admin, AdminRead admin_read);
  template <class Admin>
  void webhook_routes(Admin admin);
  void console_routes();
  // Registers `handler` at an OpenAPI-style path ("/v1/devices/{id}": each {param} one path
  // segment, matches[1..] in order) and remembers the route.
  void on(std::string_view method, const std::string& path, httplib::Server::Handler handler);
  // A device route with a body (PUT or POST), handed over as sent whatever its Content-Type.
  using DeviceBodyHandler =
      std::function<void(const httplib::Request&, const std::string& body, httplib::Response&)>;
  void on_device_body(std::string_view method, const std::string& path, DeviceBodyHandler handler);
  // Remembers the route and returns httplib's pattern for it.
  std::string route(std::string_view method, const std::string& path);
  // The one place errors become statuses (common/errors.hpp): runs `call`, which answers; a
  // NotManaged (401, the only one) or ClientError goes to `refused`,
  // which answers in its route's way (an event, a log line); Unavailable is 503 with Retry-After
  // and anything else 500, both logged as `what` with the field `about`, bodies in `format`.
  enum Format { kJson, kText };
  using Refused = std::function<void(int status, const std::string& reason)>;
  void answer(httplib::Response& res, Format format, std::string_view what,
              const logging::Field& about, const Refused& refused,
              const std::function<void()>& call);
  void handle_device(const httplib::Request& req, const std::string& body, httplib::Response& res,
                     Channel channel);
  // SCEP and OTA: replies that are not JSON; ClientError → its status with the reason as text.
  void handle_enrollment(httplib::Response& res, const std::string& route,
                         const std::function<enrollment::Reply()>& call);
  // Authenticates the API key, checks its role allows `needed`, calls, maps errors to statuses.
  void handle_admin(const httplib::Request& req, httplib::Response& res, ingest::Role needed,
                    const std::function<ingest::ApiResponse(const ingest::Principal&)>& call);
  // A response header asking for the connection to end once the response is written.
  static constexpr const char* kEndConnection = "Cairn-End-Connection";
  void end_connection_if_marked(const httplib::Request& req, const httplib::Response& res) const;
  void reject(const httplib::Request& req, std::string_view body, httplib::Response& res,
              int status, const std::string& reason, const std::string& udid,
              const std::string& fingerprint);

  HttpOptions options_;
  std::optional<Services> services_;
  const ingest::ApiKeys& api_keys_;
  ingest::EventWriter& writer_;
  Metrics& metrics_;
  std::unique_ptr<TlsTicketKeys> tickets_;  // before server_: its TLS context points here
  std::unique_ptr<httplib::Server> server_;
  std::vector<Route> routes_;
  int listen_socket_ = -1;
};

}  // namespace cairn::http
