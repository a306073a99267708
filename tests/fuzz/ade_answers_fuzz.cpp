// libFuzzer target: what the ADE service answers (its JSON pages, assignments, sessions), the
// assignment rules an administrator sends, and OAuth headers as the ADE simulator reads them. The
// first byte chooses the reader. A bad answer is an AdeAnswerError (a bad rule a BadRequest),
// never a crash or another exception; what a reader keeps stays within its bounds.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "ade/answers.hpp"
#include "ade/assignment_rules.hpp"
#include "ade/client.hpp"
#include "ade/oauth.hpp"
#include "common/errors.hpp"
#include "projector/ade.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn;
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 6) {
      case 0: {
        const auto page = ade::read_device_page(rest);
        if (page.devices.size() > ade::kMostDevicesPerPage) std::abort();
        for (const auto& d : page.devices)
          if (!projector::is_serial_number(d.serial_number) ||
              d.model.size() > ade::kLongestField || d.op_date.size() > ade::kLongestField)
            std::abort();
        break;
      }
      case 1: {
        const auto a = ade::read_assign(rest);
        if (a.retry_after_seconds < 0 || a.retry_after_seconds > 86400) std::abort();
        for (const auto& d : a.devices)
          if (!projector::is_serial_number(d.serial_number)) std::abort();
        break;
      }
      case 2:
        if (ade::read_session(rest).empty()) std::abort();
        break;
      case 3: {
        const auto rules = ade::parse_rules(rest);
        if (rules.size() > 100) std::abort();
        (void)ade::choose_profile(rules, "default", projector::AdeDeviceRecord{});
        break;
      }
      case 4:
        (void)ade::oauth::parse_authorization(rest);
        break;
      default:
        ade::classify("fetch", 400 + static_cast<int>(size % 200), rest, rest);
        break;
    }
  } catch (const ade::AdeAnswerError&) {
  } catch (const ade::AdeCallError& e) {
    if (e.retry_after_seconds < 0 || e.retry_after_seconds > 86400) std::abort();
  } catch (const BadRequest&) {
  }
  return 0;
}
