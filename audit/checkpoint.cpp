#include "audit/checkpoint.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/encoding.hpp"
#include "crypto/digest.hpp"
#include "crypto/openssl_handles.hpp"

namespace cairn::audit {
namespace {

constexpr std::string_view kSeedPurpose = "cairn audit checkpoint signing key v1";

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

crypto::PkeyPtr private_key(std::string_view seed) {
  crypto::PkeyPtr key(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, bytes(seed), seed.size()));
  if (!key) throw std::runtime_error("cannot make the audit signing key");
  return key;
}

std::string public_key_of(std::string_view seed) {
  const auto key = private_key(seed);
  std::string out(32, '\0');
  size_t length = out.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), reinterpret_cast<unsigned char*>(out.data()),
                                  &length) != 1 ||
      length != out.size())
    throw std::runtime_error("cannot read the audit signing key's public half");
  return out;
}

}  // namespace

std::string statement(const events::AuditCheckpointed& c) {
  return "cairn-audit-checkpoint-v1\n" + std::to_string(c.partition) + "\n" +
         std::to_string(c.first_offset) + "\n" + std::to_string(c.next_offset) + "\n" + c.chain +
         "\n" + c.merkle_root + "\n";
}

std::string key_id(std::string_view public_key) {
  return hex_encode(crypto::sha256(public_key).substr(0, 8));
}

Signer::Signer(const crypto::SecretBox& keyring) {
  auto seeds = keyring.derive_seeds(kSeedPurpose);
  for (const auto& seed : seeds) public_keys_.push_back(public_key_of(seed));
  seed_ = std::move(seeds.front());
  for (size_t i = 1; i < seeds.size(); ++i) OPENSSL_cleanse(seeds[i].data(), seeds[i].size());
}

Signer::~Signer() {
  OPENSSL_cleanse(seed_.data(), seed_.size());
}

void Signer::sign(events::AuditCheckpointed& c) const {
  const auto key = private_key(seed_);
  const auto message = statement(c);
  crypto::MdCtxPtr ctx(EVP_MD_CTX_new());
  std::string signature(64, '\0');
  size_t length = signature.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     bytes(message), message.size()) != 1)
    throw std::runtime_error("cannot sign an audit checkpoint");
  signature.resize(length);
  c.key_id = key_id(public_keys_.front());
  c.signature = base64_encode(signature);
}

bool signature_valid(const events::AuditCheckpointed& c,
                     const std::vector<std::string>& public_keys) {
  std::string signature;
  try {
    signature = base64_decode(c.signature);
  } catch (const std::exception&) {
    return false;
  }
  const auto message = statement(c);
  for (const auto& public_key : public_keys) {
    if (key_id(public_key) != c.key_id) continue;
    crypto::PkeyPtr key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes(public_key),
                                                    public_key.size()));
    crypto::MdCtxPtr ctx(EVP_MD_CTX_new());
    if (key && ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
        EVP_DigestVerify(ctx.get(), bytes(signature), signature.size(), bytes(message),
                         message.size()) == 1)
      return true;
  }
  return false;
}

}  // namespace cairn::audit
