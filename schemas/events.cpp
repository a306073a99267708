#include "schemas/events.hpp"

#include <cereal/archives/json.hpp>
#include <cereal/cereal.hpp>

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "common/encoding.hpp"
#include "crypto/digest.hpp"

namespace cairn::events {

using cereal::make_nvp;

template <class Archive>
void RawMessage::serialize(Archive& a) {
  a(make_nvp("encoding", encoding), make_nvp("body", body), make_nvp("sha256", sha256),
    make_nvp("redacted", redacted));
}

template <class Archive>
void DeviceAuthenticated::serialize(Archive& a) {
  a(make_nvp("topic", topic), make_nvp("serial_number", serial_number),
    make_nvp("certificate_fingerprint", certificate_fingerprint),
    make_nvp("identity_source", identity_source), make_nvp("message", message));
}

template <class Archive>
void TokenUpdated::serialize(Archive& a) {
  a(make_nvp("topic", topic), make_nvp("token_hex", token_hex), make_nvp("push_magic", push_magic),
    make_nvp("unlock_token_sealed", unlock_token_sealed),
    make_nvp("awaiting_configuration", awaiting_configuration),
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
void CommandDelivered::serialize(Archive& a) {
  a(make_nvp("command_uuid", command_uuid));
}

template <class Archive>
void CommandReported::serialize(Archive& a) {
  a(make_nvp("status", status), make_nvp("command_uuid", command_uuid),
    make_nvp("certificate_fingerprint", certificate_fingerprint), make_nvp("message", message));
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
    make_nvp("certificate_fingerprint", certificate_fingerprint));
}

std::string_view type_name(const Payload& payload) {
  return std::visit([](const auto& p) { return std::decay_t<decltype(p)>::kType; }, payload);
}

int type_version(const Payload& payload) {
  return std::visit([](const auto& p) { return std::decay_t<decltype(p)>::kVersion; }, payload);
}

std::string encode(const Event& e) {
  std::ostringstream os;
  {
    cereal::JSONOutputArchive a(os, cereal::JSONOutputArchive::Options::NoIndent());
    a(make_nvp("id", e.id), make_nvp("type", std::string(type_name(e.payload))),
      make_nvp("version", type_version(e.payload)), make_nvp("time", e.time),
      make_nvp("device", e.device), make_nvp("node", e.node), make_nvp("actor", e.actor));
    std::visit([&a](const auto& p) { a(make_nvp("payload", p)); }, e.payload);
  }
  // cereal's writer breaks lines between members; raw newlines only occur as whitespace in JSON
  // (inside strings they are escaped), so dropping them yields one record per line.
  std::string out = os.str();
  out.erase(std::remove(out.begin(), out.end(), '\n'), out.end());
  return out;
}

namespace {

template <size_t I = 0>
Payload decode_payload(cereal::JSONInputArchive& a, std::string_view type, int version) {
  if constexpr (I == std::variant_size_v<Payload>) {
    throw std::runtime_error("unknown event type " + std::string(type));
  } else {
    using T = std::variant_alternative_t<I, Payload>;
    if (T::kType != type) return decode_payload<I + 1>(a, type, version);
    if (version != T::kVersion)
      throw std::runtime_error("unsupported version " + std::to_string(version) + " of " +
                               std::string(type));
    T payload;
    a(make_nvp("payload", payload));
    return payload;
  }
}

}  // namespace

Event decode(std::string_view json) {
  try {
    std::istringstream is{std::string(json)};
    cereal::JSONInputArchive a(is);
    Event e;
    std::string type;
    int version = 0;
    a(make_nvp("id", e.id), make_nvp("type", type), make_nvp("version", version),
      make_nvp("time", e.time), make_nvp("device", e.device), make_nvp("node", e.node),
      make_nvp("actor", e.actor));
    e.payload = decode_payload(a, type, version);
    return e;
  } catch (const cereal::Exception& ex) {
    throw std::runtime_error(std::string("malformed event: ") + ex.what());
  }
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
