// The APNs provider API as an MDM server uses it: HTTP/2 over TLS with the push certificate as
// client certificate, `POST /3/device/<token>` with the four headers Apple needs to store a push
// for an offline device, and the body `{"mdm":"<PushMagic>"}`. On libnghttp2 directly: a batch of
// pushes is multiplexed as streams over a few connections kept between batches, their frames
// written in large TLS records, with no per-push handle or request state beyond the stream's.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cairn::dispatcher {

struct Push {
  std::string token_hex;
  std::string topic;  // apns-topic: the push certificate's UID
  std::string push_magic;
  bool sandbox = false;         // api.sandbox.push.apple.com (UseDevelopmentAPNS)
  int64_t expiration_unix = 0;  // apns-expiration: Apple keeps the push for an offline device
};

struct PushResult {
  int status = 0;       // HTTP status from APNs; 0 when there was no answer (see `error`)
  std::string apns_id;  // APNs's id for the push (answered on success and failure)
  std::string reason;   // APNs's reason for a non-200 answer, e.g. "Unregistered"
  std::string error;    // the transport failure when status is 0
};

struct ApnsEndpoints {
  std::string production = "https://api.push.apple.com";
  std::string sandbox = "https://api.sandbox.push.apple.com";
  std::string ca_file;  // trust anchors for the server; empty: the system's
};

// One push certificate's connections to APNs. Not thread-safe: one caller sends at a time.
class ApnsClient {
 public:
  struct Options {
    ApnsEndpoints endpoints;
    std::chrono::milliseconds timeout{15000};  // per batch, connecting included
    long max_connections_per_host = 2;
    // Streams open at once on one connection (APNs's own limit, from its SETTINGS, also holds).
    size_t max_streams_per_connection = 1000;
  };
  // The certificate (and any chain after it) and its key are PEM; the key is kept only in the
  // TLS context, in memory, while the client lives.
  ApnsClient(Options options, std::string cert_pem, std::string key_pem);
  ~ApnsClient();
  ApnsClient(const ApnsClient&) = delete;
  ApnsClient& operator=(const ApnsClient&) = delete;

  // Sends every push, multiplexed, and returns their results in the same order.
  std::vector<PushResult> send(const std::vector<Push>& pushes);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::dispatcher
