#include "tests/support/browser.hpp"

#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <thread>

#include "common/encoding.hpp"
#include "crypto/digest.hpp"

extern char** environ;

namespace cairn::testing {
namespace {

using Clock = std::chrono::steady_clock;

// base64(SHA-256(SubjectPublicKeyInfo)) of the certificate in `pem_file`: how Chromium names a
// key it is told to accept.
std::string spki_hash(const std::string& pem_file) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(pem_file.c_str(), "r"), std::fclose);
  if (!file) throw std::runtime_error("cannot read " + pem_file);
  std::unique_ptr<X509, void (*)(X509*)> cert(PEM_read_X509(file.get(), nullptr, nullptr, nullptr),
                                              X509_free);
  if (!cert) throw std::runtime_error(pem_file + " holds no certificate");
  unsigned char* der = nullptr;
  const int size = i2d_PUBKEY(X509_get0_pubkey(cert.get()), &der);
  if (size <= 0) throw std::runtime_error("cannot encode the key of " + pem_file);
  const std::string spki(reinterpret_cast<char*>(der), static_cast<size_t>(size));
  OPENSSL_free(der);
  return base64_encode(crypto::sha256(spki));
}

// A pipe end moved above the descriptors the child's are copied to, so dup2 never meets itself.
int high(int fd) {
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
  ::close(fd);
  if (moved < 0) throw std::runtime_error("fcntl failed");
  return moved;
}

std::string json_string(const std::string& text) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return buffer.GetString();
}

}  // namespace

Browser::Browser(const std::string& server_cert_file) {
  int to[2], from[2];
  if (::pipe(to) != 0 || ::pipe(from) != 0) throw std::runtime_error("pipe failed");
  const int child_reads = high(to[0]), child_writes = high(from[1]);
  to_browser_ = high(to[1]);
  from_browser_ = high(from[0]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, child_reads, 3);
  posix_spawn_file_actions_adddup2(&actions, child_writes, 4);
  // Its chatter (no D-Bus here, no GPU) goes to a file beside its profile, not the test's output.
  const std::string log = profile_ / "chromium.log";
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  // Flags as the machine notes ask: without the networking ones Chromium keeps trying to reach
  // Google's hosts from a machine that reaches nothing.
  std::vector<std::string> args{
      "chromium",
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--hide-scrollbars",
      "--window-size=1360,900",
      "--remote-debugging-pipe",
      "--user-data-dir=" + profile_.path(),
      "--ignore-certificate-errors-spki-list=" + spki_hash(server_cert_file),
      "about:blank"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int spawned = ::posix_spawnp(&pid_, "chromium", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(child_reads);
  ::close(child_writes);
  if (spawned != 0) throw std::runtime_error("cannot start chromium (ops/install-deps.sh)");
  ::signal(SIGPIPE, SIG_IGN);  // a browser that died is an error from write(), not a signal

  const auto target = call("Target.createTarget", R"({"url":"about:blank"})", false);
  const std::string target_id = target["result"]["targetId"].GetString();
  const auto attached =
      call("Target.attachToTarget",
           R"({"targetId":)" + json_string(target_id) + R"(,"flatten":true})", false);
  session_ = attached["result"]["sessionId"].GetString();
  call("Page.enable", "{}");
  call("Runtime.enable", "{}");
  call("Log.enable", "{}");
}

Browser::~Browser() {
  if (to_browser_ >= 0) ::close(to_browser_);
  if (from_browser_ >= 0) ::close(from_browser_);
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void Browser::send(const std::string& message) {
  std::string framed = message;
  framed.push_back('\0');
  for (size_t done = 0; done < framed.size();) {
    const auto n = ::write(to_browser_, framed.data() + done, framed.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("chromium is gone");
    done += static_cast<size_t>(n);
  }
}

rapidjson::Document Browser::receive(Clock::time_point deadline) {
  for (;;) {
    if (const auto end = pending_.find('\0'); end != std::string::npos) {
      rapidjson::Document d;
      d.Parse(pending_.data(), end);
      pending_.erase(0, end + 1);
      if (d.HasParseError() || !d.IsObject())
        throw std::runtime_error("chromium sent something that is not JSON");
      return d;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) throw std::runtime_error("chromium did not answer in time");
    pollfd p{from_browser_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buffer[65536];
    const auto n = ::read(from_browser_, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("chromium is gone");
    pending_.append(buffer, static_cast<size_t>(n));
  }
}

void Browser::note_event(const rapidjson::Document& event) {
  const std::string method = event["method"].GetString();
  const auto& params = event["params"];
  if (method == "Runtime.exceptionThrown") {
    const auto& details = params["exceptionDetails"];
    std::string text = details.HasMember("text") ? details["text"].GetString() : "exception";
    if (details.HasMember("exception") && details["exception"].HasMember("description"))
      text += ": " + std::string(details["exception"]["description"].GetString());
    page_errors_.push_back(text);
  } else if (method == "Log.entryAdded" &&
             std::string(params["entry"]["level"].GetString()) == "error" &&
             std::string(params["entry"]["source"].GetString()) != "network") {
    // (A refused request is logged as a network error too: tests look at what the page shows.)
    page_errors_.push_back(params["entry"]["text"].GetString());
  }
}

rapidjson::Document Browser::call(const std::string& method, const std::string& params_json,
                                  bool in_page) {
  const int id = next_id_++;
  std::string message = R"({"id":)" + std::to_string(id) + R"(,"method":)" + json_string(method) +
                        R"(,"params":)" + params_json;
  if (in_page) message += R"(,"sessionId":)" + json_string(session_);
  send(message + "}");
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto d = receive(deadline);
    if (d.HasMember("method") && d.HasMember("params")) {
      note_event(d);
      continue;
    }
    if (!d.HasMember("id") || d["id"].GetInt() != id) continue;
    if (d.HasMember("error"))
      throw std::runtime_error(method + " failed: " + d["error"]["message"].GetString());
    return d;
  }
}

void Browser::navigate(const std::string& url) {
  call("Page.navigate", R"({"url":)" + json_string(url) + "}");
}

std::string Browser::evaluate(const std::string& expression) {
  const auto d = call("Runtime.evaluate", R"({"expression":)" + json_string(expression) +
                                              R"(,"returnByValue":true,"awaitPromise":true})");
  const auto& result = d["result"];
  if (result.HasMember("exceptionDetails")) {
    const auto& details = result["exceptionDetails"];
    throw std::runtime_error(
        "the page threw: " +
        std::string(details.HasMember("exception") && details["exception"].HasMember("description")
                        ? details["exception"]["description"].GetString()
                        : details["text"].GetString()) +
        " (in: " + expression + ")");
  }
  const auto& value = result["result"];
  if (!value.HasMember("value")) return "null";
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value["value"].Accept(writer);
  return buffer.GetString();
}

bool Browser::wait_for(const std::string& expression, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    try {
      if (evaluate("Boolean(" + expression + ")") == "true") return true;
    } catch (const std::runtime_error&) {
      // The page is between documents (a navigation): ask again.
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

void Browser::screenshot(const std::string& png_path) {
  const auto d = call("Page.captureScreenshot", R"({"format":"png"})");
  const std::string png = base64_decode(d["result"]["data"].GetString());
  std::ofstream(png_path, std::ios::binary) << png;
}

}  // namespace cairn::testing
