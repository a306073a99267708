#include "pki/push_certificate.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <ctime>

#include "common/clock.hpp"
#include "common/errors.hpp"
#include "crypto/certificate.hpp"

namespace cairn::pki {
namespace {

std::string rfc3339(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) throw BadRequest("the certificate has an unreadable expiry");
  return format_rfc3339(std::chrono::system_clock::from_time_t(timegm(&tm)));
}

}  // namespace

PushCertificate parse_push_certificate(std::string_view pem_bundle) {
  PushCertificate out;
  auto bio = crypto::memory_bio(pem_bundle);
  crypto::X509Ptr leaf;
  while (crypto::X509Ptr cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    out.certificate_pem += crypto::certificate_pem(cert.get());
    if (!leaf) leaf = std::move(cert);
  }
  crypto::drain_openssl_errors();
  if (!leaf) throw BadRequest("no PEM certificate in the body");
  auto key_bio = crypto::memory_bio(pem_bundle);
  out.key.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, const_cast<char*>("")));
  crypto::drain_openssl_errors();
  if (!out.key) throw BadRequest("no clear PEM private key in the body (PKCS#8 or traditional)");
  if (X509_check_private_key(leaf.get(), out.key.get()) != 1) {
    crypto::drain_openssl_errors();
    throw BadRequest("the private key does not belong to the certificate");
  }
  out.topic = crypto::certificate_subject_uid(leaf.get());
  if (out.topic.empty())
    throw BadRequest("the certificate's subject has no UID: not an APNs push certificate");
  if (X509_cmp_current_time(X509_get0_notAfter(leaf.get())) <= 0)
    throw BadRequest("the push certificate for " + out.topic + " has expired");
  out.not_after = rfc3339(X509_get0_notAfter(leaf.get()));
  return out;
}

int days_until_expiry(std::string_view certificate_pem) {
  auto cert = crypto::parse_certificate_pem(certificate_pem);
  int days = 0, seconds = 0;
  ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(cert.get()));
  return days;
}

}  // namespace cairn::pki
