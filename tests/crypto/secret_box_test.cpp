#include "crypto/secret_box.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/encoding.hpp"
#include "crypto/digest.hpp"
#include "tests/support/temp_dir.hpp"

namespace cairn::crypto {
namespace {

TEST(SecretBox, SealsAndOpensBoundToItsOwner) {
  SecretBox box({random_bytes(32)});
  const std::string token(2048, '\x5a');
  const auto sealed = box.seal(token, "UDID-1");
  EXPECT_EQ(sealed.find(token.substr(0, 16)), std::string::npos);
  EXPECT_EQ(box.open(sealed, "UDID-1"), token);
  EXPECT_THROW(box.open(sealed, "UDID-2"), std::runtime_error);  // moved to another device
}

TEST(SecretBox, DetectsTampering) {
  SecretBox box({random_bytes(32)});
  const auto sealed = box.seal("secret", "a");
  // Flip one bit of every byte in turn (nonce, ciphertext, tag): each must be detected. (Editing
  // the base64 text instead can hit padding bits that decoding ignores.)
  const auto prefix_end = sealed.rfind('.') + 1;
  const auto raw = base64_decode(std::string_view(sealed).substr(prefix_end));
  for (size_t i = 0; i < raw.size(); ++i) {
    auto tampered = raw;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    EXPECT_THROW(box.open(sealed.substr(0, prefix_end) + base64_encode(tampered), "a"),
                 std::runtime_error)
        << "byte " << i;
  }
}

TEST(SecretBox, OldSecretsOpenAfterRotation) {
  const auto old_key = random_bytes(32);
  const auto sealed = SecretBox({old_key}).seal("secret", "a");
  SecretBox rotated({random_bytes(32), old_key});
  EXPECT_EQ(rotated.open(sealed, "a"), "secret");
  EXPECT_NE(rotated.seal("x", "a").substr(0, 20), sealed.substr(0, 20));  // new key id seals
  EXPECT_THROW(SecretBox({random_bytes(32)}).open(sealed, "a"), std::runtime_error);
}

TEST(SecretBox, KeyringFileIsCreatedPrivateAndReused) {
  testing::TempDir dir;
  const auto sealed = SecretBox::load_or_create(dir.path()).seal("s", "a");
  EXPECT_EQ(SecretBox::load_or_create(dir.path()).open(sealed, "a"), "s");
  struct stat st {};
  ASSERT_EQ(::stat((dir / "secrets/keyring").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u);
}

}  // namespace
}  // namespace cairn::crypto
