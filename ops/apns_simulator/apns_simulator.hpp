// A stand-in for Apple's push service: an HTTP/2 server over TLS (libnghttp2 + OpenSSL) that
// speaks the APNs provider API as an MDM server uses it. It requires a client certificate from a
// configured CA, checks each push as Apple does (path, token, headers, body), answers 200 with an
// apns-id, and on instruction answers with failures (410 Unregistered for a token, 429 or 500 for
// a share of requests, ...). It records every push and can call a hook for each accepted one, so
// tests and benchmarks can wake simulated devices and run the whole loop without Apple.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cairn::apns_sim {

struct RecordedPush {
  std::string method;
  std::string path;
  std::string token_hex;                       // from the path
  std::map<std::string, std::string> headers;  // lower-case names, pseudo-headers excluded
  std::string body;
  std::string client_topic;  // the UID in the client certificate's subject
  int status = 0;            // what the simulator answered
  std::string reason;        // APNs's reason for a non-200 answer
  std::string apns_id;
};

struct Failure {
  int status = 0;
  std::string reason;
};

struct Options {
  std::string listen_host = "127.0.0.1";
  int port = 0;                            // 0: any free port (see port())
  std::string cert_pem;                    // the server's certificate chain
  std::string key_pem;                     // its private key (clear PEM)
  std::string client_ca_file;              // client certificates must chain to this CA
  uint32_t max_concurrent_streams = 1000;  // advertised in SETTINGS, as APNs does
  // After answering this many pushes a connection sends GOAWAY, as APNs does when it takes a
  // server out of service; streams the client opened past it go unprocessed. 0: never.
  size_t goaway_after_streams = 0;
};

class ApnsSimulator {
 public:
  explicit ApnsSimulator(Options options);  // listening when constructed
  ~ApnsSimulator();
  ApnsSimulator(const ApnsSimulator&) = delete;
  ApnsSimulator& operator=(const ApnsSimulator&) = delete;

  int port() const { return port_; }

  // Every later push to `token_hex` is answered with `failure` (410 Unregistered, ...).
  void fail_token(const std::string& token_hex, Failure failure);
  // A `share` (0..1) of later pushes, chosen at random, is answered with `failure`.
  void fail_share(double share, Failure failure);
  void clear_failures();
  // Called (on a connection thread) for each push answered 200.
  void on_accepted(std::function<void(const RecordedPush&)> hook);

  std::vector<RecordedPush> pushes() const;
  size_t push_count() const;
  size_t connections_accepted() const { return connections_accepted_; }

  // Stops accepting, closes every connection. Idempotent.
  void stop();

  // Decides the answer to one push; public for the connection code.
  RecordedPush handle(RecordedPush request);
  const Options& options() const { return options_; }

 private:
  void accept_loop();
  void serve(int fd);

  Options options_;
  std::shared_ptr<void> tls_;  // SSL_CTX, type-erased to keep OpenSSL out of this header
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::condition_variable closed_;
  std::vector<int> open_fds_;  // one serving thread each
  std::map<std::string, Failure> token_failures_;
  double fail_share_ = 0;
  Failure share_failure_;
  std::function<void(const RecordedPush&)> hook_;
  std::vector<RecordedPush> pushes_;
  std::atomic<size_t> connections_accepted_{0};
};

}  // namespace cairn::apns_sim
