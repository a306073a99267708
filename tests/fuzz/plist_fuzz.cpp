// libFuzzer target: Plist::parse on any bytes (XML or binary). A refusal must be a BadRequest; an
// accepted tree must write and read back to the same XML (the reader and libplist's writer agree).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/errors.hpp"
#include "plist/plist.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  try {
    const cairn::Plist parsed = cairn::Plist::parse(body);
    const std::string xml = parsed.to_xml();
    if (cairn::Plist::parse(xml).to_xml() != xml) std::abort();
    (void)cairn::Plist::parse(parsed.to_binary());
  } catch (const cairn::BadRequest&) {
  }
  return 0;
}
