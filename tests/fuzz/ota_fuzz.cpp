// libFuzzer target: the body a device POSTs to an OTA enrollment link (its attributes, a plist
// CMS-signed by its device certificate), read as enrollment::read_device_attributes does before
// anything is recorded. Unreadable attributes must be a BadRequest (400), never a crash or
// another exception (which would be answered 500).
#include <cstdint>
#include <string_view>

#include "common/errors.hpp"
#include "enrollment/ota_service.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  try {
    (void)cairn::enrollment::read_device_attributes(body, nullptr, "fuzz-token");
  } catch (const cairn::BadRequest&) {
  }
  return 0;
}
