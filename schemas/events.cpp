#include "schemas/events.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <cereal/cereal.hpp>

#include <stdexcept>

#include "common/clock.hpp"
#include "common/encoding.hpp"
#include "crypto/digest.hpp"
#include "protocol/messages.hpp"

namespace cairn::events {

using cereal::make_nvp;

// A field added to a type after events of it were written: absent in those, empty when read.
template <class T>
struct OptionalNvp {
  const char* name;
  T& value;
};
template <class T>
OptionalNvp<T> make_optional_nvp(const char* name, T& value) {
  return {name, value};
}

template <class Archive>
void RawMessage::serialize(Archive& a) {
  a(make_nvp("encoding", encoding), make_nvp("body", body), make_nvp("sha256", sha256),
    make_nvp("redacted", redacted));
}

template <class Archive>
void DeviceAuthenticated::serialize(Archive& a) {
  a(make_nvp("topic", topic), make_nvp("serial_number", serial_number),
    make_nvp("certificate_fingerprint", certificate_fingerprint),
    make_nvp("identity_source", identity_source), make_nvp("message", message),
    make_optional_nvp("enrollment_profile", enrollment_profile),
    make_optional_nvp("development_apns", development_apns));
}

template <class Archive>
void TokenUpdated::serialize(Archive& a) {
  a(make_nvp("topic", topic), make_nvp("token_hex", token_hex), make_nvp("push_magic", push_magic),
    make_nvp("unlock_token_sealed", unlock_token_sealed),
    make_nvp("awaiting_configuration", awaiting_configuration),
    make_nvp("certificate_fingerprint", certificate_fingerprint), make_nvp("message", message),
    make_optional_nvp("user_short_name", user_short_name),
    make_optional_nvp("user_long_name", user_long_name));
}

template <class Archive>
void UserAuthenticated::serialize(Archive& a) {
  a(make_nvp("user_short_name", user_short_name), make_nvp("user_long_name", user_long_name),
    make_nvp("digest_response_given", digest_response_given),
    make_nvp("certificate_fingerprint", certificate_fingerprint), make_nvp("message", message));
}

template <class Archive>
void BootstrapTokenSet::serialize(Archive& a) {
  a(make_nvp("token_sealed", token_sealed),
    make_nvp("awaiting_configuration", awaiting_configuration),
    make_nvp("certificate_fingerprint", certificate_fingerprint), make_nvp("message", message));
}

template <class Archive>
void BootstrapTokenReturned::serialize(Archive& a) {
  a(make_nvp("had_token", had_token), make_nvp("awaiting_configuration", awaiting_configuration),
    make_nvp("certificate_fingerprint", certificate_fingerprint), make_nvp("message", message));
}

template <class Archive>
void DeclarationStored::serialize(Archive& a) {
  a(make_nvp("identifier", identifier), make_nvp("declaration_type", declaration_type),
    make_nvp("server_token", server_token), make_nvp("content", content),
    make_nvp("references", references));
}

template <class Archive>
void DeclarationDeleted::serialize(Archive& a) {
  a(make_nvp("identifier", identifier));
}

template <class Archive>
void SetDeclarationChanged::serialize(Archive& a) {
  a(make_nvp("set", set), make_nvp("declaration", declaration), make_nvp("member", member));
}

template <class Archive>
void EnrollmentSetChanged::serialize(Archive& a) {
  a(make_nvp("set", set), make_nvp("member", member));
}

template <class Archive>
void DeclarativeRequested::serialize(Archive& a) {
  a(make_nvp("endpoint", endpoint), make_nvp("served_token", served_token),
    make_nvp("certificate_fingerprint", certificate_fingerprint), make_nvp("message", message));
}

template <class Archive>
void StatusReported::serialize(Archive& a) {
  a(make_nvp("full_report", full_report),
    make_nvp("certificate_fingerprint", certificate_fingerprint), make_nvp("message", message));
}

template <class Archive>
void DeviceCheckedOut::serialize(Archive& a) {
  a(make_nvp("topic", topic), make_nvp("certificate_fingerprint", certificate_fingerprint),
    make_nvp("message", message));
}

template <class Archive>
void CommandEnqueued::serialize(Archive& a) {
  a(make_nvp("command_uuid", command_uuid), make_nvp("request_type", request_type),
    make_nvp("command_plist", command_plist), make_nvp("no_push", no_push));
}

template <class Archive>
void CommandCancelled::serialize(Archive& a) {
  a(make_nvp("command_uuid", command_uuid));
}

template <class Archive>
void CommandDelivered::serialize(Archive& a) {
  a(make_nvp("command_uuid", command_uuid));
}

template <class Archive>
void CommandReported::serialize(Archive& a) {
  a(make_nvp("status", status), make_nvp("command_uuid", command_uuid),
    make_nvp("certificate_fingerprint", certificate_fingerprint), make_nvp("message", message),
    make_optional_nvp("error_chain", error_chain));
}

template <class Archive>
void ErrorChainLink::serialize(Archive& a) {
  a(make_nvp("domain", domain), make_nvp("code", code), make_nvp("description", description));
}

template <class Archive>
void PushRequested::serialize(Archive& a) {
  a(make_nvp("reason", reason));
}

template <class Archive>
void MessageRejected::serialize(Archive& a) {
  a(make_nvp("http_status", http_status), make_nvp("reason", reason), make_nvp("path", path),
    make_nvp("content_type", content_type), make_nvp("body_size", body_size),
    make_nvp("body_sha256", body_sha256), make_nvp("remote_address", remote_address),
    make_nvp("certificate_fingerprint", certificate_fingerprint),
    make_optional_nvp("repeated", repeated));
}

template <class Archive>
void PushCertificateUploaded::serialize(Archive& a) {
  a(make_nvp("topic", topic), make_nvp("certificate_pem", certificate_pem),
    make_nvp("private_key_sealed", private_key_sealed), make_nvp("not_after", not_after));
}

template <class Archive>
void AdeTokenCertificateCreated::serialize(Archive& a) {
  a(make_nvp("token", token), make_nvp("certificate_pem", certificate_pem),
    make_nvp("private_key_sealed", private_key_sealed), make_nvp("not_after", not_after));
}

template <class Archive>
void AdeTokenStored::serialize(Archive& a) {
  a(make_nvp("token", token), make_nvp("credentials_sealed", credentials_sealed),
    make_nvp("access_token_expiry", access_token_expiry));
}

template <class Archive>
void AdeDevice::serialize(Archive& a) {
  a(make_nvp("serial_number", serial_number), make_nvp("model", model),
    make_nvp("description", description), make_nvp("color", color),
    make_nvp("asset_tag", asset_tag), make_nvp("os", os), make_nvp("device_family", device_family),
    make_nvp("profile_status", profile_status), make_nvp("profile_uuid", profile_uuid),
    make_nvp("profile_assign_time", profile_assign_time),
    make_nvp("profile_push_time", profile_push_time),
    make_nvp("device_assigned_date", device_assigned_date),
    make_nvp("device_assigned_by", device_assigned_by), make_nvp("op_type", op_type),
    make_nvp("op_date", op_date));
}

template <class Archive>
void AdeDevicesSynced::serialize(Archive& a) {
  a(make_nvp("token", token), make_nvp("phase", phase), make_nvp("from_cursor", from_cursor),
    make_nvp("cursor", cursor), make_nvp("more_to_follow", more_to_follow),
    make_nvp("continues", continues), make_nvp("fetched_until", fetched_until),
    make_nvp("devices", devices));
}

template <class Archive>
void AdeSyncFailed::serialize(Archive& a) {
  a(make_nvp("token", token), make_nvp("call", call), make_nvp("http_status", http_status),
    make_nvp("reason", reason), make_nvp("outcome", outcome),
    make_nvp("retry_after_seconds", retry_after_seconds), make_nvp("from_cursor", from_cursor));
}

template <class Archive>
void AdeProfileStored::serialize(Archive& a) {
  a(make_nvp("profile", profile), make_nvp("content", content));
}

template <class Archive>
void AdeProfileDefined::serialize(Archive& a) {
  a(make_nvp("token", token), make_nvp("profile", profile), make_nvp("profile_uuid", profile_uuid),
    make_nvp("content_sha256", content_sha256));
}

template <class Archive>
void AdeAssignmentSet::serialize(Archive& a) {
  a(make_nvp("token", token), make_nvp("default_profile", default_profile),
    make_nvp("rules", rules));
}

template <class Archive>
void AdeDeviceOutcome::serialize(Archive& a) {
  a(make_nvp("serial_number", serial_number), make_nvp("status", status));
}

template <class Archive>
void AdeProfileAssigned::serialize(Archive& a) {
  a(make_nvp("token", token), make_nvp("profile", profile), make_nvp("profile_uuid", profile_uuid),
    make_nvp("devices", devices), make_nvp("retry_after_seconds", retry_after_seconds));
}

template <class Archive>
void AdeEnrollmentRequested::serialize(Archive& a) {
  a(make_nvp("serial_number", serial_number), make_nvp("udid", udid), make_nvp("product", product),
    make_nvp("os_version", os_version), make_nvp("token", token), make_nvp("profile", profile),
    make_nvp("signer_fingerprint", signer_fingerprint),
    make_nvp("enrollment_profile", enrollment_profile), make_nvp("udid_bound", udid_bound));
}

template <class Archive>
void AdeDevicesHeld::serialize(Archive& a) {
  a(make_nvp("serial_numbers", serial_numbers), make_nvp("held", held));
}

template <class Archive>
void AdeProfileRemoved::serialize(Archive& a) {
  a(make_nvp("token", token), make_nvp("devices", devices));
}

template <class Archive>
void WebhookEndpointSet::serialize(Archive& a) {
  a(make_nvp("name", name), make_nvp("url", url), make_nvp("topics", topics),
    make_nvp("secret_sealed", secret_sealed));
}

template <class Archive>
void WebhookEndpointRemoved::serialize(Archive& a) {
  a(make_nvp("name", name));
}

template <class Archive>
void WebhookDeadLettered::serialize(Archive& a) {
  a(make_nvp("endpoint", endpoint), make_nvp("event_id", event_id), make_nvp("topic", topic),
    make_nvp("event_device", event_device), make_nvp("partition", partition),
    make_nvp("offset", offset), make_nvp("attempts", attempts),
    make_nvp("http_status", http_status), make_nvp("reason", reason),
    make_nvp("first_attempt_at", first_attempt_at));
}

template <class Archive>
void WebhookDeliveryRef::serialize(Archive& a) {
  a(make_nvp("event_id", event_id), make_nvp("partition", partition), make_nvp("offset", offset));
}

template <class Archive>
void WebhookRedeliveryRequested::serialize(Archive& a) {
  a(make_nvp("endpoint", endpoint), make_nvp("deliveries", deliveries));
}

template <class Archive>
void WebhooksDelivered::serialize(Archive& a) {
  a(make_nvp("endpoint", endpoint), make_nvp("partition", partition),
    make_nvp("below_offset", below_offset));
}

template <class Archive>
void AuditCheckpointed::serialize(Archive& a) {
  a(make_nvp("partition", partition), make_nvp("first_offset", first_offset),
    make_nvp("next_offset", next_offset), make_nvp("chain", chain),
    make_nvp("merkle_root", merkle_root), make_nvp("key_id", key_id),
    make_nvp("signature", signature));
}

template <class Archive>
void PushSent::serialize(Archive& a) {
  a(make_nvp("topic", topic), make_nvp("token_hex", token_hex), make_nvp("apns_id", apns_id));
}

template <class Archive>
void PushFailed::serialize(Archive& a) {
  a(make_nvp("topic", topic), make_nvp("http_status", http_status), make_nvp("reason", reason),
    make_nvp("apns_id", apns_id), make_nvp("attempt", attempt), make_nvp("will_retry", will_retry));
}

template <class Archive>
void PushTokenInvalidated::serialize(Archive& a) {
  a(make_nvp("topic", topic), make_nvp("token_hex", token_hex),
    make_nvp("http_status", http_status), make_nvp("reason", reason));
}

Event make_event(std::string device, std::string node, std::string actor, Payload payload) {
  return Event{crypto::uuid_v4(), now_rfc3339(),    std::move(device),
               std::move(node),   std::move(actor), std::move(payload)};
}

template <class Archive>
void DeviceInactive::serialize(Archive& a) {
  a(make_nvp("last_heard", last_heard));
}

template <class Archive>
void CertificateIssued::serialize(Archive& a) {
  a(make_nvp("method", method), make_nvp("serial", serial), make_nvp("subject", subject),
    make_nvp("fingerprint", fingerprint), make_nvp("not_after", not_after),
    make_nvp("transaction_id", transaction_id), make_nvp("scep_challenge", scep_challenge));
}

template <class Archive>
void EnrollmentRefused::serialize(Archive& a) {
  a(make_nvp("stage", stage), make_nvp("reason", reason), make_nvp("fail_info", fail_info),
    make_nvp("transaction_id", transaction_id), make_nvp("remote_address", remote_address),
    make_optional_nvp("repeated", repeated));
}

template <class Archive>
void ProfileIssued::serialize(Archive& a) {
  a(make_nvp("profile_uuid", profile_uuid), make_nvp("identity", identity),
    make_nvp("topic", topic), make_nvp("access_rights", access_rights),
    make_nvp("certificate_fingerprint", certificate_fingerprint),
    make_nvp("scep_challenge", scep_challenge),
    make_nvp("scep_challenge_expires_at", scep_challenge_expires_at),
    make_optional_nvp("udid", udid), make_optional_nvp("development_apns", development_apns));
}

template <class Archive>
void IdentityBound::serialize(Archive& a) {
  a(make_nvp("fingerprint", fingerprint), make_nvp("not_after", not_after),
    make_nvp("reason", reason), make_nvp("renewed_fingerprint", renewed_fingerprint));
}

template <class Archive>
void ReenrollmentAllowed::serialize(Archive& a) {
  a(make_nvp("note", note), make_nvp("expires_at", expires_at));
}

template <class Archive>
void EnrollmentInvited::serialize(Archive& a) {
  a(make_nvp("invitation", invitation), make_nvp("expires_at", expires_at), make_nvp("note", note));
}

template <class Archive>
void EnrollmentRequested::serialize(Archive& a) {
  a(make_nvp("invitation", invitation), make_nvp("udid", udid),
    make_nvp("serial_number", serial_number), make_nvp("product", product),
    make_nvp("version", version), make_nvp("imei", imei),
    make_nvp("signer_subject", signer_subject), make_nvp("signer_fingerprint", signer_fingerprint));
}

std::string_view type_name(const Payload& payload) {
  return std::visit([](const auto& p) { return std::decay_t<decltype(p)>::kType; }, payload);
}

int type_version(const Payload& payload) {
  return std::visit([](const auto& p) { return std::decay_t<decltype(p)>::kVersion; }, payload);
}

namespace {

// Events are described once, by their cereal serialize() functions (name-value pairs). These two
// archives run those descriptions against rapidjson directly: cereal's own JSON archives go
// through std::iostream one character at a time, which measured 16 µs to encode and 30 µs to
// decode a typical event (bench/RESULTS.md) — on the path of every device request.
class JsonWriteArchive {
 public:
  explicit JsonWriteArchive(rapidjson::Writer<rapidjson::StringBuffer>& w) : w_(w) {}
  template <class... Pairs>
  void operator()(Pairs&&... pairs) {
    (write(pairs), ...);
  }

