// OpenSSL's EVP interface: digests for git object ids (SHA-1), and the public keys and signature checks of
// SmartSyncSignatures (SSH signatures). Key construction goes through OSSL_PARAM arrays, which Swift handles
// badly, so it lives here as small typed functions.
#ifndef SMART_SYNC_CLIBCRYPTO_SHIM_H
#define SMART_SYNC_CLIBCRYPTO_SHIM_H
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

/// Builds a public key of `algorithm` ("RSA" or "EC") from `params`; NULL when they do not make a valid key (the
/// thread's OpenSSL error queue is cleared then).
static inline EVP_PKEY *ss_public_key_from_params(const char *algorithm, OSSL_PARAM *params) {
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, algorithm, NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        pkey = NULL;
        ERR_clear_error();
    }
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/// An RSA public key from its big-endian modulus `n` and exponent `e`; NULL when they are not a key.
static inline EVP_PKEY *ss_rsa_public_key(const unsigned char *n, size_t n_len, const unsigned char *e,
                                          size_t e_len) {
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn_n = BN_bin2bn(n, (int)n_len, NULL);
    BIGNUM *bn_e = BN_bin2bn(e, (int)e_len, NULL);
    OSSL_PARAM_BLD *builder = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    if (bn_n != NULL && bn_e != NULL && builder != NULL &&
        OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
        OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1 &&
        (params = OSSL_PARAM_BLD_to_param(builder)) != NULL) {
        pkey = ss_public_key_from_params("RSA", params);
    }
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(builder);
    BN_free(bn_n);
    BN_free(bn_e);
    return pkey;
}

/// `pkey` when `EVP_PKEY_public_check` accepts it (for EC: not the point at infinity, on the curve, of the group's
/// order); otherwise frees it and returns NULL. Clears the thread's OpenSSL error queue on failure.
static inline EVP_PKEY *ss_public_key_checked(EVP_PKEY *pkey) {
    if (pkey == NULL) {
        return NULL;
    }
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        EVP_PKEY_free(pkey);
        ERR_clear_error();
        return NULL;
    }
    return pkey;
}

/// An EC public key on `group` ("P-256", "P-384", "P-521") from its SEC1 point; NULL when `EVP_PKEY_fromdata`
/// refuses the point or `EVP_PKEY_public_check` does (the point at infinity, a point off the curve). The caller
/// checks the encoding (OpenSSH's keys carry uncompressed points only).
static inline EVP_PKEY *ss_ec_public_key(const char *group, const unsigned char *point, size_t point_len) {
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, point_len);
    params[2] = OSSL_PARAM_construct_end();
    return ss_public_key_checked(ss_public_key_from_params("EC", params));
}

/// The DER ECDSA-Sig-Value of big-endian `r` and `s` into `out` (capacity `out_capacity`); its length, or -1.
static inline int ss_ecdsa_signature_der(const unsigned char *r, size_t r_len, const unsigned char *s,
                                         size_t s_len, unsigned char *out, size_t out_capacity) {
    int length = -1;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *bn_r = BN_bin2bn(r, (int)r_len, NULL);
    BIGNUM *bn_s = BN_bin2bn(s, (int)s_len, NULL);
    if (sig != NULL && bn_r != NULL && bn_s != NULL && ECDSA_SIG_set0(sig, bn_r, bn_s) == 1) {
        bn_r = NULL; // owned by sig now
        bn_s = NULL;
        int needed = i2d_ECDSA_SIG(sig, NULL);
        if (needed > 0 && (size_t)needed <= out_capacity) {
            unsigned char *cursor = out;
            length = i2d_ECDSA_SIG(sig, &cursor);
        }
    }
    BN_free(bn_r);
    BN_free(bn_s);
    ECDSA_SIG_free(sig);
    return length;
}

/// 1 when `sig` is `pkey`'s signature of `data` with digest `md` (NULL for Ed25519), 0 otherwise. Clears the
/// thread's OpenSSL error queue either way.
static inline int ss_digest_verify(EVP_PKEY *pkey, const EVP_MD *md, const unsigned char *sig, size_t sig_len,
                                   const unsigned char *data, size_t data_len) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) == 1 &&
             EVP_DigestVerify(ctx, sig, sig_len, data, data_len) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok ? 1 : 0;
}
#endif
