#include "enrollment/push_certificate_request.hpp"

#include <openssl/pem.h>

#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "crypto/certificate.hpp"
#include "plist/plist.hpp"

namespace cairn::enrollment {
namespace {

using crypto::CryptoError;
using X509ReqPtr = std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)>;

std::string rsa_signature(std::string_view data, EVP_PKEY* key, const EVP_MD* digest) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t length = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, digest, nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    throw CryptoError("EVP_DigestSign");
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    throw CryptoError("EVP_DigestSign");
  signature.resize(length);
  return signature;
}

}  // namespace

PushCsr make_push_csr(const std::string& common_name) {
  PushCsr out;
  out.key = pki::generate_rsa_key(2048);
  X509ReqPtr req(X509_REQ_new(), X509_REQ_free);
  X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req.get()), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  if (!X509_REQ_set_pubkey(req.get(), out.key.get()) ||
      !X509_REQ_sign(req.get(), out.key.get(), EVP_sha256()))
    throw CryptoError("X509_REQ_sign");
  out.csr_der = crypto::der_of(req.get(), i2d_X509_REQ);
  return out;
}

std::string csr_pem(std::string_view der) {
  std::string out = "-----BEGIN CERTIFICATE REQUEST-----\n";
  const std::string b64 = base64_encode(der);
  for (size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  return out + "-----END CERTIFICATE REQUEST-----\n";
}

std::string csr_der_from(std::string_view pem_or_der) {
  auto bio = crypto::memory_bio(pem_or_der);
  X509ReqPtr csr(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr), X509_REQ_free);
  crypto::drain_openssl_errors();
  if (csr) return crypto::der_of(csr.get(), i2d_X509_REQ);
  const auto* p = reinterpret_cast<const unsigned char*>(pem_or_der.data());
  csr.reset(d2i_X509_REQ(nullptr, &p, static_cast<long>(pem_or_der.size())));
  crypto::drain_openssl_errors();
  if (!csr) throw BadRequest("not a certificate signing request (PEM or DER)");
  return std::string(pem_or_der);
}

std::string vendor_signed_request(std::string_view csr_der, const pki::Identity& vendor,
                                  const std::vector<X509*>& chain, const EVP_MD* digest) {
  const auto* p = reinterpret_cast<const unsigned char*>(csr_der.data());
  X509ReqPtr csr(d2i_X509_REQ(nullptr, &p, static_cast<long>(csr_der.size())), X509_REQ_free);
  crypto::drain_openssl_errors();
  if (!csr) throw BadRequest("the customer's CSR is not a DER PKCS#10 request");
  if (EVP_PKEY_get_base_id(vendor.key.get()) != EVP_PKEY_RSA)
    throw BadRequest("the MDM vendor key must be RSA (Apple signs nothing else here)");
  std::string chain_pem = crypto::certificate_pem(vendor.cert.get());
  for (X509* c : chain) chain_pem += crypto::certificate_pem(c);
  Plist request = Plist::new_dict();
  request.set_string("PushCertRequestCSR", base64_encode(csr_der));
  request.set_string("PushCertCertificateChain", chain_pem);
  request.set_string("PushCertSignature",
                     base64_encode(rsa_signature(csr_der, vendor.key.get(), digest)));
  return base64_encode(request.to_xml());
}

}  // namespace cairn::enrollment
