/*
 * AES-128-GCM record protection for the DTLS 1.2 records of HopGate's hub and agent
 * (RFC 5288 §3, RFC 6347 §4.1.2.1), as a Node-API addon over the OpenSSL inside Node.
 *
 * Why: node:crypto makes a cipher object per record (createCipheriv), and with OpenSSL 3 that
 * costs 9-13 us per record on these machines, against about 1.4 us here, where each
 * direction keeps one EVP_CIPHER_CTX with its key schedule and a record only sets the nonce
 * (EVP_CipherInit_ex with a NULL cipher and key: "the IV only", the documented GCM reuse).
 *
 * The JavaScript side (src/native-aes-gcm.ts) writes the record header, nonce and additional
 * data; this file only encrypts or decrypts with bounds checked here, in C, on every call, so a
 * hostile record can at most fail to authenticate. It uses only symbols Node exports (Node-API
 * and libcrypto), so it is built with a plain C compiler and Node's headers (scripts/build-native.mjs).
 */
#include <node_api.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* RFC 5288 §3: a 16-byte key, a 12-byte nonce (4 implicit + 8 explicit), a 16-byte tag. */
#define KEY_BYTES 16
#define NONCE_BYTES 12
#define TAG_BYTES 16
/* RFC 5246 §6.2.3.3: additional_data = seq_num(8) + type(1) + version(2) + length(2). */
#define AAD_BYTES 13

static pthread_once_t cipher_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *aes_128_gcm = NULL;

static void fetch_cipher(void) { aes_128_gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL); }

static void free_context(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  EVP_CIPHER_CTX_free((EVP_CIPHER_CTX *)data);
}

static bool buffer_arg(napi_env env, napi_value value, unsigned char **data, size_t *length) {
  bool is_buffer = false;
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer) return false;
  return napi_get_buffer_info(env, value, (void **)data, length) == napi_ok;
}

/* A Uint8Array or Buffer: its bytes. */
static bool bytes_arg(napi_env env, napi_value value, unsigned char **data, size_t *length) {
  bool is_typedarray = false;
  napi_typedarray_type type;
  void *bytes = NULL;
  if (napi_is_typedarray(env, value, &is_typedarray) != napi_ok || !is_typedarray) return false;
  if (napi_get_typedarray_info(env, value, &type, length, &bytes, NULL, NULL) != napi_ok) return false;
  if (type != napi_uint8_array) return false;
  *data = (unsigned char *)bytes;
  return true;
}

static bool context_arg(napi_env env, napi_value value, EVP_CIPHER_CTX **ctx) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external) return false;
  return napi_get_value_external(env, value, (void **)ctx) == napi_ok && *ctx != NULL;
}

static bool offset_arg(napi_env env, napi_value value, size_t *out) {
  uint32_t v;
  if (napi_get_value_uint32(env, value, &v) != napi_ok) return false;
  *out = v;
  return true;
}

static napi_value boolean(napi_env env, bool value) {
  napi_value result;
  napi_get_boolean(env, value, &result);
  return result;
}

/* createContext(key: Buffer(16), encrypt: boolean): an opaque context for one direction. */
static napi_value create_context(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  unsigned char *key;
  size_t key_length;
  bool encrypt;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 || !buffer_arg(env, argv[0], &key, &key_length) ||
      key_length != KEY_BYTES || napi_get_value_bool(env, argv[1], &encrypt) != napi_ok) {
    napi_throw_type_error(env, NULL, "createContext(key: 16-byte Buffer, encrypt: boolean)");
    return NULL;
  }
  pthread_once(&cipher_once, fetch_cipher);
  if (aes_128_gcm == NULL) {
    napi_throw_error(env, NULL, "OpenSSL has no AES-128-GCM");
    return NULL;
  }
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (ctx == NULL || EVP_CipherInit_ex(ctx, aes_128_gcm, NULL, key, NULL, encrypt ? 1 : 0) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    napi_throw_error(env, NULL, "AES-128-GCM context setup failed");
    return NULL;
  }
  napi_value external;
  if (napi_create_external(env, ctx, free_context, NULL, &external) != napi_ok) {
    EVP_CIPHER_CTX_free(ctx);
    napi_throw_error(env, NULL, "AES-128-GCM context: no external");
    return NULL;
  }
  return external;
}

