#include "projector/webhooks.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "store/record_codec.hpp"

namespace cairn::projector {
namespace {

std::string endpoint_key(std::string_view name) {
  return "Wn/" + std::string(name);
}

std::string dead_letters_prefix(std::string_view endpoint) {
  return "Wd/" + std::string(endpoint) + "/";
}

std::string position_suffix(int partition, int64_t offset) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%08x/%016llx", static_cast<unsigned>(partition),
                static_cast<unsigned long long>(offset));
  return buffer;
}

std::string dead_letter_key(std::string_view endpoint, int partition, int64_t offset) {
  return dead_letters_prefix(endpoint) + position_suffix(partition, offset);
}

}  // namespace

bool is_webhook_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

std::string dead_letter_cursor(const events::WebhookDeadLettered& d) {
  return position_suffix(d.partition, d.offset);
}

void apply_webhook(State& state, const events::Event& e, const events::WebhookEndpointSet& p) {
  state.put(endpoint_key(p.name),
            store::encode_record(WebhookEndpointRecord{p.name, p.url, p.topics,
                                                       !p.secret_sealed.empty(), e.time, e.actor}));
}

void apply_webhook(State& state, const events::Event&, const events::WebhookEndpointRemoved& p) {
  state.erase(endpoint_key(p.name));
  std::vector<std::string> dead;
  state.scan(dead_letters_prefix(p.name), "", [&](std::string_view key, std::string_view) {
    dead.emplace_back(key);
    return true;
  });
  for (const auto& key : dead) state.erase(key);
}

void apply_webhook(State& state, const events::Event& e, const events::WebhookDeadLettered& p) {
  // A dead letter of an endpoint removed meanwhile (the deliverer gave up as it was removed).
  if (!state.get(endpoint_key(p.endpoint))) return;
  state.put(dead_letter_key(p.endpoint, p.partition, p.offset),
            store::encode_record(WebhookDeadLetterRecord{p, e.time}));
}

void apply_webhook(State& state, const events::Event&,
                   const events::WebhookRedeliveryRequested& p) {
  for (const auto& d : p.deliveries)
    state.erase(dead_letter_key(p.endpoint, d.partition, d.offset));
}

void apply_webhook(State&, const events::Event&, const events::WebhooksDelivered&) {}

std::optional<WebhookEndpointRecord> WebhookReader::endpoint(const std::string& name) const {
  return store::load_record<WebhookEndpointRecord>(store_, endpoint_key(name));
}

std::vector<WebhookEndpointRecord> WebhookReader::endpoints() const {
  std::vector<WebhookEndpointRecord> out;
  store_.scan("Wn/", "", [&](std::string_view, std::string_view value) {
    out.push_back(store::decode_record<WebhookEndpointRecord>(value));
    return true;
  });
  return out;
}

std::vector<WebhookDeadLetterRecord> WebhookReader::dead_letters(const std::string& endpoint,
                                                                 const std::string& after,
                                                                 size_t limit) const {
  std::vector<WebhookDeadLetterRecord> out;
  const std::string start = after.empty() ? "" : dead_letters_prefix(endpoint) + after;
  store_.scan(dead_letters_prefix(endpoint), start, [&](std::string_view key, std::string_view v) {
    if (key == start) return true;  // `after` is exclusive
    out.push_back(store::decode_record<WebhookDeadLetterRecord>(v));
    return out.size() < limit;
  });
  return out;
}

}  // namespace cairn::projector
