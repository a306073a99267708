#include "cli/admin_commands.hpp"

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <charconv>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>

#include "cli/admin_client.hpp"
#include "cli/table.hpp"

namespace cairn::cli {
namespace {

using Json = rapidjson::Document;

// A UDID or UUID as one segment of a path, whatever it holds.
std::string path_segment(const std::string& text) {
  return httplib::detail::encode_query_param(text);
}

Json parse_json(const std::string& text, const std::string& what) {
  Json d;
  d.Parse(text.data(), text.size());
  if (d.HasParseError()) throw std::runtime_error(what + " is not JSON");
  return d;
}

std::string pretty(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
  writer.SetIndent(' ', 2);
  v.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

// What one invocation has: its options, its words after the subcommand, and where it prints.
struct Call {
  Options options;
  std::vector<std::string> words;
  bool json = false;
  AdminClient client;

  const std::string& word(size_t i, const char* what) const {
    if (i >= words.size()) throw UsageError(std::string(what) + " is required");
    return words[i];
  }
  std::string option(const std::string& name, const std::string& fallback = "") const {
    return opt(options, name, fallback);
  }
};

const std::vector<Column> kDeviceColumns{
    {"UDID", "udid"},           {"SERIAL", "serial_number"}, {"STATE", "enrollment_state"},
    {"LAST SEEN", "last_seen"}, {"PUSHABLE", "pushable"},    {"INACTIVE SINCE", "inactive_since"}};
const std::vector<Column> kCommandColumns{{"UDID", "udid"},
                                          {"COMMAND UUID", "command_uuid"},
                                          {"REQUEST TYPE", "request_type"},
                                          {"STATUS", "status"},
                                          {"ENQUEUED", "enqueued_at"},
                                          {"FINISHED", "finished_at"},
                                          {"DELIVERIES", "deliveries"}};
const std::vector<Column> kEventColumns{{"TIME", "time"},
                                        {"TYPE", "type"},
                                        {"ACTOR", "event.actor"},
                                        {"NODE", "event.node"},
                                        {"COMMAND UUID", "event.payload.command_uuid"},
                                        {"PARTITION", "partition"},
                                        {"OFFSET", "offset"}};

// A list the server pages with a cursor: one page (--limit, --after), or every page (--all).
// Prints the `list` member of the pages as one table, or as one JSON document.
void print_pages(Call& call, const std::string& path,
                 std::vector<std::pair<std::string, std::string>> params, const char* list,
                 const std::vector<Column>& columns) {
  const bool all = call.options.contains("all");
  if (call.options.contains("limit")) params.emplace_back("limit", call.option("limit"));
  std::string after = call.option("after");
  Json merged;
  merged.SetObject();
  rapidjson::Value rows(rapidjson::kArrayType);
  std::string next;
  do {
    auto page_params = params;
    if (!after.empty()) page_params.emplace_back("after", after);
    Json page = parse_json(call.client.get(path + query_string(page_params)), "the answer");
    if (page.HasMember(list) && page[list].IsArray())
      for (auto& row : page[list].GetArray())
        rows.PushBack(rapidjson::Value(row, merged.GetAllocator()), merged.GetAllocator());
    next = page.HasMember("next_after") && page["next_after"].IsString()
               ? page["next_after"].GetString()
               : "";
    after = next;
  } while (all && !next.empty());
  merged.AddMember(rapidjson::StringRef(list), rows, merged.GetAllocator());
  if (!next.empty())
    merged.AddMember("next_after", rapidjson::Value(next.c_str(), merged.GetAllocator()),
                     merged.GetAllocator());
  if (call.json) {
    std::cout << pretty(merged) << '\n';
    return;
  }
  print_table(std::cout, merged[list], columns);
  if (!next.empty()) std::cerr << "more: --after " << printable(next) << " (or --all)\n";
}

void print_answer(const Call& call, const std::string& body) {
  const Json d = parse_json(body, "the answer");
  if (call.json)
    std::cout << pretty(d) << '\n';
  else
    print_fields(std::cout, d);
}

// Filters given as words, "name=value" (`os_version=17.1`, `status.passcode.is-compliant=false`).
std::vector<std::pair<std::string, std::string>> word_pairs(const std::vector<std::string>& words,
                                                            size_t first) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (size_t i = first; i < words.size(); ++i) {
    const auto eq = words[i].find('=');
    if (eq == std::string::npos || eq == 0)
      throw UsageError("expected name=value, not " + words[i]);
    pairs.emplace_back(words[i].substr(0, eq), words[i].substr(eq + 1));
  }
  return pairs;
}

int devices(Call& call) {
  const std::string& step = call.word(0, "devices list|show|commands|events");
  if (step == "list") {
    auto filters = word_pairs(call.words, 1);
    // The inventory filters live on the typed API; without any, the plain list pages everything.
    print_pages(call, filters.empty() ? "/v1/devices" : "/api/v1/devices", filters, "devices",
                kDeviceColumns);
    return 0;
  }
  const std::string path = "/api/v1/devices/" + path_segment(call.word(1, "a device's UDID"));
  if (step == "show") {
    print_answer(call, call.client.get(path));
  } else if (step == "commands") {
    const Json d = parse_json(call.client.get(path + "/commands"), "the answer");
    if (call.json) {
      std::cout << pretty(d) << '\n';
    } else {
      std::cout << "queue:\n";
      print_table(std::cout, d["queue"], kCommandColumns);
      std::cout << "\nfinished:\n";
      print_table(std::cout, d["finished"], kCommandColumns);
    }
  } else if (step == "events") {
    std::vector<std::pair<std::string, std::string>> params;
    for (const char* name : {"since", "until", "type"})
      if (call.options.contains(name)) params.emplace_back(name, call.option(name));
    print_pages(call, path + "/events", params, "events", kEventColumns);
  } else {
    throw UsageError("devices " + step + ": expected list, show, commands or events");
  }
  return 0;
}

// The catalog's entry for a request type: its keys and their types.
rapidjson::Value find_command(Json& catalog, const std::string& request_type) {
  for (auto& c : catalog["commands"].GetArray())
    if (c["request_type"].GetString() == request_type)
      return rapidjson::Value(c, catalog.GetAllocator());
  throw UsageError(request_type + " is not a request type Cairn knows (cairn commands catalog)");
}

// A "Key=value" word as the JSON the catalog says the key holds.
rapidjson::Value typed_value(const std::string& key, const std::string& text,
                             const std::string& type, Json::AllocatorType& alloc) {
  if (type == "string" || type == "date" || type == "data")
    return rapidjson::Value(text.c_str(), alloc);
  if (type == "boolean") {
    if (text != "true" && text != "false") throw UsageError(key + " is true or false");
    return rapidjson::Value(text == "true");
  }
  if (type == "integer") {
    int64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size())
      throw UsageError(key + " is a whole number, not " + text);
    return rapidjson::Value(n);
  }
  // Reals, arrays, dictionaries: the value is JSON (`Settings='[{"Item":"…"}]'`).
  Json parsed;
  parsed.Parse(text.data(), text.size());
  if (parsed.HasParseError()) throw UsageError(key + " holds " + type + ": give it as JSON");
  return rapidjson::Value(parsed, alloc);
}

int send_command(Call& call) {
  const std::string& request_type = call.word(1, "the request type (e.g. DeviceInformation)");
  Json body;
  if (call.options.contains("json")) {
    const auto file = call.option("json");
    std::ifstream in_file(file);
    std::istream& in = file == "-" ? std::cin : in_file;
    if (!in) throw std::runtime_error("cannot read " + file);
    body = parse_json(std::string(std::istreambuf_iterator<char>(in), {}), file);
    if (!body.IsObject()) throw UsageError(file + " must hold a JSON object");
  } else {
    body.SetObject();
  }
  auto& alloc = body.GetAllocator();
  auto set = [&](const char* name, rapidjson::Value value) {
    body.RemoveMember(name);
    body.AddMember(rapidjson::Value(name, alloc), value, alloc);
  };
  set("request_type", rapidjson::Value(request_type.c_str(), alloc));
  rapidjson::Value devices(rapidjson::kArrayType);
  std::stringstream ids(required(call.options, "devices"));
  for (std::string id; std::getline(ids, id, ',');)
    if (!id.empty()) devices.PushBack(rapidjson::Value(id.c_str(), alloc), alloc);
  set("devices", std::move(devices));
  if (call.options.contains("no-push")) set("no_push", rapidjson::Value(true));
  if (call.options.contains("command-uuid"))
    set("command_uuid", rapidjson::Value(call.option("command-uuid").c_str(), alloc));
  if (call.words.size() > 2) {
    Json catalog = parse_json(call.client.get("/api/v1/catalog"), "the catalog");
    const auto spec = find_command(catalog, request_type);
    for (const auto& [key, text] : word_pairs(call.words, 2)) {
      std::string type;
      for (const auto& k : spec["keys"].GetArray())
        if (k["name"].GetString() == key) type = k["type"].GetString();
      if (type.empty())
        throw UsageError(request_type + " has no key " + key + " (cairn commands catalog " +
                         request_type + " lists them)");
      set(key.c_str(), typed_value(key, text, type, alloc));
    }
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  body.Accept(writer);
  const auto answer = call.client.send("POST", "/api/v1/commands", buffer.GetString());
  print_answer(call, answer);
  return 0;
}

int commands(Call& call) {
  const std::string& step = call.word(0, "commands send|status|list|cancel|catalog");
  if (step == "send") return send_command(call);
  if (step == "list") {
    print_pages(call, "/v1/commands", {{"status", required(call.options, "status")}}, "commands",
                kCommandColumns);
    return 0;
  }
  if (step == "catalog") {
    Json catalog = parse_json(call.client.get("/api/v1/catalog"), "the catalog");
    if (call.words.size() > 1) {
      print_answer(call, pretty(find_command(catalog, call.words[1])));
    } else if (call.json) {
      std::cout << pretty(catalog) << '\n';
    } else {
      print_table(
          std::cout, catalog["commands"],
          {{"REQUEST TYPE", "request_type"}, {"TITLE", "title"}, {"ACCESS RIGHT", "access_right"}});
    }
    return 0;
  }
  const std::string path = "/v1/commands/" + path_segment(call.word(1, "a CommandUUID"));
  if (step == "status") {
    const Json d = parse_json(call.client.get(path), "the answer");
    if (call.json)
      std::cout << pretty(d) << '\n';
    else
      print_table(std::cout, d["devices"], kCommandColumns);
  } else if (step == "cancel") {
    std::vector<std::pair<std::string, std::string>> params;
    if (call.options.contains("devices")) params.emplace_back("devices", call.option("devices"));
    print_answer(call, call.client.send("POST", path + "/cancel" + query_string(params), ""));
  } else {
    throw UsageError("commands " + step + ": expected send, status, list, cancel or catalog");
  }
  return 0;
}

int push(Call& call) {
  const std::string& ids = call.word(0, "the devices' UDIDs (comma-separated)");
  std::string path = "/v1/push/";
  std::stringstream list(ids);
  for (std::string id; std::getline(list, id, ',');) path += path_segment(id) + ",";
  path.pop_back();
  print_answer(call, call.client.get(path));
  return 0;
}

int certificates(Call& call) {
  std::vector<std::pair<std::string, std::string>> params;
  if (call.options.contains("within-days"))
    params.emplace_back("within_days", call.option("within-days"));
  const auto expiring = call.client.get("/v1/certificates" + query_string(params));
  const auto push_certificates = call.client.get("/v1/pushcerts");
  if (call.json) {
    std::cout << pretty(parse_json(expiring, "the answer")) << '\n'
              << pretty(parse_json(push_certificates, "the answer")) << '\n';
    return 0;
  }
  const Json push = parse_json(push_certificates, "the answer");
  const Json fleet = parse_json(expiring, "the answer");
  std::cout << "APNs push certificates:\n";
  print_table(std::cout, push["push_certificates"],
              {{"TOPIC", "topic"},
               {"NOT AFTER", "not_after"},
               {"DAYS LEFT", "days_left"},
               {"EXPIRING SOON", "expiring_soon"},
               {"UPLOADED BY", "uploaded_by"}});
  const std::vector<Column> expiry{{"ROLE", "role"},
                                   {"SUBJECT", "subject"},
                                   {"NOT AFTER", "not_after"},
                                   {"DAYS LEFT", "days_left"}};
  for (const auto& [title, list] :
       {std::pair{"\nthe server's certificates:\n", "server"},
        std::pair{"\npush certificates in use:\n", "push"},
        std::pair{"\ndevice identities expiring soon:\n", "device_identities_expiring"}}) {
    std::cout << title;
    print_table(std::cout, fleet[list], expiry);
  }
  return 0;
}

// KMFDDM's lists: a JSON array of names.
int names(Call& call, const std::string& path) {
  const Json d = parse_json(call.client.get(path), "the answer");
  if (call.json) {
    std::cout << pretty(d) << '\n';
  } else if (d.IsArray()) {
    for (const auto& name : d.GetArray()) std::cout << cell_text(name) << '\n';
  }
  return 0;
}

const KnownOptions& options_of(const std::string& command) {
  static const std::map<std::string, KnownOptions> known = [] {
    auto with_server = [](std::initializer_list<std::string> more) {
      KnownOptions o = kServerOptions;
      o.insert(more);
      return o;
    };
    return std::map<std::string, KnownOptions>{
        {"devices", with_server({"limit", "after", "all", "since", "until", "type"})},
        {"commands", with_server({"limit", "after", "all", "status", "devices", "json", "no-push",
                                  "command-uuid"})},
        {"push", with_server({})},
        {"certificates", with_server({"within-days"})},
        {"declarations", with_server({})},
        {"sets", with_server({})}};
  }();
  return known.at(command);
}

}  // namespace

bool is_admin_command(const std::string& name) {
  return name == "devices" || name == "commands" || name == "push" || name == "certificates" ||
         name == "declarations" || name == "sets";
}

int run_admin_command(const std::vector<std::string>& args) {
  const std::string& command = args.at(1);
  auto line = parse_command_line(args, 2, options_of(command), true);
  const std::string output = opt(line.options, "output", "table");
  if (output != "table" && output != "json") throw UsageError("--output is table or json");
  Call call{line.options, line.words, output == "json", AdminClient(server_settings(line.options))};
  if (command == "devices") return devices(call);
  if (command == "commands") return commands(call);
  if (command == "push") return push(call);
  if (command == "certificates") return certificates(call);
  if (command == "declarations") return names(call, "/v1/declarations");
  return names(call, "/v1/sets");
}

}  // namespace cairn::cli
