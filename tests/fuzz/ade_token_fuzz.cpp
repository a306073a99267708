// libFuzzer target: an ADE server token file as `cairn` reads it (ade/server_token). The first
// byte chooses: the rest is the file itself (MIME, base64, CMS: almost always not encrypted to
// this run's key), or the rest is the decrypted part, which is encrypted here to this run's key
// so the inner MIME and JSON reading is reached. Either way a bad file is a BadRequest, never a
// crash or another exception; a token that opens has every credential.
#include <openssl/evp.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "ade/server_token.hpp"
#include "common/errors.hpp"
#include "pki/scep.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn;
  static const pki::Identity kTokenCertificate =
      pki::make_ca("cairn-fuzz-ade-token", 1, nullptr, pki::CaKey::kRsa2048);
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    const auto token = ade::open_server_token(
        data[0] % 2 == 0
            ? rest
            : pki::scep::envelope(rest, kTokenCertificate.cert.get(), EVP_aes_256_cbc()),
        kTokenCertificate);
    if (token.consumer_key.empty() || token.consumer_secret.empty() || token.access_token.empty() ||
        token.access_secret.empty())
      std::abort();  // opened without a credential
  } catch (const BadRequest&) {
  }
  return 0;
}
