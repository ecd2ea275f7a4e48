import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { AesGcmRecordCipher } from '../src/aes-gcm-record-cipher.js';
import { ContentType, DTLS_1_2_VERSION, parseRecords } from '../src/record.js';

/** Both ends of one session: each writes with its own keys and reads with the other's. */
function pair(): { client: AesGcmRecordCipher; server: AesGcmRecordCipher; clientKey: Buffer; clientIv: Buffer } {
  const clientKey = randomBytes(16);
  const serverKey = randomBytes(16);
  const clientIv = randomBytes(4);
  const serverIv = randomBytes(4);
  return {
    client: new AesGcmRecordCipher({ key: clientKey, iv: clientIv }, { key: serverKey, iv: serverIv }),
    server: new AesGcmRecordCipher({ key: serverKey, iv: serverIv }, { key: clientKey, iv: clientIv }),
    clientKey,
    clientIv,
  };
}

describe('AesGcmRecordCipher (RFC 5288 §3, RFC 6347 §4.1.2.1)', () => {
  test('a sealed record parses and opens on the other side', () => {
    const { client, server } = pair();
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

  test('sealParts: header with explicit nonce, ciphertext, tag; together the same record as seal(), and it opens', () => {
    const { client, server } = pair();
    const plaintext = randomBytes(16_000);
    const parts = client.sealParts(ContentType.ApplicationData, DTLS_1_2_VERSION, 1, 99, plaintext);
    assert.deepEqual(parts.map((p) => p.length), [13 + 8, plaintext.length, 16]);
    const record = Buffer.concat(parts);
    assert.deepEqual(record, client.seal(ContentType.ApplicationData, DTLS_1_2_VERSION, 1, 99, plaintext));
    const [parsed] = parseRecords(record) ?? [];
    assert.ok(parsed);
    assert.deepEqual(server.open(parsed.type, parsed.version, parsed.bytes, parsed.fragment), plaintext);
  });

  test('the same bytes as a plain AES-128-GCM of the RFC 5246 §6.2.3.3 nonce and additional data', () => {
    const { client, clientKey, clientIv } = pair();
    const plaintext = Buffer.from('hello hub');
    const record = client.seal(ContentType.ApplicationData, DTLS_1_2_VERSION, 1, 7, plaintext);
    const seqNum = Buffer.from([0, 1, 0, 0, 0, 0, 0, 7]);
    const aad = Buffer.concat([seqNum, Buffer.from([ContentType.ApplicationData, 0xfe, 0xfd, 0, plaintext.length])]);
    const cipher = createCipheriv('aes-128-gcm', clientKey, Buffer.concat([clientIv, seqNum]), { authTagLength: 16 });
    cipher.setAAD(aad, { plaintextLength: plaintext.length });
    const expected = Buffer.concat([seqNum, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    assert.deepEqual(record.subarray(13), expected);
  });

  test('a flipped bit in the header, ciphertext or tag does not open', () => {
    const { client, server } = pair();
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
  });
});
