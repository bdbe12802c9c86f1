// The transcript file format (in the style of cockroachdb/datadriven, as etcd-io/raft's
// testdata uses it) and the pieces of a command line: what tests/transcript_runner.cpp
// interprets. The format and the command language are described in docs/testing.md.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "engine/types.hpp"

namespace parley::testing::transcript {

inline constexpr std::string_view kSeparator = "----";

// A mistake in the transcript itself (an unknown command, a name never introduced), as
// opposed to output that differs: reported with the command's line, and the file stops.
class TranscriptError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---- The file: commands, each with its expected output -----------------------------------

struct Block {
  std::size_t line = 0;         // 1-based line of the command
  std::size_t command_end = 0;  // 0-based index of the line after the command
  std::string command;
  bool has_separator = false;
  std::size_t expected_begin = 0;  // 0-based [begin, end) of the expected lines
  std::size_t expected_end = 0;
  std::vector<std::string> expected;
};

// Blank lines separate commands; lines starting with # between commands are comments. A
// command line ending in a backslash continues on the next line.
std::vector<Block> parse_blocks(const std::vector<std::string>& lines);

// The file's lines with each block's expected section replaced by `actual` (one entry per
// block): the rewrite mode.
std::vector<std::string> rewrite(const std::vector<std::string>& lines,
                                 const std::vector<Block>& blocks,
                                 const std::vector<std::vector<std::string>>& actual);

// A line diff (longest common subsequence): "    " same, "  - " expected only, "  + " actual
// only, one line each.
std::string diff(const std::vector<std::string>& expected, const std::vector<std::string>& actual);

bool blank(std::string_view line);

// ---- A command line: a name, then positional arguments and key=value arguments -----------

struct Arg {
  std::string key;  // empty for a positional argument
  std::string value;
  bool used = false;
};

struct Command {
  std::string name;
  std::vector<Arg> args;
};

// Reads a command's arguments; finish() refuses any argument the command did not read, so
// a misspelt key is an error rather than silently ignored.
class Args {
 public:
  explicit Args(Command& command) : command_(command) {}

  std::size_t positional_count() const {
    return static_cast<std::size_t>(std::count_if(command_.args.begin(), command_.args.end(),
                                                  [](const Arg& a) { return a.key.empty(); }));
  }
  std::optional<std::string> positional(std::size_t index) {
    std::size_t seen = 0;
    for (Arg& arg : command_.args) {
      if (!arg.key.empty()) continue;
      if (seen++ == index) {
        arg.used = true;
        return arg.value;
      }
    }
    return std::nullopt;
  }
  std::string required(std::size_t index, std::string_view what) {
    auto value = positional(index);
    if (!value) throw TranscriptError(command_.name + ": missing " + std::string(what));
    return *value;
  }
  std::optional<std::string> key(std::string_view name) {
    std::optional<std::string> value;
    for (Arg& arg : command_.args) {
      if (arg.key != name) continue;
      if (value) throw TranscriptError(command_.name + ": " + std::string(name) + "= given twice");
      arg.used = true;
      value = arg.value;
    }
    return value;
  }
  void finish() const {
    for (const Arg& arg : command_.args) {
      if (!arg.used) {
        throw TranscriptError(command_.name + ": unexpected argument '" +
                              (arg.key.empty() ? arg.value : arg.key + "=" + arg.value) + "'");
      }
    }
  }

 private:
  Command& command_;
};

// A command line's parts: the name, then arguments separated by spaces. Values may be
// quoted, with \" \\ \n \t and \xHH escapes; "x"*3 repeats a quoted string.
Command tokenize(std::string_view text);

std::uint64_t parse_number(std::string_view text);
bool is_number(std::string_view text);
// "+31s", "500ms", "2m", "10us" (the + is optional).
engine::TimeUs parse_duration(std::string_view text);
// "@31s", or "@31.25s" off whole seconds.
std::string format_time(engine::TimeUs at);
// "a,b*3,c": the items, an item with *N repeated N times.
std::vector<std::string> split_list(std::string_view text);
std::string replace_all(std::string text, std::string_view from, std::string_view to);

}  // namespace parley::testing::transcript
