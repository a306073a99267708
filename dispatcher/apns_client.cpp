#include "dispatcher/apns_client.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <stdexcept>

#include "common/json_writer.hpp"
#include "common/wait_ready.hpp"
#include "crypto/openssl_handles.hpp"
#include "pki/issuer.hpp"

namespace cairn::dispatcher {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxAnswerBytes = 4096;  // APNs answers with a line of JSON at most
constexpr auto kConnectPerAddress = std::chrono::seconds(5);
// A push refused unprocessed (GOAWAY, REFUSED_STREAM) is sent again, this often at most: a server
// that refuses everything must not hold a batch until its deadline.
constexpr int kMaxRefusals = 10;

struct SessionFree {
  void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
};

// Where pushes go: "https://host[:port]".
struct Origin {
  std::string host;
  std::string port = "443";
  std::string authority;  // host[:port] as given, for :authority
};

Origin parse_origin(const std::string& url) {
  if (!url.starts_with("https://")) throw std::invalid_argument("APNs URL must be https: " + url);
  Origin o;
  o.authority = url.substr(8, url.find('/', 8) - 8);
  const std::string& a = o.authority;
  const size_t host_end = a.starts_with('[') ? a.find(']') + 1 : a.rfind(':');
  o.host = a.substr(a.starts_with('[') ? 1 : 0,
                    a.starts_with('[') ? host_end - 2 : std::min(host_end, a.size()));
  if (host_end < a.size() && a[host_end] == ':') o.port = a.substr(host_end + 1);
  return o;
}

std::string tls_error(const std::string& what) {
  std::string text = what;
  if (const unsigned long e = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(e, buffer, sizeof buffer);
    text += std::string(": ") + buffer;
  }
  ERR_clear_error();
  return text;
}

std::string reason_of(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return {};
  const auto it = doc.FindMember("reason");
  return it != doc.MemberEnd() && it->value.IsString() ? it->value.GetString() : std::string();
}

std::string mdm_body(const std::string& push_magic) {
  JsonWriter j;
  j.begin_object().field("mdm", push_magic).end_object();
  return j.str();
}

// A TCP connection to `origin`, non-blocking, connected within the deadline, each address given
// a few seconds (an unreachable one must not take the whole batch's time). Throws.
int connect_tcp(const Origin& origin, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(origin.host.c_str(), origin.port.c_str(), &hints, &found))
    throw std::runtime_error("cannot resolve " + origin.host + ": " + ::gai_strerror(rc));
  std::string failure = "no address";
  for (addrinfo* a = found; a; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int error = 0;
    socklen_t length = sizeof error;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0 ||
        (errno == EINPROGRESS &&
         wait_ready(fd, POLLOUT, std::min(deadline, Clock::now() + kConnectPerAddress)) &&
         ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0)) {
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ::freeaddrinfo(found);
      return fd;
    }
    failure = std::strerror(error ? error : errno ? errno : ETIMEDOUT);
    ::close(fd);
  }
  ::freeaddrinfo(found);
  throw std::runtime_error("cannot connect to " + origin.authority + ": " + failure);
}

// One push on its way: where its answer goes, and what APNs said so far.
struct Stream {
  size_t index = 0;  // into the batch
  std::string body;
  size_t body_sent = 0;
  int refusals = 0;
  int status = 0;
  std::string apns_id;
  std::string answer;
  std::string failure;  // why its connection failed, when it did
};

using OnClosed = std::function<void(Stream&, uint32_t error_code)>;
// For pumping a connection whose streams nobody waits on (none open, or the batch is gone).
const OnClosed kNobodyWaits = [](Stream&, uint32_t) {};

