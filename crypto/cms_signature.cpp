#include "crypto/cms_signature.hpp"

#include <openssl/err.h>

#include <vector>

#include "common/encoding.hpp"
#include "common/errors.hpp"

namespace cairn::crypto {

bool ber_within_depth(std::string_view der, int max_depth) {
  constexpr size_t kIndefinite = static_cast<size_t>(-1);
  std::vector<size_t> open_ends;  // end offset of each open constructed value, or kIndefinite
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const size_t n = der.size();
  size_t pos = 0;
  while (true) {
    while (!open_ends.empty() && open_ends.back() != kIndefinite && pos == open_ends.back())
      open_ends.pop_back();
    if (pos == n) return open_ends.empty();
    size_t limit = n;
    for (auto it = open_ends.rbegin(); it != open_ends.rend(); ++it)
      if (*it != kIndefinite) {
        limit = *it;
        break;
      }
    if (pos + 2 > limit) return false;
    if (p[pos] == 0 && p[pos + 1] == 0) {  // end-of-contents closes an indefinite value
      if (open_ends.empty() || open_ends.back() != kIndefinite) return false;
      open_ends.pop_back();
      pos += 2;
      continue;
    }
    const bool constructed = p[pos] & 0x20;
    if ((p[pos++] & 0x1f) == 0x1f) {  // high tag number form
      int bytes = 0;
      while (pos < limit && (p[pos] & 0x80)) {
        if (++bytes > 4) return false;
        ++pos;
      }
      if (++pos > limit) return false;
    }
    if (pos >= limit) return false;
    const unsigned char first = p[pos++];
    size_t length = 0;
    bool indefinite = false;
    if (first == 0x80) {
      indefinite = true;
    } else if (first & 0x80) {
      int count = first & 0x7f;
      if (count > 8 || pos + count > limit) return false;
      while (count--) length = (length << 8) | p[pos++];
    } else {
      length = first;
    }
    if (indefinite && !constructed) return false;
    if (!indefinite && length > limit - pos) return false;
    if (constructed) {
      open_ends.push_back(indefinite ? kIndefinite : pos + length);
      if (static_cast<int>(open_ends.size()) > max_depth) return false;
    } else {
      pos += length;
    }
  }
}

namespace {

CmsPtr parse_signed(std::string_view der, const std::string& what) {
  if (!ber_within_depth(der, kMaxBerDepth))
    throw BadRequest(what + " is not well-formed BER or nests deeper than 64");
  auto der_bio = memory_bio(der);
  CmsPtr cms(d2i_CMS_bio(der_bio.get(), nullptr));
  if (!cms) {
    drain_openssl_errors();
    throw BadRequest(what + " is not a CMS structure");
  }
  return cms;
}

// Checks the signature (over `detached`, or the attached content, copied to `out`) and returns
// the one signer, whose chain must lead to `trust` when given. The chain is checked with our own
// policy: CMS_verify's default S/MIME purpose would reject device identities that carry only the
// clientAuth usage, and profile signers that carry only serverAuth.
X509Ptr checked_signer(CMS_ContentInfo* cms, BIO* detached, BIO* out, const TrustStore* trust,
                       const std::string& what) {
  if (CMS_verify(cms, nullptr, nullptr, detached, out, CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) !=
      1) {
    drain_openssl_errors();
    throw BadRequest(what + " does not verify" + (detached ? " against the request body" : ""));
  }
  // CMS_get0_signers returns borrowed certificates in a new stack: free only the stack.
  STACK_OF(X509)* signers = CMS_get0_signers(cms);
  X509* signer = signers && sk_X509_num(signers) == 1 ? sk_X509_value(signers, 0) : nullptr;
  if (signer) X509_up_ref(signer);
  sk_X509_free(signers);
  if (!signer) throw BadRequest(what + " must have exactly one signer");
  X509Ptr result(signer);
  if (trust) {
    X509StackPtr embedded(CMS_get1_certs(cms));
    if (auto why = trust->verify(result.get(), embedded.get()); !why.empty())
      throw BadRequest(what + " signer is not trusted: " + why);
  }
  return result;
}

}  // namespace

X509Ptr verify_mdm_signature(std::string_view header_base64, std::string_view body,
                             const TrustStore* trust) {
  auto cms = parse_signed(base64_decode(header_base64), "Mdm-Signature");
  // OpenSSL 3.0's CMS_verify copies a memory BIO's content into a temporary BIO it leaks when
  // the signature names a digest it does not know (found by the fuzzer); behind a pass-through
  // filter the content is read where it is, and nothing is copied.
  BioPtr content(BIO_new(BIO_f_null()));
  if (!content) throw CryptoError("BIO_new");
  BIO_push(content.get(), memory_bio(body).release());
  return checked_signer(cms.get(), content.get(), nullptr, trust, "Mdm-Signature");
}

SignedContent open_attached(std::string_view der, const TrustStore* trust) {
  auto cms = parse_signed(der, "the signed data");
  BioPtr out(BIO_new(BIO_s_mem()));
  SignedContent result;
  result.signer = checked_signer(cms.get(), nullptr, out.get(), trust, "the signed data");
  char* data = nullptr;
  const long len = BIO_get_mem_data(out.get(), &data);
  result.content.assign(data, static_cast<size_t>(len));
  return result;
}

std::string verify_attached(std::string_view der, const TrustStore& trust) {
  return open_attached(der, &trust).content;
}

std::string sign_mdm_signature(std::string_view body, X509* cert, EVP_PKEY* key,
                               const EVP_MD* digest) {
  constexpr unsigned kFlags = CMS_DETACHED | CMS_BINARY | CMS_PARTIAL;
  CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, kFlags));
  if (!cms || !CMS_add1_signer(cms.get(), cert, key, digest, kFlags))
    throw CryptoError("CMS_add1_signer");
  auto content = memory_bio(body);
  if (CMS_final(cms.get(), content.get(), nullptr, kFlags) != 1) throw CryptoError("CMS_final");
  return base64_encode(cms_der(cms.get()));
}

std::string sign_attached(std::string_view content, X509* cert, EVP_PKEY* key,
                          const std::vector<X509*>& chain) {
  constexpr unsigned kFlags = CMS_BINARY | CMS_PARTIAL;
  CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, kFlags));
  if (!cms || !CMS_add1_signer(cms.get(), cert, key, EVP_sha256(), kFlags))
    throw CryptoError("CMS_add1_signer");
  for (X509* c : chain)  // the signer's own certificate is in already (adding it again fails)
    if (X509_cmp(c, cert) != 0 && !CMS_add1_cert(cms.get(), c)) throw CryptoError("CMS_add1_cert");
  auto bio = memory_bio(content);
  if (CMS_final(cms.get(), bio.get(), nullptr, kFlags) != 1) throw CryptoError("CMS_final");
  return cms_der(cms.get());
}

std::string cms_der(CMS_ContentInfo* cms) {
  BioPtr out(BIO_new(BIO_s_mem()));
  if (i2d_CMS_bio(out.get(), cms) != 1) throw CryptoError("i2d_CMS_bio");
  char* data = nullptr;
  const long len = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace cairn::crypto
