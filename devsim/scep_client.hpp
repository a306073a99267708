// The device side of SCEP, as an Apple device's SCEP payload does it: a fresh RSA key, a
// self-signed certificate to sign the request with (and to receive the reply on), a PKCS#10
// with the challenge enveloped to the server's RA, then the CertRep checked and opened. For the
// device simulator, tests and benchmarks; it can also misbehave the ways tests need.
#pragma once

#include <string>
#include <string_view>

#include "pki/issuer.hpp"
#include "pki/scep.hpp"

namespace cairn::devsim {

struct ScepRequestOptions {
  std::string common_name = "Cairn simulated device";
  std::string challenge;  // empty: no challengePassword attribute
  const EVP_MD* digest = EVP_sha256();
  const EVP_CIPHER* cipher = EVP_aes_128_cbc();
  int key_bits = 2048;
  bool corrupt_signature = false;  // a signature that does not verify
  // A RenewalReq signed with this current identity (its key also opens the reply) instead of a
  // PKCSReq signed with the new key's self-signed certificate.
  const pki::Identity* renew = nullptr;
};

class ScepClient {
 public:
  // `ra`: the RA certificate from GetCACert (the first of pki::scep::read_certs_only).
  ScepClient(X509* ra, ScepRequestOptions options);

  const std::string& pkcs_req() const { return request_der_; }  // the PKIOperation message, DER
  const std::string& transaction_id() const { return transaction_id_; }

  struct Outcome {
    std::string pki_status;  // pki::scep::kSuccess, kFailure...
    std::string fail_info;
    std::string problem;  // why the reply itself is not acceptable (signature, nonce...)
    crypto::X509Ptr certificate;
  };
  // Checks a CertRep: signed by the RA, same transaction, recipientNonce = our senderNonce;
  // on success decrypts it and takes the certificate issued for our key.
  Outcome read_reply(std::string_view der) const;
  // The certificate issued for our key from a reply's envelope (what clients that check the
  // CertRep themselves, like certmonger's scep-submit, hand on); null if there is none.
  crypto::X509Ptr certificate_from(std::string_view enveloped_der) const;

  // The device's identity: its key and the certificate from a successful reply.
  pki::Identity identity(crypto::X509Ptr issued) const;

 private:
  crypto::X509Ptr ra_;
  pki::Identity self_;    // the new key and its self-signed certificate
  pki::Identity signer_;  // who signs the request and receives the reply: self_ or the renewed
  std::string transaction_id_;
  std::string nonce_;
  std::string request_der_;
};

}  // namespace cairn::devsim
