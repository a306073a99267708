#include "projector/state.hpp"

#include <gtest/gtest.h>

#include "projector/projection_store.hpp"
#include "tests/support/temp_dir.hpp"

namespace cairn::projector {
namespace {

std::string scanned(MemoryState& state, const std::string& prefix, const std::string& start = "",
                    size_t at_most = 100) {
  std::string seen;
  state.scan(prefix, start, [&](std::string_view key, std::string_view value) {
    seen += std::string(key) + "=" + std::string(value) + " ";
    return --at_most > 0;
  });
  return seen;
}

// After a spill, what is held in memory lies over the run in the store: newer values replace the
// run's, erasures hide them, and scans merge both in key order.
TEST(MemoryState, WhatIsHeldLiesOverTheRunsSpilledBelow) {
  testing::TempDir dir;
  ProjectionStore store(dir / "db");
  MemoryState state;
  for (const char* key : {"a/1", "a/2", "a/3", "a/5", "b/1"}) state.put(key, "old");
  state.erase("a/5");  // nothing below yet: simply forgotten
  EXPECT_EQ(state.contents().size(), 4u);
  store.ingest_run(state.take(store));
  EXPECT_EQ(state.bytes(), 0u);
  state.put("a/1", "new");
  state.erase("a/2");
  state.put("a/4", "new");
  state.erase("a/9");  // never existed: a tombstone that hides nothing
  EXPECT_EQ(state.get("a/1"), "new");
  EXPECT_EQ(state.get("a/2"), std::nullopt);
  EXPECT_EQ(state.get("a/3"), "old");
  EXPECT_EQ(scanned(state, "a/"), "a/1=new a/3=old a/4=new ");
  EXPECT_EQ(scanned(state, "a/", "a/2"), "a/3=old a/4=new ");
  EXPECT_EQ(scanned(state, "a/", "", 2), "a/1=new a/3=old ");
  EXPECT_EQ(scanned(state, "b/"), "b/1=old ");
  store.bulk_load(state.take(store), {{0, 1}});
  EXPECT_EQ(store.get("a/2"), std::nullopt);
  EXPECT_EQ(store.get("a/4"), "new");
}

}  // namespace
}  // namespace cairn::projector
