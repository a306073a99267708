// The APNs push-certificate workflow for MDM (Apple's "vendor CSR signing"): the customer (the
// organization running Cairn) makes a key and a CSR; an MDM vendor signs the CSR with its MDM
// vendor certificate; the customer uploads the resulting Push Certificate Request to Apple's
// Push Certificates Portal, downloads the push certificate, and uploads it with the key to Cairn.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pki/issuer.hpp"

namespace cairn::enrollment {

struct PushCsr {
  crypto::PkeyPtr key;  // RSA 2048: what Apple's portal accepts
  std::string csr_der;
};
PushCsr make_push_csr(const std::string& common_name);
std::string csr_pem(std::string_view der);
// A CSR file's DER, from PEM or DER; throws BadRequest if it is neither.
std::string csr_der_from(std::string_view pem_or_der);

// The Push Certificate Request as Apple's portal takes it: a plist with PushCertRequestCSR (the
// CSR's DER, base64), PushCertCertificateChain (PEM: the vendor certificate, then `chain`, up to
// Apple's root) and PushCertSignature (the vendor key's RSA signature over the CSR's DER,
// base64), all of it base64-encoded. SHA-256 unless `digest` says otherwise; the 2011 text uses
// SHA-1. Throws BadRequest if the CSR is not one or the vendor key is not RSA.
std::string vendor_signed_request(std::string_view csr_der, const pki::Identity& vendor,
                                  const std::vector<X509*>& chain, const EVP_MD* digest);

}  // namespace cairn::enrollment
