// A client of a running node's admin API, for the commands that manage a fleet from a shell.
// Where the server is and which key to use come from, in this order: the command line
// (--server, --api-key, --ca-file), the environment (CAIRN_SERVER, CAIRN_API_KEY, CAIRN_CA_FILE),
// then a config file (--config, else $CAIRN_CONFIG, else ~/.config/cairn/cli.conf when present;
// lines "server = …", "api-key = …", "ca-file = …"). Errors are exceptions (see options.hpp).
#pragma once

#include <httplib.h>

#include <string>

#include "cli/options.hpp"

namespace cairn::cli {

// The options every admin-API command takes.
extern const KnownOptions kServerOptions;

struct ServerSettings {
  std::string server = "https://127.0.0.1:8443";
  std::string api_key;
  std::string ca_file;  // vouches for the server; the dev PKI's CA (DIR/pki/ca.crt) by default
};
ServerSettings server_settings(const Options& o);

// A 4xx or 5xx from the server: its status, and the reason it gave.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, const std::string& reason);
  int status() const { return status_; }

 private:
  int status_;
};

class AdminClient {
 public:
  explicit AdminClient(const ServerSettings& settings);

  // The body of a 2xx answer (a 207 too: it names what was refused); ApiError otherwise.
  std::string get(const std::string& path_and_query);
  std::string send(const std::string& method, const std::string& path, const std::string& body,
                   const std::string& content_type = "application/json");
  // For the commands with their own needs (headers, binary bodies): the configured client.
  httplib::Client& http() { return http_; }

 private:
  httplib::Client http_;
};

// Throws ApiError unless `r` is a 2xx answer; a transport failure is a runtime_error.
void expect_ok(const httplib::Result& r);

// A query string ("?a=1&b=2", or "" when empty) from name/value pairs, values encoded.
std::string query_string(const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace cairn::cli
