#include "ingest/declarative_service.hpp"

#include <rapidjson/document.h>

#include "common/errors.hpp"
#include "common/json_writer.hpp"
#include "protocol/declaration_catalog.hpp"

namespace cairn::ingest {
namespace {

constexpr std::string_view kDeclarationEndpoint = "declaration/";

// What Apple's status report schema requires of the report itself; its items are the device's.
void check_status_report(std::string_view json, bool& full_report) {
  rapidjson::Document report;
  report.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (report.HasParseError() || !report.IsObject())
    throw BadRequest("the status report (Data) is not a JSON object");
  if (!projector::nested_within(report, projector::kDeepestStatusReport))
    throw BadRequest("the status report is nested deeper than " +
                     std::to_string(projector::kDeepestStatusReport) + " levels");
  const rapidjson::Value& root = report;  // const iterators throughout
  const auto items = root.FindMember("StatusItems");
  if (items == root.MemberEnd() || !items->value.IsObject())
    throw BadRequest("the status report has no StatusItems object");
  const auto errors = root.FindMember("Errors");
  if (errors == root.MemberEnd() || !errors->value.IsArray())
    throw BadRequest("the status report has no Errors array");
  const auto full = root.FindMember("FullReport");
  full_report = full != root.MemberEnd() && full->value.IsBool() && full->value.GetBool();
}

}  // namespace

DeclarativeService::Answer DeclarativeService::handle(
    const protocol::DeclarativeManagement& m, std::string_view body,
    const std::string& certificate_fingerprint) const {
  const std::string& enrollment = m.channel.id.value();
  if (m.endpoint == "status") {
    bool full_report = false;
    check_status_report(m.data, full_report);
    return {
        {},
        events::StatusReported{full_report, certificate_fingerprint, events::raw_message(body)}};
  }
  const auto manifest = reader_.manifest(enrollment);
  JsonWriter j;
  std::string served = manifest.token;
  if (m.endpoint == "tokens") {
    j.begin_object().key("SyncTokens").begin_object();
    j.field("DeclarationsToken", manifest.token).field("Timestamp", manifest.timestamp);
    j.end_object().end_object();
  } else if (m.endpoint == "declaration-items") {
    j.begin_object().key("Declarations").begin_object();
    for (const auto kind : protocol::kDeclarationKinds) {
      j.key(protocol::items_key(kind)).begin_array();
      for (const auto& d : manifest.declarations)
        if (protocol::kind_of(d.type) == kind)
          j.begin_object()
              .field("Identifier", d.identifier)
              .field("ServerToken", d.server_token)
              .end_object();
      j.end_array();
    }
    j.end_object().field("DeclarationsToken", manifest.token).end_object();
  } else if (m.endpoint.starts_with(kDeclarationEndpoint)) {
    // declaration/<kind>/<Identifier>: one of the enrollment's declarations, of that kind.
    const std::string_view rest = std::string_view(m.endpoint).substr(kDeclarationEndpoint.size());
    const size_t slash = rest.find('/');
    const auto kind = protocol::parse_kind_name(rest.substr(0, slash));
    if (slash == std::string_view::npos || !kind)
      throw BadRequest("unknown Endpoint \"" + m.endpoint +
                       "\" (declaration/<activation|configuration|asset|management>/<Identifier>)");
    const std::string_view identifier = rest.substr(slash + 1);
    const auto it = std::find_if(
        manifest.declarations.begin(), manifest.declarations.end(), [&](const auto& d) {
          return d.identifier == identifier && protocol::kind_of(d.type) == kind;
        });
    if (it == manifest.declarations.end())
      throw ClientError(404, "this enrollment is given no declaration " + std::string(rest));
    return {protocol::served_declaration(it->content, it->server_token),
            events::DeclarativeRequested{m.endpoint, it->server_token, certificate_fingerprint,
                                         events::raw_message(body)}};
  } else {
    throw BadRequest("unknown Endpoint \"" + m.endpoint +
                     "\" (tokens, declaration-items, declaration/<kind>/<Identifier>, status)");
  }
  return {j.str(), events::DeclarativeRequested{m.endpoint, served, certificate_fingerprint,
                                                events::raw_message(body)}};
}

}  // namespace cairn::ingest
