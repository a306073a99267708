// libFuzzer target: decoding a log record (events::decode), as the projector, replay and every
// consumer of the log do. A record that is not an event must be a std::runtime_error (skipped),
// never a crash.
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "schemas/events.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view record(reinterpret_cast<const char*>(data), size);
  try {
    const auto event = cairn::events::decode(record);
    (void)cairn::events::encode(event);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
