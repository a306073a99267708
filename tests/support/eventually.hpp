// Polling for what another thread does (a syncer, a dispatcher) without asserting timings: `done`
// is asked every 50 ms until it holds, or `within` passes (false).
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace cairn::testing {

inline bool eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds within = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

}  // namespace cairn::testing
