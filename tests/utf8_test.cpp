#include "engine/utf8.hpp"

#include <gtest/gtest.h>

namespace parley::engine {
namespace {

TEST(Utf8, CountsCodePointsNotBytes) {
  EXPECT_EQ(utf8_code_points(""), 0u);
  EXPECT_EQ(utf8_code_points("abc"), 3u);
  EXPECT_EQ(utf8_code_points("\xc3\xa9"), 1u);          // é, 2 bytes
  EXPECT_EQ(utf8_code_points("\xe2\x82\xac"), 1u);      // €, 3 bytes
  EXPECT_EQ(utf8_code_points("\xf0\x9f\x98\x80"), 1u);  // 😀, 4 bytes
  EXPECT_EQ(utf8_code_points("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"), 4u);
  EXPECT_EQ(utf8_code_points(std::string_view("\0", 1)), 1u);
  EXPECT_EQ(utf8_code_points("\xf4\x8f\xbf\xbf"), 1u);  // U+10FFFF, the last code point
}

TEST(Utf8, RejectsInvalidSequences) {
  const char* invalid[] = {
      "\x80",              // lone continuation byte
      "\xc3",              // truncated two-byte sequence
      "\xe2\x82",          // truncated three-byte sequence
      "\xc0\xaf",          // overlong '/'
      "\xc1\xbf",          // overlong
      "\xe0\x80\xaf",      // overlong three-byte
      "\xf0\x80\x80\xaf",  // overlong four-byte
      "\xed\xa0\x80",      // UTF-16 surrogate U+D800
      "\xed\xbf\xbf",      // UTF-16 surrogate U+DFFF
      "\xf4\x90\x80\x80",  // U+110000, past the last code point
      "\xf5\x80\x80\x80",  // invalid lead
      "\xff",              // invalid byte
      "a\xc3(",            // bad continuation
  };
  for (const char* text : invalid)
    EXPECT_FALSE(utf8_code_points(text).has_value()) << text;
}

TEST(Utf8, PrefixCutsOnCodePointBoundaries) {
  const std::string text = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
  EXPECT_EQ(utf8_prefix(text, 0), "");
  EXPECT_EQ(utf8_prefix(text, 2), "a\xc3\xa9");
  EXPECT_EQ(utf8_prefix(text, 3), "a\xc3\xa9\xe2\x82\xac");
  EXPECT_EQ(utf8_prefix(text, 10), text);
}

}  // namespace
}  // namespace parley::engine
