#include "CCryptShim.h"

#include <crypt.h>
#include <stdlib.h>
#include <string.h>

int shim_crypt_matches(const char *password, const char *hash) {
    // struct crypt_data is about 32 KiB: too big for a pool thread's stack to be a good idea.
    struct crypt_data *data = calloc(1, sizeof(struct crypt_data));
    if (data == NULL) return -1;
    const char *computed = crypt_rn(password, hash, data, sizeof(struct crypt_data));
    int result;
    if (computed == NULL || computed[0] == '*') {
        result = -1;
    } else {
        size_t length = strlen(hash);
        unsigned char difference = strlen(computed) != length;
        for (size_t i = 0; i < length && computed[i] != '\0'; i++) {
            difference |= (unsigned char)(computed[i] ^ hash[i]);
        }
        result = difference == 0;
    }
    explicit_bzero(data, sizeof(struct crypt_data));
    free(data);
    return result;
}
