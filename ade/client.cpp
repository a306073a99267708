#include "ade/client.hpp"

#include <httplib.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>

#include "ade/oauth.hpp"
#include "common/encoding.hpp"
#include "common/logging.hpp"

namespace cairn::ade {
namespace {

bool says(std::string_view body, std::string_view what) {
  return body.find(what) != std::string_view::npos;
}

int64_t seconds(std::string_view header, int64_t fallback) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(header.data(), header.data() + header.size(), value);
  if (error != std::errc() || end != header.data() + header.size() || value < 0) return fallback;
  return std::min<int64_t>(value, 86400);
}

std::string cursor_request(const std::string& cursor, int limit) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  if (!cursor.empty()) {
    w.Key("cursor");
    w.String(cursor.c_str(), static_cast<rapidjson::SizeType>(cursor.size()));
  }
  w.Key("limit");
  w.Int(limit);
  w.EndObject();
  return buffer.GetString();
}

// What an error answer says, short enough for an event and a log line.
std::string reason_of(int status, std::string_view body) {
  std::string reason = "HTTP " + std::to_string(status);
  if (!body.empty()) reason += ": " + std::string(utf8_prefix(body, 200));
  return reason;
}

}  // namespace

bool session_ended(int status, std::string_view body) {
  if (says(body, "token_rejected") || says(body, "ACCESS_DENIED") || says(body, "T_C_NOT_SIGNED"))
    return false;
  return status == 401 || (status == 403 && says(body, "FORBIDDEN"));
}

void classify(const std::string& call, int status, std::string_view body,
              std::string_view retry_after) {
  if (status >= 200 && status < 300) return;
  const auto reason = reason_of(status, body);
  // The token is revoked or replaced, or the terms must be accepted in Apple Business Manager:
  // nothing works until an administrator acts, and retrying only adds to Apple's counters.
  if ((status == 401 || status == 403) &&
      (says(body, "token_rejected") || says(body, "ACCESS_DENIED") || says(body, "T_C_NOT_SIGNED")))
    throw AdeCallError(call, status, reason, "stopped");
  if (status == 400 && (says(body, "EXPIRED_CURSOR") || says(body, "INVALID_CURSOR") ||
                        says(body, "CURSOR_REQUIRED")))
    throw AdeCallError(call, status, reason, "refetch");
  if (status == 400 && says(body, "EXHAUSTED_CURSOR"))
    throw AdeCallError(call, status, reason, "sync");
  // Rate limits and outages: wait as long as the service asks (a minute when it does not say).
  if (status == 429 || status == 503)
    throw AdeCallError(call, status, reason, "retry", seconds(retry_after, 60));
  throw AdeCallError(call, status, reason, "retry");
}

Client::Client(ClientOptions options, ServerToken token)
    : options_(std::move(options)),
      token_(std::move(token)),
      http_(std::make_unique<httplib::Client>(options_.url)) {
  if (!options_.ca_file.empty()) http_->set_ca_cert_path(options_.ca_file.c_str());
  http_->enable_server_certificate_verification(true);
  http_->set_connection_timeout(options_.timeout);
  http_->set_read_timeout(options_.timeout);
  http_->set_write_timeout(options_.timeout);
  http_->set_keep_alive(true);
  http_->set_decompress(false);
}

Client::~Client() = default;

Client::Answer Client::send(const std::string& name, const std::string& method,
                            const std::string& path, const std::string& body, bool with_session,
                            std::string* retry_after) {
  // A hostile or broken service must not make the syncer hold more than kLargestAnswer: the body
  // is read in pieces and the call abandoned past it (and not inflated: decompression is off).
  std::string answer;
  bool too_large = false;
  httplib::Request req;
  req.method = method;
  req.path = path;
  req.headers = {{"User-Agent", std::string(kUserAgent)},
                 {"X-Server-Protocol-Version", "3"},
                 {"Accept", "application/json"}};
  if (with_session)
    req.headers.emplace("X-ADM-Auth-Session", session_);
  else
    req.headers.emplace("Authorization",
                        oauth::authorization_header(method, options_.url + path,
                                                    {token_.consumer_key, token_.consumer_secret,
                                                     token_.access_token, token_.access_secret}));
  if (method != "GET") {
    req.body = body;
    req.headers.emplace("Content-Type", "application/json;charset=UTF8");
  }
  req.content_receiver = [&](const char* data, size_t length, uint64_t, uint64_t) {
    too_large = answer.size() + length > kLargestAnswer;
    if (!too_large) answer.append(data, length);
    return !too_large;
  };
  // Once more on a fresh connection when the service closed a kept-alive one under us.
  httplib::Result result = http_->send(req);
  if (!result && !too_large) {
    answer.clear();
    result = http_->send(req);
  }
  if (too_large)
    throw AdeCallError(name, 0, "the ADE service's answer is larger than 8 MiB", "retry");
  if (!result)
    throw AdeCallError(
        name, 0, "no answer from the ADE service: " + httplib::to_string(result.error()), "retry");
  // Any answer may carry a new session token; later calls use it.
  if (const auto renewed = result->get_header_value("X-ADM-Auth-Session"); !renewed.empty())
    session_ = renewed;
  if (retry_after) *retry_after = result->get_header_value("Retry-After");
  return {result->status, std::move(answer)};
}

