// libFuzzer target: the Mdm-Signature header (base64 of a detached CMS signature), verified over a
// real device's body. The first line of the input is the header, the rest the body. The server's
// verifier (which takes the certificates out of the CMS and remembers them) must answer exactly as
// the plain function does: the same signer, or a refusal from both.
#include <cstdint>
#include <string_view>

#include <cstdlib>
#include <optional>

#include "common/errors.hpp"
#include "crypto/cms_signature.hpp"

namespace {

std::optional<std::string> signer_of(const auto& verify) {
  try {
    return cairn::crypto::certificate_fingerprint(verify().get());
  } catch (const cairn::BadRequest&) {
    return std::nullopt;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string_view header = input.substr(0, newline);
  const std::string_view body =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  static const cairn::crypto::MdmSignatureVerifier verifier(nullptr, 64);
  const auto plain =
      signer_of([&] { return cairn::crypto::verify_mdm_signature(header, body, nullptr); });
  const auto remembered = signer_of([&] { return verifier.verify(header, body); });
  if (plain != remembered) std::abort();
  return 0;
}
