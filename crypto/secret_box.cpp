#include "crypto/secret_box.hpp"

#include <openssl/hmac.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/encoding.hpp"
#include "crypto/digest.hpp"
#include "crypto/openssl_handles.hpp"

namespace cairn::crypto {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

std::vector<std::string> split_keys(const std::string& text, char separator) {
  std::vector<std::string> keys;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, separator)) {
    if (item.find_first_not_of(" \t\r\n") == std::string::npos) continue;
    keys.push_back(base64_decode(item));
  }
  return keys;
}

}  // namespace

SecretBox::SecretBox(std::vector<std::string> keys) {
  if (keys.empty()) throw std::runtime_error("secret keyring is empty");
  for (auto& k : keys) {
    if (k.size() != kKeyBytes) throw std::runtime_error("secret keys must be 32 bytes");
    keys_.push_back({hex_encode(sha256(k).substr(0, 8)), std::move(k)});
  }
}

SecretBox SecretBox::load_or_create(const std::string& data_dir) {
  if (const char* env = std::getenv("CAIRN_SECRET_KEYS"); env && *env)
    return SecretBox(split_keys(env, ','));
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(data_dir) / "secrets";
  const fs::path path = dir / "keyring";
  if (!fs::exists(path)) {
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
    const mode_t old_mask = ::umask(077);
    std::ofstream out(path);
    ::umask(old_mask);
    out << base64_encode(random_bytes(kKeyBytes)) << "\n";
    if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
  }
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return SecretBox(split_keys(ss.str(), '\n'));
}

std::string SecretBox::seal(std::string_view plaintext, std::string_view aad) const {
  const Key& key = keys_.front();
  const std::string nonce = random_bytes(kNonceBytes);
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  std::string out = nonce;
  out.resize(kNonceBytes + plaintext.size() + kTagBytes);
  auto* dst = reinterpret_cast<unsigned char*>(out.data()) + kNonceBytes;
  int len = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(key.bytes.data()),
                         reinterpret_cast<const unsigned char*>(nonce.data())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), dst, &len,
                        reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), dst + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, dst + plaintext.size()) != 1)
    throw CryptoError("AES-256-GCM seal");
  return "v1." + key.id + "." + base64_encode(out);
}

std::string SecretBox::open(std::string_view sealed, std::string_view aad) const {
  const auto first_dot = sealed.find('.');
  const auto second_dot = sealed.find('.', first_dot + 1);
  if (sealed.substr(0, first_dot) != "v1" || second_dot == std::string_view::npos)
    throw std::runtime_error("not a sealed secret");
  const auto id = sealed.substr(first_dot + 1, second_dot - first_dot - 1);
  const Key* key = nullptr;
  for (const auto& k : keys_)
    if (k.id == id) key = &k;
  if (!key) throw std::runtime_error("sealed with unknown key " + std::string(id));
  const std::string raw = base64_decode(sealed.substr(second_dot + 1));
  if (raw.size() < kNonceBytes + kTagBytes) throw std::runtime_error("sealed secret truncated");
  const size_t text_len = raw.size() - kNonceBytes - kTagBytes;
  const auto* src = reinterpret_cast<const unsigned char*>(raw.data());
  std::string out(text_len, '\0');
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  std::string tag = raw.substr(kNonceBytes + text_len);
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(key->bytes.data()), src) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                        src + kNonceBytes, static_cast<int>(text_len)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &len) !=
          1) {
    drain_openssl_errors();
    throw std::runtime_error("sealed secret failed authentication");
  }
  return out;
}

std::string SecretBox::derive_passphrase(std::string_view purpose) const {
  return hex_encode(hmac_sha256(keys_.front().bytes, purpose));
}

std::vector<std::string> SecretBox::derive_seeds(std::string_view purpose) const {
  std::vector<std::string> seeds;
  for (const auto& key : keys_) seeds.push_back(hmac_sha256(key.bytes, purpose));
  return seeds;
}

}  // namespace cairn::crypto
