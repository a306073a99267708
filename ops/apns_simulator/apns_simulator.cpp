#include "ops/apns_simulator/apns_simulator.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <optional>
#include <random>
#include <stdexcept>
#include <string_view>

#include "crypto/certificate.hpp"
#include "crypto/digest.hpp"
#include "crypto/openssl_handles.hpp"
#include "pki/issuer.hpp"

namespace cairn::apns_sim {
namespace {

using crypto::SslCtxPtr;
using crypto::SslPtr;

SSL_CTX* ctx_of(const std::shared_ptr<void>& tls) {
  return static_cast<SSL_CTX*>(tls.get());
}

int select_h2(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
              unsigned int inlen, void*) {
  // APNs speaks only HTTP/2.
  if (nghttp2_select_next_protocol(const_cast<unsigned char**>(out), outlen, in, inlen) != 1)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  return SSL_TLSEXT_ERR_OK;
}

std::shared_ptr<void> make_tls(const Options& o) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) throw std::runtime_error("SSL_CTX_new failed");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // The leaf first, then any intermediates, as in a PEM chain file.
  auto bio = crypto::memory_bio(o.cert_pem);
  bool leaf = true;
  while (crypto::X509Ptr cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    if ((leaf ? SSL_CTX_use_certificate(ctx.get(), cert.get())
              : SSL_CTX_add1_chain_cert(ctx.get(), cert.get())) != 1)
      throw std::runtime_error("the simulator's certificate is unusable: " +
                               crypto::drain_openssl_errors());
    leaf = false;
  }
  crypto::drain_openssl_errors();
  auto key = pki::parse_private_key_pem(o.key_pem, nullptr);
  if (leaf || SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1)
    throw std::runtime_error("the simulator's certificate or key is unusable: " +
                             crypto::drain_openssl_errors());
  if (SSL_CTX_load_verify_locations(ctx.get(), o.client_ca_file.c_str(), nullptr) != 1)
    throw std::runtime_error("cannot load client CA " + o.client_ca_file);
  // Like APNs: no connection without a client certificate the service trusts.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_alpn_select_cb(ctx.get(), select_h2, nullptr);
  return std::shared_ptr<void>(ctx.release(),
                               [](void* p) { SSL_CTX_free(static_cast<SSL_CTX*>(p)); });
}

bool all_of(std::string_view s, int (*is)(int)) {
  return std::all_of(s.begin(), s.end(),
                     [is](char c) { return is(static_cast<unsigned char>(c)); });
}

bool is_hex_token(const std::string& s) {
  return !s.empty() && s.size() % 2 == 0 && s.size() <= 200 && all_of(s, isxdigit);
}

// 8-4-4-4-12 hex digits, as APNs requires of an apns-id.
bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

// Exactly {"mdm":"<PushMagic>"}: a PushMagic is a UUID-like string, no quotes or escapes.
bool is_mdm_body(std::string_view s) {
  constexpr std::string_view kOpen = R"({"mdm":")", kClose = R"("})";
  if (s.size() <= kOpen.size() + kClose.size() || !s.starts_with(kOpen) || !s.ends_with(kClose))
    return false;
  const auto magic = s.substr(kOpen.size(), s.size() - kOpen.size() - kClose.size());
  return magic.find_first_of("\"\\") == std::string_view::npos;
}

// The checks APNs makes of a request, with its reasons. Empty: the request is well formed.
std::optional<Failure> malformed(const RecordedPush& r) {
  auto header = [&](const char* name) -> const std::string* {
    auto it = r.headers.find(name);
    return it == r.headers.end() ? nullptr : &it->second;
  };
  if (r.method != "POST") return Failure{405, "MethodNotAllowed"};
  if (!r.path.starts_with("/3/device/")) return Failure{404, "BadPath"};
  if (!is_hex_token(r.token_hex)) return Failure{400, "BadDeviceToken"};
  const auto* topic = header("apns-topic");
  if (!topic || topic->empty()) return Failure{400, "MissingTopic"};
  if (*topic != r.client_topic) return Failure{400, "TopicDisallowed"};
  const auto* type = header("apns-push-type");
  if (!type || *type != "mdm") return Failure{400, "InvalidPushType"};
  if (const auto* p = header("apns-priority"); p && *p != "5" && *p != "10")
    return Failure{400, "BadPriority"};
  if (const auto* e = header("apns-expiration"); e && (e->empty() || !all_of(*e, isdigit)))
    return Failure{400, "BadExpirationDate"};
  if (const auto* id = header("apns-id"); id && !is_uuid(*id)) return Failure{400, "BadMessageId"};
  if (r.body.empty()) return Failure{400, "PayloadEmpty"};
  if (r.body.size() > 4096) return Failure{413, "PayloadTooLarge"};
  // An MDM push carries exactly the PushMagic, no "aps" dictionary.
  if (!is_mdm_body(r.body)) return Failure{400, "BadMdmPayload"};
  return std::nullopt;
}

