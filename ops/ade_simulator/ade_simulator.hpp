// A stand-in for Apple's ADE service (mdmenrollment.apple.com) over HTTPS: OAuth 1.0a session
// start with real HMAC-SHA1 signature checks, session tokens, fetch and sync with cursors, profile
// definition and assignment, and the failures Cairn must survive, on instruction: sessions that
// end, cursors that expire, a revoked token, 429s with Retry-After, throttled assignments. It also
// issues the server token file (encrypted to the MDM server's token certificate, as Apple Business
// Manager does) and tells a simulated device at first boot which profile it was assigned (Apple's
// cloud configuration), so tests and devsim run the whole ADE flow without Apple.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cairn::ade_sim {

struct Options {
  std::string listen_host = "127.0.0.1";
  int port = 0;          // 0: any free port (see port())
  std::string cert_pem;  // the server's certificate
  std::string key_pem;   // its private key (clear PEM)
  std::string server_name = "Cairn test MDM server";
  std::string org_name = "Example Org";
};

// What a device at first boot learns from Apple: the profile assigned to its serial number (the
// JSON defined by the MDM server), with its serial number.
struct CloudConfiguration {
  std::string serial_number;
  std::string profile_json;
};

class AdeSimulator {
 public:
  explicit AdeSimulator(Options options);  // serving when constructed
  ~AdeSimulator();
  AdeSimulator(const AdeSimulator&) = delete;
  AdeSimulator& operator=(const AdeSimulator&) = delete;

  int port() const;
  std::string url() const;  // https://host:port

  // The token file for the MDM server whose token certificate is `certificate_pem`: S/MIME
  // EnvelopedData around the OAuth credentials, as Apple Business Manager gives it.
  std::string token_file(const std::string& certificate_pem) const;

  // Devices newly assigned to this MDM server in Apple Business Manager (a sync reports each as
  // "added"): `count` serial numbers `<prefix><n>`, model and family as given.
  std::vector<std::string> add_devices(size_t count, const std::string& prefix,
                                       const std::string& device_family = "iPhone",
                                       const std::string& model = "iPhone 15");
  void release_device(const std::string& serial);  // "deleted" in the next sync

  void end_sessions();    // every session token stops working (401): clients start new ones
  void expire_cursors();  // every cursor given so far answers 400 EXPIRED_CURSOR
  void reject_token();    // the token is revoked: 403 token_rejected, even for a new session
  void accept_token();    // ... and a new one (the same credentials) is accepted again
  // The next `calls` calls (sessions included) are answered 429 with Retry-After.
  void throttle_calls(int calls, int retry_after_seconds);
  // The next `devices` devices in assignments are answered THROTTLED.
  void throttle_assignments(int devices);

  std::optional<CloudConfiguration> cloud_configuration(const std::string& serial) const;

  struct Counts {
    int sessions = 0;       // sessions started
    int oauth_refused = 0;  // /session calls whose OAuth signature did not verify
    int fetch_calls = 0;
    int sync_calls = 0;
    int profiles_defined = 0;
    int assigned = 0;       // devices given a profile
    int removed = 0;        // devices whose profile was removed
    int refused_calls = 0;  // 401/403/429/400 answers
  };
  Counts counts() const;

  void stop();  // idempotent

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace cairn::ade_sim