// One HTTP/2 connection to APNs: TLS with the push certificate, nghttp2 for the framing, and
// non-blocking I/O pumped by ApnsClient::send.
class Connection {
 public:
  Connection(const Origin& origin, SSL_CTX& ctx, Clock::time_point deadline)
      : socket_{connect_tcp(origin, deadline)} {
    ssl_.reset(SSL_new(&ctx));
    if (!ssl_) throw std::runtime_error(tls_error("cannot create a TLS connection"));
    SSL_set_fd(ssl_.get(), socket_.fd);
    in6_addr ip;
    const bool is_ip = inet_pton(AF_INET, origin.host.c_str(), &ip) == 1 ||
                       inet_pton(AF_INET6, origin.host.c_str(), &ip) == 1;
    X509_VERIFY_PARAM* verify = SSL_get0_param(ssl_.get());
    if (is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(verify, origin.host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl_.get(), origin.host.c_str());
      X509_VERIFY_PARAM_set1_host(verify, origin.host.c_str(), 0);
    }
    static const unsigned char kH2[] = {2, 'h', '2'};
    SSL_set_alpn_protos(ssl_.get(), kH2, sizeof kH2);
    for (;;) {
      const int rc = SSL_connect(ssl_.get());
      if (rc == 1) break;
      const int error = SSL_get_error(ssl_.get(), rc);
      const short wanted = error == SSL_ERROR_WANT_READ    ? POLLIN
                           : error == SSL_ERROR_WANT_WRITE ? POLLOUT
                                                           : 0;
      if (!wanted) throw std::runtime_error(tls_error("TLS handshake with APNs failed"));
      if (!wait_ready(socket_.fd, wanted, deadline))
        throw std::runtime_error("TLS handshake with APNs timed out");
    }
    const unsigned char* protocol = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(ssl_.get(), &protocol, &length);
    if (std::string_view(reinterpret_cast<const char*>(protocol), length) != "h2")
      throw std::runtime_error("APNs did not agree to HTTP/2");
    start_session();
    // APNs's SETTINGS (its stream limit) before the first push: streams beyond the limit would
    // only queue here, and be refused with the rest if it then sent GOAWAY.
    while (!settings_received_) {
      pump(kNobodyWaits);
      if (failed_) throw std::runtime_error(failure_);
      if (!settings_received_ && !wait_ready(socket_.fd, events(), deadline))
        throw std::runtime_error("APNs sent no HTTP/2 settings in time");
    }
  }
  ~Connection() {
    session_.reset();
    if (ssl_ && !failed_) SSL_shutdown(ssl_.get());  // close_notify, best effort
    ssl_.reset();
    ERR_clear_error();
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int fd() const { return socket_.fd; }
  size_t open_streams() const { return open_.size(); }
  bool failed() const { return failed_; }
  // False once APNs said it takes no more (GOAWAY) or the connection failed.
  bool accepts_streams() const {
    return !failed_ && nghttp2_session_check_request_allowed(session_.get()) != 0;
  }
  // How many streams APNs lets this connection have open at once.
  size_t stream_limit() const {
    return nghttp2_session_get_remote_settings(session_.get(),
                                               NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  }
  // Done with: failed, or closing and every stream answered.
  bool finished() const {
    return failed_ || (!nghttp2_session_want_read(session_.get()) &&
                       !nghttp2_session_want_write(session_.get()) && outbox_.empty());
  }
  short events() const { return static_cast<short>(POLLIN | (wants_write() ? POLLOUT : 0)); }

  void submit(Stream& stream, const Push& push, const Origin& origin) {
    const std::string path = "/3/device/" + push.token_hex;
    const std::string expiration = std::to_string(push.expiration_unix);
    const std::string length = std::to_string(stream.body.size());
    auto header = [](std::string_view name, std::string_view value) {
      return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                        reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                        value.size(), NGHTTP2_NV_FLAG_NONE};
    };
    const nghttp2_nv headers[] = {header(":method", "POST"),
                                  header(":scheme", "https"),
                                  header(":authority", origin.authority),
                                  header(":path", path),
                                  header("apns-topic", push.topic),
                                  header("apns-push-type", "mdm"),
                                  header("apns-priority", "10"),
                                  header("apns-expiration", expiration),
                                  header("content-type", "application/json"),
                                  header("content-length", length)};
    nghttp2_data_provider body{};
    body.read_callback = read_body;
    // nghttp2 copies the headers; the body is read from `stream` as it is sent.
    const int32_t id = nghttp2_submit_request(session_.get(), nullptr, headers, std::size(headers),
                                              &body, &stream);
    if (id < 0)
      throw std::runtime_error(std::string("cannot submit a push: ") + nghttp2_strerror(id));
    open_[id] = &stream;
  }

  // Reads what arrived and writes what is due, without blocking. Answered and refused streams
  // are handed to `closed` as they end.
  void pump(const OnClosed& closed) {
    if (failed_) return;
    closed_ = &closed;
    if (!read_available() || !write_due()) fail_open_streams();
    closed_ = nullptr;
  }

  // Ends the streams still open with a transport failure (`why`), e.g. at the batch's deadline.
  void abandon(const std::string& why, const OnClosed& closed) {
    failed_ = true;
    failure_ = why;
    closed_ = &closed;
    fail_open_streams();
    closed_ = nullptr;
  }

 private:
  void start_session() {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame);
    nghttp2_session* session = nullptr;
    const int rc = nghttp2_session_client_new(&session, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    if (rc != 0) throw std::runtime_error("cannot start an HTTP/2 session");
    session_.reset(session);
    const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
    nghttp2_submit_settings(session_.get(), NGHTTP2_FLAG_NONE, settings, std::size(settings));
  }

  bool wants_write() const {
    return !outbox_.empty() || nghttp2_session_want_write(session_.get());
  }

  bool read_available() {
    uint8_t buffer[16384];
    for (;;) {
      const int n = SSL_read(ssl_.get(), buffer, sizeof buffer);
      if (n <= 0) {
        const int error = SSL_get_error(ssl_.get(), n);
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return true;
        return fail(error == SSL_ERROR_ZERO_RETURN ? "APNs closed the connection"
                                                   : tls_error("connection to APNs lost"));
      }
      const ssize_t taken =
          nghttp2_session_mem_recv(session_.get(), buffer, static_cast<size_t>(n));
      if (taken < 0)
        return fail(std::string("HTTP/2 error from APNs: ") +
                    nghttp2_strerror(static_cast<int>(taken)));
    }
  }

  // Frames are gathered and written in large TLS records rather than one write per frame.
  bool write_due() {
    for (;;) {
      while (outbox_.size() < 65536) {
        const uint8_t* data = nullptr;
        const ssize_t n = nghttp2_session_mem_send(session_.get(), &data);
        if (n < 0)
          return fail(std::string("HTTP/2 error: ") + nghttp2_strerror(static_cast<int>(n)));
        if (n == 0) break;
        outbox_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
      }
      if (outbox_.empty()) return true;
      const int n = SSL_write(ssl_.get(), outbox_.data(), static_cast<int>(outbox_.size()));
      if (n <= 0) {
        const int error = SSL_get_error(ssl_.get(), n);
        if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) return true;
        return fail(tls_error("connection to APNs lost"));
      }
      outbox_.erase(0, static_cast<size_t>(n));
    }
  }

