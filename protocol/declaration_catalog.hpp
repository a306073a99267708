// Every declaration type Apple documents for declarative device management (DDM), from Apple's
// schemas (schemas/apple/declarative/declarations, turned into data at build time by
// protocol/catalog/generate_catalog.cpp), and what a declaration must be to be stored: a known
// Type, an Identifier Cairn can key by, a Payload whose keys, types and values match the type's
// schema. The same KeySpec checks as commands (protocol/command_catalog), on JSON.
//
// Errors are exceptions (this layer's convention): InvalidDeclaration, a BadRequest naming the
// path ("Payload.MinimumLength") and what is wrong with it.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/command_catalog.hpp"

namespace cairn::protocol {

using InvalidDeclaration = InvalidCommand;  // the catalogs' one error: a path and a reason

// Apple's four kinds of declaration, told apart by their Type's prefix. The protocol names them
// twice: in the declaration-items answer ("Activations") and in a device's
// declaration/<kind>/<Identifier> request ("activation").
enum class DeclarationKind { kActivation, kConfiguration, kAsset, kManagement };
inline constexpr DeclarationKind kDeclarationKinds[] = {
    DeclarationKind::kActivation, DeclarationKind::kConfiguration, DeclarationKind::kAsset,
    DeclarationKind::kManagement};
std::string_view kind_name(DeclarationKind k);  // "activation", as devices ask for it
std::string_view items_key(DeclarationKind k);  // "Activations", as declaration-items lists
std::optional<DeclarationKind> kind_of(std::string_view type);  // by Type ("com.apple.asset.…")
std::optional<DeclarationKind> parse_kind_name(std::string_view name);

struct DeclarationSpec {
  std::string type;  // "com.apple.configuration.passcode.settings"
  std::string title;
  std::string file;                       // the Apple schema it came from
  std::map<std::string, std::string> os;  // OS name → the version that introduced it
  std::vector<KeySpec> keys;              // of Payload
};

// Another declaration this one names, which a device must be given with it: an activation's
// configurations, a configuration's assets.
struct DeclarationReference {
  std::string identifier;
  std::string path;                      // where it is named ("Payload.StandardConfigurations[0]")
  DeclarationKind kind;                  // what it must be
  std::vector<std::string> asset_types;  // an asset reference: the Types it may be (empty: any)
};

// A declaration as an admin stores it, checked. ServerToken is the server's, never the admin's:
// derived from the content (declaration_server_token), so a device sees a new one exactly when the
// declaration changed.
struct Declaration {
  std::string identifier;
  std::string type;
  DeclarationKind kind = DeclarationKind::kConfiguration;
  // {"Type", "Identifier", "Payload"} as compact JSON, any ServerToken sent left out.
  std::string content;
  std::vector<DeclarationReference> references;
};

class DeclarationCatalog {
 public:
  static const DeclarationCatalog& builtin();
  static DeclarationCatalog from_json(std::string_view json);

  const DeclarationSpec* find(std::string_view type) const;
  const std::vector<DeclarationSpec>& declarations() const { return declarations_; }
  const std::string& source() const { return source_; }

  // Parses and checks a declaration (JSON): throws InvalidDeclaration naming the path, or
  // BadRequest when it is not JSON at all.
  Declaration validate(std::string_view json) const;

 private:
  std::string source_;
  std::vector<DeclarationSpec> declarations_;
  std::map<std::string, size_t, std::less<>> by_type_;
};

// The ServerToken of `content` (hex, 32 digits: within Apple's 64 octets). `touch` makes another
// token for the same content (KMFDDM's touch: have devices fetch it again).
std::string declaration_server_token(std::string_view content, std::string_view touch = {});

// The declaration as a device receives it: the content with its ServerToken.
std::string served_declaration(std::string_view content, std::string_view server_token);

}  // namespace cairn::protocol
