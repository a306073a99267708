// How a simulated device reaches an MDM server: HTTPS with its identity as TLS client
// certificate (mTLS), or with the identity in an Mdm-Signature header (TLS without a client
// certificate, or plain HTTP behind a proxy). Speaks only the standard protocol, so it can drive
// any MDM server.
#pragma once

#include <httplib.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "pki/issuer.hpp"

namespace cairn::devsim {

enum class IdentityMode { kMtls, kMdmSignature };

struct Endpoint {
  bool tls = true;
  std::string host = "127.0.0.1";
  int port = 8443;
  std::string checkin_path = "/checkin";
  std::string server_path = "/mdm";
  std::string server_ca_file;  // verify the server's certificate against it; empty: don't verify
  IdentityMode identity = IdentityMode::kMtls;
  bool resume_tls = true;  // a device's next connection resumes its TLS session, as devices do
};

// A device's TLS session, kept from one connection to the next so the next can resume it. Shared
// by the connections of one device, one at a time or not.
class TlsSession {
 public:
  TlsSession() = default;
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  void keep(SSL_SESSION* session);  // takes the reference
  SSL_SESSION* get1() const;        // a new reference, or null

  std::atomic<int64_t> new_handshakes{0};
  std::atomic<int64_t> resumed_handshakes{0};

 private:
  mutable std::mutex mutex_;
  SSL_SESSION* session_ = nullptr;
};

// "https://host:port" or "http://host:port" into an Endpoint (other fields default).
Endpoint parse_endpoint(const std::string& url);

// A client of the endpoint, presenting `tls_identity` as client certificate when given (TLS only),
// resuming and keeping `session` when given and the endpoint resumes.
std::unique_ptr<httplib::ClientImpl> make_client(const Endpoint& endpoint,
                                                 const pki::Identity* tls_identity,
                                                 TlsSession* session = nullptr);

// One device's connection: kept alive for a session, as a device does for a transaction burst.
class DeviceConnection {
 public:
  DeviceConnection(const Endpoint& endpoint, const pki::Identity& identity,
                   TlsSession* session = nullptr);
  httplib::Result checkin(const std::string& body);
  httplib::Result report(const std::string& body);

 private:
  httplib::Result put(const std::string& path, const std::string& body, const char* content_type);
  const Endpoint& endpoint_;
  const pki::Identity& identity_;
  std::unique_ptr<httplib::ClientImpl> client_;
};

}  // namespace cairn::devsim
