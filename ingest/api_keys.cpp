#include "ingest/api_keys.hpp"

#include <openssl/crypto.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "crypto/digest.hpp"

namespace cairn::ingest {
namespace {
std::string keys_path(const std::string& data_dir) {
  return data_dir + "/api_keys";
}
}  // namespace

ApiKeys ApiKeys::load(const std::string& data_dir) {
  ApiKeys keys;
  std::ifstream in(keys_path(data_dir));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    Entry e;
    std::string hex;
    if (!(fields >> e.principal.name >> e.principal.role >> hex) || hex.size() != 64) continue;
    for (size_t i = 0; i < hex.size(); i += 2)
      e.sha256 += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    keys.entries_.push_back(std::move(e));
  }
  return keys;
}

std::string ApiKeys::create(const std::string& data_dir, const std::string& name,
                            const std::string& role) {
  if (name.empty() || name.find_first_of(" \t\n") != std::string::npos)
    throw std::invalid_argument("API key name must be one word");
  const std::string key = "cairn_" + hex_encode(crypto::random_bytes(24));
  const mode_t old_mask = ::umask(077);
  std::ofstream out(keys_path(data_dir), std::ios::app);
  ::umask(old_mask);
  out << name << " " << role << " " << crypto::sha256_hex(key) << "\n";
  if (!out.flush()) throw std::runtime_error("cannot write " + keys_path(data_dir));
  return key;
}

std::optional<Principal> ApiKeys::authenticate(const std::string& header) const {
  constexpr std::string_view kBasic = "Basic ";
  if (!header.starts_with(kBasic)) return std::nullopt;
  std::string decoded;
  try {
    decoded = base64_decode(std::string_view(header).substr(kBasic.size()));
  } catch (const BadRequest&) {
    return std::nullopt;
  }
  const auto colon = decoded.find(':');
  if (colon == std::string::npos) return std::nullopt;
  const std::string digest = crypto::sha256(decoded.substr(colon + 1));
  for (const auto& e : entries_)
    if (CRYPTO_memcmp(e.sha256.data(), digest.data(), digest.size()) == 0) return e.principal;
  return std::nullopt;
}

}  // namespace cairn::ingest
