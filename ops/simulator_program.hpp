// What the simulator programs (cairn-apns-sim, cairn-ade-sim) share: `--name value` options, and
// a plain HTTP control port served until SIGINT or SIGTERM.
#pragma once

#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <initializer_list>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

namespace cairn::sim_program {

using Options = std::map<std::string, std::string>;

inline std::pair<std::string, int> host_port(const std::string& s) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("expected HOST:PORT, got " + s);
  return {s.substr(0, colon), std::stoi(s.substr(colon + 1))};
}

// `defaults` overridden by `--name value` arguments; nullopt (usage printed, the exit status in
// `status`) for -h, a malformed command line or a missing required option.
inline std::optional<Options> parse(int argc, char** argv, Options defaults, const char* usage,
                                    std::initializer_list<const char*> required, int& status) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help" || !a.starts_with("--") || i + 1 >= argc) {
      std::fputs(usage, stderr);
      status = a == "-h" || a == "--help" ? 0 : 2;
      return std::nullopt;
    }
    defaults[a.substr(2)] = argv[++i];
  }
  for (const char* name : required)
    if (!defaults.contains(name)) {
      std::fputs(usage, stderr);
      status = 2;
      return std::nullopt;
    }
  return defaults;
}

// Blocks the stop signals in this thread and every thread started after (call first), so only
// serve_until_stopped's sigwait receives them; and ignores SIGPIPE.
inline sigset_t block_stop_signals() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return stop;
}

// Serves `control` on `address` (HOST:PORT) until a stop signal; prints `banner` with the control
// URL once listening.
inline void serve_until_stopped(httplib::Server& control, const std::string& address,
                                const sigset_t& stop, const std::string& banner) {
  const auto [host, port] = host_port(address);
  if (!control.bind_to_port(host, port))
    throw std::runtime_error("cannot listen on control " + address);
  std::printf("%s, control on http://%s:%d\n", banner.c_str(), host.c_str(), port);
  std::fflush(stdout);
  std::thread serving([&] { control.listen_after_bind(); });
  int sig = 0;
  sigwait(&stop, &sig);
  control.stop();
  serving.join();
}

}  // namespace cairn::sim_program
