#include "protocol/declaration_catalog.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "crypto/digest.hpp"
#include "protocol/catalog_json.hpp"
#include "protocol/command_json.hpp"
#include "protocol/messages.hpp"

namespace cairn::protocol {

extern const std::string_view kDeclarationCatalogJson;  // generated at build time

namespace {

struct KindNames {
  DeclarationKind kind;
  std::string_view name;       // in declaration/<kind>/<Identifier>
  std::string_view items_key;  // in the declaration-items answer
  std::string_view type_prefix;
};
constexpr KindNames kKinds[] = {
    {DeclarationKind::kActivation, "activation", "Activations", "com.apple.activation."},
    {DeclarationKind::kConfiguration, "configuration", "Configurations",
     "com.apple.configuration."},
    {DeclarationKind::kAsset, "asset", "Assets", "com.apple.asset."},
    {DeclarationKind::kManagement, "management", "Management", "com.apple.management."},
};

const KindNames& names(DeclarationKind k) {
  for (const auto& n : kKinds)
    if (n.kind == k) return n;
  return kKinds[0];
}

// The one key of an activation that names other declarations: its configurations.
constexpr std::string_view kActivationConfigurations = "StandardConfigurations";

std::string string_of(const rapidjson::Value& v) {
  return std::string(v.GetString(), v.GetStringLength());
}

const KeySpec* member_spec(const KeySpec& dict, const std::string& name) {
  if (dict.any_key()) return &dict.subkeys.front();
  for (const auto& k : dict.subkeys)
    if (k.name == name) return &k;
  return nullptr;
}

// The asset references in a (validated) payload: strings at keys whose schema lists asset types.
void collect_asset_references(const rapidjson::Value& v, const KeySpec& spec,
                              const std::string& path, std::vector<DeclarationReference>& out) {
  if (!spec.asset_types.empty() && v.IsString()) {
    out.push_back({string_of(v), path, DeclarationKind::kAsset, spec.asset_types});
  } else if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      const std::string name = string_of(m.name);
      if (const KeySpec* member = member_spec(spec, name))
        collect_asset_references(m.value, *member, path + "." + name, out);
    }
  } else if (v.IsArray() && spec.subkeys.size() == 1) {
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
      collect_asset_references(v[i], spec.subkeys.front(), path + "[" + std::to_string(i) + "]",
                               out);
  }
}

const rapidjson::Value& required_member(const rapidjson::Value& doc, const char* name,
                                        bool (rapidjson::Value::*is)() const,
                                        const char* expected) {
  const auto it = doc.FindMember(name);
  if (it == doc.MemberEnd()) throw InvalidDeclaration(name, "required key is missing");
  if (!(it->value.*is)()) throw InvalidDeclaration(name, std::string("must be ") + expected);
  return it->value;
}

}  // namespace

std::string_view kind_name(DeclarationKind k) {
  return names(k).name;
}

std::string_view items_key(DeclarationKind k) {
  return names(k).items_key;
}

std::optional<DeclarationKind> kind_of(std::string_view type) {
  for (const auto& n : kKinds)
    if (type.starts_with(n.type_prefix)) return n.kind;
  return std::nullopt;
}

std::optional<DeclarationKind> parse_kind_name(std::string_view name) {
  for (const auto& n : kKinds)
    if (n.name == name) return n.kind;
  return std::nullopt;
}

DeclarationCatalog DeclarationCatalog::from_json(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject())
    throw std::runtime_error("unreadable declaration catalog");
  DeclarationCatalog c;
  c.source_ = catalog_text(doc, "source");
  for (const auto& d : doc["declarations"].GetArray()) {
    DeclarationSpec spec;
    spec.type = catalog_text(d, "declaration_type");
    spec.title = catalog_text(d, "title");
    spec.file = catalog_text(d, "file");
    for (const auto& os : d["os"].GetObject())
      spec.os.emplace(os.name.GetString(), catalog_text(os.value, "introduced"));
    spec.keys = catalog_keys(d["keys"]);
    if (!kind_of(spec.type)) continue;  // none of the four kinds: no device would take it
    c.by_type_.emplace(spec.type, c.declarations_.size());
    c.declarations_.push_back(std::move(spec));
  }
  return c;
}

