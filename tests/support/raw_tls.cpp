#include "tests/support/raw_tls.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <stdexcept>

namespace cairn::testing {

RawTlsConnection::RawTlsConnection(int port, const pki::Identity* identity)
    : ctx_(SSL_CTX_new(TLS_client_method())) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("cannot connect to the node");
  if (identity) {
    SSL_CTX_use_certificate(ctx_.get(), identity->cert.get());
    SSL_CTX_use_PrivateKey(ctx_.get(), identity->key.get());
  }
  ssl_.reset(SSL_new(ctx_.get()));
  SSL_set_fd(ssl_.get(), fd_);
  if (SSL_connect(ssl_.get()) != 1) throw std::runtime_error("TLS handshake failed");
}

RawTlsConnection::~RawTlsConnection() {
  ssl_.reset();
  if (fd_ >= 0) ::close(fd_);
}

bool RawTlsConnection::send(std::string_view bytes) {
  while (!bytes.empty()) {
    const int n = SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size()));
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

int RawTlsConnection::read_status() {
  char chunk[4096];
  auto fill = [&] {
    const int n = SSL_read(ssl_.get(), chunk, sizeof chunk);
    if (n <= 0) return false;
    buffered_.append(chunk, static_cast<size_t>(n));
    return true;
  };
  size_t head_end;
  while ((head_end = buffered_.find("\r\n\r\n")) == std::string::npos)
    if (!fill()) return 0;
  const std::string head = buffered_.substr(0, head_end);
  size_t length = 0;
  if (const size_t at = head.find("Content-Length: "); at != std::string::npos)
    length = std::stoul(head.substr(at + 16));
  while (buffered_.size() < head_end + 4 + length)
    if (!fill()) return 0;
  buffered_.erase(0, head_end + 4 + length);
  return std::stoi(head.substr(9, 3));
}

bool RawTlsConnection::closed_by_server(int seconds) {
  timeval timeout{seconds, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  char c;
  const int n = SSL_read(ssl_.get(), &c, 1);
  if (n > 0) return false;
  // An end (close_notify, EOF, reset) rather than the timeout.
  return errno != EAGAIN && errno != EWOULDBLOCK;
}

}  // namespace cairn::testing
