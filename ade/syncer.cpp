#include "ade/syncer.hpp"

#include <openssl/crypto.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "ade/assignment_rules.hpp"
#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "common/logging.hpp"
#include "crypto/digest.hpp"

namespace cairn::ade {
namespace {

constexpr const char* kActor = "ade-syncer";
// Pages pulled per token per round: a fleet of 1,000,000 devices is 1,000 pages of 1,000.
constexpr int kMostPagesPerRound = 2000;
// Devices assigned per token per round (1,000 per call, Apple's limit).
constexpr size_t kMostAssignedPerRound = 100000;
constexpr size_t kDevicesPerAssignment = 1000;
// Devices per AdeDevicesSynced event: a page of 1,000 with long fields stays far under Kafka's
// default 1 MB message limit.
constexpr size_t kDevicesPerEvent = 100;

std::chrono::seconds backoff(int failures, int64_t asked) {
  const int64_t exponential = std::min<int64_t>(int64_t{30} << std::min(failures, 6), 3600);
  return std::chrono::seconds(std::max(asked, exponential));
}

}  // namespace

Syncer::Syncer(const store::Reader& projection, ingest::EventWriter& writer,
               const crypto::SecretBox& secrets, SyncerOptions options)
    : reader_(projection), writer_(writer), secrets_(secrets), options_(std::move(options)) {}

Syncer::~Syncer() {
  stop();
}

void Syncer::start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      try {
        if (options_.may_run()) run_once();
      } catch (const std::exception& e) {
        logging::error("ADE sync round failed", {{"error", e.what()}});
      }
      lock.lock();
      cv_.wait_for(lock, options_.interval, [this] { return stopping_ || woken_; });
      woken_ = false;
    }
  });
}

void Syncer::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Syncer::wake(const std::string& token) {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
    for (auto& [name, state] : tokens_)
      if (token.empty() || name == token) state.not_before = {};  // an administrator asked: now
  }
  cv_.notify_all();
}

void Syncer::run_once() {
  writer_.wait_caught_up();
  for (const auto& token : reader_.tokens()) {
    if (token.credentials_sealed.empty() || token.failure_outcome == "stopped") continue;
    {
      std::lock_guard lock(mu_);
      const auto& state = tokens_[token.token];
      const auto now = std::chrono::steady_clock::now();
      if (now < state.not_before || now < state.apple_asked_until) continue;
    }
    if (!options_.may_run()) return;  // another node syncs now
    sync_token(token);
  }
}

Client& Syncer::client_for(const projector::AdeTokenRecord& token) {
  std::lock_guard lock(mu_);
  auto& state = tokens_[token.token];
  if (!state.client || state.credentials_sealed != token.credentials_sealed) {
    std::string json =
        secrets_.open(token.credentials_sealed, credentials_sealing_context(token.token));
    auto credentials = read_credentials(json);
    OPENSSL_cleanse(json.data(), json.size());
    state.client = std::make_unique<Client>(options_.client, std::move(credentials));
    state.credentials_sealed = token.credentials_sealed;
  }
  return *state.client;
}

void Syncer::sync_token(const projector::AdeTokenRecord& token) {
  try {
    auto& client = client_for(token);
    pull_pages(token.token, client);
    remove_held(token.token, client);  // first: an assignment's failure must not hold it up
    assign(*reader_.token(token.token), client);
    std::lock_guard lock(mu_);
    tokens_[token.token].failures = 0;
  } catch (const AdeCallError& e) {
    record_failure(token.token, e);
  } catch (const std::exception& e) {
    // Ours, not Apple's (the keyring cannot open the credentials, the log refused a page): the
    // token backs off like any failure, and the other tokens go on.
    record_failure(token.token, AdeCallError("internal", 0, e.what(), "retry"));
  }
}

