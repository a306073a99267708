// Keeps Cairn's picture of each ADE token's devices current: for every uploaded token, a full
// fetch and then syncs from the cursor, each page an AdeDevicesSynced event (the cursor lives in
// the log, so a restart, another node or a replay continues where the last page stopped); then
// the devices without a profile get one (rules, else the token's default), the profile defined at
// Apple first when it is new or changed. Failures are AdeSyncFailed events and log lines, and the
// token waits as long as Apple asked (or backs off) before it is tried again; other tokens go on.
//
// One syncer per deployment writes (its reads of the projection are its own earlier writes): on
// the embedded log the node; on Kafka the node whose dispatcher owns the device-less partition.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ade/client.hpp"
#include "crypto/secret_box.hpp"
#include "ingest/event_writer.hpp"
#include "projector/ade.hpp"

namespace cairn::ade {

struct SyncerOptions {
  ClientOptions client;
  std::chrono::milliseconds interval{std::chrono::minutes(5)};
  int page_size = 1000;  // Apple's largest
  // Where devices at first boot send their MachineInfo (https://<public URL>/ade/enroll), and the
  // certificates they must trust to reach it (DER): written into profiles that do not say.
  std::string enrollment_url;
  std::vector<std::string> anchor_certs_der;
  // Whether this node is the one that syncs now (Kafka: it owns the device-less partition).
  std::function<bool()> may_run = [] { return true; };
};

class Syncer {
 public:
  Syncer(const store::Reader& projection, ingest::EventWriter& writer,
         const crypto::SecretBox& secrets, SyncerOptions options);
  ~Syncer();

  void start();  // a thread running a round every interval, or when woken
  void stop();
  // A round now (a token uploaded, an administrator asked). `token`'s own backoff is forgotten
  // (all tokens' when empty); a wait Apple asked for (Retry-After) is kept.
  void wake(const std::string& token = "");

  // One round over every token (what the thread runs; tests call it directly).
  void run_once();

  // The JSON defined at Apple for a stored profile: its fields, with the enrollment URL and the
  // anchor certificates filled in where it does not give them. Throws BadRequest.
  std::string apple_profile(const std::string& content) const;

 private:
  void sync_token(const projector::AdeTokenRecord& token);
  void pull_pages(const std::string& token, Client& client);
  void assign(const projector::AdeTokenRecord& token, Client& client);
  // Removes the profile at Apple from the devices an administrator held.
  void remove_held(const std::string& token, Client& client);
  void assign_profile(const std::string& token, const std::string& profile,
                      const std::vector<std::string>& serials, Client& client);
  Client& client_for(const projector::AdeTokenRecord& token);
  // An AdeSyncFailed event and a log line; with `back_off`, the token waits before its next call
  // (a profile that cannot be defined is that profile's problem, not the token's).
  void record_failure(const std::string& token, const AdeCallError& e, bool back_off = true);
  // The device records of one answer, as events of at most kDevicesPerEvent devices.
  void record_page(const std::string& token, const std::string& phase,
                   const std::string& from_cursor, DevicePage page);

  projector::AdeReader reader_;
  ingest::EventWriter& writer_;
  const crypto::SecretBox& secrets_;
  SyncerOptions options_;

  struct TokenState {
    std::string credentials_sealed;  // what `client` was made from
    std::unique_ptr<Client> client;
    std::chrono::steady_clock::time_point not_before{};         // the backoff's
    std::chrono::steady_clock::time_point apple_asked_until{};  // Retry-After's
    int failures = 0;                                           // in a row, for the backoff
  };
  std::map<std::string, TokenState> tokens_;  // the syncer thread's (or run_once's caller's)

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool woken_ = false;
  std::thread thread_;
};

}  // namespace cairn::ade
