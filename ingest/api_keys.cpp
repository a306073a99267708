#include "ingest/api_keys.hpp"

#include <openssl/crypto.h>
#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "crypto/digest.hpp"

namespace cairn::ingest {
namespace {

constexpr std::array<std::string_view, 4> kRoleNames{"metrics", "reader", "operator", "admin"};

std::string keys_path(const std::string& data_dir) {
  return data_dir + "/api_keys";
}

struct Line {
  std::string name;
  std::string text;
};

std::vector<Line> read_lines(const std::string& path) {
  std::vector<Line> lines;
  std::ifstream in(path);
  std::string text;
  while (std::getline(in, text)) {
    std::istringstream fields(text);
    std::string name;
    fields >> name;
    lines.push_back({name, text});
  }
  return lines;
}

}  // namespace

std::optional<Role> parse_role(std::string_view name) {
  for (size_t i = 0; i < kRoleNames.size(); ++i)
    if (kRoleNames[i] == name) return static_cast<Role>(i);
  return std::nullopt;
}

std::string_view role_name(Role role) {
  return kRoleNames[static_cast<size_t>(role)];
}

bool needs_admin(std::string_view request_type) {
  static constexpr std::array<std::string_view, 7> kAdminOnly{
      "EraseDevice",   "DeviceLock", "EnableLostMode", "ClearPasscode", "ClearRestrictionsPassword",
      "RemoveProfile", "DeleteUser"};
  for (const auto type : kAdminOnly)
    if (type == request_type) return true;
  return false;
}

ApiKeys::ApiKeys(const std::string& data_dir) : path_(keys_path(data_dir)) {
  refresh();
}

std::string ApiKeys::create(const std::string& data_dir, const std::string& name, Role role) {
  if (name.empty() || name.find_first_of(" \t\n") != std::string::npos)
    throw std::invalid_argument("API key name must be one word");
  for (const auto& line : read_lines(keys_path(data_dir)))
    if (line.name == name)
      throw std::invalid_argument("there is already a key called " + name +
                                  " (revoke it first, or choose another name)");
  const std::string key = "cairn_" + hex_encode(crypto::random_bytes(24));
  const mode_t old_mask = ::umask(077);
  std::ofstream out(keys_path(data_dir), std::ios::app);
  ::umask(old_mask);
  out << name << " " << role_name(role) << " " << crypto::sha256_hex(key) << "\n";
  if (!out.flush()) throw std::runtime_error("cannot write " + keys_path(data_dir));
  return key;
}

bool ApiKeys::revoke(const std::string& data_dir, const std::string& name) {
  const std::string path = keys_path(data_dir);
  bool found = false;
  std::string kept;
  for (const auto& line : read_lines(path)) {
    if (line.name == name)
      found = true;
    else
      kept += line.text + "\n";
  }
  if (!found) return false;
  // Written aside, then renamed over: a node reading the file sees the old or the new one whole.
  const std::string next = path + ".next";
  const mode_t old_mask = ::umask(077);
  std::ofstream out(next, std::ios::trunc);
  ::umask(old_mask);
  out << kept;
  if (!out.flush() || std::rename(next.c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot rewrite " + path);
  return true;
}

void ApiKeys::refresh() const {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_look_) return;
  next_look_ = now + std::chrono::seconds(1);
  struct stat st {};
  FileState state;
  if (::stat(path_.c_str(), &st) == 0)
    state = {st.st_ino, st.st_size, st.st_mtim.tv_sec * 1'000'000'000 + st.st_mtim.tv_nsec};
  if (state == seen_ && seen_.size >= 0) return;
  seen_ = state;
  entries_.clear();
  for (const auto& line : read_lines(path_)) {
    std::istringstream fields(line.text);
    std::string name, role, hex;
    const auto parsed_role = fields >> name >> role >> hex ? parse_role(role) : std::nullopt;
    // A line that is not a key with a known role grants nothing.
    if (!parsed_role || hex.size() != 64 ||
        hex.find_first_not_of("0123456789abcdef") != std::string::npos)
      continue;
    Entry e{{name, *parsed_role}, {}};
    for (size_t i = 0; i < hex.size(); i += 2)
      e.sha256 += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    entries_.push_back(std::move(e));
  }
}

std::vector<Principal> ApiKeys::principals() const {
  const std::lock_guard lock(mutex_);
  refresh();
  std::vector<Principal> all;
  for (const auto& e : entries_) all.push_back(e.principal);
  return all;
}

bool ApiKeys::empty() const {
  const std::lock_guard lock(mutex_);
  refresh();
  return entries_.empty();
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
  const std::lock_guard lock(mutex_);
  refresh();
  for (const auto& e : entries_)
    if (CRYPTO_memcmp(e.sha256.data(), digest.data(), digest.size()) == 0) return e.principal;
  return std::nullopt;
}

}  // namespace cairn::ingest