void Syncer::record_failure(const std::string& token, const AdeCallError& e, bool back_off) {
  int failures = 0;
  if (back_off) {
    std::lock_guard lock(mu_);
    auto& state = tokens_[token];
    const auto now = std::chrono::steady_clock::now();
    // Devices Apple throttled (the call itself answered 200): wait as long as it asked, no more.
    // A cursor to start again from is not a reason to wait; anything else is.
    if (e.status != 200) {
      failures = ++state.failures;
      state.not_before = e.outcome == "refetch" || e.outcome == "sync"
                             ? std::chrono::steady_clock::time_point{}
                             : now + backoff(failures, 0);
    }
    if (e.retry_after_seconds > 0)
      state.apple_asked_until = now + std::chrono::seconds(e.retry_after_seconds);
  }
  (e.outcome == "stopped" ? logging::error : logging::warn)("ADE call failed",
                                                            {{"token", token},
                                                             {"call", e.call},
                                                             {"status", std::to_string(e.status)},
                                                             {"outcome", e.outcome},
                                                             {"reason", e.what()}});
  try {
    writer_.append_and_wait_applied(
        {writer_.make("", kActor,
                      events::AdeSyncFailed{token, e.call, e.status, e.what(), e.outcome,
                                            e.retry_after_seconds, e.from_cursor})});
  } catch (const std::exception& failed) {
    logging::error("ADE failure not recorded", {{"token", token}, {"error", failed.what()}});
    return;
  }
  // The cursor was reset (or the fetch is over): go on at once, from the projection's new state.
  if ((e.outcome == "refetch" || e.outcome == "sync") && failures > 0 && failures < 3)
    if (const auto t = reader_.token(token)) sync_token(*t);
}

void Syncer::record_page(const std::string& token, const std::string& phase,
                         const std::string& from_cursor, DevicePage page) {
  auto& devices = page.devices;
  std::vector<events::Event> parts;  // one append and one wait for the whole page
  size_t at = 0;
  do {
    const size_t end = std::min(devices.size(), at + kDevicesPerEvent);
    const bool last = end == devices.size();
    std::vector<events::AdeDevice> part(std::make_move_iterator(devices.begin() + at),
                                        std::make_move_iterator(devices.begin() + end));
    parts.push_back(
        writer_.make("", kActor,
                     events::AdeDevicesSynced{token, phase, from_cursor, last ? page.cursor : "",
                                              last ? page.more_to_follow : true, at > 0,
                                              page.fetched_until, std::move(part)}));
    at = end;
  } while (at < devices.size());
  writer_.append_and_wait_applied(parts);
}

void Syncer::pull_pages(const std::string& token, Client& client) {
  for (int page = 0; page < kMostPagesPerRound && options_.may_run(); ++page) {
    const auto t = reader_.token(token);
    const bool fetching = t->phase != "sync";
    // A fetch starts without a cursor; one under way ("fetch") continues from its cursor.
    const std::string cursor = projector::where_it_stands(*t);
    DevicePage answer;
    try {
      answer = fetching ? client.fetch_devices(cursor, options_.page_size)
                        : client.sync_devices(cursor, options_.page_size);
    } catch (AdeCallError& e) {
      e.from_cursor = cursor;  // a cursor outcome applies from here only
      throw;
    }
    if (answer.dropped > 0)
      logging::warn("ADE device records dropped (no usable serial number, or too many)",
                    {{"token", token}, {"dropped", std::to_string(answer.dropped)}});
    const bool more = answer.more_to_follow;
    const bool empty = answer.devices.empty();
    // Nothing changed since the last sync: nothing to record (a quiet fleet adds no events),
    // unless a failure is on record, which this success ends.
    if (!fetching && empty && !more && (answer.cursor.empty() || answer.cursor == cursor) &&
        t->failure_outcome.empty())
      return;
    record_page(token, fetching ? "fetch" : "sync", cursor, std::move(answer));
    if (!more || (empty && !fetching)) return;
  }
}