void Client::start_session() {
  std::string retry_after;
  const auto answer = send("session", "GET", "/session", "", false, &retry_after);
  classify("session", answer.status, answer.body, retry_after);
  try {
    session_ = read_session(answer.body);
  } catch (const AdeAnswerError& e) {
    throw AdeCallError("session", answer.status, e.what(), "retry");
  }
  logging::info("ADE session started", {{"url", options_.url}});
}

std::string Client::call(const std::string& name, const std::string& method,
                         const std::string& path, const std::string& body) {
  if (session_.empty()) start_session();
  std::string retry_after;
  auto answer = send(name, method, path, body, true, &retry_after);
  if (session_ended(answer.status, answer.body)) {
    logging::info("ADE session ended; starting a new one", {{"call", name}});
    start_session();
    answer = send(name, method, path, body, true, &retry_after);
  }
  classify(name, answer.status, answer.body, retry_after);
  return std::move(answer.body);
}

namespace {

template <class Read>
auto read_answer(const std::string& call, Read read) {
  try {
    return read();
  } catch (const AdeAnswerError& e) {
    throw AdeCallError(call, 200, e.what(), "retry");
  }
}

}  // namespace

DevicePage Client::fetch_devices(const std::string& cursor, int limit) {
  const auto body = call("fetch", "POST", "/server/devices", cursor_request(cursor, limit));
  return read_answer("fetch", [&] { return read_device_page(body); });
}

DevicePage Client::sync_devices(const std::string& cursor, int limit) {
  const auto body = call("sync", "POST", "/devices/sync", cursor_request(cursor, limit));
  return read_answer("sync", [&] { return read_device_page(body); });
}

std::string Client::define_profile(const std::string& profile_json) {
  const auto body = call("define", "POST", "/profile", profile_json);
  return read_answer("define", [&] { return read_profile_uuid(body); });
}

namespace {

// {"profile_uuid"?, "devices": [serials]}: what assigning and removing send.
std::string devices_request(const std::string& profile_uuid,
                            const std::vector<std::string>& serials) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  if (!profile_uuid.empty()) {
    w.Key("profile_uuid");
    w.String(profile_uuid.c_str(), static_cast<rapidjson::SizeType>(profile_uuid.size()));
  }
  w.Key("devices");
  w.StartArray();
  for (const auto& s : serials) w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
  w.EndArray();
  w.EndObject();
  return buffer.GetString();
}

// The answer per device, only about the devices asked about: it is not trusted to speak of others.
AssignAnswer per_device(const std::string& call, const std::string& body,
                        const std::vector<std::string>& serials) {
  auto answer = read_answer(call, [&] { return read_assign(body); });
  std::erase_if(answer.devices, [&](const events::AdeDeviceOutcome& d) {
    return std::find(serials.begin(), serials.end(), d.serial_number) == serials.end();
  });
  return answer;
}

}  // namespace

AssignAnswer Client::assign_profile(const std::string& profile_uuid,
                                    const std::vector<std::string>& serials) {
  return per_device(
      "assign", call("assign", "PUT", "/profile/devices", devices_request(profile_uuid, serials)),
      serials);
}

AssignAnswer Client::remove_profile(const std::vector<std::string>& serials) {
  return per_device("remove",
                    call("remove", "DELETE", "/profile/devices", devices_request("", serials)),
                    serials);
}

}  // namespace cairn::ade
