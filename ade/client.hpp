// The ADE service API client (Apple's mdmenrollment.apple.com, or the ADE simulator): an OAuth
// 1.0a session per server token, renewed when the service says it ended, and the calls Cairn
// makes. Errors are exceptions: AdeCallError says what the caller should do next (its outcome is
// AdeSyncFailed's), so the rules for Apple's answers live in one place, classify().
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "ade/answers.hpp"
#include "ade/server_token.hpp"

namespace httplib {
class Client;
}

namespace cairn::ade {

struct ClientOptions {
  std::string url = "https://mdmenrollment.apple.com";
  std::string ca_file;  // PEM the service's TLS certificate must chain to; empty: system trust
  std::chrono::seconds timeout{60};
};

class AdeCallError : public std::runtime_error {
 public:
  AdeCallError(std::string call, int status, const std::string& reason, std::string outcome,
               int64_t retry_after_seconds = 0)
      : std::runtime_error(reason),
        call(std::move(call)),
        status(status),
        outcome(std::move(outcome)),
        retry_after_seconds(retry_after_seconds) {}
  std::string call;
  int status;           // 0: no answer
  std::string outcome;  // "retry", "refetch", "sync" or "stopped" (AdeSyncFailed)
  int64_t retry_after_seconds;
  std::string from_cursor;  // fetch and sync: where the call started (set by the syncer)
};

// What an answer means: nothing (2xx), a session to renew (true: 401, or 403 FORBIDDEN), or an
// AdeCallError thrown. `retry_after` is the Retry-After header (seconds), if any.
bool session_ended(int status, std::string_view body);
void classify(const std::string& call, int status, std::string_view body,
              std::string_view retry_after);

class Client {
 public:
  Client(ClientOptions options, ServerToken token);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  DevicePage fetch_devices(const std::string& cursor, int limit);
  DevicePage sync_devices(const std::string& cursor, int limit);
  std::string define_profile(const std::string& profile_json);  // its profile_uuid
  AssignAnswer assign_profile(const std::string& profile_uuid,
                              const std::vector<std::string>& serials);
  AssignAnswer remove_profile(const std::vector<std::string>& serials);

 private:
  struct Answer {
    int status = 0;
    std::string body;
  };
  // The call with the session, renewing it once if the service ended it.
  std::string call(const std::string& name, const std::string& method, const std::string& path,
                   const std::string& body);
  Answer send(const std::string& name, const std::string& method, const std::string& path,
              const std::string& body, bool with_session, std::string* retry_after);
  void start_session();

  ClientOptions options_;
  ServerToken token_;
  std::unique_ptr<httplib::Client> http_;
  std::string session_;
};

// The User-Agent Cairn sends (Apple has refused requests without a product token of their own).
inline constexpr std::string_view kUserAgent = "cairn-mdm/1.0";

}  // namespace cairn::ade
