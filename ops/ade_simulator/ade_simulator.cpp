#include "ops/ade_simulator/ade_simulator.hpp"

#include <httplib.h>
#include <openssl/cms.h>
#include <openssl/pem.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "ade/oauth.hpp"
#include "common/clock.hpp"
#include "common/encoding.hpp"
#include "crypto/certificate.hpp"
#include "crypto/digest.hpp"
#include "crypto/openssl_handles.hpp"
#include "pki/issuer.hpp"

namespace cairn::ade_sim {
namespace {

struct Device {
  std::string serial_number;
  std::string model;
  std::string description;
  std::string color = "SILVER";
  std::string os = "iOS";
  std::string device_family;
  std::string profile_uuid;
  std::string profile_status = "empty";
  std::string profile_assign_time;
  std::string device_assigned_date;
};

struct Change {
  std::string serial_number;
  std::string op_type;
  std::string op_date;
};

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void field(Writer& w, const char* name, const std::string& value) {
  w.Key(name);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

void write_device(Writer& w, const Device& d, const Change* change) {
  w.StartObject();
  field(w, "serial_number", d.serial_number);
  field(w, "model", d.model);
  field(w, "description", d.description);
  field(w, "color", d.color);
  field(w, "os", d.os);
  field(w, "device_family", d.device_family);
  field(w, "profile_status", d.profile_status);
  if (!d.profile_uuid.empty()) field(w, "profile_uuid", d.profile_uuid);
  if (!d.profile_assign_time.empty()) field(w, "profile_assign_time", d.profile_assign_time);
  field(w, "device_assigned_date", d.device_assigned_date);
  field(w, "device_assigned_by", "buyer@example.com");
  if (change) {
    field(w, "op_type", change->op_type);
    field(w, "op_date", change->op_date);
  }
  w.EndObject();
}

// A cursor: "<epoch>.<f|s>.<position>.<changes at the fetch's start>" (fetch: an offset into the
// devices by serial; sync: a position in the change list). Expiring cursors bumps the epoch.
struct Cursor {
  int epoch = 0;
  char kind = 'f';
  size_t position = 0;
  size_t start = 0;
};

std::optional<Cursor> parse_cursor(const std::string& text) {
  Cursor c;
  char kind = 0;
  unsigned long long position = 0, start = 0;
  if (std::sscanf(text.c_str(), "%d.%c.%llu.%llu", &c.epoch, &kind, &position, &start) != 4 ||
      (kind != 'f' && kind != 's'))
    return std::nullopt;
  c.kind = kind;
  c.position = position;
  c.start = start;
  return c;
}

std::string cursor_text(const Cursor& c) {
  return std::to_string(c.epoch) + "." + c.kind + "." + std::to_string(c.position) + "." +
         std::to_string(c.start);
}

}  // namespace

struct AdeSimulator::State {
  Options options;
  std::unique_ptr<httplib::SSLServer> server;
  std::thread thread;
  int port = 0;
  ade::oauth::Credentials credentials;

  mutable std::mutex mu;
  std::map<std::string, Device> devices;  // by serial
  std::vector<Change> changes;
  std::set<std::string> sessions;
  std::set<std::string> nonces;
  std::map<std::string, std::string> profiles;  // uuid -> JSON as defined
  int epoch = 1;
  bool token_rejected = false;
  int throttled_calls = 0;
  int retry_after_seconds = 1;
  int throttled_assignments = 0;
  Counts counts;

  std::string url() const { return "https://" + options.listen_host + ":" + std::to_string(port); }

  void answer(httplib::Response& res, int status, const std::string& body) {
    res.status = status;
    res.set_content(body, "application/json;charset=UTF8");
    if (status >= 400) ++counts.refused_calls;
  }

  // Refusals every call shares; true if answered.
  bool refused(httplib::Response& res) {
    if (token_rejected) {
      answer(res, 403, R"({"code":"token_rejected","message":"oauth_problem=token_rejected"})");
      return true;
    }
    if (throttled_calls > 0) {
      --throttled_calls;
      res.set_header("Retry-After", std::to_string(retry_after_seconds));
      answer(res, 429, R"("TOO_MANY_REQUESTS")");
      return true;
    }
    return false;
  }