  bool fail(std::string why) {
    failed_ = true;
    failure_ = std::move(why);
    ERR_clear_error();
    return false;
  }

  void fail_open_streams() {
    auto open = std::move(open_);
    open_.clear();
    for (auto& [id, stream] : open) {
      // Past the last stream APNs's GOAWAY said it processes: never processed, safe to repeat.
      const bool unprocessed = id > goaway_last_stream_;
      if (!unprocessed) stream->failure = failure_;
      (*closed_)(*stream, unprocessed ? NGHTTP2_REFUSED_STREAM : NGHTTP2_INTERNAL_ERROR);
    }
  }

  static ssize_t read_body(nghttp2_session* session, int32_t stream_id, uint8_t* buffer,
                           size_t length, uint32_t* flags, nghttp2_data_source*, void*) {
    auto* stream = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, stream_id));
    const size_t n = std::min(length, stream->body.size() - stream->body_sent);
    std::copy_n(stream->body.data() + stream->body_sent, n, buffer);
    stream->body_sent += n;
    if (stream->body_sent == stream->body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  // Nothing may unwind through nghttp2's C frames: a throw (allocation) fails the connection.
  template <typename Body>
  static int guarded(Body&& body) noexcept {
    try {
      body();
      return 0;
    } catch (...) {
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                       size_t name_length, const uint8_t* value, size_t value_length, uint8_t,
                       void* user) {
    auto* self = static_cast<Connection*>(user);
    const auto it = self->open_.find(frame->hd.stream_id);
    if (it == self->open_.end()) return 0;
    const std::string_view n(reinterpret_cast<const char*>(name), name_length);
    const std::string_view v(reinterpret_cast<const char*>(value), value_length);
    return guarded([&] {
      if (n == ":status") {
        int status = 0;
        const auto [end, error] = std::from_chars(v.data(), v.data() + v.size(), status);
        it->second->status = error == std::errc() && end == v.data() + v.size() ? status : 0;
      } else if (n == "apns-id") {
        it->second->apns_id = std::string(v.substr(0, 64));
      }
    });
  }

  static int on_data(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                     size_t length, void* user) {
    auto* self = static_cast<Connection*>(user);
    const auto it = self->open_.find(stream_id);
    if (it == self->open_.end()) return 0;
    std::string& answer = it->second->answer;
    return guarded([&] {
      answer.append(reinterpret_cast<const char*>(data),
                    std::min(length, kMaxAnswerBytes - std::min(answer.size(), kMaxAnswerBytes)));
    });
  }

  static int on_frame(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto* self = static_cast<Connection*>(user);
    if (frame->hd.type == NGHTTP2_GOAWAY) self->goaway_last_stream_ = frame->goaway.last_stream_id;
    if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK))
      self->settings_received_ = true;
    return 0;
  }

  static int on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
    auto* self = static_cast<Connection*>(user);
    const auto it = self->open_.find(stream_id);
    if (it == self->open_.end()) return 0;
    Stream& stream = *it->second;
    self->open_.erase(it);
    return guarded([&] {
      if (self->closed_) (*self->closed_)(stream, error_code);
    });
  }

  struct Socket {
    int fd;
    ~Socket() { ::close(fd); }
  } socket_;  // first: closed last, and also when the constructor throws
  crypto::SslPtr ssl_;
  std::unique_ptr<nghttp2_session, SessionFree> session_;
  std::string outbox_;  // frames nghttp2 produced that TLS has not taken yet
  std::map<int32_t, Stream*> open_;
  const OnClosed* closed_ = nullptr;
  bool failed_ = false;
  bool settings_received_ = false;
  std::string failure_;
  int32_t goaway_last_stream_ = std::numeric_limits<int32_t>::max();  // none received
};

