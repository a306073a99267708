// Running a program that is not ours (openssl, scep-submit, the cairn binary) from a test.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace cairn::testing {

// Runs `command` with /bin/sh; returns its standard output and sets `status` to its exit status
// (-1 if it did not exit normally).
inline std::string run_shell(const std::string& command, int& status) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  char buf[4096];
  for (size_t n; pipe && (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  const int raw = pipe ? ::pclose(pipe) : -1;
  status = raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return out;
}

}  // namespace cairn::testing