  bool session_valid(const httplib::Request& req, httplib::Response& res) {
    if (refused(res)) return false;
    if (!sessions.contains(req.get_header_value("X-ADM-Auth-Session"))) {
      answer(res, 401, R"("UNAUTHORIZED")");
      return false;
    }
    return true;
  }

  void start_session(const httplib::Request& req, httplib::Response& res) {
    if (refused(res)) return;
    auto p = ade::oauth::parse_authorization(req.get_header_value("Authorization"));
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const auto problem = [&]() -> std::string {
      if (p.empty()) return "parameter_absent";
      if (p["oauth_consumer_key"] != credentials.consumer_key) return "consumer_key_unknown";
      if (p["oauth_token"] != credentials.token) return "token_rejected";
      if (p["oauth_signature_method"] != "HMAC-SHA1") return "signature_method_rejected";
      const long long when = std::atoll(p["oauth_timestamp"].c_str());
      if (when < now - 300 || when > now + 300) return "timestamp_refused";
      if (p["oauth_nonce"].empty() || !nonces.insert(p["oauth_nonce"]).second) return "nonce_used";
      const auto expected = ade::oauth::hmac_sha1_signature(
          ade::oauth::signature_base_string("GET", url() + "/session", p),
          credentials.consumer_secret, credentials.token_secret);
      if (p["oauth_signature"] != expected) return "signature_invalid";
      return {};
    }();
    if (!problem.empty()) {
      ++counts.oauth_refused;
      answer(res, 401, "{\"oauth_problem\":\"" + problem + "\"}");
      return;
    }
    const auto token = hex_encode(crypto::random_bytes(16));
    sessions.insert(token);
    ++counts.sessions;
    answer(res, 200, "{\"auth_session_token\":\"" + token + "\"}");
  }

  std::optional<rapidjson::Document> json_body(const httplib::Request& req,
                                               httplib::Response& res) {
    rapidjson::Document d;
    d.Parse(req.body.c_str(), req.body.size());
    if (d.HasParseError() || !d.IsObject()) {
      answer(res, 400, R"("MALFORMED_REQUEST_BODY")");
      return std::nullopt;
    }
    return d;
  }

  static int limit_of(const rapidjson::Document& d) {
    const auto it = d.FindMember("limit");
    const int limit = it != d.MemberEnd() && it->value.IsInt() ? it->value.GetInt() : 100;
    return std::clamp(limit, 1, 1000);
  }

  static std::string cursor_of(const rapidjson::Document& d) {
    const auto it = d.FindMember("cursor");
    return it != d.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
  }

  void fetch(const httplib::Request& req, httplib::Response& res) {
    if (!session_valid(req, res)) return;
    ++counts.fetch_calls;
    const auto d = json_body(req, res);
    if (!d) return;
    Cursor c{epoch, 'f', 0, changes.size()};
    if (const auto text = cursor_of(*d); !text.empty()) {
      const auto parsed = parse_cursor(text);
      if (!parsed) return answer(res, 400, R"("INVALID_CURSOR")");
      if (parsed->epoch != epoch) return answer(res, 400, R"("EXPIRED_CURSOR")");
      if (parsed->kind == 's') return answer(res, 400, R"("EXHAUSTED_CURSOR")");
      c = *parsed;
    }
    const size_t limit = static_cast<size_t>(limit_of(*d));
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("devices");
    w.StartArray();
    auto it = devices.begin();
    std::advance(it, std::min(c.position, devices.size()));
    size_t sent = 0;
    for (; it != devices.end() && sent < limit; ++it, ++sent) write_device(w, it->second, nullptr);
    w.EndArray();
    const bool more = it != devices.end();
    const Cursor next = more ? Cursor{epoch, 'f', c.position + sent, c.start}
                             : Cursor{epoch, 's', c.start, c.start};
    field(w, "cursor", cursor_text(next));
    field(w, "fetched_until", format_rfc3339(std::chrono::system_clock::now()));
    w.Key("more_to_follow");
    w.Bool(more);
    w.EndObject();
    answer(res, 200, buffer.GetString());
  }

