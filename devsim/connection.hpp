// How a simulated device reaches an MDM server: HTTPS with its identity as TLS client
// certificate (mTLS), or with the identity in an Mdm-Signature header (TLS without a client
// certificate, or plain HTTP behind a proxy). Speaks only the standard protocol, so it can drive
// any MDM server.
#pragma once

#include <httplib.h>

#include <memory>
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
};

// "https://host:port" or "http://host:port" into an Endpoint (other fields default).
Endpoint parse_endpoint(const std::string& url);

// A client of the endpoint, presenting `tls_identity` as client certificate when given (TLS only).
std::unique_ptr<httplib::ClientImpl> make_client(const Endpoint& endpoint,
                                                 const pki::Identity* tls_identity);

// One device's connection: kept alive for a session, as a device does for a transaction burst.
class DeviceConnection {
 public:
  DeviceConnection(const Endpoint& endpoint, const pki::Identity& identity);
  httplib::Result checkin(const std::string& body);
  httplib::Result report(const std::string& body);

 private:
  httplib::Result put(const std::string& path, const std::string& body, const char* content_type);
  const Endpoint& endpoint_;
  const pki::Identity& identity_;
  std::unique_ptr<httplib::ClientImpl> client_;
};

}  // namespace cairn::devsim
