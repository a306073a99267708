// The enrollment profile: every payload and rule, read back as a device would, and the signature
// checked by a verifier that is not ours (openssl cms -verify).
#include "enrollment/profile.hpp"

#include <gtest/gtest.h>
#include <openssl/pkcs12.h>

#include <fstream>
#include <set>

#include "common/errors.hpp"
#include "crypto/certificate.hpp"
#include "tests/support/shell.hpp"
#include "tests/support/temp_dir.hpp"

namespace cairn::enrollment {
namespace {

struct Pki {
  pki::Identity ca = pki::make_ca("Test CA", 30);
  pki::Identity server = pki::issue_certificate(ca, "mdm.example.com", pki::CertUsage::kServer,
                                                {"mdm.example.com"}, 30);
};

ProfileSpec scep_spec(const Pki& p) {
  ProfileSpec s;
  s.server_url = "https://mdm.example.com/mdm";
  s.check_in_url = "https://mdm.example.com/checkin";
  s.topic = "com.apple.mgmt.External.0a1b2c3d";
  s.access_rights = 8191;
  s.trust_certificates_der = {crypto::certificate_der(p.ca.cert.get())};
  s.identity = ScepIdentity{"https://mdm.example.com/scep", "the-challenge"};
  return s;
}

void write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(Profile, HasTrustIdentityAndMdmPayloadsThatReferToEachOther) {
  Pki p;
  const Plist profile = build_profile(scep_spec(p));
  const Plist back = Plist::parse(profile.to_xml());  // as the device reads it
  EXPECT_EQ(back.string("PayloadType"), "Configuration");
  EXPECT_EQ(back.integer("PayloadVersion"), 1);
  EXPECT_EQ(back.boolean("PayloadRemovalDisallowed"), false);  // removable
  const auto content = back.array("PayloadContent");
  ASSERT_TRUE(content);
  ASSERT_EQ(content->size(), 3u);
  // Certificates first: they install before the MDM payload that needs them.
  const Plist root = content->at(0);
  EXPECT_EQ(root.string("PayloadType"), "com.apple.security.root");
  EXPECT_EQ(root.data("PayloadContent"), crypto::certificate_der(p.ca.cert.get()));
  const Plist scep = content->at(1);
  EXPECT_EQ(scep.string("PayloadType"), "com.apple.security.scep");
  const auto scep_content = scep.dict("PayloadContent");
  ASSERT_TRUE(scep_content);
  EXPECT_EQ(scep_content->string("URL"), "https://mdm.example.com/scep");
  EXPECT_EQ(scep_content->string("Challenge"), "the-challenge");
  EXPECT_EQ(scep_content->integer("Keysize"), 2048);
  EXPECT_EQ(scep_content->string("Key Type"), "RSA");
  const Plist mdm = content->at(2);
  EXPECT_EQ(mdm.string("PayloadType"), "com.apple.mdm");
  EXPECT_EQ(mdm.string("IdentityCertificateUUID"), scep.string("PayloadUUID"));
  EXPECT_EQ(mdm.string("Topic"), "com.apple.mgmt.External.0a1b2c3d");
  EXPECT_EQ(mdm.string("ServerURL"), "https://mdm.example.com/mdm");
  EXPECT_EQ(mdm.string("CheckInURL"), "https://mdm.example.com/checkin");
  EXPECT_EQ(mdm.integer("AccessRights"), 8191);
  EXPECT_EQ(mdm.boolean("SignMessage"), false);
  EXPECT_EQ(mdm.boolean("CheckOutWhenRemoved"), true);
  const auto capabilities = mdm.array("ServerCapabilities");  // bootstrap tokens, nothing more
  ASSERT_EQ(capabilities->size(), 1u);
  uint64_t length = 0;
  EXPECT_EQ(std::string_view(
                plist_get_string_ptr(plist_array_get_item(capabilities->root(), 0), &length)),
            "com.apple.mdm.bootstraptoken");
  EXPECT_EQ(mdm.boolean("UseDevelopmentAPNS"), false);
  for (size_t i = 0; i < content->size(); ++i) {
    EXPECT_EQ(content->at(i).integer("PayloadVersion"), 1);
    EXPECT_TRUE(content->at(i).string("PayloadIdentifier"));
  }
  check_references(back);
}

TEST(Profile, EveryBuildHasFreshUuids) {
  Pki p;
  std::set<std::string> uuids;
  for (int i = 0; i < 2; ++i) {
    const Plist profile = build_profile(scep_spec(p));
    uuids.insert(*profile.string("PayloadUUID"));
    const auto content = profile.array("PayloadContent");
    for (size_t k = 0; k < content->size(); ++k)
      uuids.insert(*content->at(k).string("PayloadUUID"));
  }
  EXPECT_EQ(uuids.size(), 8u);
}

TEST(Profile, EveryRuleIsCheckedWithAClearError) {
  Pki p;
  auto refused = [&](auto change, const std::string& words) {
    ProfileSpec s = scep_spec(p);
    change(s);
    try {
      build_profile(s);
      ADD_FAILURE() << "accepted; expected: " << words;
    } catch (const BadRequest& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  refused([](ProfileSpec& s) { s.server_url = "http://mdm.example.com/mdm"; }, "ServerURL");
  refused([](ProfileSpec& s) { s.check_in_url = "https:///checkin"; }, "CheckInURL");
  refused([](ProfileSpec& s) { s.topic = "com.example.mdm"; }, "com.apple.mgmt.");
  refused([](ProfileSpec& s) { s.access_rights = 0; }, "must not be 0");
  refused([](ProfileSpec& s) { s.access_rights = 2; }, "needs 1");
  refused([](ProfileSpec& s) { s.access_rights = 128 | 1; }, "needs 64");
  refused([](ProfileSpec& s) { s.access_rights = 8192; }, "outside");
  refused([](ProfileSpec& s) { std::get<ScepIdentity>(s.identity).challenge.clear(); },
          "challenge");
  refused([](ProfileSpec& s) { std::get<ScepIdentity>(s.identity).key_size = 3000; }, "Keysize");
  refused([](ProfileSpec& s) { s.identity = Pkcs12Identity{"", "pw"}; }, "PKCS#12");
  // The seed's "4098" (2 without 1) is the typo docs/design.md warns about.
  refused([](ProfileSpec& s) { s.access_rights = 4098; }, "needs 1");
}

TEST(Profile, AReferenceToAMissingIdentityIsRefused) {
  Pki p;
  Plist profile = build_profile(scep_spec(p));
  auto content = *profile.array("PayloadContent");
  Plist rebuilt = Plist::new_array();
  for (size_t i = 0; i < content.size(); ++i)
    if (content.at(i).string("PayloadType") != "com.apple.security.scep")
      rebuilt.append(content.at(i));
  profile.set("PayloadContent", std::move(rebuilt));
  EXPECT_THROW(check_references(profile), BadRequest);
}

TEST(Profile, Pkcs12IdentityIsDataThatOpensWithThePasswordUsingLegacyAlgorithms) {
  Pki p;
  const auto device = pki::issue_certificate(p.ca, "Device 1", pki::CertUsage::kClient, {}, 30);
  ProfileSpec s = scep_spec(p);
  s.identity =
      Pkcs12Identity{pki::pkcs12_der(device, {p.ca.cert.get()}, "pw-123", "Device 1"), "pw-123"};
  const Plist back = Plist::parse(build_profile(s).to_xml());
  const Plist identity = back.array("PayloadContent")->at(1);
  EXPECT_EQ(identity.string("PayloadType"), "com.apple.security.pkcs12");
  EXPECT_EQ(identity.string("Password"), "pw-123");
  const auto der = identity.data("PayloadContent");  // <data>: a <string> is refused by devices
  ASSERT_TRUE(der);
  const auto* q = reinterpret_cast<const unsigned char*>(der->data());
  std::unique_ptr<PKCS12, decltype(&PKCS12_free)> p12(
      d2i_PKCS12(nullptr, &q, static_cast<long>(der->size())), PKCS12_free);
  ASSERT_TRUE(p12);
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  STACK_OF(X509)* chain = nullptr;
  ASSERT_EQ(PKCS12_parse(p12.get(), "pw-123", &key, &cert, &chain), 1);
  EXPECT_EQ(X509_cmp(cert, device.cert.get()), 0);
  EXPECT_EQ(sk_X509_num(chain), 1);
  EVP_PKEY_free(key);
  X509_free(cert);
  sk_X509_pop_free(chain, X509_free);
  // The algorithms older Apple devices read, as openssl reports them.
  testing::TempDir dir;
  write(dir / "id.p12", *der);
  int status = 0;
  const auto info = testing::run_shell(
      "openssl pkcs12 -info -noout -passin pass:pw-123 -in " + (dir / "id.p12") + " 2>&1", status);
  EXPECT_EQ(status, 0) << info;
  EXPECT_NE(info.find("pbeWithSHA1And3-KeyTripleDES-CBC"), std::string::npos) << info;
  EXPECT_NE(info.find("MAC: sha1"), std::string::npos) << info;
}

TEST(Profile, SignatureVerifiesWithOpensslAndYieldsTheProfile) {
  Pki p;
  const Plist profile = build_profile(scep_spec(p));
  const std::string signed_der = sign_profile(profile, p.server, {});
  testing::TempDir dir;
  write(dir / "profile.mobileconfig", signed_der);
  write(dir / "ca.pem", crypto::certificate_pem(p.ca.cert.get()));
  int status = 0;
  const auto verified =
      testing::run_shell("openssl cms -verify -inform DER -in " + (dir / "profile.mobileconfig") +
                             " -CAfile " + (dir / "ca.pem") + " -purpose any 2>/dev/null",
                         status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(verified, profile.to_xml());
  // Signed by someone the device does not trust: the same check fails.
  Pki other;
  write(dir / "other.pem", crypto::certificate_pem(other.ca.cert.get()));
  testing::run_shell("openssl cms -verify -inform DER -in " + (dir / "profile.mobileconfig") +
                         " -CAfile " + (dir / "other.pem") + " -purpose any >/dev/null 2>&1",
                     status);
  EXPECT_NE(status, 0);
}

}  // namespace
}  // namespace cairn::enrollment
