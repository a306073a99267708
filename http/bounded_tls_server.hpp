// httplib's TLS server, made to keep slow and greedy clients from holding the node. httplib
// 0.11.4 gives each connection a thread from accept to close: a client that sends nothing, or a
// byte every few seconds, holds a thread, and a few hundred such clients hold them all.
//
// Here a connection holds a thread only while a request is answered. Until then it waits in a
// waiting room, one thread with epoll over every waiting connection, which does the TLS handshake
// and reads the request's head without blocking, each within its deadline; only a complete head
// goes to a worker (httplib's parsing and routing, unchanged), and between keep-alive requests the
// connection goes back to the room. Connections per client address and in all are limited, and a
// request's head has a byte budget.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

namespace cairn::http {

struct ConnectionLimits {
  // Open connections from one client address (IPv6: one /64). Generous: a site's devices behind
  // one NAT address check in together after a push; the limit keeps one address from holding the
  // node's descriptors.
  int per_address = 512;
  int total = 20'000;  // open connections in all
  // Deadlines: TCP accept → TLS established; TLS established (or, on a kept-alive connection, a
  // request's first byte) → the end of the request's head; the end of the head → answer written.
  std::chrono::milliseconds handshake{10'000};
  std::chrono::milliseconds headers{10'000};
  std::chrono::milliseconds request{60'000};
  size_t header_bytes = 64 * 1024;  // request line and headers together
};

struct ConnectionCounters {
  std::atomic<uint64_t>& refused;       // closed at once: over the per-address or total limit
  std::atomic<uint64_t>& cut_off;       // handshakes and requests ended by a deadline or the budget
  std::atomic<uint64_t>& new_sessions;  // handshakes completed in full
  std::atomic<uint64_t>& resumed_sessions;  // handshakes that resumed a session
};

class BoundedTlsServer : public httplib::SSLServer {
 public:
  // `threads` answer requests; the waiting room is one more.
  BoundedTlsServer(ConnectionLimits limits, int threads,
                   const std::function<bool(SSL_CTX&)>& setup_ssl_context,
                   ConnectionCounters counters);
  ~BoundedTlsServer() override;

  // Called while answering a request, on its thread: once the answer is written, up to
  // `drain_bytes` more that the client sends are read and dropped (for at most 2 s, so a client
  // that sent a whole body before reading sees the answer rather than a reset), and the
  // connection is closed rather than read as the next request.
  static void end_connection_after_answer(size_t drain_bytes);

 private:
  class WaitingRoom;
  class Entrance;
  struct Connection;

  // Called by httplib's accept loop: hands the new connection to the waiting room.
  bool process_and_close_socket(socket_t sock) override;

  std::unique_ptr<WaitingRoom> room_;
};

}  // namespace cairn::http
