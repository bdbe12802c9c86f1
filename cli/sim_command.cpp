// `parley sim FILE`: runs a scenario over one seed or a range, checks the invariants and the
// scenario's expectations, and prints a summary. Exit codes (docs/scenarios.md): 0 all good,
// 1 an invariant was violated, 2 an expectation failed, 3 a rerun diverged
// (--check-determinism), 4 the scenario or the command line is wrong, 5 a run crashed (an
// engine assertion, a store error, any other exception); with --seeds, the code of the first
// failing seed. Every failing seed prints its replay command, a crashing one included.
#include "cli/sim_command.hpp"

#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <variant>

#include "engine/store.hpp"
#include "engine/types.hpp"
#include "sim/scenario.hpp"
#include "sim/world.hpp"

namespace parley::cli {
namespace {

using namespace parley::sim;

enum Exit : int {
  kPassed = 0,
  kInvariant = 1,
  kExpectation = 2,
  kDiverged = 3,
  kUsage = 4,
  kCrashed = 5,
};

struct SimArgs {
  std::string file;
  std::uint64_t seed = 0;
  bool seed_given = false;
  std::string seeds;
  std::string trace;
  bool check_determinism = false;
  std::string store = "memory";
  std::string lmdb_dir;
  std::size_t lmdb_max_mb = 0;
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
  if (args.lmdb_max_mb != 0) command += " --lmdb-max-mb " + std::to_string(args.lmdb_max_mb);
  return command;
}

// What a fatal signal (a segfault, an abort from std::terminate) prints before the process
// dies: the seed being run and its replay command. Formatted before each run, since a signal
// handler may only write().
char g_crash_note[2048];
std::size_t g_crash_note_size = 0;

extern "C" void on_fatal_signal(int signal) {
  [[maybe_unused]] const auto written = ::write(STDERR_FILENO, g_crash_note, g_crash_note_size);
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

void arm_crash_note(const SimArgs& args, std::uint64_t seed) {
  const std::string note = "CRASHED seed " + std::to_string(seed) +
                           ": fatal signal\n  replay: " + replay_command(args, seed) + "\n";
  g_crash_note_size = std::min(note.size(), sizeof g_crash_note);
  std::memcpy(g_crash_note, note.data(), g_crash_note_size);
  static const bool installed = [] {
    for (int signal : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) {
      struct sigaction action {};
      action.sa_handler = on_fatal_signal;
      action.sa_flags = SA_RESETHAND;
      sigemptyset(&action.sa_mask);
      sigaction(signal, &action, nullptr);
    }
    return true;
  }();
  (void)installed;
}

// A seed whose run threw: what kind of failure, and its message.
struct Crash {
  std::string kind;
  std::string message;
};

// Runs one seed. An engine assertion, a store error or any other exception ends that run
// only: it comes back as a Crash, and the sweep goes on. ScenarioError (a scenario the
// simulator cannot run, whatever the seed) passes through.
std::variant<RunResult, Crash> run_guarded(const Scenario& scenario, std::uint64_t seed,
                                           const SimOptions& options) {
  try {
    return run_simulation(scenario, seed, options);
  } catch (const ScenarioError&) {
    throw;
  } catch (const engine::InvariantViolation& error) {
    return Crash{"engine assertion", error.what()};
  } catch (const engine::StoreError& error) {
    return Crash{"store error", error.what()};
  } catch (const std::exception& error) {
    return Crash{"internal error", error.what()};
  }
}

int report_crash(const SimArgs& args, std::uint64_t seed, const Crash& crash) {
  std::printf("CRASHED seed %" PRIu64 ": %s: %s\n", seed, crash.kind.c_str(),
              crash.message.c_str());
  std::printf("  replay: %s\n", replay_command(args, seed).c_str());
  return kCrashed;
}

// --check-determinism: the second run of `seed` against the first. Prints both hashes (one
// line per seed unless --quiet), and when they differ the first record that differs.
int compare_runs(const SimArgs& args, std::uint64_t seed, const RunResult& first,
                 const RunResult& second) {
  const auto divergence = first_divergence(first.history, second.history);
  if (!divergence) {
    if (!args.quiet) {
      std::printf("determinism: seed %" PRIu64
                  " ran twice: trace hash %s both times (%zu records)\n",
                  seed, hex(first.trace_hash).c_str(), first.history.size());
    }
    return kPassed;
  }
  std::printf("FAILED seed %" PRIu64 ": invariant %s violated: trace hash %s, then %s\n", seed,
              Checker::invariant_name(6), hex(first.trace_hash).c_str(),
              hex(second.trace_hash).c_str());
  const auto shown = [](const std::optional<Record>& r) {
    return r ? to_json(*r) : std::string("(the run had ended)");
  };
  std::printf(
      "  first difference at record %zu of %zu / %zu:\n    first run:  %s\n    second run: %s\n",
      divergence->index, first.history.size(), second.history.size(),
      shown(divergence->first).c_str(), shown(divergence->second).c_str());
  std::printf("  replay: %s --check-determinism\n", replay_command(args, seed).c_str());
  return kDiverged;
}

void print_summary(const Scenario& s, const RunResult& r, double wall_seconds) {
  const Metrics& m = r.metrics;
  const double simulated_s = static_cast<double>(m.simulated) / 1e6;
  std::printf("parley sim %s seed=%" PRIu64 "\n", s.file.c_str(), r.seed);
  std::printf("  world: %" PRIu64 " users, %" PRIu64
              " devices, on %u node(s), %.0f s + %.0f s settle\n",
              s.users, m.devices, s.nodes, static_cast<double>(s.duration) / 1e6,
              static_cast<double>(s.settle) / 1e6);
  std::printf("  messages: sent %" PRIu64 ", acked %" PRIu64 " (%" PRIu64
              " resends answered as duplicates), refused %" PRIu64 ", delivered %" PRIu64 "\n",
              m.sent, m.acked, m.duplicate_acks, m.refused, m.delivered);
  std::printf("  delivery latency (simulated): p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
              m.p50_delivery_ms, m.p99_delivery_ms, m.max_delivery_ms);
  std::printf("  presence: %" PRIu64 " changes, %" PRIu64 " events to devices, %" PRIu64
              " flaps; pushes: %" PRIu64 " written, %" PRIu64 " delivered in %" PRIu64
              " push gateway attempts\n",
              m.presence_changes, m.presence_events, r.check.presence_flaps, m.pushes,
              m.pushes_delivered, m.push_attempts);
  std::printf("  faults injected: %" PRIu64 " (node crashes %" PRIu64 ", failed commits %" PRIu64
              "), connects %" PRIu64 "\n",
              m.faults, m.crashes, m.commit_failures, m.connects);
  if (m.typing_sent > 0 || m.typing_events > 0) {
    std::printf("  typing: %" PRIu64 " starts and stops sent, %" PRIu64 " typing events received\n",
                m.typing_sent, m.typing_events);
  }
  if (m.marks_sent > 0 || m.receipt_events > 0) {
    std::printf("  receipts: %" PRIu64 " markRead sent, %" PRIu64 " receipt events received\n",
                m.marks_sent, m.receipt_events);
  }
  if (m.replies_sent > 0 || m.mentions_sent > 0 || m.mutes_sent > 0) {
    std::printf("  replies: %" PRIu64 " replies and %" PRIu64 " mentions sent, %" PRIu64
                " mutes and unmutes\n",
                m.replies_sent, m.mentions_sent, m.mutes_sent);
  }
  if (m.stranger_sent > 0 || m.accepts_sent > 0) {
    std::printf("  requests: %" PRIu64 " messages to strangers, %" PRIu64 " requests accepted\n",
                m.stranger_sent, m.accepts_sent);
  }
  if (m.edits_sent > 0 || m.deletes_sent > 0 || m.revisions > 0) {
    std::printf("  edits: %" PRIu64 " edits and %" PRIu64 " deletes sent, %" PRIu64
                " edited and deleted entries received\n",
                m.edits_sent, m.deletes_sent, m.revisions);
  }
  if (m.searches > 0) {
    std::printf("  search: %" PRIu64 " searches answered, %" PRIu64
                " hits (each checked as a read)\n",
                m.searches, m.search_hits);
  }
  if (m.history_pages > 0) {
    std::printf("  history: %" PRIu64 " pages, %" PRIu64 " messages read\n", m.history_pages,
                m.history_reads);
  }
  if (s.replicas > 0) {
    std::printf("  cluster: %u replicas, %u gateways; %" PRIu64 " leaderships won, %" PRIu64
                " step-downs, longest without a leader %.0f ms; log: %" PRIu64 " appends, %" PRIu64
                " bytes; gateway re-attaches %" PRIu64 "\n",
                s.replicas, s.gateways, m.leader_changes, m.step_downs,
                static_cast<double>(m.longest_leaderless) / 1e3, m.log_appends, m.log_bytes,
                m.reattaches);
  }
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
    return kInvariant;
  }
  if (!r.expectation_failures.empty()) {
    std::printf("FAILED seed %" PRIu64 ": expectations not met\n", r.seed);
    for (const auto& failure : r.expectation_failures)
      std::printf("  %s\n", failure.c_str());
    std::printf("  replay: %s\n", replay_command(args, r.seed).c_str());
    return kExpectation;
  }
  return kPassed;
}

int run(const SimArgs& args) {
  Scenario scenario;
  try {
    scenario = load_scenario(args.file);
  } catch (const ScenarioError& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return kUsage;
  }
  std::uint64_t first = args.seed_given ? args.seed : scenario.seed;
  std::uint64_t last = first;
  if (!args.seeds.empty()) std::tie(first, last) = parse_range(args.seeds);
  const bool many = last > first;
  if (many && !args.trace.empty()) {
    std::fprintf(stderr, "--trace records one run: use --seed, not --seeds\n");
    return kUsage;
  }
  if (args.lmdb_max_mb != 0 && args.store != "lmdb") {
    std::fprintf(stderr, "--lmdb-max-mb needs --store lmdb\n");
    return kUsage;
  }
  SimOptions options;
  options.store = args.store;
  options.lmdb_dir = args.lmdb_dir;
  options.lmdb_max_map_bytes = args.lmdb_max_mb << 20;
  auto last_progress = std::chrono::steady_clock::now();
  std::uint64_t running = first;
  options.progress = [&](TimeUs now, TimeUs end, std::uint64_t inputs) {
    const auto wall = std::chrono::steady_clock::now();
    if (wall - last_progress < std::chrono::seconds(2)) return;
    last_progress = wall;
    std::fprintf(stderr,
                 "sim: seed %" PRIu64 ": %.1f / %.1f simulated s, %" PRIu64 " engine inputs\n",
                 running, static_cast<double>(now) / 1e6, static_cast<double>(end) / 1e6, inputs);
  };
  std::uint64_t passed = 0;
  std::map<int, std::uint64_t> failed_by_code;
  int exit_code = kPassed;
  for (std::uint64_t seed = first; seed <= last; ++seed) {
    running = seed;
    arm_crash_note(args, seed);
    const auto started = std::chrono::steady_clock::now();
    std::variant<RunResult, Crash> outcome;
    try {
      outcome = run_guarded(scenario, seed, options);
    } catch (const ScenarioError& error) {
      std::fprintf(stderr, "%s\n", error.what());
      return kUsage;
    }
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    int code = kPassed;
    if (const auto* crash = std::get_if<Crash>(&outcome)) {
      code = report_crash(args, seed, *crash);
      if (many && !args.quiet) std::printf("seed %" PRIu64 ": CRASHED wall=%.2fs\n", seed, wall);
    } else {
      const RunResult& result = std::get<RunResult>(outcome);
      code = report_problems(args, result);
      if (code == kPassed && args.check_determinism) {
        auto again = run_guarded(scenario, seed, options);
        if (const auto* rerun_crash = std::get_if<Crash>(&again)) {
          code = report_crash(args, seed, *rerun_crash);
        } else {
          code = compare_runs(args, seed, result, std::get<RunResult>(again));
        }
      }
      if (!many && !args.quiet) print_summary(scenario, result, wall);
      if (many && !args.quiet) {
        std::printf("seed %" PRIu64 ": %s hash=%s sent=%" PRIu64 " delivered=%" PRIu64
                    " p99=%.1fms pushes=%" PRIu64 " faults=%" PRIu64 " wall=%.2fs\n",
                    seed, code == kPassed ? "ok" : "FAILED", hex(result.trace_hash).c_str(),
                    result.metrics.sent, result.metrics.delivered, result.metrics.p99_delivery_ms,
                    result.metrics.pushes, result.metrics.faults, wall);
      }
      if (!args.trace.empty()) {
        std::ofstream out(args.trace);
        for (const Record& record : result.history)
          out << to_json(record) << "\n";
        if (!out) {
          std::fprintf(stderr, "cannot write trace to %s\n", args.trace.c_str());
          return kUsage;
        }
      }
    }
    if (code == kPassed) {
      ++passed;
    } else {
      ++failed_by_code[code];
      if (exit_code == kPassed) exit_code = code;
    }
    std::fflush(stdout);  // a later seed that dies on a signal must not take this one's lines
  }
  if (!many) std::printf("invariants and expectations: %s\n", exit_code == 0 ? "ok" : "FAILED");
  std::uint64_t failed = 0;
  std::string classes;
  for (const auto& [code, count] : failed_by_code) {
    failed += count;
    static const std::map<int, const char*> kNames = {{kInvariant, "invariant"},
                                                      {kExpectation, "expectation"},
                                                      {kDiverged, "diverged"},
                                                      {kCrashed, "crashed"}};
    classes += (classes.empty() ? " (" : ", ") + std::string(kNames.at(code)) + " " +
               std::to_string(count);
  }
  if (!classes.empty()) classes += ")";
  std::printf("%s: %" PRIu64 " passed, %" PRIu64 " failed%s\n", scenario.name.c_str(), passed,
              failed, classes.c_str());
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
  sim->add_option("--lmdb-max-mb", args->lmdb_max_mb,
                  "With --store lmdb: cap each node's map at this many MiB (a full store is a "
                  "StoreError, as a full disk is)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
  sim->add_flag("--quiet", args->quiet, "Print only failures and the closing tally");
  sim->get_option("--seeds")->excludes("--seed");
  sim->get_option("--seeds")->excludes("--trace");
  sim->callback([args] { std::exit(run(*args)); });
}

}  // namespace parley::cli
