// A TLS connection that sends exactly the bytes a test gives it: for requests no well-behaved
// HTTP client would send (no length, chunked with odd case, a body after a refusal).
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>

#include "pki/issuer.hpp"

namespace cairn::testing {

class RawTlsConnection {
 public:
  // Connects to 127.0.0.1:`port`, presenting `identity` as client certificate when given.
  explicit RawTlsConnection(int port, const pki::Identity* identity = nullptr);
  ~RawTlsConnection();
  RawTlsConnection(const RawTlsConnection&) = delete;
  RawTlsConnection& operator=(const RawTlsConnection&) = delete;

  // False once the server has closed (or reset) the connection.
  bool send(std::string_view bytes);
  // The status code of the next response (its headers and Content-Length body are consumed);
  // 0 if the connection ended first.
  int read_status();
  // True if the server ends the connection within `seconds` without sending anything more.
  bool closed_by_server(int seconds);

 private:
  struct CtxFree {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
  };
  struct SslFree {
    void operator()(SSL* s) const { SSL_free(s); }
  };
  std::unique_ptr<SSL_CTX, CtxFree> ctx_;
  std::unique_ptr<SSL, SslFree> ssl_;
  int fd_ = -1;
  std::string buffered_;
};

}  // namespace cairn::testing