  void sync(const httplib::Request& req, httplib::Response& res) {
    if (!session_valid(req, res)) return;
    ++counts.sync_calls;
    const auto d = json_body(req, res);
    if (!d) return;
    const auto text = cursor_of(*d);
    if (text.empty()) return answer(res, 400, R"("CURSOR_REQUIRED")");
    const auto c = parse_cursor(text);
    if (!c || c->kind != 's') return answer(res, 400, R"("INVALID_CURSOR")");
    if (c->epoch != epoch) return answer(res, 400, R"("EXPIRED_CURSOR")");
    const size_t limit = static_cast<size_t>(limit_of(*d));
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("devices");
    w.StartArray();
    size_t position = std::min(c->position, changes.size());
    size_t sent = 0;
    for (; position < changes.size() && sent < limit; ++position, ++sent) {
      const auto& change = changes[position];
      write_device(w, devices.at(change.serial_number), &change);
    }
    w.EndArray();
    field(w, "cursor", cursor_text({epoch, 's', position, position}));
    w.Key("more_to_follow");
    w.Bool(position < changes.size());
    w.EndObject();
    answer(res, 200, buffer.GetString());
  }

  void define(const httplib::Request& req, httplib::Response& res) {
    if (!session_valid(req, res)) return;
    const auto d = json_body(req, res);
    if (!d) return;
    for (const char* required : {"profile_name", "url"})
      if (!d->HasMember(required) || !(*d)[required].IsString())
        return answer(res, 400, std::string("\"") + required + " is required\"");
    const auto uuid = hex_encode(crypto::random_bytes(16));
    profiles[uuid] = req.body;
    ++counts.profiles_defined;
    answer(res, 200, "{\"profile_uuid\":\"" + uuid + "\",\"devices\":{}}");
  }

  void assign(const httplib::Request& req, httplib::Response& res) {
    if (!session_valid(req, res)) return;
    const auto d = json_body(req, res);
    if (!d) return;
    const auto uuid = d->HasMember("profile_uuid") && (*d)["profile_uuid"].IsString()
                          ? std::string((*d)["profile_uuid"].GetString())
                          : "";
    if (!profiles.contains(uuid)) return answer(res, 400, R"("PROFILE_NOT_FOUND")");
    if (!d->HasMember("devices") || !(*d)["devices"].IsArray() || (*d)["devices"].Empty() ||
        (*d)["devices"].Size() > 1000)
      return answer(res, 400, R"("DEVICE_ID_REQUIRED")");
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    field(w, "profile_uuid", uuid);
    w.Key("devices");
    w.StartObject();
    bool throttled = false;
    const auto now = format_rfc3339(std::chrono::system_clock::now());
    for (const auto& s : (*d)["devices"].GetArray()) {
      if (!s.IsString()) continue;
      const std::string serial = s.GetString();
      auto it = devices.find(serial);
      std::string status = "SUCCESS";
      if (it == devices.end() || it->second.profile_status == "deleted") {
        status = "NOT_ACCESSIBLE";
      } else if (throttled_assignments > 0) {
        --throttled_assignments;
        status = "THROTTLED";
        throttled = true;
      } else {
        it->second.profile_uuid = uuid;
        it->second.profile_status = "assigned";
        it->second.profile_assign_time = now;
        changes.push_back({serial, "modified", now});
        ++counts.assigned;
      }
      field(w, serial.c_str(), status);
    }
    w.EndObject();
    if (throttled) {
      w.Key("retry_after_seconds");
      w.Int(retry_after_seconds);
    }
    w.EndObject();
    answer(res, 200, buffer.GetString());
  }

