#include "pki/scep.hpp"

#include <openssl/cms.h>
#include <openssl/pkcs7.h>

#include "common/errors.hpp"
#include "crypto/cms_signature.hpp"
#include "crypto/digest.hpp"

namespace cairn::pki::scep {
namespace {

using crypto::CryptoError;

// The SCEP attributes (VeriSign's arc, as every client sends them).
constexpr const char* kMessageType = "2.16.840.1.113733.1.9.2";
constexpr const char* kPkiStatus = "2.16.840.1.113733.1.9.3";
constexpr const char* kFailInfo = "2.16.840.1.113733.1.9.4";
constexpr const char* kSenderNonce = "2.16.840.1.113733.1.9.5";
constexpr const char* kRecipientNonce = "2.16.840.1.113733.1.9.6";
constexpr const char* kTransactionId = "2.16.840.1.113733.1.9.7";

using ObjectPtr = std::unique_ptr<ASN1_OBJECT, decltype(&ASN1_OBJECT_free)>;
using Pkcs7Ptr = std::unique_ptr<PKCS7, decltype(&PKCS7_free)>;

ObjectPtr oid(const char* dotted) {
  ObjectPtr o(OBJ_txt2obj(dotted, 1), ASN1_OBJECT_free);
  if (!o) throw CryptoError(std::string("OBJ_txt2obj ") + dotted);
  return o;
}

// A signed attribute's value as bytes ("" when absent or of another type).
std::string signed_attribute(CMS_SignerInfo* si, const char* dotted, int type) {
  const int at = CMS_signed_get_attr_by_OBJ(si, oid(dotted).get(), -1);
  if (at < 0) return {};
  auto* value = static_cast<ASN1_STRING*>(
      X509_ATTRIBUTE_get0_data(CMS_signed_get_attr(si, at), 0, type, nullptr));
  if (!value) return {};
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                     static_cast<size_t>(ASN1_STRING_length(value)));
}

void add_signed_attribute(CMS_SignerInfo* si, const char* dotted, int type, std::string_view v) {
  if (v.empty()) return;
  if (!CMS_signed_add1_attr_by_OBJ(si, oid(dotted).get(), type, v.data(),
                                   static_cast<int>(v.size())))
    throw CryptoError(std::string("CMS_signed_add1_attr_by_OBJ ") + dotted);
}

crypto::CmsPtr parse_cms(std::string_view der) {
  if (!crypto::ber_within_depth(der, crypto::kMaxBerDepth)) return nullptr;
  auto bio = crypto::memory_bio(der);
  return crypto::CmsPtr(d2i_CMS_bio(bio.get(), nullptr));
}

std::string bio_bytes(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

Pkcs7Ptr parse_pkcs7(std::string_view der) {
  if (!crypto::ber_within_depth(der, crypto::kMaxBerDepth)) return {nullptr, PKCS7_free};
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  return Pkcs7Ptr(d2i_PKCS7(nullptr, &p, static_cast<long>(der.size())), PKCS7_free);
}

// The digests GetCACaps offers; anything else is badAlg.
const EVP_MD* accepted_digest(const ASN1_OBJECT* algorithm) {
  const int nid = OBJ_obj2nid(algorithm);
  return nid == NID_sha1 || nid == NID_sha256 || nid == NID_sha512 ? EVP_get_digestbynid(nid)
                                                                   : nullptr;
}

std::string reply(const Envelope& request, std::string_view status, std::string_view fail_info,
                  std::string_view content, const Identity& ra) {
  Attributes a;
  a.message_type = std::to_string(static_cast<int>(MessageType::kCertRep));
  a.transaction_id = request.transaction_id;
  a.sender_nonce = crypto::random_bytes(16);
  a.recipient_nonce = request.sender_nonce;
  a.pki_status = status;
  a.fail_info = fail_info;
  return sign_message(a, content, ra.cert.get(), ra.key.get(),
                      request.digest ? request.digest : EVP_sha256());
}

}  // namespace

std::string_view fail_info_name(FailInfo info) {
  switch (info) {
    case FailInfo::kBadAlg:
      return "badAlg";
    case FailInfo::kBadMessageCheck:
      return "badMessageCheck";
    case FailInfo::kBadRequest:
      return "badRequest";
    case FailInfo::kBadTime:
      return "badTime";
    case FailInfo::kBadCertId:
      return "badCertId";
  }
  return "badRequest";
}

std::string sign_message(const Attributes& attributes, std::string_view content, X509* cert,
                         EVP_PKEY* key, const EVP_MD* digest) {
  constexpr unsigned kFlags = CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP;
  crypto::CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, kFlags));
  CMS_SignerInfo* si = cms ? CMS_add1_signer(cms.get(), cert, key, digest, kFlags) : nullptr;
  if (!si) throw CryptoError("CMS_add1_signer");
  add_signed_attribute(si, kMessageType, V_ASN1_PRINTABLESTRING, attributes.message_type);
  add_signed_attribute(si, kPkiStatus, V_ASN1_PRINTABLESTRING, attributes.pki_status);
  add_signed_attribute(si, kFailInfo, V_ASN1_PRINTABLESTRING, attributes.fail_info);
  add_signed_attribute(si, kTransactionId, V_ASN1_PRINTABLESTRING, attributes.transaction_id);
  add_signed_attribute(si, kSenderNonce, V_ASN1_OCTET_STRING, attributes.sender_nonce);
  add_signed_attribute(si, kRecipientNonce, V_ASN1_OCTET_STRING, attributes.recipient_nonce);
  // Empty content is still attached, never absent: clients that verify with PKCS7_verify
  // (certmonger) reject a SignedData without content, as a FAILURE reply may otherwise be.
  auto bio = crypto::memory_bio(content);
  if (CMS_final(cms.get(), bio.get(), nullptr, kFlags) != 1) throw CryptoError("CMS_final");
  return crypto::cms_der(cms.get());
}

