// libFuzzer target: a device body read as the protocol layer reads it (Plist::parse, then
// decode_checkin and decode_report: which device it names, its MessageType or Status, a user
// channel declined). Refusals must be ClientErrors (BadRequest, UnknownMessageType, 410
// UserChannelDeclined); anything else escaping would be answered 500.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

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
  for (const bool as_checkin : {true, false}) {
    try {
      if (as_checkin)
        (void)cairn::protocol::decode_checkin(*message);
      else
        (void)cairn::protocol::decode_report(*message);
    } catch (const cairn::ClientError& e) {
      if (e.status() < 400 || e.status() > 499) std::abort();
    }
  }
  (void)cairn::protocol::claimed_udid(*message);  // attributes refusals: must never throw
  return 0;
}
