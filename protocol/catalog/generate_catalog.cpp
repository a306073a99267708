// Build-time tool: reads Apple's machine-readable schemas (YAML) of MDM commands
// (schemas/apple/mdm/ commands) or of declarations (schemas/apple/declarative/declarations) and
// writes a C++ source holding them as one compact JSON document, which protocol/command_catalog.cpp
// or protocol/declaration_catalog.cpp reads at startup. Data in, data out: a new Apple schema file
// is picked up by the next build with no code change.
//
// usage: generate_catalog commands|declarations OUT.cpp SOURCE.txt SCHEMA.yaml...
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void string(Writer& w, const std::string& s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// "<dictionary>" → "dictionary".
std::string type_name(const YAML::Node& key) {
  std::string t = key["type"] ? key["type"].as<std::string>() : "<any>";
  if (t.size() > 2 && t.front() == '<' && t.back() == '>') t = t.substr(1, t.size() - 2);
  return t;
}

void keys(Writer& w, const YAML::Node& list) {
  w.StartArray();
  for (const auto& key : list) {
    w.StartObject();
    w.Key("key");
    string(w, key["key"] ? key["key"].as<std::string>() : "ANY");
    w.Key("type");
    string(w, type_name(key));
    w.Key("required");
    w.Bool(key["presence"] && key["presence"].as<std::string>() == "required");
    if (key["rangelist"]) {
      w.Key("range");
      w.StartArray();
      for (const auto& v : key["rangelist"]) string(w, v.as<std::string>());
      w.EndArray();
    }
    // A declaration's reference to an asset: the asset types it may name.
    if (key["assettypes"]) {
      w.Key("asset_types");
      w.StartArray();
      for (const auto& v : key["assettypes"]) string(w, v.as<std::string>());
      w.EndArray();
    }
    if (key["subkeys"]) {
      w.Key("subkeys");
      keys(w, key["subkeys"]);
    }
    w.EndObject();
  }
  w.EndArray();
}

// The members every entry has: its name (`name_key`: Apple's `payload.<kind>`), title, file and,
// per OS, the version that introduced it and the access right it needs ("None" or absent: none;
// "Special Case": decided by the command's content).
void header(Writer& w, const std::filesystem::path& file, const YAML::Node& doc,
            const char* name_key, const char* kind) {
  const YAML::Node payload = doc["payload"];
  w.Key(name_key);
  string(w, payload[kind].as<std::string>());
  w.Key("title");
  string(w, doc["title"] ? doc["title"].as<std::string>() : "");
  w.Key("file");
  string(w, file.filename().string());
  w.Key("os");
  w.StartObject();
  for (const auto& os : payload["supportedOS"]) {
    const YAML::Node v = os.second;
    const std::string introduced =
        v && v["introduced"] ? v["introduced"].as<std::string>() : std::string("n/a");
    if (introduced == "n/a") continue;
    w.Key(os.first.as<std::string>().c_str());
    w.StartObject();
    w.Key("introduced");
    string(w, introduced);
    const std::string right = v["accessrights"] ? v["accessrights"].as<std::string>() : "";
    if (!right.empty() && right != "None") {
      w.Key("access_right");
      string(w, right);
    }
    w.EndObject();
  }
  w.EndObject();
}

YAML::Node listed(const YAML::Node& doc, const char* name) {
  return doc[name] ? doc[name] : YAML::Node(YAML::NodeType::Sequence);
}

void command(Writer& w, const std::filesystem::path& file) {
  const YAML::Node doc = YAML::LoadFile(file.string());
  const YAML::Node payload = doc["payload"];
  w.StartObject();
  header(w, file, doc, "request_type", "requesttype");
  // Whether any OS takes it on a user channel (a Mac user, a Shared iPad user).
  bool user_channel = false;
  for (const auto& os : payload["supportedOS"]) {
    const YAML::Node v = os.second;
    for (const YAML::Node& channels : {v, v ? v["sharedipad"] : YAML::Node()})
      user_channel |= channels && channels["userchannel"] && channels["userchannel"].as<bool>();
  }
  w.Key("user_channel");
  w.Bool(user_channel);
  w.Key("keys");
  keys(w, listed(doc, "payloadkeys"));
  w.Key("response_keys");
  keys(w, listed(doc, "responsekeys"));
  w.EndObject();
}

// A declaration type (declarationbase.yaml, the keys every declaration has, is not one: the
// catalog code knows those keys).
void declaration(Writer& w, const std::filesystem::path& file) {
  const YAML::Node doc = YAML::LoadFile(file.string());
  const YAML::Node payload = doc["payload"];
  if (!payload["declarationtype"] || payload["declarationtype"].as<std::string>() == "any") return;
  w.StartObject();
  header(w, file, doc, "declaration_type", "declarationtype");
  w.Key("keys");
  keys(w, listed(doc, "payloadkeys"));
  w.EndObject();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string kind = argc > 1 ? argv[1] : "";
  if (argc < 5 || (kind != "commands" && kind != "declarations")) {
    std::cerr
        << "usage: generate_catalog commands|declarations OUT.cpp SOURCE.txt SCHEMA.yaml...\n";
    return 2;
  }
  const bool commands = kind == "commands";
  try {
    std::ifstream source_file(argv[3]);
    std::string source;
    std::getline(source_file, source);
    std::set<std::filesystem::path> files(argv + 4, argv + argc);  // a stable order
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.StartObject();
    w.Key("source");
    string(w, source);
    w.Key(kind.c_str());
    w.StartArray();
    for (const auto& f : files) commands ? command(w, f) : declaration(w, f);
    w.EndArray();
    w.EndObject();
    const std::string name = commands ? "kCommandCatalogJson" : "kDeclarationCatalogJson";
    std::ofstream out(argv[2]);
    out << "// Generated by protocol/catalog/generate_catalog.cpp from schemas/apple. Do not "
           "edit.\n"
        << "#include <string_view>\n\nnamespace cairn::protocol {\n"
        << "extern const std::string_view " << name << ";\n"
        << "const std::string_view " << name << " = R\"cairn(" << buffer.GetString()
        << ")cairn\";\n}  // namespace cairn::protocol\n";
    return out ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "generate_catalog: " << e.what() << "\n";
    return 1;
  }
}
