import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { AesGcmRecordCipher, type SealedRecord } from '../src/aes-gcm-record-cipher.js';
import {
  RECORD_CRYPTO_ENV,
  nativeAesGcm,
  recordCryptoBackend,
  recordCryptoModeFromEnv,
  type NativeAesGcm,
  type RecordCryptoBackend,
} from '../src/native-aes-gcm.js';
import { ContentType, DTLS_1_2_VERSION, parseRecords } from '../src/record.js';

const NODE: RecordCryptoBackend = recordCryptoBackend('node');
/**
 * The addon is built by this package's build (scripts/build-native.mjs) wherever a C compiler
 * and Node's headers exist, as on CI (scripts/test.sh installs gcc): its absence is a failure
 * here, not a skip, so a broken build cannot pass unnoticed.
 */
const NATIVE: RecordCryptoBackend = recordCryptoBackend('native');
const BACKENDS = [NODE, NATIVE] as const;

/** One session's key material: each end writes with its own key and implicit nonce. */
function sessionKeys() {
  return { clientKey: randomBytes(16), serverKey: randomBytes(16), clientIv: randomBytes(4), serverIv: randomBytes(4) };
}

/** Both ends of one session on `backend`: each writes with its own keys and reads with the other's. */
function ends(keys: ReturnType<typeof sessionKeys>, backend: RecordCryptoBackend) {
  const { clientKey, serverKey, clientIv, serverIv } = keys;
  return {
    client: new AesGcmRecordCipher({ key: clientKey, iv: clientIv }, { key: serverKey, iv: serverIv }, backend),
    server: new AesGcmRecordCipher({ key: serverKey, iv: serverIv }, { key: clientKey, iv: clientIv }, backend),
  };
}

/** A fresh session's two ends, with the client's key and implicit nonce. */
function pair(backend: RecordCryptoBackend) {
  const keys = sessionKeys();
  return { ...ends(keys, backend), clientKey: keys.clientKey, clientIv: keys.clientIv };
}

function wire(record: SealedRecord): Buffer {
  return Buffer.isBuffer(record) ? record : Buffer.concat(record);
}

