#include "http/bounded_tls_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/wait_ready.hpp"
#include "crypto/openssl_handles.hpp"

namespace cairn::http {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kHeadEnd = "\r\n\r\n";
constexpr auto kDrainFor = std::chrono::seconds(2);

// Set while a worker answers a request whose connection must end after the answer.
thread_local std::optional<size_t> t_drain_then_close;

void set_blocking(int fd, bool blocking) {
  const int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK);
}

struct Endpoint {
  std::string ip;
  int port = 0;
};

// `network`: an IPv6 peer as its /64, a subscriber's network (taking a whole /64 is as easy as
// taking one of its addresses), for counting connections against a limit.
Endpoint endpoint_of(int fd, bool peer, bool network = false) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  if ((peer ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len)) != 0) return {};
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    return {text, ntohs(in->sin_port)};
  }
  if (addr.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    const bool mapped_ipv4 = IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr);
    if (network && !mapped_ipv4) std::fill_n(in6->sin6_addr.s6_addr + 8, 8, 0);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    return {network && !mapped_ipv4 ? std::string(text) + "/64" : text, ntohs(in6->sin6_port)};
  }
  return {};
}

bool head_complete(const std::string& buffered) {
  return buffered.find(kHeadEnd) != std::string::npos;
}

}  // namespace

// One client connection: owned by the waiting room while it waits for a request's head, by a
// worker while the request is answered. Closing it (destroying it) gives its address's place back.
struct BoundedTlsServer::Connection {
  enum class Phase { kHandshake, kIdle, kHead };

  Connection(WaitingRoom& room, int fd, std::string address, SSL* ssl)
      : room(room), fd(fd), address(std::move(address)), ssl(ssl) {}
  ~Connection();

  WaitingRoom& room;
  const int fd;
  const std::string address;
  crypto::SslPtr ssl;
  Phase phase = Phase::kHandshake;
  Clock::time_point deadline;
  std::string buffered;  // read from TLS, not yet given to httplib
  size_t requests_left = 0;
  bool wants_write = false;  // what the room's epoll waits for: writable instead of readable
};

namespace {

// A connection as httplib reads and writes it while a worker answers a request: the bytes the
// room read first, then TLS, each read and write within the request's deadline.
class RequestStream final : public httplib::Stream {
 public:
  RequestStream(std::string& buffered, SSL* ssl, int fd, Clock::time_point deadline)
      : buffered_(buffered), ssl_(ssl), fd_(fd), deadline_(deadline) {}
  ~RequestStream() override { buffered_.erase(0, consumed_); }
  RequestStream(const RequestStream&) = delete;
  RequestStream& operator=(const RequestStream&) = delete;

  bool cut_off() const { return cut_off_; }

  bool is_readable() const override {
    return consumed_ < buffered_.size() || SSL_pending(ssl_) > 0 ||
           wait_ready(fd_, POLLIN, deadline_);
  }
  bool is_writable() const override { return wait_ready(fd_, POLLOUT, deadline_); }

  ssize_t read(char* ptr, size_t size) override {
    if (consumed_ < buffered_.size()) {
      // httplib reads a request's head a byte at a time: take from the front without moving
      // the rest, and drop what was taken when the request is done (~RequestStream).
      const size_t n = std::min(size, buffered_.size() - consumed_);
      std::copy_n(buffered_.data() + consumed_, n, ptr);
      consumed_ += n;
      return static_cast<ssize_t>(n);
    }
    if (SSL_pending(ssl_) == 0 && !wait_ready(fd_, POLLIN, deadline_)) return fail();
    const int n = SSL_read(ssl_, ptr, static_cast<int>(std::min<size_t>(size, 1 << 30)));
    return n > 0 ? n : -1;
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return fail();
    const int n = SSL_write(ssl_, ptr, static_cast<int>(std::min<size_t>(size, 1 << 30)));
    return n > 0 ? n : -1;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    auto [i, p] = endpoint_of(fd_, true);
    ip = std::move(i);
    port = p;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    auto [i, p] = endpoint_of(fd_, false);
    ip = std::move(i);
    port = p;
  }
  socket_t socket() const override { return fd_; }

