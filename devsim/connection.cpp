#include "devsim/connection.hpp"

#include <openssl/evp.h>

#include <stdexcept>

#include "crypto/cms_signature.hpp"

namespace cairn::devsim {

Endpoint parse_endpoint(const std::string& url) {
  Endpoint e;
  std::string rest;
  if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    e.tls = false;
    rest = url.substr(7);
  } else {
    throw std::invalid_argument("URL must start with https:// or http://: " + url);
  }
  rest = rest.substr(0, rest.find('/'));
  const auto colon = rest.rfind(':');
  e.host = rest.substr(0, colon);
  e.port = colon == std::string::npos ? (e.tls ? 443 : 80) : std::stoi(rest.substr(colon + 1));
  return e;
}

std::unique_ptr<httplib::ClientImpl> make_client(const Endpoint& endpoint,
                                                 const pki::Identity* tls_identity) {
  std::unique_ptr<httplib::ClientImpl> client;
  if (endpoint.tls) {
    auto tls = tls_identity ? std::make_unique<httplib::SSLClient>(endpoint.host, endpoint.port,
                                                                   tls_identity->cert.get(),
                                                                   tls_identity->key.get())
                            : std::make_unique<httplib::SSLClient>(endpoint.host, endpoint.port);
    tls->enable_server_certificate_verification(!endpoint.server_ca_file.empty());
    if (!endpoint.server_ca_file.empty()) tls->set_ca_cert_path(endpoint.server_ca_file.c_str());
    client = std::move(tls);
  } else {
    client = std::make_unique<httplib::ClientImpl>(endpoint.host, endpoint.port);
  }
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);
  client->set_read_timeout(30, 0);
  return client;
}

DeviceConnection::DeviceConnection(const Endpoint& endpoint, const pki::Identity& identity)
    : endpoint_(endpoint),
      identity_(identity),
      client_(
          make_client(endpoint, endpoint.identity == IdentityMode::kMtls ? &identity : nullptr)) {}

httplib::Result DeviceConnection::put(const std::string& path, const std::string& body,
                                      const char* content_type) {
  httplib::Headers headers;
  if (endpoint_.identity == IdentityMode::kMdmSignature)
    headers.emplace("Mdm-Signature", crypto::sign_mdm_signature(body, identity_.cert.get(),
                                                                identity_.key.get(), EVP_sha256()));
  return client_->Put(path.c_str(), headers, body, content_type);
}

httplib::Result DeviceConnection::checkin(const std::string& body) {
  return put(endpoint_.checkin_path, body, "application/x-apple-aspen-mdm-checkin");
}

httplib::Result DeviceConnection::report(const std::string& body) {
  return put(endpoint_.server_path, body, "application/x-apple-aspen-mdm");
}

}  // namespace cairn::devsim
