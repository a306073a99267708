// Binary encoding of stored records, driven by their serialize() descriptions. Values are
// private to the store's consumer: it rebuilds them from the log, so their layout may change
// between versions without migration (bump that consumer's layout version). Integers are
// little-endian fixed width, strings a 32-bit length then the bytes. Written straight into a
// std::string: the cereal binary archive this replaces went through std::stringstream, a copy and a
// locale per record on every read.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace cairn::store {

namespace record_codec_detail {

template <class T>
concept Fixed = std::is_arithmetic_v<T> || std::is_enum_v<T>;
// A value written as itself (a list of these is a list of values, not of records).
template <class T>
concept Plain = Fixed<T> || std::is_same_v<T, std::string>;

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  template <class... Fields>
  void operator()(const Fields&... fields) {
    (write(fields), ...);
  }

 private:
  template <Fixed T>
  void write(const T& v) {
    char bytes[sizeof(T)];
    std::memcpy(bytes, &v, sizeof(T));
    out_.append(bytes, sizeof(T));
  }
  void write(const std::string& s) {
    write(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  template <class Item>
  void write(const std::vector<Item>& items) {
    write(static_cast<uint32_t>(items.size()));
    for (const auto& item : items) {
      if constexpr (Plain<Item>)
        write(item);
      else
        const_cast<Item&>(item).serialize(*this);
    }
  }
  std::string& out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <class... Fields>
  void operator()(Fields&... fields) {
    (read(fields), ...);
  }
  bool at_end() const { return in_.empty(); }

 private:
  std::string_view take(size_t n) {
    if (n > in_.size()) throw std::runtime_error("stored record truncated");
    auto bytes = in_.substr(0, n);
    in_.remove_prefix(n);
    return bytes;
  }
  template <Fixed T>
  void read(T& v) {
    std::memcpy(&v, take(sizeof(T)).data(), sizeof(T));
  }
  void read(std::string& s) {
    uint32_t size = 0;
    read(size);
    s.assign(take(size));
  }
  template <class Item>
  void read(std::vector<Item>& items) {
    uint32_t size = 0;
    read(size);
    if (size > in_.size()) throw std::runtime_error("stored record truncated");
    items.resize(size);
    for (auto& item : items) {
      if constexpr (Plain<Item>)
        read(item);
      else
        item.serialize(*this);
    }
  }
  std::string_view in_;
};

}  // namespace record_codec_detail

static_assert(std::endian::native == std::endian::little, "records are little-endian");

template <typename T>
std::string encode_record(const T& record) {
  std::string out;
  out.reserve(256);
  record_codec_detail::Writer w(out);
  const_cast<T&>(record).serialize(w);  // serialize() only reads the record when writing
  return out;
}

template <typename T>
T decode_record(std::string_view bytes) {
  T record;
  record_codec_detail::Reader r(bytes);
  record.serialize(r);
  if (!r.at_end()) throw std::runtime_error("stored record has trailing bytes");
  return record;
}

// The record stored under `key` in anything with get(key) -> optional<string> (a store::Reader,
// the projector's State), if there is one.
template <class Record, class Store>
std::optional<Record> load_record(Store& store, const std::string& key) {
  auto v = store.get(key);
  if (!v) return std::nullopt;
  return decode_record<Record>(*v);
}

}  // namespace cairn::store
