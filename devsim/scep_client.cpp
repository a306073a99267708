#include "devsim/scep_client.hpp"

#include "common/encoding.hpp"
#include "crypto/digest.hpp"

namespace cairn::devsim {
namespace {

using crypto::CryptoError;

void set_common_name(X509_NAME* name, const std::string& cn) {
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
}

// The self-signed certificate SCEP clients make for their new key (RFC 8894 §2.3).
crypto::X509Ptr self_signed(EVP_PKEY* key, const std::string& cn) {
  crypto::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  set_common_name(X509_get_subject_name(cert.get()), cn);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  X509_set_pubkey(cert.get(), key);
  if (!X509_sign(cert.get(), key, EVP_sha256())) throw CryptoError("X509_sign");
  return cert;
}

std::string csr_der(EVP_PKEY* key, const ScepRequestOptions& o) {
  pki::scep::X509ReqPtr req(X509_REQ_new(), X509_REQ_free);
  set_common_name(X509_REQ_get_subject_name(req.get()), o.common_name);
  X509_REQ_set_pubkey(req.get(), key);
  if (!o.challenge.empty() &&
      !X509_REQ_add1_attr_by_NID(req.get(), NID_pkcs9_challengePassword, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(o.challenge.data()),
                                 static_cast<int>(o.challenge.size())))
    throw CryptoError("challengePassword");
  if (!X509_REQ_sign(req.get(), key, EVP_sha256())) throw CryptoError("X509_REQ_sign");
  return crypto::der_of(req.get(), i2d_X509_REQ);
}

}  // namespace

ScepClient::ScepClient(X509* ra, ScepRequestOptions options) {
  X509_up_ref(ra);
  ra_.reset(ra);
  self_.key = pki::generate_rsa_key(options.key_bits);
  self_.cert = self_signed(self_.key.get(), options.common_name);
  signer_ = pki::share(options.renew ? *options.renew : self_);
  transaction_id_ = hex_encode(crypto::random_bytes(16));
  nonce_ = crypto::random_bytes(16);
  pki::scep::Attributes a;
  a.message_type = std::to_string(static_cast<int>(
      options.renew ? pki::scep::MessageType::kRenewalReq : pki::scep::MessageType::kPkcsReq));
  a.transaction_id = transaction_id_;
  a.sender_nonce = nonce_;
  // A corrupt signature: a byte of a good one's signature value flipped (the SignerInfo ends
  // the DER, its signature last).
  request_der_ = pki::scep::sign_message(
      a, pki::scep::envelope(csr_der(self_.key.get(), options), ra_.get(), options.cipher),
      signer_.cert.get(), signer_.key.get(), options.digest);
  if (options.corrupt_signature) request_der_[request_der_.size() - 8] ^= 0x5a;
}

ScepClient::Outcome ScepClient::read_reply(std::string_view der) const {
  Outcome out;
  pki::scep::SignedMessage m;
  try {
    m = pki::scep::open_message(der);
  } catch (const std::exception& e) {
    out.problem = e.what();
    return out;
  }
  out.pki_status = m.attributes.pki_status;
  out.fail_info = m.attributes.fail_info;
  if (!m.signature_verifies || !m.signer || X509_cmp(m.signer.get(), ra_.get()) != 0)
    out.problem = "the reply is not signed by the RA";
  else if (m.attributes.message_type != "3")
    out.problem = "the reply is not a CertRep";
  else if (m.attributes.transaction_id != transaction_id_)
    out.problem = "the reply is for another transaction";
  else if (m.attributes.recipient_nonce != nonce_)
    out.problem = "the reply's recipientNonce is not our senderNonce";
  if (!out.problem.empty() || out.pki_status != pki::scep::kSuccess) return out;
  out.certificate = certificate_from(m.content);
  if (!out.certificate) out.problem = "no certificate for our key in the reply";
  return out;
}

crypto::X509Ptr ScepClient::certificate_from(std::string_view enveloped_der) const {
  const auto certs_der = pki::scep::open_envelope(enveloped_der, signer_);
  if (!certs_der) return nullptr;
  for (auto& c : pki::scep::read_certs_only(*certs_der))
    if (X509_check_private_key(c.get(), self_.key.get()) == 1) return std::move(c);
  crypto::drain_openssl_errors();
  return nullptr;
}

pki::Identity ScepClient::identity(crypto::X509Ptr issued) const {
  return {pki::share(self_).key, std::move(issued)};
}

}  // namespace cairn::devsim
