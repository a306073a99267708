// libFuzzer target: the Mdm-Signature header (base64 of a detached CMS signature), verified over a
// real device's body. The first line of the input is the header, the rest the body.
#include <cstdint>
#include <string_view>

#include "common/errors.hpp"
#include "crypto/cms_signature.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string_view header = input.substr(0, newline);
  const std::string_view body =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  try {
    (void)cairn::crypto::verify_mdm_signature(header, body, nullptr);
  } catch (const cairn::BadRequest&) {
  }
  return 0;
}
