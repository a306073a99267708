#include "crypto/cms_signature.hpp"
#include "tests/support/fixtures.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "crypto/certificate.hpp"
#include "pki/issuer.hpp"
#include "tests/support/messages.hpp"

namespace cairn::crypto {
namespace {

// A real device's header: BER with indefinite lengths, SHA-1, signer certificate embedded.
TEST(MdmSignature, VerifiesRealDeviceSignature) {
  const auto header = testing::fixture("mdm-signature/idle-request.mdm-signature");
  const auto body = testing::fixture("mdm-signature/idle-request.body");
  auto signer = verify_mdm_signature(header, body, nullptr);
  ASSERT_TRUE(signer);
  EXPECT_EQ(certificate_fingerprint(signer.get()).size(), 64u);
}

TEST(MdmSignature, RejectsTamperedBody) {
  const auto header = testing::fixture("mdm-signature/idle-request.mdm-signature");
  auto body = testing::fixture("mdm-signature/idle-request.body");
  body.replace(body.find("Idle"), 4, "Iddl");
  EXPECT_THROW(verify_mdm_signature(header, body, nullptr), BadRequest);
}

TEST(MdmSignature, RealSignerIsNotTrustedByAnotherCa) {
  const auto ca = pki::make_ca("Other CA", 1);
  const auto trust = TrustStore::from_pem(certificate_pem(ca.cert.get()));
  EXPECT_THROW(verify_mdm_signature(testing::fixture("mdm-signature/idle-request.mdm-signature"),
                                    testing::fixture("mdm-signature/idle-request.body"), &trust),
               BadRequest);
}

TEST(MdmSignature, AcceptsSha1AndSha256FromTrustedDevice) {
  const auto ca = pki::make_ca("Test CA", 1);
  const auto device = pki::issue_certificate(ca, "device", pki::CertUsage::kClient, {}, 1);
  const auto trust = TrustStore::from_pem(certificate_pem(ca.cert.get()));
  const std::string body = testing::report_body("UDID-1", "Idle");
  for (const EVP_MD* md : {EVP_sha1(), EVP_sha256()}) {
    const auto header = testing::mdm_signature(body, device.cert.get(), device.key.get(), md);
    auto signer = verify_mdm_signature(header, body, &trust);
    EXPECT_EQ(certificate_fingerprint(signer.get()), certificate_fingerprint(device.cert.get()));
  }
}

TEST(MdmSignature, RejectsGarbage) {
  EXPECT_THROW(verify_mdm_signature("not base64!", "body", nullptr), BadRequest);
  EXPECT_THROW(verify_mdm_signature("AAAA", "body", nullptr), BadRequest);
}

// Found by the fuzzer: OpenSSL leaked the body's copy when the digest was unknown. Under ASan
// (ops/test.sh runs the suite so) the leak fails this test.
TEST(MdmSignature, AnUnknownDigestAlgorithmIsRefusedAndLeaksNothing) {
  auto der = base64_decode(testing::fixture("mdm-signature/idle-request.mdm-signature"));
  const std::string sha1_oid("\x06\x05\x2b\x0e\x03\x02\x1a", 7);
  const auto at = der.find(sha1_oid);
  ASSERT_NE(at, std::string::npos);
  der[at + sha1_oid.size() - 1] = '\x7f';  // 1.3.14.3.2.127: no such digest
  EXPECT_THROW(verify_mdm_signature(base64_encode(der),
                                    testing::fixture("mdm-signature/idle-request.body"), nullptr),
               BadRequest);
}

// The server's verifier remembers certificates, not answers: every outcome is the plain
// function's, for a real device's BER and for devsim's DER, first time and after.
TEST(MdmSignatureVerifier, AnswersAsTheFunctionDoesAndParsesEachCertificateOnce) {
  const auto ca = pki::make_ca("Device CA", 1);
  const auto trust =
      std::make_shared<const TrustStore>(TrustStore::from_pem(certificate_pem(ca.cert.get())));
  const MdmSignatureVerifier verifier(trust);
  const auto a = pki::issue_certificate(ca, "DEVICE-A", pki::CertUsage::kClient, {}, 1);
  const auto b = pki::issue_certificate(ca, "DEVICE-B", pki::CertUsage::kClient, {}, 1);
  for (int round = 0; round < 2; ++round) {
    for (const auto* device : {&a, &b}) {
      const auto body = testing::report_body("DEVICE", "Idle", std::to_string(round));
      const auto header =
          sign_mdm_signature(body, device->cert.get(), device->key.get(), EVP_sha256());
      const auto signer = verifier.verify(header, body);
      EXPECT_EQ(certificate_fingerprint(signer.get()), certificate_fingerprint(device->cert.get()));
      EXPECT_THROW(verifier.verify(header, body + " "), BadRequest) << "the body is checked";
    }
  }
  EXPECT_EQ(verifier.remembered(), 2u);

  // A stranger's certificate is refused every time, remembered or not.
  const auto other_ca = pki::make_ca("Other CA", 1);
  const auto stranger = pki::issue_certificate(other_ca, "X", pki::CertUsage::kClient, {}, 1);
  const std::string body = "body";
  const auto header = sign_mdm_signature(body, stranger.cert.get(), stranger.key.get(), EVP_sha1());
  for (int i = 0; i < 2; ++i) {
    try {
      verifier.verify(header, body);
      ADD_FAILURE() << "a stranger was accepted";
    } catch (const BadRequest& e) {
      EXPECT_NE(std::string(e.what()).find("not trusted"), std::string::npos) << e.what();
    }
  }

  // A real device's header (indefinite lengths, SHA-1): the same signer as the function finds.
  const MdmSignatureVerifier any_signer(nullptr);
  const auto real = testing::fixture("mdm-signature/idle-request.mdm-signature");
  const auto real_body = testing::fixture("mdm-signature/idle-request.body");
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(certificate_fingerprint(any_signer.verify(real, real_body).get()),
              certificate_fingerprint(verify_mdm_signature(real, real_body, nullptr).get()));
  EXPECT_EQ(any_signer.remembered(), 1u);
  EXPECT_THROW(any_signer.verify(real, real_body + "x"), BadRequest);
  EXPECT_THROW(any_signer.verify("bm90IGEgc2lnbmF0dXJl", real_body), BadRequest);
}

TEST(MdmSignatureVerifier, ForgetsEverythingAtCapacity) {
  const auto ca = pki::make_ca("Device CA", 1);
  const MdmSignatureVerifier verifier(nullptr, 2);
  for (int i = 0; i < 5; ++i) {
    const auto d =
        pki::issue_certificate(ca, "D" + std::to_string(i), pki::CertUsage::kClient, {}, 1);
    verifier.verify(sign_mdm_signature("x", d.cert.get(), d.key.get(), EVP_sha256()), "x");
    EXPECT_LE(verifier.remembered(), 2u);
  }
}

TEST(AttachedSignature, VerifiesAgainstTheSignersCaAndNothingElse) {
  const auto ca = pki::make_ca("Profile CA", 30);
  const auto intermediate_ca = pki::make_ca("Other CA", 30);
  const auto signer = pki::issue_certificate(ca, "mdm.example.com", pki::CertUsage::kServer,
                                             {"mdm.example.com"}, 30);
  const std::string signed_der = sign_attached("<plist/>", signer.cert.get(), signer.key.get(), {});
  const auto trust = TrustStore::from_pem(certificate_pem(ca.cert.get()));
  EXPECT_EQ(verify_attached(signed_der, trust), "<plist/>");  // a serverAuth signer is fine
  EXPECT_THROW(verify_attached(signed_der,
                               TrustStore::from_pem(certificate_pem(intermediate_ca.cert.get()))),
               BadRequest);
  std::string tampered = signed_der;
  tampered[tampered.find("<plist/>")] = '[';
  EXPECT_THROW(verify_attached(tampered, trust), BadRequest);
  EXPECT_THROW(verify_attached("not DER", trust), BadRequest);
}

TEST(BerDepth, RefusesDeepNestingBeforeParsing) {
  // 100,000 nested indefinite-length SEQUENCEs, closed properly.
  std::string der;
  for (int i = 0; i < 100000; ++i) der += "\x30\x80";
  for (int i = 0; i < 100000; ++i) der += std::string("\0\0", 2);
  EXPECT_FALSE(ber_within_depth(der, kMaxBerDepth));
  try {
    verify_mdm_signature(base64_encode(der), "x", nullptr);
    FAIL() << "accepted";
  } catch (const BadRequest& e) {
    EXPECT_NE(std::string(e.what()).find("deeper than 64"), std::string::npos) << e.what();
  }
}

TEST(BerDepth, AcceptsRealSignatureAndRejectsTruncation) {
  std::string der;
  {
    const auto header = testing::fixture("mdm-signature/idle-request.mdm-signature");
    der = base64_decode(header);
  }
  EXPECT_TRUE(ber_within_depth(der, kMaxBerDepth));
  EXPECT_FALSE(ber_within_depth(der.substr(0, der.size() - 3), kMaxBerDepth));
  EXPECT_FALSE(ber_within_depth(std::string("\x30\x05\x02\x01", 4), kMaxBerDepth));
}

}  // namespace
}  // namespace cairn::crypto
