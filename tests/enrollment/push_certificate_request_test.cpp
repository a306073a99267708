// The push-certificate workflow's documents: the customer's CSR and the vendor-signed Push
// Certificate Request, read back as Apple's portal would, the signature also checked by openssl.
#include "enrollment/push_certificate_request.hpp"

#include <gtest/gtest.h>

#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "common/files.hpp"
#include "crypto/certificate.hpp"
#include "plist/plist.hpp"
#include "tests/support/shell.hpp"
#include "tests/support/temp_dir.hpp"

namespace cairn::enrollment {
namespace {

// An MDM vendor's identity: an RSA key and a certificate from a stand-in for Apple's CA.
struct Vendor {
  pki::Identity apple = pki::make_ca("Stand-in Apple CA", 30);
  pki::Identity identity{pki::generate_rsa_key(2048), nullptr};
  Vendor() {
    crypto::X509Ptr name_holder(X509_new());
    X509_NAME_add_entry_by_txt(X509_get_subject_name(name_holder.get()), "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>("MDM Vendor: Example"), -1,
                               -1, 0);
    identity.cert = pki::issue_for_public_key(apple, X509_get_subject_name(name_holder.get()),
                                              identity.key.get(), 30);
  }
};

TEST(PushCertificateRequest, TheCustomersCsrIsRsa2048AndSelfSigned) {
  const auto csr = make_push_csr("Example Corp MDM");
  EXPECT_EQ(EVP_PKEY_get_base_id(csr.key.get()), EVP_PKEY_RSA);
  EXPECT_EQ(EVP_PKEY_get_bits(csr.key.get()), 2048);
  EXPECT_EQ(csr_der_from(csr.csr_der), csr.csr_der);           // DER as is
  EXPECT_EQ(csr_der_from(csr_pem(csr.csr_der)), csr.csr_der);  // and from PEM
  EXPECT_THROW(csr_der_from("not a CSR"), BadRequest);
}

class SignedWith : public ::testing::TestWithParam<const EVP_MD*> {};

TEST_P(SignedWith, TheRequestCarriesTheCsrTheChainAndAVerifiableSignature) {
  Vendor vendor;
  const auto csr = make_push_csr("Example Corp MDM");
  const std::string encoded =
      vendor_signed_request(csr.csr_der, vendor.identity, {vendor.apple.cert.get()}, GetParam());
  const Plist request = Plist::parse(base64_decode(encoded));  // the portal takes base64
  EXPECT_EQ(base64_decode(*request.string("PushCertRequestCSR")), csr.csr_der);
  const auto chain = crypto::parse_certificates_pem(*request.string("PushCertCertificateChain"));
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(X509_cmp(chain[0].get(), vendor.identity.cert.get()), 0);  // the vendor first
  EXPECT_EQ(X509_cmp(chain[1].get(), vendor.apple.cert.get()), 0);
  // Someone else's tool checks the signature over the CSR's DER with the vendor's public key.
  testing::TempDir dir;
  write_file(dir / "csr.der", csr.csr_der, false);
  write_file(dir / "signature", base64_decode(*request.string("PushCertSignature")), false);
  write_file(dir / "vendor.pem", crypto::certificate_pem(vendor.identity.cert.get()), false);
  const std::string digest = GetParam() == EVP_sha1() ? "-sha1" : "-sha256";
  const std::string verify = "openssl x509 -in " + (dir / "vendor.pem") + " -pubkey -noout > " +
                             (dir / "vendor.pub") + " && openssl dgst " + digest + " -verify " +
                             (dir / "vendor.pub") + " -signature " + (dir / "signature") + " " +
                             (dir / "csr.der");
  int status = 0;
  const auto out = testing::run_shell(verify + " 2>&1", status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("Verified OK"), std::string::npos) << out;
}

INSTANTIATE_TEST_SUITE_P(Digests, SignedWith, ::testing::Values(EVP_sha256(), EVP_sha1()),
                         [](const auto& info) {
                           return std::string(info.param == EVP_sha1() ? "Sha1" : "Sha256");
                         });

TEST(PushCertificateRequest, RefusesWhatAppleWouldRefuse) {
  Vendor vendor;
  const auto csr = make_push_csr("Example");
  const pki::Identity ec_vendor =
      pki::issue_certificate(vendor.apple, "EC vendor", pki::CertUsage::kClient, {}, 30);
  EXPECT_THROW(vendor_signed_request(csr.csr_der, ec_vendor, {}, EVP_sha256()), BadRequest);
  EXPECT_THROW(vendor_signed_request("garbage", vendor.identity, {}, EVP_sha256()), BadRequest);
}

}  // namespace
}  // namespace cairn::enrollment
