#include "net/node/auth.hpp"

#include <sodium.h>

#include <stdexcept>

namespace parley::net {

void init_crypto() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialize");
}

std::string hash_password(const std::string& password, const PasswordPolicy& policy) {
  char hashed[crypto_pwhash_STRBYTES];
  const auto ops = std::max<unsigned long long>(policy.opslimit, crypto_pwhash_OPSLIMIT_MIN);
  const auto mem = std::max<std::size_t>(policy.memlimit_bytes, crypto_pwhash_MEMLIMIT_MIN);
  if (crypto_pwhash_str(hashed, password.data(), password.size(), ops, mem) != 0) {
    throw std::runtime_error("out of memory hashing a password");
  }
  return hashed;
}

bool verify_password(const std::string& hash, const std::string& password) {
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

std::string new_token() {
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof bytes);
  char text[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(text, sizeof text, bytes, sizeof bytes,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return text;
}

std::string token_hash(const std::string& token) {
  unsigned char hash[32];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  return std::string(reinterpret_cast<const char*>(hash), sizeof hash);
}

}  // namespace parley::net
