// libFuzzer target for the scenario loader: any text must load or give a ScenarioError.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sim/scenario.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    (void)parley::sim::parse_scenario(std::string_view(reinterpret_cast<const char*>(data), size),
                                      "fuzz.toml");
  } catch (const parley::sim::ScenarioError&) {
  }
  return 0;
}
