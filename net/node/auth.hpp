// Passwords and bearer tokens, with libsodium. Passwords are hashed with argon2id
// (crypto_pwhash_str); device tokens are 256 random bits handed to the client once and
// stored only as their BLAKE2b hash, so a stolen store does not log anyone in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace parley::net {

struct PasswordPolicy {
  // libsodium's "interactive" defaults; tests lower them (see docs/operations.md).
  unsigned long long opslimit = 2;
  std::size_t memlimit_bytes = 64ull << 20;
};

// Initializes libsodium; throws if it cannot.
void init_crypto();

std::string hash_password(const std::string& password, const PasswordPolicy& policy);
bool verify_password(const std::string& hash, const std::string& password);

// A new random token, URL-safe base64 without padding (43 characters).
std::string new_token();
// The 32-byte hash stored for a token.
std::string token_hash(const std::string& token);

}  // namespace parley::net
