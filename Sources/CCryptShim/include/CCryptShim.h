// Password hash checks through libxcrypt, for the worker's SMTP AUTH only.
#ifndef SES_CCRYPTSHIM_H
#define SES_CCRYPTSHIM_H

/// 1 when `password` hashes to `hash` (any method libcrypt knows: yescrypt, bcrypt, sha512-crypt),
/// 0 when not, -1 when libcrypt cannot use `hash` as a setting. Thread-safe (crypt_rn with its own
/// state), and the comparison takes the same time wherever the strings differ.
int shim_crypt_matches(const char *password, const char *hash);

#endif
