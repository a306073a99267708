// libFuzzer target: the checks every request passes on its headers alone, before its body is
// read (http::intake_refusal, run pre-routing). The input is a request line's method and path,
// then header lines: "PUT /mdm\nContent-Length: 12\n...". Whatever the headers, the answer is a
// refusal with a 4xx status or none, never a crash or an exception.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/intake.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const cairn::ingest::ApiKeys no_keys("/nonexistent");
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto next_line = [&input] {
    const size_t end = input.find('\n');
    const std::string_view line = input.substr(0, end);
    input = end == std::string_view::npos ? std::string_view() : input.substr(end + 1);
    return line;
  };
  httplib::Request req;
  const std::string_view first = next_line();
  const size_t space = first.find(' ');
  req.method = std::string(first.substr(0, space));
  req.path = space == std::string_view::npos ? "" : std::string(first.substr(space + 1));
  while (!input.empty()) {
    const std::string_view line = next_line();
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (value.starts_with(' ')) value.remove_prefix(1);
    req.headers.emplace(std::string(line.substr(0, colon)), std::string(value));
  }
  const auto refusal = cairn::http::intake_refusal(req, {}, no_keys);
  if (refusal && (refusal->status < 400 || refusal->status > 499 || refusal->reason.empty()))
    std::abort();
  return 0;
}
