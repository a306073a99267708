#include "pki/push_certificate.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <ctime>
#include <vector>

#include "common/clock.hpp"
#include "common/errors.hpp"
#include "crypto/certificate.hpp"
#include "pki/issuer.hpp"

namespace cairn::pki {
namespace {

// The checks both upload formats share: the key matches, the subject has a UID, not expired.
PushCertificate checked(X509* leaf, std::string chain_pem, crypto::PkeyPtr key) {
  PushCertificate out;
  out.certificate_pem = std::move(chain_pem);
  out.key = std::move(key);
  if (X509_check_private_key(leaf, out.key.get()) != 1) {
    crypto::drain_openssl_errors();
    throw BadRequest("the private key does not belong to the certificate");
  }
  out.topic = crypto::certificate_subject_uid(leaf);
  if (out.topic.empty())
    throw BadRequest("the certificate's subject has no UID: not an APNs push certificate");
  if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0)
    throw BadRequest("the push certificate for " + out.topic + " has expired");
  out.not_after = crypto::certificate_not_after(leaf);
  return out;
}

}  // namespace

PushCertificate parse_push_certificate(std::string_view pem_bundle) {
  auto certs = crypto::parse_certificates_pem(pem_bundle);
  if (certs.empty()) throw BadRequest("no PEM certificate in the body");
  auto key_bio = crypto::memory_bio(pem_bundle);
  crypto::PkeyPtr key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, const_cast<char*>("")));
  crypto::drain_openssl_errors();
  if (!key) throw BadRequest("no clear PEM private key in the body (PKCS#8 or traditional)");
  // The leaf is the certificate of the key, wherever it stands in the bundle; it goes first.
  auto leaf = std::find_if(certs.begin(), certs.end(), [&](const auto& c) {
    return X509_check_private_key(c.get(), key.get()) == 1;
  });
  crypto::drain_openssl_errors();
  if (leaf == certs.end()) leaf = certs.begin();  // checked() says the key does not match
  std::string chain_pem = crypto::certificate_pem(leaf->get());
  for (auto it = certs.begin(); it != certs.end(); ++it)
    if (it != leaf) chain_pem += crypto::certificate_pem(it->get());
  return checked(leaf->get(), std::move(chain_pem), std::move(key));
}

PushCertificate parse_push_certificate_pkcs12(std::string_view der, const std::string& password) {
  auto contents = read_pkcs12(der, password);
  std::string chain_pem = crypto::certificate_pem(contents.identity.cert.get());
  for (const auto& c : contents.chain) chain_pem += crypto::certificate_pem(c.get());
  return checked(contents.identity.cert.get(), std::move(chain_pem),
                 std::move(contents.identity.key));
}

int days_until_expiry(std::string_view certificate_pem) {
  auto cert = crypto::parse_certificate_pem(certificate_pem);
  int days = 0, seconds = 0;
  ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(cert.get()));
  return days;
}

}  // namespace cairn::pki
