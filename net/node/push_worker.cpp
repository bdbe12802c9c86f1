#include "net/node/push_worker.hpp"
#include "storage/named_thread.hpp"

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/json.hpp>

#include <cstdio>

namespace parley::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kPendingMax = 256;

}  // namespace

std::string push_body(const engine::PushIntent& intent) {
  return json::serialize(json::object{{"id", intent.id},
                                      {"user", intent.user},
                                      {"device", intent.device},
                                      {"platform", intent.platform},
                                      {"token", intent.token},
                                      {"channel", intent.channel},
                                      {"seq", intent.seq},
                                      {"sender", intent.sender},
                                      {"preview", intent.preview},
                                      {"unread_in_channel", intent.unread_in_channel},
                                      {"unread_total", intent.unread_total},
                                      {"mentions_you", intent.mentions_you},
                                      {"created_at_us", intent.created_at}});
}

GatewayVerdict classify_gateway_answer(int status, const std::string& body) {
  if (status >= 200 && status < 300) return GatewayVerdict::delivered;
  if (status == 410) return GatewayVerdict::dead_token;
  if (status == 400 || status == 404) {
    boost::system::error_code ec;
    const json::value parsed = json::parse(body, ec);
    const auto* object = ec ? nullptr : parsed.if_object();
    const auto* error = object != nullptr ? object->if_contains("error") : nullptr;
    if (error != nullptr && error->is_string() && error->as_string() == "dead_token") {
      return GatewayVerdict::dead_token;
    }
  }
  // Timeouts, throttling and server errors are worth retrying; other refusals are final.
  if (status == 0 || status == 408 || status == 429 || status >= 500) return GatewayVerdict::retry;
  return GatewayVerdict::rejected;
}

PushWorker::PushWorker(PushGatewayOptions options, Metrics& metrics, Fetch fetch, Report report)
    : options_(std::move(options)),
      metrics_(metrics),
      fetch_(std::move(fetch)),
      report_(std::move(report)) {
  // http://HOST:PORT/PATH (plain HTTP: gateways sit on loopback or behind a local proxy).
  const std::string prefix = "http://";
  if (options_.url.rfind(prefix, 0) != 0) {
    throw std::invalid_argument("--push-gateway must be http://HOST:PORT/PATH, got " +
                                options_.url);
  }
  const std::string rest = options_.url.substr(prefix.size());
  const auto slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  target_ = slash == std::string::npos ? "/" : rest.substr(slash);
  const auto colon = authority.rfind(':');
  host_ = authority.substr(0, colon);
  port_ = colon == std::string::npos ? "80" : authority.substr(colon + 1);
}

PushWorker::~PushWorker() {
  stop();
}

void PushWorker::start() {
  thread_ = storage::named_thread("parley-push", [this] { run(); });
}

void PushWorker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PushWorker::wake() {
  {
    std::lock_guard lock(mutex_);
    refill_wanted_ = true;
  }
  wake_.notify_all();
}

void PushWorker::refill() {
  if (pending_.size() >= kPendingMax) return;
  const auto intents = fetch_(fetched_upto_, kPendingMax - pending_.size());
  for (const auto& intent : intents) {
    fetched_upto_ = std::max(fetched_upto_, intent.id);
    pending_.try_emplace(intent.id, Pending{intent, 0, Clock::now(), std::nullopt});
  }
  metrics_.push_pending = static_cast<std::int64_t>(pending_.size());
}

std::chrono::milliseconds PushWorker::backoff(std::uint32_t attempts) {
  const std::int64_t ceiling = options_.retry_max_ms;
  std::int64_t delay = options_.retry_initial_ms;
  for (std::uint32_t i = 1; i < attempts && delay < ceiling; ++i)
    delay *= 2;
  delay = std::min(delay, ceiling);
  // Jitter in [delay/2, delay]: many nodes retrying a recovering gateway spread out.
  jitter_state_ = jitter_state_ * 6364136223846793005ull + 1442695040888963407ull;
  const auto half = std::max<std::int64_t>(delay / 2, 1);
  return std::chrono::milliseconds(
      half + static_cast<std::int64_t>((jitter_state_ >> 33) % static_cast<std::uint64_t>(half)));
}

