// A TLS connection that sends exactly the bytes a test gives it: for requests no well-behaved
// HTTP client would send (no length, chunked with odd case, a body after a refusal).
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>

#include "crypto/openssl_handles.hpp"
#include "pki/issuer.hpp"

namespace cairn::testing {

// A TCP connection to 127.0.0.1:`port` from `source`, any address in 127.0.0.0/8: one machine
// playing many clients. It sends nothing of its own.
class TcpConnection {
 public:
  explicit TcpConnection(int port, const std::string& source = "127.0.0.1");
  ~TcpConnection();
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  int fd() const { return fd_; }
  // True if the server has ended the connection (checked without waiting).
  bool ended() const;
  // True if the server ends the connection within `seconds` without sending anything more.
  bool ended_within(int seconds) const;

 private:
  int fd_ = -1;
};

class RawTlsConnection {
 public:
  // Connects to 127.0.0.1:`port` from `source`, presenting `identity` as client certificate when
  // given.
  explicit RawTlsConnection(int port, const pki::Identity* identity = nullptr,
                            const std::string& source = "127.0.0.1");
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
  TcpConnection tcp_;
  crypto::SslCtxPtr ctx_;
  crypto::SslPtr ssl_;
  std::string buffered_;
};

}  // namespace cairn::testing
