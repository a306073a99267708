#include "tests/support/raw_tls.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <stdexcept>

namespace cairn::testing {

TcpConnection::TcpConnection(int port, const std::string& source)
    : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
  sockaddr_in from{};
  from.sin_family = AF_INET;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ < 0 || ::inet_pton(AF_INET, source.c_str(), &from.sin_addr) != 1 ||
      ::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    if (fd_ >= 0) ::close(fd_);
    throw std::runtime_error("cannot connect to the node from " + source);
  }
}

TcpConnection::~TcpConnection() {
  ::close(fd_);
}

bool TcpConnection::ended() const {
  char c;
  const ssize_t n = ::recv(fd_, &c, 1, MSG_DONTWAIT | MSG_PEEK);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

bool TcpConnection::ended_within(int seconds) const {
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, seconds * 1000) > 0 && ended();
}

RawTlsConnection::RawTlsConnection(int port, const pki::Identity* identity,
                                   const std::string& source)
    : tcp_(port, source), ctx_(SSL_CTX_new(TLS_client_method())) {
  if (identity) {
    SSL_CTX_use_certificate(ctx_.get(), identity->cert.get());
    SSL_CTX_use_PrivateKey(ctx_.get(), identity->key.get());
  }
  ssl_.reset(SSL_new(ctx_.get()));
  SSL_set_fd(ssl_.get(), tcp_.fd());
  if (SSL_connect(ssl_.get()) != 1) throw std::runtime_error("TLS handshake failed");
}

RawTlsConnection::~RawTlsConnection() = default;

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
  ::setsockopt(tcp_.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  char c;
  const int n = SSL_read(ssl_.get(), &c, 1);
  if (n > 0) return false;
  // An end (close_notify, EOF, reset) rather than the timeout (which OpenSSL reports as a retry).
  return SSL_get_error(ssl_.get(), n) != SSL_ERROR_WANT_READ;
}

}  // namespace cairn::testing
