#include "ade/ade_api.hpp"

#include <openssl/crypto.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "ade/assignment_rules.hpp"
#include "ade/server_token.hpp"
#include "common/errors.hpp"
#include "common/logging.hpp"
#include "crypto/certificate.hpp"
#include "pki/issuer.hpp"

namespace cairn::ade {
namespace {

using ingest::ApiResponse;

void require_name(const std::string& name, const char* what) {
  if (!projector::is_ade_name(name))
    throw BadRequest(std::string(what) + " names are 1 to 64 of [A-Za-z0-9._-]");
}

// The token certificate's lifetime: it only decrypts token files, and a new one means downloading
// the token again, so it outlives the tokens made for it (a year each).
constexpr int kTokenCertificateDays = 3 * 365;

}  // namespace

projector::AdeTokenRecord AdeApi::known_token(const std::string& name) const {
  require_name(name, "token");
  auto token = writer_.find_caught_up([&] { return ade_.token(name); });
  if (!token || token->certificate_pem.empty())
    throw ClientError(404, "no ADE token " + name +
                               " (make its certificate first: POST /v1/ade/tokens/" + name +
                               "/certificate)");
  return *token;
}

ApiResponse AdeApi::create_certificate(const std::string& name, bool replace,
                                       const ingest::Principal& actor) {
  require_name(name, "token");
  writer_.wait_caught_up();
  if (const auto existing = ade_.token(name);
      existing && !existing->certificate_pem.empty() && !replace)
    throw ClientError(409, "ADE token " + name +
                               " has a certificate already (GET it; replace=1 makes a new one, "
                               "and token files made for the old one no longer open)");
  auto identity =
      pki::make_ca("Cairn ADE token " + name, kTokenCertificateDays, nullptr, pki::CaKey::kRsa2048);
  const auto pem = crypto::certificate_pem(identity.cert.get());
  std::string key = pki::private_key_pem(identity.key.get(), nullptr);
  auto sealed = secrets_.seal(key, certificate_key_sealing_context(name));
  OPENSSL_cleanse(key.data(), key.size());
  writer_.append_and_wait_applied({writer_.make(
      "", actor.name,
      events::AdeTokenCertificateCreated{name, pem, std::move(sealed),
                                         crypto::certificate_not_after(identity.cert.get())})});
  return {201, pem, "application/x-pem-file"};
}

ApiResponse AdeApi::certificate(const std::string& name) const {
  return {200, known_token(name).certificate_pem, "application/x-pem-file"};
}

ApiResponse AdeApi::upload_token(const std::string& name, std::string_view file,
                                 const ingest::Principal& actor) {
  const auto token = known_token(name);
  std::string key_pem =
      secrets_.open(token.private_key_sealed, certificate_key_sealing_context(name));
  pki::Identity identity{pki::parse_private_key_pem(key_pem, nullptr),
                         crypto::parse_certificate_pem(token.certificate_pem)};
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  const auto credentials = open_server_token(file, identity);
  std::string json = credentials_json(credentials);
  auto sealed = secrets_.seal(json, credentials_sealing_context(name));
  OPENSSL_cleanse(json.data(), json.size());
  writer_.append_and_wait_applied({writer_.make(
      "", actor.name,
      events::AdeTokenStored{name, std::move(sealed), credentials.access_token_expiry})});
  logging::info("ADE token stored", {{"token", name}, {"actor", actor.name}});
  if (syncer_) syncer_->wake();
  JsonWriter j;
  j.begin_object()
      .field("token", name)
      .field("access_token_expiry", credentials.access_token_expiry)
      .end_object();
  return {200, j.str()};
}

ApiResponse AdeApi::tokens() const {
  JsonWriter j;
  j.begin_object().key("tokens").begin_array();
  for (const auto& t : ade_.tokens()) {
    j.begin_object()
        .field("token", t.token)
        .field("certificate_not_after", t.certificate_not_after)
        .field("uploaded", !t.credentials_sealed.empty())
        .field_if("uploaded_at", t.stored_at)
        .field_if("uploaded_by", t.stored_by)
        .field_if("access_token_expiry", t.access_token_expiry)
        .field("phase", t.phase.empty() ? "fetch" : t.phase)
        .field("pages", static_cast<int64_t>(t.pages))
        .field_if("last_synced_at", t.last_synced_at)
        .field_if("default_profile", t.default_profile);
    if (!t.rules.empty()) j.key("rules").raw_value(t.rules);
    if (!t.failure_outcome.empty())
      j.key("failure")
          .begin_object()
          .field("call", t.failure_call)
          .field("status", t.failure_status)
          .field("reason", t.failure_reason)
          .field("outcome", t.failure_outcome)
          .field("at", t.failed_at)
          .end_object();
    j.end_object();
  }
  j.end_array().end_object();
  return {200, j.str()};
}

ApiResponse AdeApi::sync(const std::string& name) {
  const auto token = known_token(name);
  if (token.credentials_sealed.empty())
    throw ClientError(409, "ADE token " + name + " has no token file uploaded yet");
  if (!syncer_) return {202, R"({"sync":"scheduled"})"};  // the syncing node, within its interval
  syncer_->wake(name);
  return {202, R"({"sync":"started"})"};
}

ApiResponse AdeApi::set_assignment(const std::string& name, std::string_view body,
                                   const ingest::Principal& actor) {
  known_token(name);
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (d.HasParseError() || !d.IsObject()) throw BadRequest("the body must be a JSON object");
  const rapidjson::Value& root = d;  // const iterators on both sides of the comparisons
  std::string default_profile;
  if (const auto it = root.FindMember("default_profile"); it != root.MemberEnd()) {
    if (!it->value.IsString()) throw BadRequest("default_profile must be a profile name");
    default_profile = it->value.GetString();
    if (!default_profile.empty()) require_name(default_profile, "profile");
  }
  std::string rules;
  if (const auto it = root.FindMember("rules"); it != root.MemberEnd()) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    it->value.Accept(w);
    rules.assign(buffer.GetString(), buffer.GetSize());
    parse_rules(rules);  // throws BadRequest naming the broken rule
  }
  writer_.append_and_wait_applied(
      {writer_.make("", actor.name, events::AdeAssignmentSet{name, default_profile, rules})});
  if (syncer_) syncer_->wake();
  return {204, ""};
}

