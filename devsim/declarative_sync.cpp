#include "devsim/declarative_sync.hpp"

#include <rapidjson/document.h>

namespace cairn::devsim {
namespace {

// The DeclarationsToken of a tokens answer.
std::string declarations_token(const std::string& tokens_json) {
  rapidjson::Document d;
  d.Parse(tokens_json.data(), tokens_json.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("SyncTokens") ||
      !d["SyncTokens"].IsObject())
    return {};
  const auto& sync = d["SyncTokens"];
  const auto it = sync.FindMember("DeclarationsToken");
  return it != sync.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

}  // namespace

SyncOutcome sync_declarations(SimulatedDevice& device, DeviceConnection& connection) {
  SyncOutcome out;
  auto ask = [&](const std::string& endpoint, const std::string& data = {}) -> std::string {
    ++out.requests;
    auto r = connection.checkin(device.declarative_management(endpoint, data));
    if (!r || r->status != 200) {
      out.error = endpoint + ": " +
                  (r ? std::to_string(r->status) + " " + r->body
                     : std::string(httplib::to_string(r.error())));
      return {};
    }
    return r->body;
  };
  const std::string token = declarations_token(ask("tokens"));
  if (!out.error.empty() || (token == device.declarations_token() && !token.empty())) return out;
  const std::string items = ask("declaration-items");
  if (!out.error.empty()) return out;
  for (const auto& endpoint : device.declarations_to_fetch(items)) {
    const std::string declaration = ask(endpoint);
    if (!out.error.empty()) return out;
    device.receive_declaration(declaration);
    ++out.declarations_fetched;
  }
  ask("status", device.status_report());
  out.reported = out.error.empty();
  return out;
}

}  // namespace cairn::devsim