SignedMessage open_message(std::string_view der) {
  auto cms = parse_cms(der);
  if (!cms || OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) {
    crypto::drain_openssl_errors();
    throw BadRequest("SCEP message is not a CMS SignedData");
  }
  STACK_OF(CMS_SignerInfo)* signers = CMS_get0_SignerInfos(cms.get());
  if (sk_CMS_SignerInfo_num(signers) != 1)
    throw BadRequest("SCEP message must have exactly one signer");
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(signers, 0);
  SignedMessage m;
  Attributes& a = m.attributes;
  a.message_type = signed_attribute(si, kMessageType, V_ASN1_PRINTABLESTRING);
  a.transaction_id = signed_attribute(si, kTransactionId, V_ASN1_PRINTABLESTRING);
  a.sender_nonce = signed_attribute(si, kSenderNonce, V_ASN1_OCTET_STRING);
  a.recipient_nonce = signed_attribute(si, kRecipientNonce, V_ASN1_OCTET_STRING);
  a.pki_status = signed_attribute(si, kPkiStatus, V_ASN1_PRINTABLESTRING);
  a.fail_info = signed_attribute(si, kFailInfo, V_ASN1_PRINTABLESTRING);
  if (a.message_type.empty() || a.transaction_id.empty() || a.sender_nonce.empty())
    throw BadRequest("SCEP message lacks messageType, transactionID or senderNonce");

  X509_ALGOR* digest_algorithm = nullptr;
  CMS_SignerInfo_get0_algs(si, nullptr, nullptr, &digest_algorithm, nullptr);
  const ASN1_OBJECT* digest_oid = nullptr;
  if (digest_algorithm) X509_ALGOR_get0(&digest_oid, nullptr, nullptr, digest_algorithm);
  m.digest = digest_oid ? accepted_digest(digest_oid) : nullptr;

  crypto::X509StackPtr certs(CMS_get1_certs(cms.get()));
  for (int i = 0; certs && i < sk_X509_num(certs.get()) && !m.signer; ++i) {
    X509* c = sk_X509_value(certs.get(), i);
    if (CMS_SignerInfo_cert_cmp(si, c) == 0) {
      X509_up_ref(c);
      m.signer.reset(c);
    }
  }
  crypto::BioPtr content(BIO_new(BIO_s_mem()));
  m.signature_verifies = m.signer && m.digest &&
                         CMS_verify(cms.get(), nullptr, nullptr, nullptr, content.get(),
                                    CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) == 1;
  crypto::drain_openssl_errors();
  if (!m.signature_verifies) return m;
  // The signer is the certificate whose key the signature verified with. Several included
  // certificates may name the signer's issuer and serial (anyone can make one that copies a
  // device's): only that one counts.
  STACK_OF(X509)* verified_with = CMS_get0_signers(cms.get());  // borrowed certificates
  X509* signer =
      verified_with && sk_X509_num(verified_with) == 1 ? sk_X509_value(verified_with, 0) : nullptr;
  sk_X509_free(verified_with);
  if (!signer) {
    m.signature_verifies = false;
    return m;
  }
  X509_up_ref(signer);
  m.signer.reset(signer);
  m.content = bio_bytes(content.get());
  return m;
}