ApiResponse AdeApi::store_profile(const std::string& name, std::string_view body,
                                  const ingest::Principal& actor) {
  require_name(name, "profile");
  if (body.size() > 64 * 1024) throw BadRequest("an ADE profile is at most 64 KiB");
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (d.HasParseError() || !d.IsObject()) throw BadRequest("the profile must be a JSON object");
  const rapidjson::Value& root = d;  // const iterators on both sides of the comparisons
  const auto profile_name = root.FindMember("profile_name");
  if (profile_name == root.MemberEnd() || !profile_name->value.IsString() ||
      profile_name->value.GetStringLength() == 0)
    throw BadRequest("profile_name is required (what Setup Assistant shows)");
  if (const auto release = root.FindMember(std::string(projector::kAdeReleaseKey).c_str());
      release != root.MemberEnd() &&
      (!release->value.IsString() || (std::string_view(release->value.GetString()) != "manual" &&
                                      std::string_view(release->value.GetString()) != "automatic")))
    throw BadRequest("cairn_release is \"automatic\" (the default) or \"manual\"");
  if (const auto url = root.FindMember("url");
      url != root.MemberEnd() &&
      (!url->value.IsString() || !std::string_view(url->value.GetString()).starts_with("https://")))
    throw BadRequest("url must be an https URL (leave it out: Cairn fills in its own)");
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  d.Accept(w);
  writer_.append_and_wait_applied({writer_.make(
      "", actor.name,
      events::AdeProfileStored{name, std::string(buffer.GetString(), buffer.GetSize())})});
  if (syncer_) syncer_->wake();
  return {204, ""};
}

ApiResponse AdeApi::profiles() const {
  JsonWriter j;
  j.begin_object().key("profiles").begin_array();
  for (const auto& p : ade_.profiles())
    j.begin_object()
        .field("profile", p.profile)
        .key("content")
        .raw_value(p.content)
        .field("stored_at", p.stored_at)
        .field("stored_by", p.stored_by)
        .end_object();
  j.end_array().end_object();
  return {200, j.str()};
}

void AdeApi::write_device(JsonWriter& j, const projector::AdeDeviceRecord& d) const {
  j.begin_object()
      .field("serial_number", d.serial_number)
      .field("token", d.token)
      .field("model", d.model)
      .field("description", d.description)
      .field("color", d.color)
      .field("device_family", d.device_family)
      .field("os", d.os)
      .field_if("asset_tag", d.asset_tag)
      .field("profile_status", d.profile_status)
      .field_if("profile_uuid", d.profile_uuid)
      .field_if("assigned_profile", d.assigned_profile)
      .field_if("assign_status", d.assign_status)
      .field_if("assigned_at", d.assigned_at)
      .field("released", d.deleted)
      .field("held", d.held)
      .field("first_synced_at", d.first_synced_at)
      .field("last_synced_at", d.last_synced_at);
  // Enrolled: its MachineInfo came, and the UDID it gave is enrolled in Cairn now.
  std::string state = d.enrollment_udid.empty() ? "not_enrolled" : "enrollment_requested";
  if (!d.enrollment_udid.empty())
    if (const auto device = reader_.device(DeviceId(d.enrollment_udid)))
      state = std::string(projector::enrollment_state_name(device->state));
  j.field("enrollment", state)
      .field_if("udid", d.enrollment_udid)
      .field_if("enrollment_requested_at", d.enrollment_requested_at)
      .end_object();
}

ApiResponse AdeApi::devices(const std::string& after, size_t limit) const {
  JsonWriter j;
  j.begin_object().key("devices").begin_array();
  const auto page = ade_.devices(after, limit);
  for (const auto& d : page) write_device(j, d);
  j.end_array();
  if (page.size() == limit) j.field("next", page.back().serial_number);
  j.end_object();
  return {200, j.str()};
}

ApiResponse AdeApi::hold(const std::string& serial, bool held, const ingest::Principal& actor) {
  if (!projector::is_serial_number(serial)) throw BadRequest("not a serial number");
  const auto d = writer_.find_caught_up([&] { return ade_.device(serial); });
  if (!d) return ingest::not_found("ADE device");
  writer_.append_and_wait_applied(
      {writer_.make("", actor.name, events::AdeDevicesHeld{{serial}, held})});
  if (syncer_) syncer_->wake(d->token);
  return {204, ""};
}

ApiResponse AdeApi::device(const std::string& serial) const {
  if (!projector::is_serial_number(serial)) throw BadRequest("not a serial number");
  const auto d = writer_.find_caught_up([&] { return ade_.device(serial); });
  if (!d) return ingest::not_found("ADE device");
  JsonWriter j;
  write_device(j, *d);
  return {200, j.str()};
}

}  // namespace cairn::ade
