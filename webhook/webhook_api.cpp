#include "webhook/webhook_api.hpp"

#include <openssl/crypto.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "common/errors.hpp"
#include "common/json_writer.hpp"
#include "webhook/body.hpp"

namespace cairn::webhook {
namespace {

using ingest::ApiResponse;

constexpr size_t kMaxUrl = 2048;
constexpr size_t kMaxSecret = 1024;
constexpr size_t kRedeliveriesPerEvent = 500;

void require_name(const std::string& name) {
  if (!projector::is_webhook_name(name))
    throw BadRequest("webhook endpoint names are 1 to 64 of [A-Za-z0-9._-]");
}

void require_url(std::string_view url) {
  if (url.size() > kMaxUrl) throw BadRequest("url is at most 2048 bytes");
  const bool http = url.starts_with("http://"), https = url.starts_with("https://");
  if (!http && !https) throw BadRequest("url must be an http:// or https:// URL");
  const auto host = url.substr(http ? 7 : 8);
  if (host.empty() || host.front() == '/' || host.front() == ':')
    throw BadRequest("url must name a host");
  // Credentials in the URL would sit in the log in clear: the secret (HMAC) is the way to go.
  if (host.substr(0, host.find('/')).find('@') != std::string_view::npos)
    throw BadRequest("url must not hold credentials (user@host): give a secret instead");
  for (const char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '#')
      throw BadRequest("url must not hold spaces, control characters or a fragment");
}

std::string string_member(const rapidjson::Value& root, const char* name, bool required) {
  const auto it = root.FindMember(name);
  if (it == root.MemberEnd()) {
    if (required) throw BadRequest(std::string(name) + " is required");
    return {};
  }
  if (!it->value.IsString()) throw BadRequest(std::string(name) + " must be a string");
  return {it->value.GetString(), it->value.GetStringLength()};
}

std::vector<std::string> string_list(const rapidjson::Value& root, const char* name) {
  std::vector<std::string> out;
  const auto it = root.FindMember(name);
  if (it == root.MemberEnd()) return out;
  if (!it->value.IsArray()) throw BadRequest(std::string(name) + " must be an array of strings");
  for (const auto& v : it->value.GetArray()) {
    if (!v.IsString()) throw BadRequest(std::string(name) + " must be an array of strings");
    out.emplace_back(v.GetString(), v.GetStringLength());
  }
  return out;
}

rapidjson::Document parse_object(std::string_view body) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (d.HasParseError() || !d.IsObject()) throw BadRequest("the body must be a JSON object");
  return d;
}

}  // namespace

EndpointRequest read_endpoint_request(std::string_view body) {
  if (body.size() > 64 * 1024) throw BadRequest("a webhook endpoint is at most 64 KiB of JSON");
  const auto d = parse_object(body);
  const rapidjson::Value& root = d;
  EndpointRequest request{string_member(root, "url", true), string_list(root, "topics"),
                          string_member(root, "secret", false)};
  require_url(request.url);
  for (const auto& t : request.topics)
    if (std::find(known_topics().begin(), known_topics().end(), t) == known_topics().end())
      throw BadRequest("unknown topic " + t.substr(0, 64) +
                       " (mdm.Authenticate, mdm.TokenUpdate, mdm.CheckOut, mdm.UserAuthenticate, "
                       "mdm.SetBootstrapToken, mdm.GetBootstrapToken, mdm.DeclarativeManagement, "
                       "mdm.Connect)");
  std::sort(request.topics.begin(), request.topics.end());
  request.topics.erase(std::unique(request.topics.begin(), request.topics.end()),
                       request.topics.end());
  if (request.secret.size() > kMaxSecret) {
    OPENSSL_cleanse(request.secret.data(), request.secret.size());
    throw BadRequest("secret is at most 1024 bytes");
  }
  return request;
}

std::set<std::string> read_redelivery_request(std::string_view body) {
  std::set<std::string> wanted;
  if (body.empty()) return wanted;
  if (body.size() > 4u << 20) throw BadRequest("a redelivery request is at most 4 MiB");
  const auto d = parse_object(body);
  for (auto& id : string_list(d, "event_ids")) wanted.insert(std::move(id));
  if (wanted.empty()) throw BadRequest("event_ids must name at least one dead letter");
  return wanted;
}

