// Every MDM command Apple documents, from Apple's own schemas (schemas/apple/mdm/commands, turned
// into data at build time by protocol/catalog/generate_catalog.cpp): request types, their
// keys with types, presence, allowed values and nesting, the access right each needs, the OS
// versions that have it, and the keys of its response. No per-command code: what the catalog
// says is what Cairn checks.
//
// Errors are exceptions (this layer's convention): InvalidCommand, a BadRequest naming the field
// path (e.g. "Command.Settings[0].Where") and what is wrong with it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/errors.hpp"
#include "plist/plist.hpp"

namespace cairn::protocol {

enum class ValueType {
  kString,
  kBoolean,
  kInteger,
  kReal,
  kDate,
  kData,
  kArray,
  kDictionary,
  kAny
};
std::string_view value_type_name(ValueType t);

struct KeySpec {
  std::string name;  // "ANY" in a dictionary: any key, each valued as this spec says
  ValueType type = ValueType::kAny;
  bool required = false;
  std::vector<std::string> range;  // the allowed values (as text), when the schema lists them
  // A dictionary's keys; an array's item (one spec), or the item's alternatives (several, told
  // apart by their required single-valued keys, like Settings' "Item").
  std::vector<KeySpec> subkeys;
  // A declaration's reference to an asset (a string naming its Identifier): the asset Types it may
  // name. Empty elsewhere.
  std::vector<std::string> asset_types = {};

  bool any_key() const { return subkeys.size() == 1 && subkeys.front().name == "ANY"; }
};

struct OsSupport {
  std::string introduced;
  std::string access_right;  // Apple's name (e.g. "AllowDeviceErase"); empty: none needed
};

struct CommandSpec {
  std::string request_type;
  std::string title;
  std::string file;                     // the Apple schema it came from
  std::map<std::string, OsSupport> os;  // by OS name (iOS, macOS, tvOS, visionOS, watchOS)
  // Of the Command dictionary, RequestType aside; with the keys any command may carry.
  std::vector<KeySpec> keys;
  std::vector<KeySpec> response_keys;
  // The AccessRights bit a device's enrollment must grant for this command: the strictest any
  // OS asks (Cairn does not know a device's OS when it queues); 0 when none does, or when
  // Apple says it depends on the command's content ("Special Case").
  int64_t access_right = 0;
  // Whether Apple takes it on a user channel (on any OS); the others go to devices only.
  bool user_channel = false;
};

// A command that does not match its schema: `path` names the field.
class InvalidCommand : public BadRequest {
 public:
  InvalidCommand(std::string path, const std::string& reason)
      : BadRequest(path + ": " + reason), path_(std::move(path)) {}
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ClearPasscode's UnlockToken is the device's own, escrowed sealed from its TokenUpdate. Cairn
// inserts it when the command is delivered (ingest/device_service), so it is never in an admin's
// hands, in the log or in the projection in clear. The catalog lists it as not required, and a
// command that carries one is refused (it would be logged in clear): refuse_escrowed_keys().
inline constexpr std::string_view kEscrowedUnlockTokenCommand = "ClearPasscode";
inline constexpr const char* kUnlockTokenKey = "UnlockToken";
// Throws InvalidCommand if a command message ({CommandUUID, Command}) carries a secret Cairn
// inserts at delivery (an UnlockToken, under any RequestType).
void refuse_escrowed_keys(const Plist& command_message);

class CommandCatalog {
 public:
  // The catalog built into this binary (parsed once, on first use).
  static const CommandCatalog& builtin();
  // From the generator's JSON (tests).
  static CommandCatalog from_json(std::string_view json);

  const CommandSpec* find(std::string_view request_type) const;
  const std::vector<CommandSpec>& commands() const { return commands_; }
  const std::string& source() const { return source_; }

  // Checks a whole command plist ({CommandUUID, Command: {RequestType, ...}}) against the
  // schema of its RequestType: unknown keys, missing required ones, wrong types, values outside
  // the listed ones. Throws InvalidCommand (or BadRequest for an unknown RequestType).
  const CommandSpec& validate(const Plist& command) const;

 private:
  std::string source_;
  std::vector<CommandSpec> commands_;
  std::map<std::string, size_t, std::less<>> by_type_;
};

// Apple's access right names → AccessRights bits (1 … 4096); 0 for names it does not know.
int64_t access_right_bit(std::string_view name);
// "8 (AllowDeviceErase)".
std::string access_right_label(int64_t bit);

// Which of an array's item kinds an item is: the only one, or the alternative whose required
// single-valued keys (Settings' "Item") it carries; null when none fits. `string_member(key)`:
// the item's string at `key`, if it is a dictionary that has one. Shared by the plist validator
// and the JSON builder, so both tell items apart the same way.
using StringMember = std::function<std::optional<std::string>(const std::string& key)>;
const KeySpec* item_kind(const KeySpec& array, const StringMember& string_member);

// Checks one value against its spec (the validator's step, shared with the JSON builder).
void validate_value(plist_t value, const KeySpec& spec, const std::string& path);

}  // namespace cairn::protocol