 private:
  template <class T>
  void write(const cereal::NameValuePair<T>& pair) {
    w_.Key(pair.name);
    value(pair.value);
  }
  template <class T>
  void write(const OptionalNvp<T>& pair) {
    if constexpr (requires { pair.value.empty(); } && !std::is_same_v<T, std::string>) {
      if (pair.value.empty()) return;  // an optional list: absent when empty
    }
    w_.Key(pair.name);
    value(pair.value);
  }
  void value(const std::string& v) {
    w_.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  }
  void value(bool v) { w_.Bool(v); }
  void value(int v) { w_.Int(v); }
  void value(int64_t v) { w_.Int64(v); }
  void value(uint64_t v) { w_.Uint64(v); }
  template <class Item>
  void value(const std::vector<Item>& items) {
    w_.StartArray();
    for (const auto& item : items) value(item);
    w_.EndArray();
  }
  template <class Nested>
  void value(const Nested& nested) {
    w_.StartObject();
    const_cast<Nested&>(nested).serialize(*this);  // serialize() only reads when writing
    w_.EndObject();
  }
  rapidjson::Writer<rapidjson::StringBuffer>& w_;
};

class JsonReadArchive {
 public:
  JsonReadArchive(const rapidjson::Value& object, Bodies bodies)
      : object_(object), bodies_(bodies) {}
  template <class... Pairs>
  void operator()(Pairs&&... pairs) {
    (read(pairs), ...);
  }