projector::WebhookEndpointRecord WebhookApi::known_endpoint(const std::string& name) const {
  require_name(name);
  auto endpoint = writer_.find_caught_up([&] { return webhooks_.endpoint(name); });
  if (!endpoint) throw ClientError(404, "no webhook endpoint " + name);
  return *endpoint;
}

ApiResponse WebhookApi::set_endpoint(const std::string& name, std::string_view body,
                                     const ingest::Principal& actor) {
  require_name(name);
  auto request = read_endpoint_request(body);
  std::string sealed = request.secret.empty()
                           ? std::string()
                           : secrets_.seal(request.secret, "webhook-secret:" + name);
  OPENSSL_cleanse(request.secret.data(), request.secret.size());
  writer_.append_and_wait_applied({writer_.make(
      "", actor.name,
      events::WebhookEndpointSet{name, request.url, request.topics, std::move(sealed)})});
  return {204, ""};
}

ApiResponse WebhookApi::remove_endpoint(const std::string& name, const ingest::Principal& actor) {
  known_endpoint(name);
  writer_.append_and_wait_applied(
      {writer_.make("", actor.name, events::WebhookEndpointRemoved{name})});
  return {204, ""};
}

ApiResponse WebhookApi::endpoints() const {
  writer_.wait_caught_up();
  JsonWriter j;
  j.begin_object().key("endpoints").begin_array();
  for (const auto& e : webhooks_.endpoints()) {
    j.begin_object().field("name", e.name).field("url", e.url).key("topics").begin_array();
    for (const auto& t : e.topics) j.value(t);
    j.end_array()
        .field("signed", e.signed_deliveries)
        .field("updated_at", e.updated_at)
        .field("updated_by", e.updated_by)
        .end_object();
  }
  j.end_array().end_object();
  return {200, j.str()};
}

ApiResponse WebhookApi::dead_letters(const std::string& name, const std::string& after,
                                     size_t limit) const {
  known_endpoint(name);
  const bool cursor =
      after.size() == 25 && after[8] == '/' && std::all_of(after.begin(), after.end(), [](char c) {
        return std::isxdigit(static_cast<unsigned char>(c)) || c == '/';
      });
  if (!after.empty() && !cursor) throw BadRequest("after takes the `next` of a previous page");
  const auto letters = webhooks_.dead_letters(name, after, limit);
  JsonWriter j;
  j.begin_object().key("dead_letters").begin_array();
  for (const auto& l : letters) {
    const auto& d = l.delivery;
    j.begin_object()
        .field("event_id", d.event_id)
        .field("topic", d.topic)
        .field("device", d.event_device)
        .field("partition", d.partition)
        .field("offset", d.offset)
        .field("attempts", d.attempts)
        .field("http_status", d.http_status)
        .field("reason", d.reason)
        .field("first_attempt_at", d.first_attempt_at)
        .field("dead_at", l.dead_at)
        .end_object();
  }
  j.end_array();
  if (letters.size() == limit)
    j.field("next", projector::dead_letter_cursor(letters.back().delivery));
  j.end_object();
  return {200, j.str()};
}

ApiResponse WebhookApi::redeliver(const std::string& name, std::string_view body,
                                  const ingest::Principal& actor) {
  known_endpoint(name);
  const auto wanted = read_redelivery_request(body);
  std::vector<events::Event> batch;
  events::WebhookRedeliveryRequested request{name, {}};
  size_t count = 0;
  std::string after;
  // Page through the dead letters (each page's events written before the next is read).
  while (true) {
    const auto page = webhooks_.dead_letters(name, after, 1000);
    for (const auto& l : page) {
      const auto& d = l.delivery;
      if (!wanted.empty() && !wanted.contains(d.event_id)) continue;
      request.deliveries.push_back({d.event_id, d.partition, d.offset});
      ++count;
      if (request.deliveries.size() == kRedeliveriesPerEvent) {
        batch.push_back(writer_.make("", actor.name, request));
        request.deliveries.clear();
      }
    }
    if (page.size() < 1000) break;
    after = projector::dead_letter_cursor(page.back().delivery);
  }
  if (!request.deliveries.empty()) batch.push_back(writer_.make("", actor.name, request));
  if (!wanted.empty() && count < wanted.size())
    throw ClientError(
        404, "not every event_id names a dead letter of " + name + " (nothing was redelivered)");
  if (!batch.empty()) writer_.append_and_wait_applied(batch);
  JsonWriter j;
  j.begin_object().field("redelivered", static_cast<int64_t>(count)).end_object();
  return {202, j.str()};
}

}  // namespace cairn::webhook