// One HTTP/2 connection: nghttp2 does the framing, this feeds it bytes from TLS and back.
class Connection {
 public:
  Connection(ApnsSimulator& sim, SSL* ssl) : sim_(sim), ssl_(ssl) {
    if (X509* peer = SSL_get0_peer_certificate(ssl))
      client_topic_ = crypto::certificate_subject_uid(peer);
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    nghttp2_session_server_new(&session_, cb, this);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry settings{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
                                    sim.options().max_concurrent_streams};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, &settings, 1);
  }
  ~Connection() { nghttp2_session_del(session_); }

  void run() {
    unsigned char buf[16384];
    while (flush() &&
           (nghttp2_session_want_read(session_) || nghttp2_session_want_write(session_))) {
      const int n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) return;
      if (nghttp2_session_mem_recv(session_, buf, static_cast<size_t>(n)) < 0) return;
    }
  }

 private:
  struct Stream {
    RecordedPush request;
    std::string response_body;
    size_t sent = 0;
  };

  bool flush() {
    while (true) {
      const uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n < 0) return false;
      if (n == 0) return true;
      if (SSL_write(ssl_, data, static_cast<int>(n)) != n) return false;
    }
  }

  void respond(int32_t id) {
    auto& stream = streams_[id];
    stream.request.client_topic = client_topic_;
    const RecordedPush answer = sim_.handle(std::move(stream.request));
    const std::string status = std::to_string(answer.status);
    if (answer.status != 200) {
      stream.response_body = "{\"reason\":\"" + answer.reason + "\"";
      if (answer.status == 410)
        stream.response_body +=
            ",\"timestamp\":" +
            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count());
      stream.response_body += "}";
    }
    auto nv = [](const std::string& name, const std::string& value) {
      return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                        reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                        value.size(), NGHTTP2_NV_FLAG_NONE};
    };
    static const std::string kStatus = ":status", kApnsId = "apns-id";
    const nghttp2_nv headers[] = {nv(kStatus, status), nv(kApnsId, answer.apns_id)};
    nghttp2_data_provider body{};
    body.read_callback = read_body;
    nghttp2_submit_response(session_, id, headers, 2,
                            stream.response_body.empty() ? nullptr : &body);
    if (++answered_ == sim_.options().goaway_after_streams) {
      static constexpr std::string_view kShutdown = R"({"reason":"Shutdown"})";
      // Streams already received are still answered; later ones are not processed.
      nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                            nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                            reinterpret_cast<const uint8_t*>(kShutdown.data()), kShutdown.size());
    }
  }

  static ssize_t read_body(nghttp2_session*, int32_t id, uint8_t* buf, size_t length,
                           uint32_t* flags, nghttp2_data_source*, void* user) {
    auto& stream = static_cast<Connection*>(user)->streams_[id];
    const size_t n = std::min(length, stream.response_body.size() - stream.sent);
    std::memcpy(buf, stream.response_body.data() + stream.sent, n);
    stream.sent += n;
    if (stream.sent == stream.response_body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }
  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
      static_cast<Connection*>(user)->streams_[frame->hd.stream_id] = Stream{};
    return 0;
  }
  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                       size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    auto& r = static_cast<Connection*>(user)->streams_[frame->hd.stream_id].request;
    const std::string n(reinterpret_cast<const char*>(name), namelen);
    std::string v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":method") {
      r.method = std::move(v);
    } else if (n == ":path") {
      r.path = std::move(v);
      if (r.path.starts_with("/3/device/")) r.token_hex = r.path.substr(10);
    } else if (!n.starts_with(":")) {
      r.headers[n] = std::move(v);
    }
    return 0;
  }
  static int on_data(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                     void* user) {
    auto& r = static_cast<Connection*>(user)->streams_[id].request;
    // Bounded: past 4 KiB the request is answered 413 (see malformed()), the rest is not kept.
    r.body.append(reinterpret_cast<const char*>(data),
                  std::min(len, 4097 - std::min<size_t>(r.body.size(), 4097)));
    return 0;
  }
  static int on_frame(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    const bool request_done =
        (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM);
    if (!request_done) return 0;
    try {
      static_cast<Connection*>(user)->respond(frame->hd.stream_id);
    } catch (const std::exception&) {
      return NGHTTP2_ERR_CALLBACK_FAILURE;  // nothing may unwind through nghttp2's C frames
    }
    return 0;
  }
  static int on_close(nghttp2_session*, int32_t id, uint32_t, void* user) {
    static_cast<Connection*>(user)->streams_.erase(id);
    return 0;
  }

  ApnsSimulator& sim_;
  SSL* ssl_;
  nghttp2_session* session_ = nullptr;
  std::string client_topic_;
  std::map<int32_t, Stream> streams_;
  size_t answered_ = 0;
};

}  // namespace

