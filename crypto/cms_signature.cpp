#include "crypto/cms_signature.hpp"

#include <openssl/err.h>

#include <vector>

#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "crypto/digest.hpp"

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

// One BER header: where its content starts and how long it is (definite only).
struct Header {
  unsigned char tag = 0;
  size_t content = 0;
  size_t length = 0;
  bool indefinite = false;
  size_t size(size_t start) const { return content - start; }
};

// The header at `pos`, within `limit`; nullopt for what the fast path does not handle (high tag
// numbers, lengths past the limit). The structure was checked by ber_within_depth already.
std::optional<Header> header_at(std::string_view der, size_t pos, size_t limit) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  if (pos + 2 > limit || (p[pos] & 0x1f) == 0x1f) return std::nullopt;
  Header h{p[pos], pos + 2, 0, false};
  const unsigned char first = p[pos + 1];
  if (first == 0x80) {
    h.indefinite = true;
    return (h.tag & 0x20) ? std::optional(h) : std::nullopt;
  }
  if (first & 0x80) {
    const int count = first & 0x7f;
    if (count > 4 || pos + 2 + count > limit) return std::nullopt;
    for (int i = 0; i < count; ++i) h.length = (h.length << 8) | p[pos + 2 + i];
    h.content += count;
  } else {
    h.length = first;
  }
  if (h.length > limit - h.content) return std::nullopt;
  return h;
}

// The position after the element at `pos` (after its end-of-contents when indefinite).
std::optional<size_t> skip(std::string_view der, size_t pos, size_t limit, int depth = 0) {
  const auto h = header_at(der, pos, limit);
  if (!h || depth > kMaxBerDepth) return std::nullopt;
  if (!h->indefinite) return h->content + h->length;
  size_t at = h->content;
  while (at + 2 <= limit && !(der[at] == 0 && der[at + 1] == 0)) {
    const auto next = skip(der, at, limit, depth + 1);
    if (!next) return std::nullopt;
    at = *next;
  }
  return at + 2 <= limit ? std::optional(at + 2) : std::nullopt;
}

std::string encode_header(const Header& h, size_t length) {
  std::string out(1, static_cast<char>(h.tag));
  if (h.indefinite) return out + '\x80';
  if (length < 0x80) return out + static_cast<char>(length);
  std::string bytes;
  for (; length > 0; length >>= 8) bytes.insert(bytes.begin(), static_cast<char>(length & 0xff));
  return out + static_cast<char>(0x80 | bytes.size()) + bytes;
}

// A SignedData's certificates taken out: the CMS without them (parsed in microseconds), and each
// certificate's DER. nullopt when the shape is not the usual one (the slow path then decides).
struct SplitSignature {
  std::string without_certificates;
  std::string_view carried;  // the certificates field, as sent (the cache's key)
  std::vector<std::string_view> certificates;
};

std::optional<SplitSignature> split_certificates(std::string_view der) {
  static constexpr std::string_view kSignedData = "\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02";
  const size_t end = der.size();
  const auto info = header_at(der, 0, end);  // ContentInfo
  if (!info || info->tag != 0x30) return std::nullopt;
  const size_t info_end = info->indefinite ? end : info->content + info->length;
  const auto type = header_at(der, info->content, info_end);
  if (!type || type->tag != 0x06 || type->indefinite ||
      der.substr(type->content, type->length) != kSignedData)
    return std::nullopt;
  const size_t explicit_at = type->content + type->length;
  const auto wrapper = header_at(der, explicit_at, info_end);  // [0] EXPLICIT
  if (!wrapper || wrapper->tag != 0xA0) return std::nullopt;
  const size_t wrapper_end = wrapper->indefinite ? info_end : wrapper->content + wrapper->length;
  const auto signed_data = header_at(der, wrapper->content, wrapper_end);
  if (!signed_data || signed_data->tag != 0x30) return std::nullopt;
  const size_t sd_end =
      signed_data->indefinite ? wrapper_end : signed_data->content + signed_data->length;
  size_t at = signed_data->content;
  for (int field = 0; field < 3; ++field) {  // version, digestAlgorithms, encapContentInfo
    const auto next = skip(der, at, sd_end);
    if (!next) return std::nullopt;
    at = *next;
  }
  const auto certs = header_at(der, at, sd_end);  // [0] IMPLICIT certificates
  if (!certs || certs->tag != 0xA0 || certs->indefinite) return std::nullopt;
  const size_t certs_end = certs->content + certs->length;
  SplitSignature split;
  split.carried = der.substr(at, certs_end - at);
  for (size_t c = certs->content; c < certs_end;) {
    const auto cert = header_at(der, c, certs_end);
    if (!cert || cert->tag != 0x30 || cert->indefinite) return std::nullopt;
    split.certificates.push_back(der.substr(c, cert->content + cert->length - c));
    c = cert->content + cert->length;
  }
  if (split.certificates.empty()) return std::nullopt;
  // New lengths, innermost first: each definite one loses the field and what its inner headers
  // shrank by.
  const size_t removed = certs_end - at;
  const auto sd_header = encode_header(*signed_data, signed_data->length - removed);
  const size_t sd_shrink = removed + signed_data->size(wrapper->content) - sd_header.size();
  const auto wrapper_header = encode_header(*wrapper, wrapper->length - sd_shrink);
  const size_t wrapper_shrink = sd_shrink + wrapper->size(explicit_at) - wrapper_header.size();
  split.without_certificates = encode_header(*info, info->length - wrapper_shrink);
  split.without_certificates.append(der.substr(info->content, explicit_at - info->content));
  split.without_certificates += wrapper_header + sd_header;
  split.without_certificates.append(der.substr(signed_data->content, at - signed_data->content));
  split.without_certificates.append(der.substr(certs_end, info_end - certs_end));
  return split;
}