// What a closed stream means for its push.
enum class Outcome { kAnswered, kSendAgain, kFailed };

Outcome outcome_of(const Stream& stream, uint32_t error_code) {
  if (stream.status != 0) return Outcome::kAnswered;  // APNs answered, whatever came after
  // Refused before APNs processed it (GOAWAY, or over its stream limit): safe to send again.
  if (error_code == NGHTTP2_REFUSED_STREAM && stream.refusals < kMaxRefusals)
    return Outcome::kSendAgain;
  return Outcome::kFailed;
}

}  // namespace

struct ApnsClient::Impl {
  Options options;
  crypto::SslCtxPtr ctx;
  std::map<bool, std::vector<std::unique_ptr<Connection>>> connections;  // by sandbox
  std::map<bool, Origin> origins;
  std::map<bool, bool>
      connect_failed;  // in this batch, by sandbox: no more attempts until the next

  // Drops kept connections that APNs closed while they were idle (EOF or GOAWAY, read now).
  void drop_closed_idle() {
    for (auto& [sandbox, open] : connections) {
      for (auto& c : open)
        if (c->open_streams() == 0) c->pump(kNobodyWaits);
      std::erase_if(open, [](const auto& c) { return c->finished() && c->open_streams() == 0; });
    }
  }

  // Sends one batch: every push gets its result, or an error, by the deadline.
  void send_batch(const std::vector<Push>& pushes, std::vector<Stream>& streams,
                  std::vector<PushResult>& results);