void PushWorker::attempt(Pending& pending) {
  std::optional<engine::PushOutcome> outcome = pending.unreported;
  if (!outcome) {
    std::string answer;
    const int status = post(pending.intent.id, push_body(pending.intent), answer);
    ++pending.attempts;
    switch (classify_gateway_answer(status, answer)) {
      case GatewayVerdict::delivered:
        ++metrics_.push_delivered;
        outcome = engine::PushOutcome::delivered;
        break;
      case GatewayVerdict::dead_token:
        ++metrics_.push_dead_tokens;
        outcome = engine::PushOutcome::dead_token;
        break;
      case GatewayVerdict::rejected:
        ++metrics_.push_rejected;
        std::fprintf(stderr, "parley: push %llu rejected by the gateway (HTTP %d): %s\n",
                     static_cast<unsigned long long>(pending.intent.id), status, answer.c_str());
        outcome = engine::PushOutcome::rejected;
        break;
      case GatewayVerdict::retry:
        ++metrics_.push_retries;
        pending.next_at = Clock::now() + backoff(pending.attempts);
        return;
    }
  }
  if (report_(engine::PushResult{pending.intent.id, *outcome})) {
    pending_.erase(pending.intent.id);  // `pending` dangles from here on
  } else {
    pending.unreported = outcome;
    pending.next_at = Clock::now() + std::chrono::seconds(1);
  }
}

void PushWorker::run() {
  while (true) {
    bool want_refill = false;
    {
      std::unique_lock lock(mutex_);
      if (stopping_) return;
      want_refill = refill_wanted_;
      refill_wanted_ = false;
    }
    if (want_refill) refill();
    // Attempt whatever is due, in id order.
    std::vector<std::uint64_t> due;
    auto earliest = Clock::now() + std::chrono::seconds(1);
    for (const auto& [id, pending] : pending_) {
      if (pending.next_at <= Clock::now()) {
        due.push_back(id);
      } else {
        earliest = std::min(earliest, pending.next_at);
      }
    }
    for (std::uint64_t id : due) {
      {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
      }
      const auto found = pending_.find(id);
      if (found != pending_.end()) attempt(found->second);
    }
    metrics_.push_pending = static_cast<std::int64_t>(pending_.size());
    if (!due.empty()) {
      // Room may have freed up: look at the outbox again before sleeping.
      if (pending_.size() < kPendingMax) refill_wanted_ = true;
      continue;
    }
    std::unique_lock lock(mutex_);
    wake_.wait_until(lock, earliest, [&] { return stopping_ || refill_wanted_; });
    if (!refill_wanted_ && Clock::now() >= earliest) refill_wanted_ = pending_.empty();
  }
}

int PushWorker::post(std::uint64_t id, const std::string& body, std::string& response_body) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  const auto timeout = std::chrono::milliseconds(options_.timeout_ms);
  int status = 0;
  try {
    tcp::resolver resolver(io);
    const auto endpoints = resolver.resolve(host_, port_);
    auto request =
        std::make_shared<http::request<http::string_body>>(http::verb::post, target_, 11);
    request->set(http::field::host, host_);
    request->set(http::field::content_type, "application/json");
    request->set("Idempotency-Key", std::to_string(id));
    request->body() = body;
    request->prepare_payload();
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    stream.expires_after(timeout);
    stream.async_connect(endpoints, [&](beast::error_code ec, const tcp::endpoint&) {
      if (ec) return;
      http::async_write(stream, *request, [&](beast::error_code wec, std::size_t) {
        if (wec) return;
        http::async_read(stream, buffer, response, [&](beast::error_code rec, std::size_t) {
          if (rec) return;
          status = static_cast<int>(response.result_int());
          response_body = response.body();
        });
      });
    });
    io.run();
  } catch (const std::exception&) {
    status = 0;
  }
  return status;
}

}  // namespace parley::net
