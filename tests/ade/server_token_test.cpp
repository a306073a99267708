// The server token file as Apple Business Manager sends it: S/MIME around an EnvelopedData to the
// server's token certificate, around a MIME part whose body holds the JSON between markers.
#include "ade/server_token.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "pki/scep.hpp"

namespace cairn::ade {
namespace {

const std::string kCredentials =
    R"({"consumer_key":"CK_1","consumer_secret":"CS_1","access_token":"AT_1",)"
    R"("access_secret":"AS_1","access_token_expiry":"2027-12-01T00:00:00Z"})";

// The file as ABM writes it: MIME headers, base64 in lines of 64.
std::string token_file(const pki::Identity& recipient, const std::string& json = kCredentials) {
  const std::string inner =
      "Content-Type: text/plain;charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
      "-----BEGIN MESSAGE-----\n" +
      json + "\n-----END MESSAGE-----\n";
  const std::string base64 =
      base64_encode(pki::scep::envelope(inner, recipient.cert.get(), EVP_aes_256_cbc()));
  std::string file =
      "MIME-Version: 1.0\r\nContent-Disposition: attachment; filename=\"smime.p7m\"\r\n"
      "Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n";
  for (size_t i = 0; i < base64.size(); i += 64) file += base64.substr(i, 64) + "\r\n";
  return file;
}

class ServerTokenFile : public ::testing::Test {
 protected:
  pki::Identity ours = pki::make_ca("cairn ADE token", 1, nullptr, pki::CaKey::kRsa2048);
};

TEST_F(ServerTokenFile, OpensWithTheTokenCertificatesKey) {
  const auto token = open_server_token(token_file(ours), ours);
  EXPECT_EQ(token.consumer_key, "CK_1");
  EXPECT_EQ(token.consumer_secret, "CS_1");
  EXPECT_EQ(token.access_token, "AT_1");
  EXPECT_EQ(token.access_secret, "AS_1");
  EXPECT_EQ(token.access_token_expiry, "2027-12-01T00:00:00Z");
}

TEST_F(ServerTokenFile, RefusesWhatIsNotItsToken) {
  const auto refusal = [&](const std::string& file) {
    try {
      open_server_token(file, ours);
    } catch (const BadRequest& e) {
      return std::string(e.what());
    }
    return std::string("opened");
  };
  const auto other = pki::make_ca("another server", 1, nullptr, pki::CaKey::kRsa2048);
  EXPECT_NE(refusal(token_file(other)).find("this server's token certificate"), std::string::npos);
  EXPECT_NE(refusal("MIME-Version: 1.0\r\n\r\nnot base64!").find("base64"), std::string::npos);
  EXPECT_NE(refusal(token_file(ours, R"({"consumer_key":"CK_1"})")).find("consumer_secret"),
            std::string::npos);
  EXPECT_NE(refusal(token_file(ours, R"({"consumer_key":"CK","consumer_secret":"CS",)"
                                     R"("access_token":"","access_secret":"AS"})"))
                .find("access_token"),
            std::string::npos)
      << "an empty credential is none";
  EXPECT_NE(refusal(token_file(ours, "[[[")).find("not JSON"), std::string::npos);
  EXPECT_NE(refusal(std::string(kLargestTokenFile + 1, 'A')).find("64 KiB"), std::string::npos);
  const std::string file = token_file(ours);
  EXPECT_NE(refusal(file.substr(0, file.size() / 2)), "opened") << "cut short";
}

}  // namespace
}  // namespace cairn::ade