// A stack of certificates it does not own (they stay the cache's).
struct FreeStackOnly {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
};
using BorrowedCertificates = std::unique_ptr<STACK_OF(X509), FreeStackOnly>;

BioPtr body_bio(std::string_view body) {
  // OpenSSL 3.0's CMS_verify copies a memory BIO's content into a temporary BIO it leaks when
  // the signature names a digest it does not know (found by the fuzzer); behind a pass-through
  // filter the content is read where it is, and nothing is copied.
  BioPtr content(BIO_new(BIO_f_null()));
  if (!content) throw CryptoError("BIO_new");
  BIO_push(content.get(), memory_bio(body).release());
  return content;
}

}  // namespace

X509Ptr verify_mdm_signature(std::string_view header_base64, std::string_view body,
                             const TrustStore* trust) {
  auto cms = parse_signed(base64_decode(header_base64), "Mdm-Signature");
  return checked_signer(cms.get(), body_bio(body).get(), nullptr, trust, "Mdm-Signature");
}

MdmSignatureVerifier::MdmSignatureVerifier(std::shared_ptr<const TrustStore> trust, size_t capacity,
                                           std::chrono::seconds recheck)
    : trust_(std::move(trust)), capacity_(capacity), recheck_(recheck) {}

size_t MdmSignatureVerifier::remembered() const {
  const std::lock_guard lock(mu_);
  return cache_.size();
}

std::shared_ptr<MdmSignatureVerifier::Certificates> MdmSignatureVerifier::certificates(
    std::string_view carried, const std::vector<std::string_view>& ders) const {
  const std::string key = sha256(carried);
  const auto now = std::chrono::steady_clock::now();
  {
    const std::lock_guard lock(mu_);
    if (auto it = cache_.find(key); it != cache_.end() && now < it->second->recheck_at)
      return it->second;
  }
  auto parsed = std::make_shared<Certificates>();
  for (const auto der : ders) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!cert || p != reinterpret_cast<const unsigned char*>(der.data() + der.size())) {
      drain_openssl_errors();
      return nullptr;  // the slow path names what is wrong
    }
    parsed->certs.push_back(std::move(cert));
  }
  parsed->trust.resize(parsed->certs.size());
  parsed->recheck_at = now + recheck_;
  parsed->key = key;
  return parsed;
}

void MdmSignatureVerifier::remember(const std::shared_ptr<Certificates>& c) const {
  const std::lock_guard lock(mu_);
  if (cache_.contains(c->key) && cache_[c->key] == c) return;
  if (cache_.size() >= capacity_) cache_.clear();
  cache_[c->key] = c;
}

std::string MdmSignatureVerifier::trust_of(Certificates& c, size_t signer) const {
  if (!trust_) return "";  // any signer, as verify_mdm_signature without a trust store
  {
    const std::lock_guard lock(mu_);
    if (c.trust[signer] && X509_cmp_current_time(X509_get0_notAfter(c.certs[signer].get())) > 0)
      return *c.trust[signer];
  }
  BorrowedCertificates others(sk_X509_new_null());
  for (size_t i = 0; i < c.certs.size(); ++i)
    if (i != signer) sk_X509_push(others.get(), c.certs[i].get());
  auto why = trust_->verify(c.certs[signer].get(), others.get());
  const std::lock_guard lock(mu_);
  c.trust[signer] = why;
  return why;
}

X509Ptr MdmSignatureVerifier::verify(std::string_view header_base64, std::string_view body) const {
  const std::string der = base64_decode(header_base64);
  if (!ber_within_depth(der, kMaxBerDepth))
    throw BadRequest("Mdm-Signature is not well-formed BER or nests deeper than 64");
  // Only certificate sets of a size a device sends are remembered (a bound on the cache's memory).
  constexpr size_t kMaxRemembered = 16 * 1024;
  const auto split = split_certificates(der);
  const auto known = split && split->carried.size() <= kMaxRemembered
                         ? certificates(split->carried, split->certificates)
                         : nullptr;
  if (!known) {
    auto cms = parse_signed(der, "Mdm-Signature");
    return checked_signer(cms.get(), body_bio(body).get(), nullptr, trust_.get(), "Mdm-Signature");
  }
  auto cms = parse_signed(split->without_certificates, "Mdm-Signature");
  BorrowedCertificates carried(sk_X509_new_null());
  for (const auto& cert : known->certs) sk_X509_push(carried.get(), cert.get());
  const int verified = CMS_verify(cms.get(), carried.get(), nullptr, body_bio(body).get(), nullptr,
                                  CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY);
  if (verified != 1) {
    drain_openssl_errors();
    throw BadRequest("Mdm-Signature does not verify against the request body");
  }
  STACK_OF(X509)* signers = CMS_get0_signers(cms.get());
  X509* signer = signers && sk_X509_num(signers) == 1 ? sk_X509_value(signers, 0) : nullptr;
  sk_X509_free(signers);
  size_t index = known->certs.size();
  for (size_t i = 0; i < known->certs.size(); ++i)
    if (known->certs[i].get() == signer) index = i;
  if (index == known->certs.size()) throw BadRequest("Mdm-Signature must have exactly one signer");
  if (auto why = trust_of(*known, index); !why.empty())
    throw BadRequest("Mdm-Signature signer is not trusted: " + why);
  remember(known);  // only what a trusted signer sent: strangers cannot fill the cache
  X509_up_ref(signer);
  return X509Ptr(signer);
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
