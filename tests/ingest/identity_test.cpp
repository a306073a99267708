#include "ingest/identity.hpp"

#include <gtest/gtest.h>

#include "common/errors.hpp"
#include "pki/issuer.hpp"

namespace cairn::ingest {
namespace {

// A resumed TLS session carries the certificate of the handshake that began it, unchecked since:
// one that expired in between no longer speaks for the device.
TEST(IdentityResolver, ATlsCertificateThatExpiredSinceItsSessionBeganIsRefused) {
  const auto ca = pki::make_ca("identity test CA", 30);
  const IdentityResolver resolver(std::make_shared<const crypto::TrustStore>(
      crypto::TrustStore::from_pem(crypto::certificate_pem(ca.cert.get()))));
  const auto valid = pki::issue_certificate(ca, "device", pki::CertUsage::kClient, {}, 30);
  const auto expired = pki::issue_certificate(ca, "device", pki::CertUsage::kClient, {}, 0);
  auto from_tls = [](const pki::Identity& id) {
    IdentityEvidence evidence;
    evidence.tls_peer = id.cert.get();
    return evidence;
  };
  const auto identity = resolver.resolve(from_tls(valid), "");
  EXPECT_EQ(identity.source, "tls");
  EXPECT_EQ(identity.fingerprint, crypto::certificate_fingerprint(valid.cert.get()));
  EXPECT_THROW(resolver.resolve(from_tls(expired), ""), BadRequest);
}

}  // namespace
}  // namespace cairn::ingest
