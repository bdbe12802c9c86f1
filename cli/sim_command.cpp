// `parley sim FILE`: runs a scenario over one seed or a range, checks the invariants and the
// scenario's expectations, and prints a summary. Exit codes: 0 all good, 1 an invariant was
// violated, 2 an expectation failed, 3 a rerun diverged (--check-determinism), 4 the
// scenario or the command line is wrong.
#include "cli/sim_command.hpp"

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "sim/scenario.hpp"
#include "sim/world.hpp"

namespace parley::cli {
namespace {

using namespace parley::sim;

struct SimArgs {
  std::string file;
  std::uint64_t seed = 0;
  bool seed_given = false;
  std::string seeds;
  std::string trace;
  bool check_determinism = false;
  std::string store = "memory";
  std::string lmdb_dir;
  bool quiet = false;
};

std::string hex(std::uint64_t value) {
  char text[20];
  std::snprintf(text, sizeof text, "%016" PRIx64, value);
  return text;
}

std::pair<std::uint64_t, std::uint64_t> parse_range(const std::string& text) {
  const auto dots = text.find("..");
  if (dots == std::string::npos) throw CLI::ValidationError("--seeds", "expected A..B, e.g. 1..50");
  const std::uint64_t first = std::stoull(text.substr(0, dots));
  const std::uint64_t last = std::stoull(text.substr(dots + 2));
  if (last < first) throw CLI::ValidationError("--seeds", "A..B needs A <= B");
  return {first, last};
}

std::string replay_command(const SimArgs& args, std::uint64_t seed) {
  std::string command = "parley sim " + args.file + " --seed " + std::to_string(seed);
  if (args.store != "memory") command += " --store " + args.store;
  return command;
}

void print_summary(const Scenario& s, const RunResult& r, double wall_seconds) {
  const Metrics& m = r.metrics;
  const double simulated_s = static_cast<double>(m.simulated) / 1e6;
  std::printf("parley sim %s seed=%" PRIu64 "\n", s.file.c_str(), r.seed);
  std::printf("  world: %" PRIu64 " users x %u devices on %u node(s), %.0f s + %.0f s settle\n",
              s.users, s.devices_per_user, s.nodes, static_cast<double>(s.duration) / 1e6,
              static_cast<double>(s.settle) / 1e6);
  std::printf("  messages: sent %" PRIu64 ", acked %" PRIu64 " (%" PRIu64
              " resends answered as duplicates), refused %" PRIu64 ", delivered %" PRIu64 "\n",
              m.sent, m.acked, m.duplicate_acks, m.refused, m.delivered);
  std::printf("  delivery latency (simulated): p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
              m.p50_delivery_ms, m.p99_delivery_ms, m.max_delivery_ms);
  std::printf("  presence: %" PRIu64 " changes, %" PRIu64 " events to devices, %" PRIu64
              " flaps; pushes: %" PRIu64 " written, %" PRIu64 " delivered in %" PRIu64
              " gateway attempts\n",
              m.presence_changes, m.presence_events, r.check.presence_flaps, m.pushes,
              m.pushes_delivered, m.push_attempts);
  std::printf("  faults injected: %" PRIu64 " (node crashes %" PRIu64 "), connects %" PRIu64 "\n",
              m.faults, m.crashes, m.connects);
  if (!m.errors.empty()) {
    std::printf("  error frames:");
    for (const auto& [code, count] : m.errors)
      std::printf(" %s=%" PRIu64, code.c_str(), count);
    std::printf("\n");
  }
  std::printf("  engine: %" PRIu64 " inputs in %" PRIu64 " commits; %" PRIu64 " sim events\n",
              m.engine_inputs, m.commits, m.events);
  const double wall = std::max(wall_seconds, 1e-9);
  std::printf("  wall %.3f s: %.0f simulated s per wall s, %.0f engine inputs per wall s\n",
              wall_seconds, simulated_s / wall, static_cast<double>(m.engine_inputs) / wall);
  std::printf("  trace hash %s\n", hex(r.trace_hash).c_str());
}

// Prints what failed and how to replay it; returns the exit code for this run.
int report_problems(const SimArgs& args, const RunResult& r) {
  if (!r.check.violations.empty()) {
    const Violation& first = r.check.violations.front();
    std::printf("FAILED seed %" PRIu64 ": invariant %s violated (%zu violation(s))\n", r.seed,
                Checker::invariant_name(first.invariant), r.check.violations.size());
    const std::size_t shown = std::min<std::size_t>(r.check.violations.size(), 5);
    for (std::size_t i = 0; i < shown; ++i) {
      std::printf("  invariant %d: %s\n", r.check.violations[i].invariant,
                  r.check.violations[i].message.c_str());
    }
    std::printf("  replay: %s\n", replay_command(args, r.seed).c_str());
    return 1;
  }
  if (!r.expectation_failures.empty()) {
    std::printf("FAILED seed %" PRIu64 ": expectations not met\n", r.seed);
    for (const auto& failure : r.expectation_failures)
      std::printf("  %s\n", failure.c_str());
    std::printf("  replay: %s\n", replay_command(args, r.seed).c_str());
    return 2;
  }
  return 0;
}

int run(const SimArgs& args) {
  Scenario scenario;
  try {
    scenario = load_scenario(args.file);
  } catch (const ScenarioError& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 4;
  }
  std::uint64_t first = args.seed_given ? args.seed : scenario.seed;
  std::uint64_t last = first;
  if (!args.seeds.empty()) std::tie(first, last) = parse_range(args.seeds);
  const bool many = last > first;
  if (many && !args.trace.empty()) {
    std::fprintf(stderr, "--trace records one run: use --seed, not --seeds\n");
    return 4;
  }
  SimOptions options;
  options.store = args.store;
  options.lmdb_dir = args.lmdb_dir;
  auto last_progress = std::chrono::steady_clock::now();
  options.progress = [&](TimeUs now, TimeUs end, std::uint64_t inputs) {
    const auto wall = std::chrono::steady_clock::now();
    if (wall - last_progress < std::chrono::seconds(2)) return;
    last_progress = wall;
    std::fprintf(stderr, "sim: %.1f / %.1f simulated s, %" PRIu64 " engine inputs\n",
                 static_cast<double>(now) / 1e6, static_cast<double>(end) / 1e6, inputs);
  };
  std::uint64_t passed = 0;
  std::uint64_t failed = 0;
  int exit_code = 0;
  for (std::uint64_t seed = first; seed <= last; ++seed) {
    const auto started = std::chrono::steady_clock::now();
    RunResult result;
    try {
      result = run_simulation(scenario, seed, options);
    } catch (const ScenarioError& error) {
      std::fprintf(stderr, "%s\n", error.what());
      return 4;
    }
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    int code = report_problems(args, result);
    if (code == 0 && args.check_determinism) {
      const RunResult again = run_simulation(scenario, seed, options);
      if (again.trace_hash != result.trace_hash) {
        std::printf("FAILED seed %" PRIu64 ": invariant %s violated: trace hash %s, then %s\n",
                    seed, Checker::invariant_name(6), hex(result.trace_hash).c_str(),
                    hex(again.trace_hash).c_str());
        std::printf("  replay: %s --check-determinism\n", replay_command(args, seed).c_str());
        code = 3;
      }
    }
    if (!many && !args.quiet) print_summary(scenario, result, wall);
    if (many && !args.quiet) {
      std::printf("seed %" PRIu64 ": %s hash=%s sent=%" PRIu64 " delivered=%" PRIu64
                  " p99=%.1fms pushes=%" PRIu64 " faults=%" PRIu64 " wall=%.2fs\n",
                  seed, code == 0 ? "ok" : "FAILED", hex(result.trace_hash).c_str(),
                  result.metrics.sent, result.metrics.delivered, result.metrics.p99_delivery_ms,
                  result.metrics.pushes, result.metrics.faults, wall);
    }
    if (!args.trace.empty()) {
      std::ofstream out(args.trace);
      for (const Record& record : result.history)
        out << to_json(record) << "\n";
      if (!out) {
        std::fprintf(stderr, "cannot write trace to %s\n", args.trace.c_str());
        return 4;
      }
    }
    if (code == 0) {
      ++passed;
    } else {
      ++failed;
      if (exit_code == 0) exit_code = code;
    }
  }
  if (!many) std::printf("invariants and expectations: %s\n", exit_code == 0 ? "ok" : "FAILED");
  std::printf("%s: %" PRIu64 " passed, %" PRIu64 " failed\n", scenario.name.c_str(), passed,
              failed);
  return exit_code;
}

}  // namespace

void add_sim_command(CLI::App& app) {
  auto args = std::make_shared<SimArgs>();
  auto* sim = app.add_subcommand("sim",
                                 "Run a scenario file in the deterministic simulator and "
                                 "check the invariants (docs/scenarios.md)");
  sim->add_option("file", args->file, "Scenario file (TOML)")->required()->check(CLI::ExistingFile);
  sim->add_option_function<std::uint64_t>(
      "--seed",
      [args](std::uint64_t seed) {
        args->seed = seed;
        args->seed_given = true;
      },
      "Run this seed (default: the scenario's [world] seed)");
  sim->add_option("--seeds", args->seeds, "Run every seed in A..B (inclusive), e.g. 1..50");
  sim->add_option("--trace", args->trace, "Write the run's history as JSON lines to this file");
  sim->add_flag("--check-determinism", args->check_determinism,
                "Run each seed twice and fail if the trace hashes differ");
  sim->add_option("--store", args->store, "Node stores: memory or lmdb")
      ->check(CLI::IsMember({"memory", "lmdb"}));
  sim->add_option("--lmdb-dir", args->lmdb_dir,
                  "Directory for --store lmdb environments (default: a fresh temporary one)");
  sim->add_flag("--quiet", args->quiet, "Print only failures and the closing tally");
  sim->get_option("--seeds")->excludes("--seed");
  sim->callback([args] { std::exit(run(*args)); });
}

}  // namespace parley::cli
