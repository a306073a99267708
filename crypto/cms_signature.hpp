// CMS signatures: the Mdm-Signature header (a base64 CMS SignedData with a detached signature of
// the request body, sent by devices whose profile sets SignMessage, so identity survives
// TLS-terminating proxies), and signed configuration profiles.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crypto/certificate.hpp"

namespace cairn::crypto {

// Deeper BER than this is refused before OpenSSL parses it (crafted nesting is a DoS vector).
inline constexpr int kMaxBerDepth = 64;

// True if `der` is a well-formed run of BER TLVs nested at most `max_depth` deep. Iterative, so a
// hostile input cannot exhaust the stack; it checks structure only, not ASN.1 semantics.
bool ber_within_depth(std::string_view der, int max_depth);

// Verifies the detached signature over `body` (SHA-1 and SHA-256 digests both occur in the field)
// and returns the signer's certificate. When `trust` is given, the signer must also chain to it.
// Throws BadRequest with the reason when the signature is malformed or does not verify.
X509Ptr verify_mdm_signature(std::string_view header_base64, std::string_view body,
                             const TrustStore* trust);

// verify_mdm_signature for a server: the same checks and answers, with what depends only on the
// certificates a signature carries remembered by their bytes. A device sends the same
// certificate with every request; parsing it (OpenSSL 3.0 decodes its key through the provider
// machinery, ~100 µs) and checking its chain (~100 µs) once per certificate instead of once per
// request is most of the cost (BM_MdmSignatureIdentity). The signature over each body is always
// checked. Thread-safe.
class MdmSignatureVerifier {
 public:
  // At most `capacity` certificate sets are remembered, each of a trusted signer and at most
  // 16 KiB (all are forgotten when the capacity is reached); a
  // chain check is redone after `recheck` and whenever the signer has expired. A null `trust`
  // takes any signer (as verify_mdm_signature without one).
  explicit MdmSignatureVerifier(std::shared_ptr<const TrustStore> trust, size_t capacity = 8192,
                                std::chrono::seconds recheck = std::chrono::minutes(10));
  X509Ptr verify(std::string_view header_base64, std::string_view body) const;
  size_t remembered() const;

 private:
  struct Certificates {
    std::vector<X509Ptr> certs;  // parsed once from the bytes the key names
    // The chain check's answer per certificate as signer ("" trusted), once asked.
    std::vector<std::optional<std::string>> trust;
    std::chrono::steady_clock::time_point recheck_at;
    std::string key;  // SHA-256 of the certificates field as sent
  };
  std::shared_ptr<Certificates> certificates(std::string_view carried,
                                             const std::vector<std::string_view>& ders) const;
  std::string trust_of(Certificates& c, size_t signer) const;
  void remember(const std::shared_ptr<Certificates>& c) const;

  std::shared_ptr<const TrustStore> trust_;
  size_t capacity_;
  std::chrono::seconds recheck_;
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, std::shared_ptr<Certificates>> cache_;
};

// Base64 DER of a detached CMS signature over `body`: what a device sends as Mdm-Signature
// (used by the device simulator and tests; digest is EVP_sha1() or EVP_sha256()).
std::string sign_mdm_signature(std::string_view body, X509* cert, EVP_PKEY* key,
                               const EVP_MD* digest);

// DER CMS SignedData with `content` attached (a signed configuration profile), SHA-256, signed by
// `cert` and `key`, carrying `chain` (intermediates) so the verifier can build the path.
std::string sign_attached(std::string_view content, X509* cert, EVP_PKEY* key,
                          const std::vector<X509*>& chain);

// The content of DER CMS SignedData (a signed profile, a device's signed attributes) and its one
// signer, whose signature must verify and, when `trust` is given, chain to it (any key usage).
// Throws BadRequest with the reason otherwise.
struct SignedContent {
  std::string content;
  X509Ptr signer;
};
SignedContent open_attached(std::string_view der, const TrustStore* trust);
// The same where only the content matters and a signer must chain to `trust`.
std::string verify_attached(std::string_view der, const TrustStore& trust);

// The DER encoding of a CMS structure.
std::string cms_der(CMS_ContentInfo* cms);

}  // namespace cairn::crypto