 private:
  [[noreturn]] static void fail(const char* name, const char* what) {
    throw std::runtime_error(std::string("malformed event: ") + name + " " + what);
  }
  template <class T>
  void read(cereal::NameValuePair<T>& pair) {
    const auto it = object_.FindMember(pair.name);
    if (it == object_.MemberEnd()) fail(pair.name, "is missing");
    value(pair.name, it->value, pair.value);
  }
  template <class T>
  void read(OptionalNvp<T>& pair) {
    const auto it = object_.FindMember(pair.name);
    if (it != object_.MemberEnd()) value(pair.name, it->value, pair.value);
  }
  static void value(const char* name, const rapidjson::Value& v, std::string& out) {
    if (!v.IsString()) fail(name, "must be a string");
    out.assign(v.GetString(), v.GetStringLength());
  }
  static void value(const char* name, const rapidjson::Value& v, bool& out) {
    if (!v.IsBool()) fail(name, "must be a boolean");
    out = v.GetBool();
  }
  static void value(const char* name, const rapidjson::Value& v, int& out) {
    if (!v.IsInt()) fail(name, "must be an integer");
    out = v.GetInt();
  }
  static void value(const char* name, const rapidjson::Value& v, int64_t& out) {
    if (!v.IsInt64()) fail(name, "must be an integer");
    out = v.GetInt64();
  }
  template <class Item>
  void value(const char* name, const rapidjson::Value& v, std::vector<Item>& out) {
    if (!v.IsArray()) fail(name, "must be an array");
    out.resize(v.Size());
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) value(name, v[i], out[i]);
  }
  static void value(const char* name, const rapidjson::Value& v, uint64_t& out) {
    if (!v.IsUint64()) fail(name, "must be a non-negative integer");
    out = v.GetUint64();
  }
  template <class Nested>
  void value(const char* name, const rapidjson::Value& v, Nested& out) {
    if (!v.IsObject()) fail(name, "must be an object");
    JsonReadArchive nested(v, bodies_);
    out.serialize(nested);
  }
  void value(const char* name, const rapidjson::Value& v, RawMessage& out) {
    if (bodies_ == Bodies::kKeep) return value<RawMessage>(name, v, out);
    if (!v.IsObject()) fail(name, "must be an object");
    JsonReadArchive nested(v, bodies_);
    nested(make_nvp("encoding", out.encoding), make_nvp("sha256", out.sha256),
           make_nvp("redacted", out.redacted));
  }
  const rapidjson::Value& object_;
  Bodies bodies_;
};

template <size_t I = 0>
Payload decode_payload(const rapidjson::Value& payload, std::string_view type, int version,
                       Bodies bodies) {
  if constexpr (I == std::variant_size_v<Payload>) {
    throw std::runtime_error("unknown event type " + std::string(type));
  } else {
    using T = std::variant_alternative_t<I, Payload>;
    if (T::kType != type) return decode_payload<I + 1>(payload, type, version, bodies);
    if (version != T::kVersion)
      throw std::runtime_error("unsupported version " + std::to_string(version) + " of " +
                               std::string(type));
    if (!payload.IsObject()) throw std::runtime_error("malformed event: payload must be an object");
    T result;
    JsonReadArchive archive(payload, bodies);
    result.serialize(archive);
    return result;
  }
}

}  // namespace