const DeclarationCatalog& DeclarationCatalog::builtin() {
  static const DeclarationCatalog catalog = from_json(kDeclarationCatalogJson);
  return catalog;
}

const DeclarationSpec* DeclarationCatalog::find(std::string_view type) const {
  const auto it = by_type_.find(type);
  return it == by_type_.end() ? nullptr : &declarations_[it->second];
}

Declaration DeclarationCatalog::validate(std::string_view json) const {
  rapidjson::Document doc;
  // Iterative: a deeply nested body must not exhaust the stack.
  doc.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (doc.HasParseError())
    throw BadRequest(std::string("the declaration is not JSON: ") +
                     rapidjson::GetParseError_En(doc.GetParseError()) + " at offset " +
                     std::to_string(doc.GetErrorOffset()));
  if (!doc.IsObject()) throw InvalidDeclaration("(root)", "must be an object");
  for (const auto& m : static_cast<const rapidjson::Value&>(doc).GetObject()) {
    const std::string name = string_of(m.name);
    if (name != "Type" && name != "Identifier" && name != "Payload" && name != "ServerToken")
      throw InvalidDeclaration(name, "unknown key (known: Type, Identifier, Payload, ServerToken)");
  }
  Declaration d;
  d.type = string_of(required_member(doc, "Type", &rapidjson::Value::IsString, "a string"));
  d.identifier =
      string_of(required_member(doc, "Identifier", &rapidjson::Value::IsString, "a string"));
  const auto& payload = required_member(doc, "Payload", &rapidjson::Value::IsObject, "an object");
  // Identifiers name store keys and the URL a device fetches the declaration at.
  if (!is_valid_identifier(d.identifier))
    throw InvalidDeclaration("Identifier", "must be 1-128 characters of [A-Za-z0-9._-]");
  const DeclarationSpec* spec = find(d.type);
  if (!spec)
    throw InvalidDeclaration("Type", "unknown declaration type \"" + d.type + "\" (" +
                                         std::to_string(declarations_.size()) +
                                         " are known: GET /api/v1/declaration-catalog)");
  d.kind = *kind_of(d.type);
  const KeySpec payload_spec{"Payload", ValueType::kDictionary, true, {}, spec->keys};
  validate_value(value_from_json(payload, &payload_spec, "Payload").root(), payload_spec,
                 "Payload");
  if (d.kind == DeclarationKind::kActivation) {
    const auto it = payload.FindMember(kActivationConfigurations.data());
    if (it != payload.MemberEnd())
      for (rapidjson::SizeType i = 0; i < it->value.Size(); ++i)
        d.references.push_back(
            {string_of(it->value[i]),
             "Payload." + std::string(kActivationConfigurations) + "[" + std::to_string(i) + "]",
             DeclarationKind::kConfiguration,
             {}});
  }
  collect_asset_references(payload, payload_spec, "Payload", d.references);
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("Type");
  w.String(d.type.data(), static_cast<rapidjson::SizeType>(d.type.size()));
  w.Key("Identifier");
  w.String(d.identifier.data(), static_cast<rapidjson::SizeType>(d.identifier.size()));
  w.Key("Payload");
  payload.Accept(w);  // at most 64 levels deep: value_from_json checked
  w.EndObject();
  d.content.assign(buffer.GetString(), buffer.GetSize());
  return d;
}

std::string declaration_server_token(std::string_view content, std::string_view touch) {
  std::string input(content);
  if (!touch.empty()) input.append(1, '\0').append(touch);
  return crypto::sha256_hex(input).substr(0, 32);
}

std::string served_declaration(std::string_view content, std::string_view server_token) {
  // The content is Cairn's own compact JSON object, and the token hex: appending is exact.
  std::string out(content.substr(0, content.size() - 1));
  out += ",\"ServerToken\":\"";
  out += server_token;
  out += "\"}";
  return out;
}

}  // namespace cairn::protocol
