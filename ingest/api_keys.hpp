// Admin API keys. Only SHA-256 hashes are stored (<data>/api_keys: "name role sha256hex" lines);
// the key itself is shown once, when created. Requests use HTTP Basic auth with any user name
// (NanoMDM tooling sends "nanomdm") and the key as the password. A running node sees keys created
// and revoked (by `cairn apikey`) within a second, without a restart.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::ingest {

// What a key may do; each role may do everything the roles before it may.
enum class Role {
  kMetrics,   // scrape /metrics
  kReader,    // read the fleet, its commands, certificates and the projection's state
  kOperator,  // queue commands and pushes, invite devices; nothing that wipes, locks or unenrolls
  kAdmin,     // everything
};
std::optional<Role> parse_role(std::string_view name);
std::string_view role_name(Role role);

// The commands only an admin key may queue: they wipe, lock or unenroll a device, or clear what
// protects it. (RemoveProfile of any profile: the projection knows an enrollment profile by its
// UUID, not by the PayloadIdentifier RemoveProfile names, so it cannot tell the MDM profile apart.)
bool needs_admin(std::string_view request_type);

struct Principal {
  std::string name;  // recorded as the actor of every event the request causes
  Role role = Role::kMetrics;
  bool may(Role needed) const { return role >= needed; }
};

class ApiKeys {
 public:
  explicit ApiKeys(const std::string& data_dir);  // no keys if the file does not exist
  // Creates a key, appends its hash to <data>/api_keys and returns the key (the only copy). A
  // name is one word, used once.
  static std::string create(const std::string& data_dir, const std::string& name, Role role);
  // Removes the key called `name`; false if there is none.
  static bool revoke(const std::string& data_dir, const std::string& name);

  bool empty() const;
  // Every key's name and role (never the hashes), in the file's order.
  std::vector<Principal> principals() const;
  // From an Authorization header value; nullopt if missing, malformed or unknown.
  std::optional<Principal> authenticate(const std::string& authorization_header) const;

 private:
  struct Entry {
    Principal principal;
    std::string sha256;  // raw bytes
  };
  struct FileState {
    ino_t inode = 0;
    off_t size = -1;
    int64_t mtime_ns = 0;
    bool operator==(const FileState&) const = default;
  };
  // Rereads the file if it changed since the last look, looking at most once a second.
  void refresh() const;

  std::string path_;
  mutable std::mutex mutex_;
  mutable std::vector<Entry> entries_;
  mutable FileState seen_;
  mutable std::chrono::steady_clock::time_point next_look_{};
};

}  // namespace cairn::ingest
