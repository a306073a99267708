// Binary encoding of projection records (cereal). Values are private to the projection: replays
// rebuild them, so their layout may change between versions without migration.
#pragma once

#include <cereal/archives/binary.hpp>
#include <cereal/types/string.hpp>

#include <sstream>
#include <string>
#include <string_view>

namespace cairn::projector {

template <typename T>
std::string encode_record(const T& record) {
  std::ostringstream os;
  {
    cereal::BinaryOutputArchive a(os);
    a(record);
  }
  return os.str();
}

template <typename T>
T decode_record(std::string_view bytes) {
  std::istringstream is{std::string(bytes)};
  cereal::BinaryInputArchive a(is);
  T record;
  a(record);
  return record;
}

}  // namespace cairn::projector