  void remove(const httplib::Request& req, httplib::Response& res) {
    if (!session_valid(req, res)) return;
    const auto d = json_body(req, res);
    if (!d) return;
    if (!d->HasMember("devices") || !(*d)["devices"].IsArray() || (*d)["devices"].Empty())
      return answer(res, 400, R"("DEVICE_ID_REQUIRED")");
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("devices");
    w.StartObject();
    const auto now = format_rfc3339(std::chrono::system_clock::now());
    for (const auto& s : (*d)["devices"].GetArray()) {
      if (!s.IsString()) continue;
      const std::string serial = s.GetString();
      auto it = devices.find(serial);
      if (it == devices.end() || it->second.profile_uuid.empty()) {
        field(w, serial.c_str(), "NOT_ACCESSIBLE");
        continue;
      }
      it->second.profile_uuid.clear();
      it->second.profile_status = "removed";
      changes.push_back({serial, "modified", now});
      ++counts.removed;
      field(w, serial.c_str(), "SUCCESS");
    }
    w.EndObject();
    w.EndObject();
    answer(res, 200, buffer.GetString());
  }

  void account(const httplib::Request& req, httplib::Response& res) {
    if (!session_valid(req, res)) return;
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    field(w, "server_name", options.server_name);
    field(w, "server_uuid", "5B2C1E43-0000-4F0A-9C1D-2E3F4A5B6C7D");
    field(w, "org_name", options.org_name);
    field(w, "admin_id", "admin@example.com");
    w.EndObject();
    answer(res, 200, buffer.GetString());
  }
};

AdeSimulator::AdeSimulator(Options options) : state_(std::make_unique<State>()) {
  auto& s = *state_;
  s.options = std::move(options);
  s.credentials = {
      "CK_" + hex_encode(crypto::random_bytes(8)), "CS_" + hex_encode(crypto::random_bytes(16)),
      "AT_" + hex_encode(crypto::random_bytes(8)), "AS_" + hex_encode(crypto::random_bytes(16))};
  const auto cert = crypto::parse_certificate_pem(s.options.cert_pem);
  const auto key = pki::parse_private_key_pem(s.options.key_pem, nullptr);
  s.server = std::make_unique<httplib::SSLServer>([&](SSL_CTX& ctx) {
    return SSL_CTX_use_certificate(&ctx, cert.get()) == 1 &&
           SSL_CTX_use_PrivateKey(&ctx, key.get()) == 1;
  });
  if (!s.server->is_valid())
    throw std::runtime_error("ADE simulator: unusable TLS certificate or key: " +
                             crypto::drain_openssl_errors());
  auto locked = [this](void (State::*handler)(const httplib::Request&, httplib::Response&)) {
    return [this, handler](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(state_->mu);
      (state_.get()->*handler)(req, res);
    };
  };
  s.server->Get("/session", locked(&State::start_session));
  s.server->Get("/account", locked(&State::account));
  s.server->Post("/server/devices", locked(&State::fetch));
  s.server->Post("/devices/sync", locked(&State::sync));
  s.server->Post("/profile", locked(&State::define));
  s.server->Put("/profile/devices", locked(&State::assign));
  s.server->Delete("/profile/devices", locked(&State::remove));
  // Not Apple's: what a simulated device at first boot asks (Apple's cloud configuration).
  s.server->Get("/simulator/cloud-configuration",
                [this](const httplib::Request& req, httplib::Response& res) {
                  const auto config = cloud_configuration(req.get_param_value("serial"));
                  if (!config) {
                    res.status = 404;
                    return;
                  }
                  res.set_content(config->profile_json, "application/json");
                });
  s.port =
      s.options.port == 0
          ? s.server->bind_to_any_port(s.options.listen_host)
          : (s.server->bind_to_port(s.options.listen_host, s.options.port) ? s.options.port : -1);
  if (s.port <= 0) throw std::runtime_error("ADE simulator: cannot listen");
  s.thread = std::thread([this] { state_->server->listen_after_bind(); });
  for (int waited = 0; !s.server->is_running(); ++waited) {
    if (waited == 5000) throw std::runtime_error("ADE simulator: the server did not start");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

AdeSimulator::~AdeSimulator() {
  stop();
}

void AdeSimulator::stop() {
  if (!state_->server) return;
  state_->server->stop();
  if (state_->thread.joinable()) state_->thread.join();
}

int AdeSimulator::port() const {
  return state_->port;
}

std::string AdeSimulator::url() const {
  return state_->url();
}

std::string AdeSimulator::token_file(const std::string& certificate_pem) const {
  const auto& c = state_->credentials;
  const std::string inner =
      "Content-Type: text/plain;charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
      "-----BEGIN MESSAGE-----\n{\"consumer_key\":\"" +
      c.consumer_key + "\",\"consumer_secret\":\"" + c.consumer_secret + "\",\"access_token\":\"" +
      c.token + "\",\"access_secret\":\"" + c.token_secret +
      "\",\"access_token_expiry\":\"2027-12-06T00:00:00Z\"}\n-----END MESSAGE-----\n";
  auto cert = crypto::parse_certificate_pem(certificate_pem);
  crypto::X509StackPtr recipients(sk_X509_new_null());
  sk_X509_push(recipients.get(), X509_dup(cert.get()));
  auto in = crypto::memory_bio(inner);
  crypto::CmsPtr cms(CMS_encrypt(recipients.get(), in.get(), EVP_aes_256_cbc(), CMS_BINARY));
  if (!cms) throw crypto::CryptoError("ADE simulator: CMS_encrypt");
  crypto::BioPtr out(BIO_new(BIO_s_mem()));
  if (SMIME_write_CMS(out.get(), cms.get(), nullptr, CMS_BINARY) != 1)
    throw crypto::CryptoError("ADE simulator: SMIME_write_CMS");
  char* data = nullptr;
  const long size = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

std::vector<std::string> AdeSimulator::add_devices(size_t count, const std::string& prefix,
                                                   const std::string& device_family,
                                                   const std::string& model) {
  std::lock_guard lock(state_->mu);
  std::vector<std::string> serials;
  const auto now = format_rfc3339(std::chrono::system_clock::now());
  for (size_t i = 0; i < count; ++i) {
    const std::string serial = prefix + std::to_string(state_->devices.size() + 1);
    Device d;
    d.serial_number = serial;
    d.model = model;
    d.description = model;
    d.device_family = device_family;
    d.device_assigned_date = now;
    state_->devices[serial] = d;
    state_->changes.push_back({serial, "added", now});
    serials.push_back(serial);
  }
  return serials;
}

void AdeSimulator::release_device(const std::string& serial) {
  std::lock_guard lock(state_->mu);
  state_->devices.at(serial).profile_status = "deleted";
  state_->changes.push_back({serial, "deleted", format_rfc3339(std::chrono::system_clock::now())});
}

void AdeSimulator::end_sessions() {
  std::lock_guard lock(state_->mu);
  state_->sessions.clear();
}

void AdeSimulator::expire_cursors() {
  std::lock_guard lock(state_->mu);
  ++state_->epoch;
}

void AdeSimulator::reject_token() {
  std::lock_guard lock(state_->mu);
  state_->token_rejected = true;
  state_->sessions.clear();
}

void AdeSimulator::accept_token() {
  std::lock_guard lock(state_->mu);
  state_->token_rejected = false;
}

void AdeSimulator::throttle_calls(int calls, int retry_after_seconds) {
  std::lock_guard lock(state_->mu);
  state_->throttled_calls = calls;
  state_->retry_after_seconds = retry_after_seconds;
}

void AdeSimulator::throttle_assignments(int devices) {
  std::lock_guard lock(state_->mu);
  state_->throttled_assignments = devices;
}

std::optional<CloudConfiguration> AdeSimulator::cloud_configuration(
    const std::string& serial) const {
  std::lock_guard lock(state_->mu);
  const auto device = state_->devices.find(serial);
  if (device == state_->devices.end() || device->second.profile_uuid.empty() ||
      device->second.profile_status == "deleted")
    return std::nullopt;
  return CloudConfiguration{serial, state_->profiles.at(device->second.profile_uuid)};
}

AdeSimulator::Counts AdeSimulator::counts() const {
  std::lock_guard lock(state_->mu);
  return state_->counts;
}

}  // namespace cairn::ade_sim
