// Admin API keys. Only SHA-256 hashes are stored (<data>/api_keys: "name role sha256hex" lines);
// the key itself is shown once, when created. Requests use HTTP Basic auth with any user name
// (NanoMDM tooling sends "nanomdm") and the key as the password.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace cairn::ingest {

struct Principal {
  std::string name;  // recorded as the actor of every event the request causes
  std::string role;  // "admin" (more roles with the access-rights work)
};

class ApiKeys {
 public:
  static ApiKeys load(const std::string& data_dir);  // empty if the file does not exist
  // Creates a key, appends its hash to <data>/api_keys and returns the key (the only copy).
  static std::string create(const std::string& data_dir, const std::string& name,
                            const std::string& role);

  bool empty() const { return entries_.empty(); }
  // From an Authorization header value; nullopt if missing, malformed or unknown.
  std::optional<Principal> authenticate(const std::string& authorization_header) const;

 private:
  struct Entry {
    Principal principal;
    std::string sha256;  // raw bytes
  };
  std::vector<Entry> entries_;
};

}  // namespace cairn::ingest