ApnsSimulator::ApnsSimulator(Options options)
    : options_(std::move(options)), tls_(make_tls(options_)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(options_.port));
  if (::inet_pton(AF_INET, options_.listen_host.c_str(), &addr.sin_addr) != 1)
    throw std::invalid_argument("listen host must be an IPv4 address: " + options_.listen_host);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 1024) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("the APNs simulator cannot listen on " + options_.listen_host + ":" +
                             std::to_string(options_.port) + ": " + std::strerror(errno));
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

ApnsSimulator::~ApnsSimulator() {
  stop();
}

void ApnsSimulator::stop() {
  if (stopping_.exchange(true)) return;
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  ::close(listen_fd_);
  std::unique_lock lock(mu_);
  for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  closed_.wait(lock, [&] { return open_fds_.empty(); });
}

void ApnsSimulator::accept_loop() {
  while (!stopping_) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // shut down
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ++connections_accepted_;
    std::lock_guard lock(mu_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    open_fds_.push_back(fd);
    std::thread([this, fd] { serve(fd); }).detach();  // stop() waits for open_fds_ to empty
  }
}

void ApnsSimulator::serve(int fd) {
  // A client hanging up must not end the process that hosts the simulator: with SIGPIPE blocked
  // in this thread, a write to its socket fails with EPIPE instead.
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  {
    SslPtr ssl(SSL_new(ctx_of(tls_)));
    SSL_set_fd(ssl.get(), fd);
    if (SSL_accept(ssl.get()) == 1) {
      try {
        Connection(*this, ssl.get()).run();
      } catch (const std::exception&) {
        // This connection ends; the simulator and its other connections go on.
      }
      SSL_shutdown(ssl.get());
    }
    ERR_clear_error();
  }
  std::lock_guard lock(mu_);
  std::erase(open_fds_, fd);
  ::close(fd);
  closed_.notify_all();
}

RecordedPush ApnsSimulator::handle(RecordedPush r) {
  const auto id = r.headers.find("apns-id");
  r.apns_id = id != r.headers.end() ? id->second : crypto::uuid_v4();
  std::function<void(const RecordedPush&)> hook;
  {
    std::lock_guard lock(mu_);
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    std::optional<Failure> failure = malformed(r);
    if (!failure) {
      if (auto it = token_failures_.find(r.token_hex); it != token_failures_.end())
        failure = it->second;
      else if (fail_share_ > 0 && std::uniform_real_distribution<double>(0, 1)(rng) < fail_share_)
        failure = share_failure_;
    }
    r.status = failure ? failure->status : 200;
    r.reason = failure ? failure->reason : "";
    pushes_.push_back(r);
    if (r.status == 200) hook = hook_;
  }
  if (hook) hook(r);
  return r;
}

void ApnsSimulator::fail_token(const std::string& token_hex, Failure failure) {
  std::lock_guard lock(mu_);
  token_failures_[token_hex] = std::move(failure);
}

void ApnsSimulator::fail_share(double share, Failure failure) {
  std::lock_guard lock(mu_);
  fail_share_ = share;
  share_failure_ = std::move(failure);
}

void ApnsSimulator::clear_failures() {
  std::lock_guard lock(mu_);
  token_failures_.clear();
  fail_share_ = 0;
}

void ApnsSimulator::on_accepted(std::function<void(const RecordedPush&)> hook) {
  std::lock_guard lock(mu_);
  hook_ = std::move(hook);
}

std::vector<RecordedPush> ApnsSimulator::pushes() const {
  std::lock_guard lock(mu_);
  return pushes_;
}

size_t ApnsSimulator::push_count() const {
  std::lock_guard lock(mu_);
  return pushes_.size();
}

}  // namespace cairn::apns_sim
