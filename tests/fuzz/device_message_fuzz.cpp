// libFuzzer target: a device body read as the protocol layer reads it (Plist::parse, then
// decode_checkin and decode_report: which channel it speaks for, its MessageType or Status).
// Refusals must be ClientErrors (BadRequest, UnknownMessageType); anything else escaping would be
// answered 500. A channel ID that ingest would accept must lead back to its device: a user
// channel's events are keyed by it (protocol::Channel), or they would leave the device's partition.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <variant>

#include "common/errors.hpp"
#include "plist/plist.hpp"
#include "protocol/messages.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  std::optional<cairn::Plist> message;
  try {
    message = cairn::Plist::parse(body);
  } catch (const cairn::BadRequest&) {
    return 0;
  }
  const auto check_channel = [](const cairn::protocol::Channel& c) {
    // What ingest accepts (ingest/device_service.cpp): a device of [A-Za-z0-9._-], a valid ID.
    if (cairn::protocol::is_valid_identifier(c.device.value()) &&
        cairn::protocol::is_valid_channel_id(c.id.value()) &&
        cairn::protocol::device_channel_of(c.id.value()) != c.device)
      std::abort();
  };
  for (const bool as_checkin : {true, false}) {
    try {
      if (as_checkin)
        std::visit([&](const auto& m) { check_channel(m.channel); },
                   cairn::protocol::decode_checkin(*message));
      else
        check_channel(cairn::protocol::decode_report(*message).channel);
    } catch (const cairn::ClientError& e) {
      if (e.status() < 400 || e.status() > 499) std::abort();
    }
  }
  (void)cairn::protocol::claimed_udid(*message);  // attributes refusals: must never throw
  return 0;
}
