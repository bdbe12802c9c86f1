#include "tests/transcript_file.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>

namespace parley::testing::transcript {

using engine::TimeUs;

namespace {

constexpr TimeUs kSecond = 1'000'000;

// A quoted string starting at text[at] == '"', with \" \\ \n \t and \xHH escapes, and an
// optional *N after the closing quote repeating it N times.
std::string parse_quoted(std::string_view text, std::size_t& at) {
  std::string value;
  ++at;
  while (true) {
    if (at >= text.size()) throw TranscriptError("unterminated string");
    const char c = text[at++];
    if (c == '"') break;
    if (c != '\\') {
      value += c;
      continue;
    }
    if (at >= text.size()) throw TranscriptError("unterminated string");
    const char escaped = text[at++];
    switch (escaped) {
      case 'n':
        value += '\n';
        break;
      case 't':
        value += '\t';
        break;
      case 'x': {
        if (at + 2 > text.size()) throw TranscriptError("\\x needs two hex digits");
        value += static_cast<char>(std::stoi(std::string(text.substr(at, 2)), nullptr, 16));
        at += 2;
        break;
      }
      default:
        value += escaped;
    }
  }
  if (at < text.size() && text[at] == '*') {
    std::size_t end = ++at;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end])))
      ++end;
    if (end == at) throw TranscriptError("a * after a string needs a count");
    const auto count = std::stoul(std::string(text.substr(at, end - at)));
    std::string repeated;
    repeated.reserve(value.size() * count);
    for (std::size_t k = 0; k < count; ++k)
      repeated += value;
    value = std::move(repeated);
    at = end;
  }
  return value;
}

}  // namespace

bool blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) { return c == ' ' || c == '\t'; });
}

std::vector<Block> parse_blocks(const std::vector<std::string>& lines) {
  std::vector<Block> blocks;
  std::size_t i = 0;
  while (i < lines.size()) {
    if (blank(lines[i]) || lines[i].starts_with('#')) {
      ++i;
      continue;
    }
    Block block;
    block.line = i + 1;
    block.command = lines[i];
    while (block.command.ends_with('\\') && i + 1 < lines.size()) {
      block.command.pop_back();
      block.command += " " + lines[++i];
    }
    block.command_end = ++i;
    block.expected_begin = block.expected_end = i;
    if (i < lines.size() && lines[i] == kSeparator) {
      block.has_separator = true;
      block.expected_begin = ++i;
      while (i < lines.size() && !blank(lines[i]))
        block.expected.push_back(lines[i++]);
      block.expected_end = i;
    }
    blocks.push_back(std::move(block));
  }
  return blocks;
}

Command tokenize(std::string_view text) {
  Command command;
  std::size_t at = 0;
  const auto skip_spaces = [&] {
    while (at < text.size() && (text[at] == ' ' || text[at] == '\t'))
      ++at;
  };
  const auto bare = [&] {
    const std::size_t start = at;
    while (at < text.size() && text[at] != ' ' && text[at] != '\t')
      ++at;
    return std::string(text.substr(start, at - start));
  };
  skip_spaces();
  command.name = bare();
  while (true) {
    skip_spaces();
    if (at >= text.size()) break;
    Arg arg;
    if (text[at] == '"') {
      arg.value = parse_quoted(text, at);
    } else {
      const std::size_t start = at;
      while (at < text.size() && text[at] != ' ' && text[at] != '\t' && text[at] != '=')
        ++at;
      if (at < text.size() && text[at] == '=') {
        arg.key = std::string(text.substr(start, at - start));
        ++at;
        arg.value = (at < text.size() && text[at] == '"') ? parse_quoted(text, at) : bare();
      } else {
        arg.value = std::string(text.substr(start, at - start));
      }
    }
    if (at < text.size() && text[at] != ' ' && text[at] != '\t') {
      throw TranscriptError("expected a space after an argument at column " +
                            std::to_string(at + 1));
    }
    command.args.push_back(std::move(arg));
  }
  return command;
}

std::uint64_t parse_number(std::string_view text) {
  std::uint64_t value = 0;
  if (text.empty()) throw TranscriptError("expected a number, got nothing");
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) {
      throw TranscriptError("expected a number, got '" + std::string(text) + "'");
    }
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

bool is_number(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

TimeUs parse_duration(std::string_view text) {
  if (text.starts_with('+')) text.remove_prefix(1);
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])))
    ++digits;
  const auto amount = static_cast<TimeUs>(parse_number(text.substr(0, digits)));
  const std::string_view unit = text.substr(digits);
  if (unit == "us") return amount;
  if (unit == "ms") return amount * 1000;
  if (unit == "s") return amount * kSecond;
  if (unit == "m") return amount * 60 * kSecond;
  throw TranscriptError("a duration is a number with us, ms, s or m, got '" + std::string(text) +
                        "'");
}

std::string format_time(TimeUs at) {
  std::string text = "@" + std::to_string(at / kSecond);
  if (const TimeUs fraction = at % kSecond; fraction != 0) {
    std::string digits = std::to_string(fraction);
    digits.insert(0, 6 - digits.size(), '0');
    while (digits.ends_with('0'))
      digits.pop_back();
    text += "." + digits;
  }
  return text + "s";
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> items;
  if (text.empty()) return items;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    std::string item(text.substr(start, comma == std::string_view::npos ? comma : comma - start));
    std::size_t count = 1;
    if (const auto star = item.rfind('*'); star != std::string::npos) {
      count = parse_number(std::string_view(item).substr(star + 1));
      item.resize(star);
    }
    for (std::size_t k = 0; k < count; ++k)
      items.push_back(item);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return items;
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

std::vector<std::string> rewrite(const std::vector<std::string>& lines,
                                 const std::vector<Block>& blocks,
                                 const std::vector<std::vector<std::string>>& actual) {
  std::vector<std::string> rewritten;
  std::size_t next = 0;
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    const Block& block = blocks[b];
    rewritten.insert(rewritten.end(), lines.begin() + static_cast<std::ptrdiff_t>(next),
                     lines.begin() + static_cast<std::ptrdiff_t>(block.command_end));
    rewritten.emplace_back(kSeparator);
    rewritten.insert(rewritten.end(), actual[b].begin(), actual[b].end());
    next = block.has_separator ? block.expected_end : block.command_end;
    if (next < lines.size() && !blank(lines[next])) rewritten.emplace_back();
  }
  rewritten.insert(rewritten.end(), lines.begin() + static_cast<std::ptrdiff_t>(next), lines.end());
  return rewritten;
}

std::string diff(const std::vector<std::string>& expected, const std::vector<std::string>& actual) {
  const std::size_t n = expected.size();
  const std::size_t m = actual.size();
  std::vector<std::vector<std::size_t>> lcs(n + 1, std::vector<std::size_t>(m + 1, 0));
  for (std::size_t i = n; i-- > 0;) {
    for (std::size_t j = m; j-- > 0;) {
      lcs[i][j] =
          expected[i] == actual[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::string text;
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && expected[i] == actual[j]) {
      text += "    " + expected[i++] + "\n";
      ++j;
    } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      text += "  - " + expected[i++] + "\n";
    } else {
      text += "  + " + actual[j++] + "\n";
    }
  }
  return text;
}

}  // namespace parley::testing::transcript