 private:
  ssize_t fail() {
    cut_off_ = true;
    return -1;
  }

  std::string& buffered_;
  SSL* ssl_;
  int fd_;
  Clock::time_point deadline_;
  size_t consumed_ = 0;
  bool cut_off_ = false;
};

}  // namespace

class BoundedTlsServer::WaitingRoom {
 public:
  WaitingRoom(BoundedTlsServer& server, ConnectionLimits limits, int threads,
              ConnectionCounters counters)
      : server_(server), limits_(limits), threads_(threads), counters_(counters) {}
  ~WaitingRoom() { stop(); }

  void start() {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_fd_ < 0 || wake_fd_ < 0) throw std::runtime_error("cannot create the waiting room");
    epoll_event wake{EPOLLIN, {.fd = wake_fd_}};
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake);
    stopping_ = false;
    workers_ = std::make_unique<httplib::ThreadPool>(threads_);
    loop_ = std::thread([this] { run(); });
  }

  // Closes the waiting connections, then lets the requests being answered finish.
  void stop() {
    if (!loop_.joinable()) return;
    stopping_ = true;
    wake();
    loop_.join();
    workers_->shutdown();
    workers_.reset();
    std::vector<std::shared_ptr<Connection>> late;  // handed back while stopping
    {
      std::lock_guard lock(mutex_);
      late.swap(inbox_);
    }
    late.clear();  // outside the lock: closing a connection takes it
    ::close(epoll_fd_);
    ::close(wake_fd_);
  }

  // A connection httplib accepted (on its accept thread).
  void admit(int fd) {
    std::string address = endpoint_of(fd, true, true).ip;
    {
      std::lock_guard lock(mutex_);
      int& from_address = open_by_address_[address];
      if (open_total_ >= limits_.total || from_address >= limits_.per_address) {
        if (from_address == 0) open_by_address_.erase(address);
        ++counters_.refused;
        ::close(fd);
        return;
      }
      ++from_address;
      ++open_total_;
    }
    set_blocking(fd, false);
    auto c =
        std::make_shared<Connection>(*this, fd, std::move(address), SSL_new(server_.ssl_context()));
    c->deadline = Clock::now() + limits_.handshake;
    c->requests_left = server_.keep_alive_max_count_;
    if (!c->ssl || SSL_set_fd(c->ssl.get(), fd) != 1) return;  // closed as `c` goes
    enter(std::move(c));
  }

  void release(const std::string& address) {
    std::lock_guard lock(mutex_);
    --open_total_;
    if (auto it = open_by_address_.find(address); it != open_by_address_.end() && --it->second <= 0)
      open_by_address_.erase(it);
  }

 private:
  enum class Next { kWait, kServe, kClose };

  // Into the room, from the accept thread or a worker.
  void enter(std::shared_ptr<Connection> c) {
    if (stopping_) return;
    {
      std::lock_guard lock(mutex_);
      inbox_.push_back(std::move(c));
    }
    wake();
  }

  void wake() const {
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }

  void run() {
    std::vector<epoll_event> events(256);
    auto next_sweep = Clock::now();
    while (!stopping_) {
      const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 100);
      for (int i = 0; i < n; ++i) {
        const int fd = events[static_cast<size_t>(i)].data.fd;
        if (fd == wake_fd_) {
          uint64_t count;
          (void)!::read(wake_fd_, &count, sizeof count);
          take_inbox();
        } else if (auto it = waiting_.find(fd); it != waiting_.end()) {
          step(it->second);
        }
      }
      if (Clock::now() >= next_sweep) {
        close_expired();
        next_sweep = Clock::now() + std::chrono::milliseconds(100);
      }
    }
    waiting_.clear();
  }

  void take_inbox() {
    std::vector<std::shared_ptr<Connection>> arrived;
    {
      std::lock_guard lock(mutex_);
      arrived.swap(inbox_);
    }
    for (auto& c : arrived) {
      epoll_event e{EPOLLIN, {.fd = c->fd}};
      c->wants_write = false;
      if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c->fd, &e) != 0) continue;  // closed as `c` goes
      const int fd = c->fd;
      auto& placed = waiting_[fd] = std::move(c);
      step(placed);  // a returning connection may hold a request TLS has decrypted already
    }
  }

  // Moves `c` on as far as it can go without blocking.
  void step(std::shared_ptr<Connection>& c) {
    const Next next = advance(*c);
    if (next == Next::kWait) {
      epoll_event e{static_cast<uint32_t>(c->wants_write ? EPOLLOUT : EPOLLIN), {.fd = c->fd}};
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->fd, &e);
      return;
    }
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->fd, nullptr);
    auto taken = std::move(c);
    waiting_.erase(taken->fd);
    if (next == Next::kServe) workers_->enqueue([this, taken] { serve(taken); });
  }

  Next advance(Connection& c) {
    c.wants_write = false;
    SSL* ssl = c.ssl.get();
    if (c.phase == Connection::Phase::kHandshake) {
      const int rc = SSL_accept(ssl);
      if (rc != 1) return wait_or_close(c, rc);
      ++(SSL_session_reused(ssl) ? counters_.resumed_sessions : counters_.new_sessions);
      c.phase = Connection::Phase::kHead;  // the first request is due now
      c.deadline = Clock::now() + limits_.headers;
    }
    char chunk[16384];
    for (;;) {
      const int n = SSL_read(ssl, chunk, sizeof chunk);
      if (n <= 0) return wait_or_close(c, n);
      if (c.phase == Connection::Phase::kIdle) {
        c.phase = Connection::Phase::kHead;
        c.deadline = Clock::now() + limits_.headers;
      }
      const size_t searched_to = c.buffered.size() < 3 ? 0 : c.buffered.size() - 3;
      c.buffered.append(chunk, static_cast<size_t>(n));
      const size_t end = c.buffered.find(kHeadEnd, searched_to);
      if (end != std::string::npos && end + kHeadEnd.size() <= limits_.header_bytes)
        return Next::kServe;
      if (c.buffered.size() > limits_.header_bytes) {
        ++counters_.cut_off;
        // Best effort: the socket's buffer takes a line this short.
        static constexpr std::string_view kTooLarge =
            "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n";
        SSL_write(ssl, kTooLarge.data(), static_cast<int>(kTooLarge.size()));
        ERR_clear_error();
        return Next::kClose;
      }
    }
  }

  Next wait_or_close(Connection& c, int rc) {
    switch (SSL_get_error(c.ssl.get(), rc)) {
      case SSL_ERROR_WANT_READ:
        return Next::kWait;
      case SSL_ERROR_WANT_WRITE:
        c.wants_write = true;
        return Next::kWait;
      default:
        ERR_clear_error();  // a failed handshake or a reset: the client's business
        return Next::kClose;
    }
  }

  void close_expired() {
    const auto now = Clock::now();
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (it->second->deadline > now) {
        ++it;
        continue;
      }
      // An idle keep-alive connection just ends; a handshake or head not done in time is cut.
      if (it->second->phase != Connection::Phase::kIdle || !it->second->buffered.empty())
        ++counters_.cut_off;
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->first, nullptr);
      it = waiting_.erase(it);
    }
  }

  // On a worker: answers the requests whose heads are here, then hands the connection back.
  void serve(std::shared_ptr<Connection> c) {
    set_blocking(c->fd, true);
    SSL* ssl = c->ssl.get();
    for (;;) {
      const bool last = --c->requests_left == 0;
      bool ok = false, closed = false, cut_off = false;
      t_drain_then_close.reset();
      {
        RequestStream stream(c->buffered, ssl, c->fd, Clock::now() + limits_.request);
        ok = server_.process_request(stream, last, closed,
                                     [ssl](httplib::Request& req) { req.ssl = ssl; });
        cut_off = stream.cut_off();
      }
      if (cut_off) ++counters_.cut_off;
      if (t_drain_then_close) return drain(*c, *t_drain_then_close);
      if (!ok || closed || last || cut_off) return;
      if (!head_complete(c->buffered)) break;  // else a pipelined request: answer it now
    }
    set_blocking(c->fd, false);
    c->phase = c->buffered.empty() ? Connection::Phase::kIdle : Connection::Phase::kHead;
    c->deadline =
        Clock::now() + (c->buffered.empty() ? std::chrono::seconds(server_.keep_alive_timeout_sec_)
                                            : limits_.headers);
    enter(std::move(c));
  }

  // Ends a connection whose answer was written before its body was read: reads and drops what
  // is left of the body, then closes gracefully (close_notify and FIN first, then whatever still
  // arrives dropped until the client closes too), so that the client reads the answer instead of
  // a reset. All within kDrainFor.
  static void drain(Connection& c, size_t bytes) {
    bytes -= std::min(bytes, c.buffered.size());
    const auto deadline = Clock::now() + kDrainFor;
    char sink[16384];
    while (bytes > 0 && (SSL_pending(c.ssl.get()) > 0 || wait_ready(c.fd, POLLIN, deadline))) {
      const int n = SSL_read(c.ssl.get(), sink, static_cast<int>(std::min(sizeof sink, bytes)));
      if (n <= 0) break;
      bytes -= static_cast<size_t>(n);
    }
    SSL_shutdown(c.ssl.get());
    ::shutdown(c.fd, SHUT_WR);
    while (wait_ready(c.fd, POLLIN, deadline) && ::recv(c.fd, sink, sizeof sink, 0) > 0) {
    }
  }

  BoundedTlsServer& server_;
  const ConnectionLimits limits_;
  const int threads_;
  ConnectionCounters counters_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;  // guards inbox_ and the counts of open connections
  std::vector<std::shared_ptr<Connection>> inbox_;
  std::unordered_map<std::string, int> open_by_address_;
  int open_total_ = 0;
  std::unordered_map<int, std::shared_ptr<Connection>> waiting_;  // the loop's own
  std::unique_ptr<httplib::ThreadPool> workers_;
  std::thread loop_;
};

