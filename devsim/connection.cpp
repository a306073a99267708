#include "devsim/connection.hpp"

#include <openssl/evp.h>

#include <stdexcept>
#include <utility>

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

TlsSession::~TlsSession() {
  SSL_SESSION_free(session_);
}

void TlsSession::keep(SSL_SESSION* session) {
  std::lock_guard lock(mutex_);
  SSL_SESSION_free(std::exchange(session_, session));
}

SSL_SESSION* TlsSession::get1() const {
  std::lock_guard lock(mutex_);
  if (session_) SSL_SESSION_up_ref(session_);
  return session_;
}

namespace {

int session_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

TlsSession* session_of(const SSL* ssl) {
  return static_cast<TlsSession*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), session_index()));
}

// httplib's client has no hook between creating a connection's SSL and its handshake, so the TLS
// context's callbacks do it: the kept session is set as the handshake starts (before the
// ClientHello is written), and each session the server issues (a TLS 1.3 ticket arrives after
// the handshake) replaces it. Handshakes are counted either way.
void keep_sessions(SSL_CTX& ctx, TlsSession& session, bool resume) {
  SSL_CTX_set_ex_data(&ctx, session_index(), &session);
  if (resume) {
    SSL_CTX_set_session_cache_mode(&ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(&ctx, [](SSL* ssl, SSL_SESSION* issued) {
      session_of(ssl)->keep(issued);
      return 1;  // the reference is kept
    });
  }
  SSL_CTX_set_info_callback(&ctx, [](const SSL* ssl, int where, int) {
    auto* kept = session_of(ssl);
    if (where & SSL_CB_HANDSHAKE_START) {
      SSL_SESSION* resume = kept->get1();
      if (resume) SSL_set_session(const_cast<SSL*>(ssl), resume);
      SSL_SESSION_free(resume);
    } else if ((where & SSL_CB_HANDSHAKE_DONE) && !SSL_get_app_data(ssl)) {
      // Counted once per connection (TLS 1.3 reports a ticket's arrival as done again).
      SSL_set_app_data(const_cast<SSL*>(ssl), kept);
      ++(SSL_session_reused(ssl) ? kept->resumed_handshakes : kept->new_handshakes);
    }
  });
}

}  // namespace

std::unique_ptr<httplib::ClientImpl> make_client(const Endpoint& endpoint,
                                                 const pki::Identity* tls_identity,
                                                 TlsSession* session) {
  std::unique_ptr<httplib::ClientImpl> client;
  if (endpoint.tls) {
    auto tls = tls_identity ? std::make_unique<httplib::SSLClient>(endpoint.host, endpoint.port,
                                                                   tls_identity->cert.get(),
                                                                   tls_identity->key.get())
                            : std::make_unique<httplib::SSLClient>(endpoint.host, endpoint.port);
    tls->enable_server_certificate_verification(!endpoint.server_ca_file.empty());
    if (!endpoint.server_ca_file.empty()) tls->set_ca_cert_path(endpoint.server_ca_file.c_str());
    if (session) keep_sessions(*tls->ssl_context(), *session, endpoint.resume_tls);
    client = std::move(tls);
  } else {
    client = std::make_unique<httplib::ClientImpl>(endpoint.host, endpoint.port);
  }
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);
  client->set_read_timeout(30, 0);
  return client;
}

DeviceConnection::DeviceConnection(const Endpoint& endpoint, const pki::Identity& identity,
                                   TlsSession* session)
    : endpoint_(endpoint),
      identity_(identity),
      client_(make_client(endpoint, endpoint.identity == IdentityMode::kMtls ? &identity : nullptr,
                          session)) {}

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