for (const backend of BACKENDS) {
  describe(`AesGcmRecordCipher, ${backend.backend} backend (RFC 5288 §3, RFC 6347 §4.1.2.1)`, () => {
    test('a sealed record parses and opens on the other side', () => {
      const { client, server } = pair(backend);
      assert.equal(client.backend, backend.backend);
      const plaintext = randomBytes(1_415);
      const record = client.seal(ContentType.ApplicationData, DTLS_1_2_VERSION, 1, 0x1234_5678_9a, plaintext);
      const [parsed] = parseRecords(record) ?? [];
      assert.ok(parsed);
      assert.equal(parsed.epoch, 1);
      assert.equal(parsed.sequence, 0x1234_5678_9a);
      assert.equal(parsed.fragment.length, 8 + plaintext.length + 16);
      assert.deepEqual(parsed.fragment.subarray(0, 8), record.subarray(3, 11), 'explicit nonce = epoch|sequence');
      assert.deepEqual(server.open(parsed.type, parsed.version, parsed.bytes, parsed.fragment), plaintext);
      assert.equal(client.open(parsed.type, parsed.version, parsed.bytes, parsed.fragment), null, 'the writer cannot open its own records');
    });

    test('sealParts: the same record as seal(), in wire order, and it opens', () => {
      const { client, server } = pair(backend);
      const plaintext = randomBytes(16_000);
      const sealed = client.sealParts(ContentType.ApplicationData, DTLS_1_2_VERSION, 1, 99, plaintext);
      if (backend.backend === 'node') {
        assert.ok(!Buffer.isBuffer(sealed));
        assert.deepEqual(sealed.map((p) => p.length), [13 + 8, plaintext.length, 16], 'header with explicit nonce, ciphertext, tag');
      } else {
        assert.ok(Buffer.isBuffer(sealed), 'the native backend seals into one buffer');
        assert.equal(sealed.length, 13 + 8 + plaintext.length + 16);
      }
      const record = wire(sealed);
      assert.deepEqual(record, client.seal(ContentType.ApplicationData, DTLS_1_2_VERSION, 1, 99, plaintext));
      const [parsed] = parseRecords(record) ?? [];
      assert.ok(parsed);
      assert.deepEqual(server.open(parsed.type, parsed.version, parsed.bytes, parsed.fragment), plaintext);
    });

    test('the same bytes as a plain AES-128-GCM of the RFC 5246 §6.2.3.3 nonce and additional data', () => {
      const { client, clientKey, clientIv } = pair(backend);
      const plaintext = Buffer.from('hello hub');
      const record = client.seal(ContentType.ApplicationData, DTLS_1_2_VERSION, 1, 7, plaintext);
      const seqNum = Buffer.from([0, 1, 0, 0, 0, 0, 0, 7]);
      const aad = Buffer.concat([seqNum, Buffer.from([ContentType.ApplicationData, 0xfe, 0xfd, 0, plaintext.length])]);
      const cipher = createCipheriv('aes-128-gcm', clientKey, Buffer.concat([clientIv, seqNum]), { authTagLength: 16 });
      cipher.setAAD(aad, { plaintextLength: plaintext.length });
      const expected = Buffer.concat([seqNum, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
      assert.deepEqual(record.subarray(13), expected);
    });

    test('an empty plaintext seals to nonce and tag alone, and opens to an empty buffer', () => {
      const { client, server } = pair(backend);
      const record = client.seal(ContentType.ApplicationData, DTLS_1_2_VERSION, 1, 3, Buffer.alloc(0));
      assert.equal(record.length, 13 + 8 + 16);
      const [parsed] = parseRecords(record) ?? [];
      assert.ok(parsed);
      assert.deepEqual(server.open(parsed.type, parsed.version, parsed.bytes, parsed.fragment), Buffer.alloc(0));
    });

    test('a flipped bit in the header, ciphertext or tag does not open', () => {
      const { client, server } = pair(backend);
      const record = client.seal(ContentType.ApplicationData, DTLS_1_2_VERSION, 1, 42, randomBytes(200));
      for (const at of [0, 4, 10, 13, 21, 100, record.length - 1]) {
        const bad = Buffer.from(record);
        bad[at]! ^= 0x01;
        const [parsed] = parseRecords(bad) ?? [];
        if (!parsed) continue; // no longer a record at all
        assert.equal(server.open(parsed.type, parsed.version, parsed.bytes, parsed.fragment), null, `bit flipped at byte ${at}`);
      }
      assert.equal(server.open(ContentType.ApplicationData, DTLS_1_2_VERSION, record, record.subarray(13, 30)), null, 'truncated');
      assert.equal(server.open(ContentType.ApplicationData, DTLS_1_2_VERSION, record, record.subarray(13, 20)), null, 'shorter than nonce and tag');
      assert.equal(server.open(ContentType.ApplicationData, DTLS_1_2_VERSION, record, Buffer.alloc(0)), null, 'empty fragment');
    });

    test('a record that failed to open leaves the context usable for the next one', () => {
      const { client, server } = pair(backend);
      const good = client.seal(ContentType.ApplicationData, DTLS_1_2_VERSION, 1, 1, Buffer.from('first'));
      const bad = Buffer.from(good);
      bad[bad.length - 1]! ^= 0xff;
      const [badParsed] = parseRecords(bad) ?? [];
      assert.equal(server.open(badParsed!.type, badParsed!.version, badParsed!.bytes, badParsed!.fragment), null);
      const next = client.seal(ContentType.ApplicationData, DTLS_1_2_VERSION, 1, 2, Buffer.from('second'));
      const [parsed] = parseRecords(next) ?? [];
      assert.deepEqual(server.open(parsed!.type, parsed!.version, parsed!.bytes, parsed!.fragment), Buffer.from('second'));
    });
  });
}

describe('record crypto backends agree byte for byte', () => {
  test('native and node:crypto seal the same records, and each opens the other’s', () => {
    const keys = sessionKeys();
    const { client: nodeClient, server: nodeServer } = ends(keys, NODE);
    const { client: nativeClient, server: nativeServer } = ends(keys, NATIVE);
    for (const [i, size] of [0, 1, 15, 16, 17, 1_163, 1_415, 8_915, 16_384].entries()) {
      for (const type of [ContentType.ApplicationData, ContentType.Alert, ContentType.Handshake]) {
        const plaintext = randomBytes(size);
        const sequence = 2 ** 40 + i * 7 + type;
        const fromNode = nodeClient.seal(type, DTLS_1_2_VERSION, 1, sequence, plaintext);
        const fromNative = nativeClient.seal(type, DTLS_1_2_VERSION, 1, sequence, plaintext);
        assert.deepEqual(fromNative, fromNode, `${size} bytes, type ${type}`);
        const [parsed] = parseRecords(fromNode) ?? [];
        assert.deepEqual(nativeServer.open(parsed!.type, parsed!.version, parsed!.bytes, parsed!.fragment), plaintext);
        assert.deepEqual(nodeServer.open(parsed!.type, parsed!.version, parsed!.bytes, parsed!.fragment), plaintext);
        // And the server's direction, with its own keys and implicit nonce.
        const reply = nativeServer.seal(type, DTLS_1_2_VERSION, 1, sequence, plaintext);
        assert.deepEqual(reply, nodeServer.seal(type, DTLS_1_2_VERSION, 1, sequence, plaintext));
        const [parsedReply] = parseRecords(reply) ?? [];
        assert.deepEqual(nodeClient.open(parsedReply!.type, parsedReply!.version, parsedReply!.bytes, parsedReply!.fragment), plaintext);
      }
    }
  });
});

describe('the AES-GCM addon refuses what does not fit (checked in C, never out of bounds)', () => {
  const addon = (): NativeAesGcm => {
    const { binding, reason } = nativeAesGcm();
    assert.ok(binding, `the addon did not load: ${reason}`);
    return binding;
  };

  test('wrong argument types throw a TypeError instead of crashing', () => {
    const native = addon();
    const ctx = native.createContext(randomBytes(16), true);
    const nonce = Buffer.alloc(12);
    const aad = Buffer.alloc(13);
    const call = (fn: () => unknown) => assert.throws(fn, TypeError);
    call(() => native.createContext(randomBytes(15), true));
    call(() => native.createContext('0123456789abcdef' as unknown as Buffer, true));
    call(() => (native.createContext as (...args: unknown[]) => unknown)(randomBytes(16)));
    call(() => native.seal({} as never, nonce, aad, Buffer.alloc(1), Buffer.alloc(17), 0));
    call(() => native.seal(ctx, 'nonce' as unknown as Buffer, aad, Buffer.alloc(1), Buffer.alloc(17), 0));
    call(() => native.seal(ctx, nonce, aad, new Uint16Array(4) as unknown as Uint8Array, Buffer.alloc(40), 0));
    // A negative offset is read as an unsigned 32-bit number (Node-API), far past the end: refused.
    assert.equal(native.seal(ctx, nonce, aad, Buffer.alloc(1), Buffer.alloc(17), -1), false);
    call(() => native.open(ctx, nonce, aad, Buffer.alloc(40), 0, 'x' as unknown as number, Buffer.alloc(40)));
    call(() => (native.open as (...args: unknown[]) => unknown)(ctx, nonce, aad, Buffer.alloc(40), 0, 8));
  });

  test('lengths that do not fit return false and write nothing outside the buffers', () => {
    const native = addon();
    const key = randomBytes(16);
    const enc = native.createContext(key, true);
    const dec = native.createContext(key, false);
    const nonce = randomBytes(12);
    const aad = randomBytes(13);
    assert.equal(native.seal(enc, nonce.subarray(0, 11), aad, Buffer.alloc(4), Buffer.alloc(20), 0), false, 'short nonce');
    assert.equal(native.seal(enc, nonce, aad.subarray(0, 12), Buffer.alloc(4), Buffer.alloc(20), 0), false, 'short aad');
    assert.equal(native.seal(enc, nonce, aad, Buffer.alloc(4), Buffer.alloc(19), 0), false, 'out too small');
    assert.equal(native.seal(enc, nonce, aad, Buffer.alloc(4), Buffer.alloc(20), 1), false, 'offset pushes past the end');
    assert.equal(native.seal(enc, nonce, aad, Buffer.alloc(4), Buffer.alloc(20), 2 ** 32 - 1), false, 'offset past the end');
    const sealed = Buffer.alloc(4 + 16);
    assert.equal(native.seal(enc, nonce, aad, Buffer.from('abcd'), sealed, 0), true);
    const guard = Buffer.alloc(64, 0xee);
    const out = guard.subarray(8, 12);
    assert.equal(native.open(dec, nonce, aad, sealed, 0, 4, out), true);
    assert.equal(out.toString(), 'abcd');
    assert.ok(guard.subarray(0, 8).every((b) => b === 0xee) && guard.subarray(12).every((b) => b === 0xee), 'nothing written around out');
    assert.equal(native.open(dec, nonce, aad, sealed, 0, 5, Buffer.alloc(5)), false, 'tag would run past the record');
    assert.equal(native.open(dec, nonce, aad, sealed, 1, 4, Buffer.alloc(4)), false, 'offset leaves no room for the tag');
    assert.equal(native.open(dec, nonce, aad, sealed, 2 ** 32 - 1, 4, Buffer.alloc(4)), false, 'offset past the end');
    assert.equal(native.open(dec, nonce, aad, sealed, 0, 2 ** 32 - 1, Buffer.alloc(4)), false, 'length past the end');
    assert.equal(native.open(dec, nonce, aad, sealed, 0, 4, Buffer.alloc(3)), false, 'out too small');
    assert.equal(native.open(dec, nonce, aad, sealed, 0, 4, Buffer.alloc(4)), true, 'the context still works');
  });
});

describe(`${RECORD_CRYPTO_ENV}`, () => {
  test('auto, native and node; anything else is refused with the variable named', () => {
    assert.equal(recordCryptoModeFromEnv({}), 'auto');
    assert.equal(recordCryptoModeFromEnv({ [RECORD_CRYPTO_ENV]: ' Native ' }), 'native');
    assert.equal(recordCryptoModeFromEnv({ [RECORD_CRYPTO_ENV]: 'node' }), 'node');
    assert.throws(() => recordCryptoModeFromEnv({ [RECORD_CRYPTO_ENV]: 'openssl' }), new RegExp(RECORD_CRYPTO_ENV));
    assert.equal(recordCryptoBackend('node').backend, 'node');
    assert.equal(recordCryptoBackend('auto').backend, 'native', 'auto takes the addon where it is built');
  });
});
