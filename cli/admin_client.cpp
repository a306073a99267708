#include "cli/admin_client.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <rapidjson/document.h>

namespace cairn::cli {

const KnownOptions kServerOptions{"server", "api-key", "ca-file", "config", "data-dir", "output"};

namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// The config file a command reads: --config, $CAIRN_CONFIG, or the per-user default if present.
std::string config_path(const Options& o) {
  if (o.contains("config")) return o.at("config");
  if (auto path = env("CAIRN_CONFIG"); !path.empty()) return path;
  const auto home = env("HOME");
  if (home.empty()) return "";
  const std::string path = home + "/.config/cairn/cli.conf";
  return std::filesystem::exists(path) ? path : "";
}

// An API key in a file others can read is a key others hold: say so, as ssh does.
void warn_if_exposed(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)) != 0)
    std::cerr << "cairn: warning: " << path
              << " holds an API key and other users can read it (chmod 600 " << path << ")\n";
}

// The server's reason: its JSON {"error": …} when it sent one, else the body as given.
std::string reason_of(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (!d.HasParseError() && d.IsObject() && d.HasMember("error") && d["error"].IsString())
    return d["error"].GetString();
  return body.substr(0, 1000);
}

}  // namespace

ServerSettings server_settings(const Options& given) {
  Options o = given;
  for (const auto& [option, variable] :
       {std::pair{"server", "CAIRN_SERVER"}, std::pair{"api-key", "CAIRN_API_KEY"},
        std::pair{"ca-file", "CAIRN_CA_FILE"}})
    if (auto value = env(variable); !value.empty()) o.try_emplace(option, value);
  if (const auto path = config_path(given); !path.empty()) {
    const bool key_before = o.contains("api-key");
    merge_config_file(o, path, {"server", "api-key", "ca-file", "data-dir"});
    if (!key_before && o.contains("api-key")) warn_if_exposed(path);
  }
  ServerSettings s;
  s.server = opt(o, "server", s.server);
  s.api_key = opt(o, "api-key", "");
  s.ca_file = opt(o, "ca-file", opt(o, "data-dir", "data") + "/pki/ca.crt");
  if (s.api_key.empty())
    throw UsageError("give --api-key (or set CAIRN_API_KEY, or api-key in the config file)");
  return s;
}

ApiError::ApiError(int status, const std::string& reason)
    : std::runtime_error("the server answered " + std::to_string(status) + ": " + reason),
      status_(status) {}

AdminClient::AdminClient(const ServerSettings& settings) : http_(settings.server) {
  if (settings.server.starts_with("https://")) {
    http_.set_ca_cert_path(settings.ca_file);
    http_.enable_server_certificate_verification(true);
  }
  http_.set_basic_auth("cairn", settings.api_key);
  http_.set_read_timeout(120);  // a command to a whole fleet is appended in chunks
}

void expect_ok(const httplib::Result& r) {
  if (!r) throw std::runtime_error("cannot reach the server: " + httplib::to_string(r.error()));
  if (r->status / 100 != 2) throw ApiError(r->status, reason_of(r->body));
}

std::string AdminClient::get(const std::string& path_and_query) {
  auto r = http_.Get(path_and_query);
  expect_ok(r);
  return r->body;
}

std::string AdminClient::send(const std::string& method, const std::string& path,
                              const std::string& body, const std::string& content_type) {
  auto r = method == "PUT"      ? http_.Put(path, body, content_type)
           : method == "DELETE" ? http_.Delete(path, body, content_type)
                                : http_.Post(path, body, content_type);
  expect_ok(r);
  return r->body;
}

std::string query_string(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string q;
  for (const auto& [name, value] : params)
    q += (q.empty() ? "?" : "&") + httplib::detail::encode_query_param(name) + "=" +
         httplib::detail::encode_query_param(value);
  return q;
}

}  // namespace cairn::cli