/*
 * seal(ctx, nonce: Buffer(12), aad: Buffer(13), plaintext: Uint8Array, out: Buffer, at: number): boolean
 * Writes ciphertext || tag into out[at, at + plaintext.length + 16). False when an argument does
 * not fit or OpenSSL fails (nothing useful was written then).
 */
static napi_value seal(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  EVP_CIPHER_CTX *ctx;
  unsigned char *nonce, *aad, *plaintext, *out;
  size_t nonce_length, aad_length, plaintext_length, out_length, at;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 6 || !context_arg(env, argv[0], &ctx) ||
      !buffer_arg(env, argv[1], &nonce, &nonce_length) || !buffer_arg(env, argv[2], &aad, &aad_length) ||
      !bytes_arg(env, argv[3], &plaintext, &plaintext_length) || !buffer_arg(env, argv[4], &out, &out_length) ||
      !offset_arg(env, argv[5], &at)) {
    napi_throw_type_error(env, NULL, "seal(context, nonce, aad, plaintext, out, at)");
    return NULL;
  }
  if (nonce_length != NONCE_BYTES || aad_length != AAD_BYTES || plaintext_length > INT_MAX - TAG_BYTES || at > out_length ||
      out_length - at < plaintext_length + TAG_BYTES) {
    return boolean(env, false);
  }
  int written;
  unsigned char *ciphertext = out + at;
  bool ok = EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, 1) == 1 &&
            EVP_CipherUpdate(ctx, NULL, &written, aad, AAD_BYTES) == 1 &&
            EVP_CipherUpdate(ctx, ciphertext, &written, plaintext, (int)plaintext_length) == 1 &&
            (size_t)written == plaintext_length &&
            EVP_CipherFinal_ex(ctx, ciphertext + plaintext_length, &written) == 1 && written == 0 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, ciphertext + plaintext_length) == 1;
  return boolean(env, ok);
}

/*
 * open(ctx, nonce: Buffer(12), aad: Buffer(13), record: Buffer, at: number, length: number, out: Buffer): boolean
 * The ciphertext is record[at, at + length) and its tag the 16 bytes after it; the plaintext
 * goes to out[0, length). True only when the tag verifies (RFC 5116 §2.2: no plaintext is
 * released otherwise; the caller drops `out`).
 */
static napi_value open_record(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  EVP_CIPHER_CTX *ctx;
  unsigned char *nonce, *aad, *record, *out;
  size_t nonce_length, aad_length, record_length, out_length, at, length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 7 || !context_arg(env, argv[0], &ctx) ||
      !buffer_arg(env, argv[1], &nonce, &nonce_length) || !buffer_arg(env, argv[2], &aad, &aad_length) ||
      !buffer_arg(env, argv[3], &record, &record_length) || !offset_arg(env, argv[4], &at) || !offset_arg(env, argv[5], &length) ||
      !buffer_arg(env, argv[6], &out, &out_length)) {
    napi_throw_type_error(env, NULL, "open(context, nonce, aad, record, at, length, out)");
    return NULL;
  }
  if (nonce_length != NONCE_BYTES || aad_length != AAD_BYTES || length > INT_MAX || at > record_length ||
      record_length - at < length || record_length - at - length < TAG_BYTES || out_length < length) {
    return boolean(env, false);
  }
  int written;
  unsigned char *ciphertext = record + at;
  /* The tag is copied out first: OpenSSL's SET_TAG takes a non-const pointer. */
  unsigned char tag[TAG_BYTES];
  for (int i = 0; i < TAG_BYTES; i++) tag[i] = ciphertext[length + i];
  bool ok = EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, 0) == 1 &&
            EVP_CipherUpdate(ctx, NULL, &written, aad, AAD_BYTES) == 1 &&
            EVP_CipherUpdate(ctx, out, &written, ciphertext, (int)length) == 1 &&
            (size_t)written == length &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, tag) == 1 &&
            EVP_CipherFinal_ex(ctx, out + length, &written) == 1;
  return boolean(env, ok);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor properties[] = {
      {"createContext", NULL, create_context, NULL, NULL, NULL, napi_default, NULL},
      {"seal", NULL, seal, NULL, NULL, NULL, napi_default, NULL},
      {"open", NULL, open_record, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties) != napi_ok) return NULL;
  return exports;
}