  // Forgets every open stream (a batch that throws): no connection may keep pointers into it.
  void abandon_open_streams() noexcept {
    for (auto& [sandbox, open] : connections)
      for (auto& c : open)
        if (c->open_streams() > 0) c->abandon("the batch was abandoned", kNobodyWaits);
  }

  // A connection to `sandbox`'s origin that takes a stream now, opened if need be and allowed;
  // null if every allowed connection is full. Throws when one cannot be opened.
  Connection* connection_for(bool sandbox, Clock::time_point deadline) {
    auto& open = connections[sandbox];
    std::erase_if(open, [](const auto& c) { return c->finished() && c->open_streams() == 0; });
    Connection* best = nullptr;
    for (auto& c : open)
      if (c->accepts_streams() &&
          c->open_streams() < std::min(options.max_streams_per_connection, c->stream_limit()) &&
          (!best || c->open_streams() < best->open_streams()))
        best = c.get();
    if (best && best->open_streams() == 0) return best;
    const auto usable =
        std::count_if(open.begin(), open.end(), [](const auto& c) { return c->accepts_streams(); });
    if (usable < options.max_connections_per_host && !connect_failed[sandbox]) {
      try {
        open.push_back(std::make_unique<Connection>(origins.at(sandbox), *ctx, deadline));
        return open.back().get();
      } catch (const std::exception&) {
        connect_failed[sandbox] = true;
        if (!best) throw;  // else the connection that works carries the batch
      }
    }
    return best;
  }
};

ApnsClient::ApnsClient(Options options, std::string cert_pem, std::string key_pem)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->options.max_connections_per_host = std::max(1L, impl_->options.max_connections_per_host);
  // A write to a connection APNs reset must fail, not end the process: OpenSSL writes to the
  // socket with write(2), which raises SIGPIPE.
  static std::once_flag ignore_sigpipe;
  std::call_once(ignore_sigpipe, [] { std::signal(SIGPIPE, SIG_IGN); });
  impl_->origins[false] = parse_origin(impl_->options.endpoints.production);
  impl_->origins[true] = parse_origin(impl_->options.endpoints.sandbox);
  impl_->ctx.reset(SSL_CTX_new(TLS_client_method()));
  SSL_CTX* ctx = impl_->ctx.get();
  if (!ctx) throw std::runtime_error(tls_error("cannot create a TLS context"));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  const auto& ca_file = impl_->options.endpoints.ca_file;
  if (ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx) != 1
                      : SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1)
    throw std::runtime_error(tls_error("cannot load the APNs trust anchors"));
  // The push certificate, then any chain after it in the PEM.
  auto bio = crypto::BioPtr(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  crypto::X509Ptr leaf(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!leaf || SSL_CTX_use_certificate(ctx, leaf.get()) != 1)
    throw std::runtime_error(tls_error("cannot use the push certificate"));
  while (X509* chain = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
    SSL_CTX_add0_chain_cert(ctx, chain);
  ERR_clear_error();  // the end of the PEM
  const auto key = pki::parse_private_key_pem(key_pem, nullptr);
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1)
    throw std::runtime_error(tls_error("the push certificate's key does not match it"));
}

