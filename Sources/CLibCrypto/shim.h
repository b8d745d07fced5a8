// OpenSSL's EVP digest interface, as used for git object ids (SHA-1).
#ifndef SMART_SYNC_CLIBCRYPTO_SHIM_H
#define SMART_SYNC_CLIBCRYPTO_SHIM_H
#include <openssl/evp.h>
#include <openssl/sha.h>
#endif
