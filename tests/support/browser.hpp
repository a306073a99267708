// Debian's Chromium, headless, driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe: JSON messages separated by NUL on fds 3 and 4, no port to find or
// guard). The console's end-to-end tests load its pages, run script in them, read what they show
// and take screenshots, as a person's browser would.
#pragma once

#include <rapidjson/document.h>
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/temp_dir.hpp"

namespace cairn::testing {

class Browser {
 public:
  // Starts Chromium trusting, besides the system's CAs, the server whose TLS certificate (PEM)
  // is at `server_cert_file` (by its key: --ignore-certificate-errors-spki-list).
  explicit Browser(const std::string& server_cert_file);
  ~Browser();
  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;

  void navigate(const std::string& url);
  // `expression`'s value in the page as JSON text ("null" for undefined); a thrown exception
  // becomes std::runtime_error.
  std::string evaluate(const std::string& expression);
  // Polls `expression` (a JavaScript boolean) until it is true; false once `timeout` passes.
  bool wait_for(const std::string& expression,
                std::chrono::milliseconds timeout = std::chrono::seconds(20));
  void screenshot(const std::string& png_path);
  // Uncaught exceptions and errors the page logged (a blocked script or style among them).
  const std::vector<std::string>& page_errors() const { return page_errors_; }

 private:
  rapidjson::Document call(const std::string& method, const std::string& params_json,
                           bool in_page = true);
  void send(const std::string& message);
  rapidjson::Document receive(std::chrono::steady_clock::time_point deadline);
  void note_event(const rapidjson::Document& event);

  TempDir profile_;
  pid_t pid_ = -1;
  int to_browser_ = -1;
  int from_browser_ = -1;
  std::string pending_;  // bytes read past the last whole message
  int next_id_ = 1;
  std::string session_;  // the page's DevTools session
  std::vector<std::string> page_errors_;
};

}  // namespace cairn::testing
