#include "tests/support/messages.hpp"

#include <openssl/cms.h>

#include "common/encoding.hpp"

namespace cairn::testing {

std::string mdm_signature(std::string_view body, X509* cert, EVP_PKEY* key, const EVP_MD* digest) {
  constexpr unsigned kFlags = CMS_DETACHED | CMS_BINARY | CMS_PARTIAL;
  crypto::CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, kFlags));
  if (!cms || !CMS_add1_signer(cms.get(), cert, key, digest, kFlags))
    throw crypto::CryptoError("CMS_add1_signer");
  auto content = crypto::memory_bio(body);
  if (CMS_final(cms.get(), content.get(), nullptr, kFlags) != 1)
    throw crypto::CryptoError("CMS_final");
  crypto::BioPtr out(BIO_new(BIO_s_mem()));
  i2d_CMS_bio(out.get(), cms.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(out.get(), &data);
  return base64_encode(std::string_view(data, static_cast<size_t>(len)));
}

}  // namespace cairn::testing