std::string Syncer::apple_profile(const std::string& content) const {
  rapidjson::Document d;
  d.Parse(content.c_str(), content.size());
  if (d.HasParseError() || !d.IsObject()) throw BadRequest("the ADE profile is not a JSON object");
  auto& alloc = d.GetAllocator();
  d.RemoveMember(std::string(projector::kAdeReleaseKey).c_str());  // Cairn's, not Apple's
  if (!d.HasMember("url")) {
    if (options_.enrollment_url.empty())
      throw BadRequest(
          "the profile has no url and this node has no --public-url to make it from: devices "
          "would not know where to enroll");
    d.AddMember("url", rapidjson::Value(options_.enrollment_url.c_str(), alloc), alloc);
  }
  if (!d.HasMember("anchor_certs") && !options_.anchor_certs_der.empty()) {
    rapidjson::Value anchors(rapidjson::kArrayType);
    for (const auto& der : options_.anchor_certs_der)
      anchors.PushBack(rapidjson::Value(base64_encode(der).c_str(), alloc), alloc);
    d.AddMember("anchor_certs", anchors, alloc);
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  d.Accept(w);
  return buffer.GetString();
}

void Syncer::assign(const projector::AdeTokenRecord& token, Client& client) {
  std::vector<Rule> rules;
  if (!token.rules.empty()) rules = parse_rules(token.rules);  // checked when set
  std::map<std::string, std::vector<std::string>> by_profile;
  for (const auto& device : reader_.waiting(token.token, kMostAssignedPerRound))
    if (auto profile = choose_profile(rules, token.default_profile, device); !profile.empty())
      by_profile[profile].push_back(device.serial_number);
  // Each profile on its own: one that cannot be defined (or assigned) is recorded, and the others'
  // devices go on; the token itself waits only for what concerns it all.
  for (const auto& [name, serials] : by_profile) {
    if (!options_.may_run()) return;
    try {
      assign_profile(token.token, name, serials, client);
    } catch (const AdeCallError& e) {
      if (e.outcome == "stopped" || e.retry_after_seconds > 0 || e.status == 503 || e.status == 0)
        throw;
      record_failure(token.token, e, false);
    }
  }
}

void Syncer::remove_held(const std::string& token, Client& client) {
  const auto held = reader_.removals(token, kMostAssignedPerRound);
  for (size_t at = 0; at < held.size() && options_.may_run(); at += kDevicesPerAssignment) {
    std::vector<std::string> serials;
    for (size_t i = at; i < std::min(held.size(), at + kDevicesPerAssignment); ++i)
      serials.push_back(held[i].serial_number);
    auto answer = client.remove_profile(serials);
    writer_.append_and_wait_applied(
        {writer_.make("", kActor, events::AdeProfileRemoved{token, std::move(answer.devices)})});
    if (answer.retry_after_seconds > 0)
      throw AdeCallError("remove", 200, "some devices were throttled", "retry",
                         answer.retry_after_seconds);
  }
}

void Syncer::assign_profile(const std::string& token, const std::string& name,
                            const std::vector<std::string>& serials, Client& client) {
  const auto profile = reader_.profile(name);
  if (!profile) {
    logging::warn("ADE devices wait: their profile is not stored",
                  {{"token", token}, {"profile", name}});
    return;
  }
  std::string json;
  try {
    json = apple_profile(profile->content);
  } catch (const BadRequest& e) {  // this profile's devices wait; the token goes on
    record_failure(token, AdeCallError("define", 0, e.what(), "retry"), false);
    return;
  }
  const auto sha = crypto::sha256_hex(json);
  auto defined = reader_.defined_profile(token, name);
  if (!defined || defined->content_sha256 != sha) {
    const auto uuid = client.define_profile(json);
    writer_.append_and_wait_applied(
        {writer_.make("", kActor, events::AdeProfileDefined{token, name, uuid, sha})});
    defined = reader_.defined_profile(token, name);
  }
  for (size_t at = 0; at < serials.size(); at += kDevicesPerAssignment) {
    const std::vector<std::string> chunk(
        serials.begin() + static_cast<std::ptrdiff_t>(at),
        serials.begin() +
            static_cast<std::ptrdiff_t>(std::min(serials.size(), at + kDevicesPerAssignment)));
    auto answer = client.assign_profile(defined->profile_uuid, chunk);
    const auto retry_after = answer.retry_after_seconds;
    writer_.append_and_wait_applied(
        {writer_.make("", kActor,
                      events::AdeProfileAssigned{token, name, defined->profile_uuid,
                                                 std::move(answer.devices), retry_after})});
    if (retry_after > 0)
      throw AdeCallError("assign", 200, "some devices were throttled", "retry", retry_after);
  }
}

}  // namespace cairn::ade