BoundedTlsServer::Connection::~Connection() {
  if (ssl && SSL_is_init_finished(ssl.get()) && !(SSL_get_shutdown(ssl.get()) & SSL_SENT_SHUTDOWN))
    SSL_shutdown(ssl.get());
  ERR_clear_error();
  ssl.reset();
  ::close(fd);
  room.release(address);
}

// What httplib's accept loop hands each connection to: the waiting room, started when the
// server starts listening and stopped when it stops.
class BoundedTlsServer::Entrance final : public httplib::TaskQueue {
 public:
  explicit Entrance(WaitingRoom& room) : room_(room) { room_.start(); }
  // The task is process_and_close_socket, which only hands the socket to the room: run it here.
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override { room_.stop(); }

 private:
  WaitingRoom& room_;
};

BoundedTlsServer::BoundedTlsServer(ConnectionLimits limits, int threads,
                                   const std::function<bool(SSL_CTX&)>& setup_ssl_context,
                                   ConnectionCounters counters)
    : httplib::SSLServer(setup_ssl_context),
      room_(std::make_unique<WaitingRoom>(*this, limits, threads, counters)) {
  // httplib owns (and deletes) what this returns, once listening has ended.
  new_task_queue = [this] { return new Entrance(*room_); };
}

BoundedTlsServer::~BoundedTlsServer() = default;

void BoundedTlsServer::end_connection_after_answer(size_t drain_bytes) {
  t_drain_then_close = drain_bytes;
}

bool BoundedTlsServer::process_and_close_socket(socket_t sock) {
  room_->admit(sock);
  return true;
}

}  // namespace cairn::http