std::string envelope(std::string_view content, X509* recipient, const EVP_CIPHER* cipher) {
  return envelope(content, std::vector<X509*>{recipient}, cipher);
}

std::string envelope(std::string_view content, const std::vector<X509*>& recipients,
                     const EVP_CIPHER* cipher) {
  crypto::X509StackPtr stack(sk_X509_new_null());
  for (X509* recipient : recipients) {
    X509_up_ref(recipient);
    sk_X509_push(stack.get(), recipient);
  }
  auto in = crypto::memory_bio(content);
  crypto::CmsPtr cms(CMS_encrypt(stack.get(), in.get(), cipher, CMS_BINARY));
  if (!cms) throw CryptoError("CMS_encrypt");
  return crypto::cms_der(cms.get());
}

std::optional<std::string> open_envelope(std::string_view der, const Identity& recipient) {
  auto cms = parse_cms(der);
  crypto::BioPtr plain(BIO_new(BIO_s_mem()));
  const bool ok = cms && OBJ_obj2nid(CMS_get0_type(cms.get())) == NID_pkcs7_enveloped &&
                  CMS_decrypt(cms.get(), recipient.key.get(), recipient.cert.get(), nullptr,
                              plain.get(), CMS_BINARY) == 1;
  crypto::drain_openssl_errors();
  if (!ok) return std::nullopt;
  return bio_bytes(plain.get());
}

// Read through the PKCS7 structures: CMS keeps the content-encryption algorithm private.
const EVP_CIPHER* envelope_cipher(std::string_view der) {
  auto p7 = parse_pkcs7(der);
  // The content is optional in the ASN.1: an EnvelopedData OID alone parses, with nothing behind.
  if (!p7 || !PKCS7_type_is_enveloped(p7.get()) || !p7->d.enveloped || !p7->d.enveloped->enc_data ||
      !p7->d.enveloped->enc_data->algorithm)
    return nullptr;
  const int nid = OBJ_obj2nid(p7->d.enveloped->enc_data->algorithm->algorithm);
  return nid == NID_aes_128_cbc || nid == NID_aes_192_cbc || nid == NID_aes_256_cbc ||
                 nid == NID_des_ede3_cbc
             ? EVP_get_cipherbynid(nid)
             : nullptr;
}

// With the PKCS7 API: CMS has no plain way to write a SignedData without content or signers.
std::string certs_only(const std::vector<X509*>& certs) {
  Pkcs7Ptr p7(PKCS7_new(), PKCS7_free);
  if (!p7 || !PKCS7_set_type(p7.get(), NID_pkcs7_signed) ||
      !PKCS7_content_new(p7.get(), NID_pkcs7_data))
    throw CryptoError("PKCS7 certs-only");
  for (X509* c : certs)
    if (!PKCS7_add_certificate(p7.get(), c)) throw CryptoError("PKCS7_add_certificate");
  return crypto::der_of(p7.get(), i2d_PKCS7);
}

std::vector<crypto::X509Ptr> read_certs_only(std::string_view der) {
  std::vector<crypto::X509Ptr> out;
  auto p7 = parse_pkcs7(der);
  if (!p7 || !PKCS7_type_is_signed(p7.get()) || !p7->d.sign) return out;
  STACK_OF(X509)* certs = p7->d.sign->cert;
  for (int i = 0; certs && i < sk_X509_num(certs); ++i) {
    X509* c = sk_X509_value(certs, i);
    X509_up_ref(c);
    out.emplace_back(c);
  }
  return out;
}

