#include "webhook/body.hpp"

#include <map>
#include <type_traits>
#include <utility>

#include "common/encoding.hpp"
#include "common/json_writer.hpp"
#include "crypto/digest.hpp"
#include "protocol/messages.hpp"

namespace cairn::webhook {
namespace {

template <class T>
constexpr std::optional<std::string_view> topic_for() {
  using namespace events;
  if constexpr (std::is_same_v<T, DeviceAuthenticated>) return "mdm.Authenticate";
  if constexpr (std::is_same_v<T, TokenUpdated>) return "mdm.TokenUpdate";
  if constexpr (std::is_same_v<T, DeviceCheckedOut>) return "mdm.CheckOut";
  if constexpr (std::is_same_v<T, UserAuthenticated>) return "mdm.UserAuthenticate";
  if constexpr (std::is_same_v<T, BootstrapTokenSet>) return "mdm.SetBootstrapToken";
  if constexpr (std::is_same_v<T, BootstrapTokenReturned>) return "mdm.GetBootstrapToken";
  // A status report is a DeclarativeManagement check-in too (Endpoint "status").
  if constexpr (std::is_same_v<T, DeclarativeRequested> || std::is_same_v<T, StatusReported>)
    return "mdm.DeclarativeManagement";
  if constexpr (std::is_same_v<T, CommandReported>) return "mdm.Connect";
  return std::nullopt;
}

// The message as the device sent it (less any secret the log cut out), as NanoMDM's base64.
std::string raw_payload(const events::RawMessage& m) {
  return m.encoding == "base64" ? m.body : base64_encode(m.body);
}

void write_ids(JsonWriter& j, const std::string& channel) {
  if (!protocol::is_user_channel_id(channel)) return;
  j.key("ids")
      .begin_object()
      .field("id", channel)
      .field("parent_id", protocol::device_channel_of(channel).value())
      .field("type", "User")
      .end_object();
}

}  // namespace

const std::vector<std::string_view>& known_topics() {
  static const std::vector<std::string_view> topics = {"mdm.Authenticate",
                                                       "mdm.TokenUpdate",
                                                       "mdm.CheckOut",
                                                       "mdm.UserAuthenticate",
                                                       "mdm.SetBootstrapToken",
                                                       "mdm.GetBootstrapToken",
                                                       "mdm.DeclarativeManagement",
                                                       "mdm.Connect"};
  return topics;
}

std::optional<std::string_view> topic_of(const events::Payload& payload) {
  return std::visit([](const auto& p) { return topic_for<std::decay_t<decltype(p)>>(); }, payload);
}

std::optional<std::string_view> topic_of_type(std::string_view type) {
  static const auto by_type = [] {
    std::map<std::string_view, std::string_view> m;
    [&]<size_t... I>(std::index_sequence<I...>) {
      (
          [&] {
            using T = std::variant_alternative_t<I, events::Payload>;
            if (auto topic = topic_for<T>()) m.emplace(T::kType, *topic);
          }(),
          ...);
    }
    (std::make_index_sequence<std::variant_size_v<events::Payload>>());
    return m;
  }();
  const auto it = by_type.find(type);
  return it == by_type.end() ? std::nullopt : std::optional(it->second);
}

std::string body_of(const events::Event& e, std::string_view topic) {
  JsonWriter j;
  j.begin_object().field("topic", topic).field("event_id", e.id).field("created_at", e.time);
  const std::string udid = protocol::device_channel_of(e.device).value();
  std::visit(
      [&](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, events::CommandReported>) {
          j.key("acknowledge_event").begin_object().field("udid", udid);
          write_ids(j, e.device);
          j.field("status", p.status)
              .field_if("command_uuid", p.command_uuid)
              .field("raw_payload", raw_payload(p.message))
              .end_object();
        } else if constexpr (requires { p.message; }) {
          j.key("checkin_event").begin_object().field("udid", udid);
          write_ids(j, e.device);
          j.field("raw_payload", raw_payload(p.message)).end_object();
        }
      },
      e.payload);
  j.end_object();
  return j.str();
}

std::string signature_of(std::string_view secret, std::string_view body) {
  return base64_encode(crypto::hmac_sha256(secret, body));
}

}  // namespace cairn::webhook