std::string encode(const Event& e) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  JsonWriteArchive a(writer);
  const std::string type(type_name(e.payload));
  const int version = type_version(e.payload);
  writer.StartObject();
  a(make_nvp("id", e.id), make_nvp("type", type), make_nvp("version", version),
    make_nvp("time", e.time), make_nvp("device", e.device), make_nvp("node", e.node),
    make_nvp("actor", e.actor));
  std::visit([&](const auto& p) { a(make_nvp("payload", p)); }, e.payload);
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

eventlog::RecordToAppend to_record(const Event& e) {
  return {protocol::device_channel_of(e.device).value(), std::string(type_name(e.payload)),
          encode(e)};
}

Event decode(std::string_view json, Bodies bodies) {
  // Parsed in place in a private copy: strings are unescaped where they lie instead of being
  // copied into the document (measured: most of the parse time, for bodies the caller may skip).
  std::string buffer(json);
  rapidjson::Document doc;
  doc.ParseInsitu(buffer.data());
  if (doc.HasParseError())
    throw std::runtime_error(std::string("malformed event: ") +
                             rapidjson::GetParseError_En(doc.GetParseError()));
  if (!doc.IsObject()) throw std::runtime_error("malformed event: not an object");
  Event e;
  std::string type;
  int version = 0;
  JsonReadArchive a(doc, bodies);
  a(make_nvp("id", e.id), make_nvp("type", type), make_nvp("version", version),
    make_nvp("time", e.time), make_nvp("device", e.device), make_nvp("node", e.node),
    make_nvp("actor", e.actor));
  if (!doc.HasMember("payload")) throw std::runtime_error("malformed event: payload is missing");
  e.payload = decode_payload(doc["payload"], type, version, bodies);
  return e;
}

RawMessage raw_message(std::string_view body) {
  RawMessage m;
  m.sha256 = crypto::sha256_hex(body);
  if (is_valid_utf8(body)) {
    m.encoding = "utf8";
    m.body = std::string(body);
  } else {
    m.encoding = "base64";
    m.body = base64_encode(body);
  }
  return m;
}

}  // namespace cairn::events