Request decode_request(std::string_view der, const Identity& ra) {
  SignedMessage m = open_message(der);
  Request r;
  Envelope& e = r.envelope;
  e.transaction_id = m.attributes.transaction_id;
  e.sender_nonce = m.attributes.sender_nonce;
  e.signer = std::move(m.signer);
  e.digest = m.digest;
  auto refuse = [&](FailInfo info, const std::string& why) {
    return Refused(std::move(e), info, why);
  };
  if (!e.signer) throw refuse(FailInfo::kBadCertId, "the signer's certificate is not included");
  if (!e.digest) throw refuse(FailInfo::kBadAlg, "digest algorithm not supported");
  if (m.attributes.message_type == "17")
    e.type = MessageType::kRenewalReq;
  else if (m.attributes.message_type == "19")
    e.type = MessageType::kPkcsReq;
  else
    throw refuse(FailInfo::kBadRequest, "messageType " + m.attributes.message_type +
                                            " is not served (PKCSReq and RenewalReq are)");
  if (!m.signature_verifies)
    throw refuse(FailInfo::kBadMessageCheck, "the signature does not verify");
  e.cipher = envelope_cipher(m.content);
  if (!e.cipher)
    throw refuse(FailInfo::kBadAlg, "content encryption is not an EnvelopedData with AES or 3DES");
  const auto csr_der = open_envelope(m.content, ra);
  if (!csr_der)
    throw refuse(FailInfo::kBadMessageCheck,
                 "the request is not encrypted to this server's SCEP certificate");
  const auto* p = reinterpret_cast<const unsigned char*>(csr_der->data());
  r.csr.reset(d2i_X509_REQ(nullptr, &p, static_cast<long>(csr_der->size())));
  EVP_PKEY* requested_key = r.csr ? X509_REQ_get0_pubkey(r.csr.get()) : nullptr;
  const bool self_signed = requested_key && X509_REQ_verify(r.csr.get(), requested_key) == 1;
  crypto::drain_openssl_errors();
  if (!self_signed)
    throw refuse(FailInfo::kBadMessageCheck, "the content is not a correctly signed PKCS#10");
  // RFC 8894 §2.3: a first request is signed with the key it asks a certificate for.
  if (e.type == MessageType::kPkcsReq &&
      EVP_PKEY_eq(X509_get0_pubkey(e.signer.get()), requested_key) != 1)
    throw refuse(FailInfo::kBadMessageCheck,
                 "the request is not signed with the key it asks a certificate for");
  const int base = EVP_PKEY_get_base_id(requested_key);
  if (!(base == EVP_PKEY_RSA && EVP_PKEY_get_bits(requested_key) >= 2048) &&
      !(base == EVP_PKEY_EC && EVP_PKEY_get_bits(requested_key) >= 256))
    throw refuse(FailInfo::kBadAlg, "the key must be RSA of 2048 bits or more, or EC P-256 or up");
  const int at = X509_REQ_get_attr_by_NID(r.csr.get(), NID_pkcs9_challengePassword, -1);
  if (at >= 0) {
    const ASN1_TYPE* value = X509_ATTRIBUTE_get0_type(X509_REQ_get_attr(r.csr.get(), at), 0);
    if (value && (value->type == V_ASN1_PRINTABLESTRING || value->type == V_ASN1_UTF8STRING ||
                  value->type == V_ASN1_IA5STRING))
      r.challenge_password = std::string(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(value->value.asn1_string)),
          static_cast<size_t>(ASN1_STRING_length(value->value.asn1_string)));
  }
  return r;
}

std::string success_reply(const Envelope& request, X509* issued, const std::vector<X509*>& chain,
                          const Identity& ra) {
  std::vector<X509*> certs{issued};
  certs.insert(certs.end(), chain.begin(), chain.end());
  return reply(request, kSuccess, "",
               envelope(certs_only(certs), request.signer.get(),
                        request.cipher ? request.cipher : EVP_aes_128_cbc()),
               ra);
}

std::string failure_reply(const Envelope& request, FailInfo info, const Identity& ra) {
  return reply(request, kFailure, std::to_string(static_cast<int>(info)), "", ra);
}

std::string ca_certificates(const Identity& ra, X509* ca) {
  return certs_only({ra.cert.get(), ca});
}

std::string_view capabilities() {
  return "AES\nDES3\nPOSTPKIOperation\nRenewal\nSCEPStandard\nSHA-1\nSHA-256\nSHA-512\n";
}

}  // namespace cairn::pki::scep