ApnsClient::~ApnsClient() = default;

std::vector<PushResult> ApnsClient::send(const std::vector<Push>& pushes) {
  std::vector<PushResult> results(pushes.size());
  std::vector<Stream> streams(pushes.size());
  try {
    impl_->send_batch(pushes, streams, results);
  } catch (...) {
    impl_->abandon_open_streams();  // before `streams` goes
    throw;
  }
  return results;
}

void ApnsClient::Impl::send_batch(const std::vector<Push>& pushes, std::vector<Stream>& streams,
                                  std::vector<PushResult>& results) {
  connect_failed.clear();
  drop_closed_idle();
  std::map<bool, std::deque<Stream*>> waiting;  // by sandbox
  for (size_t i = 0; i < pushes.size(); ++i) {
    streams[i].index = i;
    streams[i].body = mdm_body(pushes[i].push_magic);
    waiting[pushes[i].sandbox].push_back(&streams[i]);
  }
  const auto deadline = Clock::now() + options.timeout;
  size_t unsettled = pushes.size();
  std::vector<std::pair<Stream*, uint32_t>> closed;
  const std::function<void(Stream&, uint32_t)> on_closed = [&](Stream& s, uint32_t error) {
    closed.emplace_back(&s, error);
  };
  auto settle = [&](Stream& s, std::string error) {
    PushResult& r = results[s.index];
    r.status = s.status;
    r.apns_id = std::move(s.apns_id);
    if (s.status != 200 && s.status != 0) r.reason = reason_of(s.answer);
    if (s.status == 0) r.error = std::move(error);
    --unsettled;
  };
  auto fail_waiting = [&](bool sandbox, const std::string& why) {
    for (Stream* s : waiting[sandbox]) settle(*s, why);
    waiting[sandbox].clear();
  };

  while (unsettled > 0) {
    // Give each waiting push a stream, on as few connections as the limit allows.
    for (auto& [sandbox, queue] : waiting) {
      while (!queue.empty()) {
        Connection* c = nullptr;
        try {
          c = connection_for(sandbox, deadline);
        } catch (const std::exception& e) {
          fail_waiting(sandbox, e.what());
          break;
        }
        if (!c) break;
        c->submit(*queue.front(), pushes[queue.front()->index], origins.at(sandbox));
        queue.pop_front();
      }
    }
    if (unsettled == 0) break;
    std::vector<Connection*> active;
    std::vector<pollfd> polled;
    for (auto& [sandbox, list] : connections)
      for (auto& c : list)
        if (!c->failed()) {
          active.push_back(c.get());
          polled.push_back({c->fd(), c->events(), 0});
        }
    const bool expired = Clock::now() >= deadline;
    if (!expired && !polled.empty()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      ::poll(polled.data(), polled.size(),
             static_cast<int>(std::clamp<int64_t>(left.count(), 1, 100)));
    }
    for (size_t i = 0; i < active.size(); ++i) {
      if (expired)
        active[i]->abandon("no answer from APNs in time", on_closed);
      else if (polled[i].revents != 0)
        active[i]->pump(on_closed);
    }
    for (auto [stream, error] : closed) {
      switch (outcome_of(*stream, error)) {
        case Outcome::kAnswered:
          settle(*stream, {});
          break;
        case Outcome::kSendAgain:
          ++stream->refusals;
          stream->body_sent = 0;
          waiting[pushes[stream->index].sandbox].push_back(stream);
          break;
        case Outcome::kFailed:
          settle(*stream, !stream->failure.empty() ? stream->failure
                                                   : "stream reset by APNs (HTTP/2 error " +
                                                         std::to_string(error) + ")");
          break;
      }
    }
    closed.clear();
    if (expired)
      for (auto& [sandbox, queue] : waiting) fail_waiting(sandbox, "no connection to APNs in time");
  }
}

}  // namespace cairn::dispatcher
