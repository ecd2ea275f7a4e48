import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HubPicker, HUB_FAILURE_COOLDOWN_MIN_MS, HUB_FAILURE_COOLDOWN_MAX_MS, type HubResolver } from '../src/hub-picker.js';

const three = [
  { host: '10.0.0.1', port: 443 },
  { host: '10.0.0.2', port: 443 },
  { host: '10.0.0.3', port: 4433 },
];

/** Picks `rounds` times and counts each key. */
async function tally(picker: HubPicker, rounds: number, avoid?: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < rounds; i++) {
    const { key } = await picker.pick(avoid);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

test('picks at random among the hubs; a failed hub is avoided while others are healthy', async () => {
  let now = 1_000_000;
  const picker = new HubPicker(three, { now: () => now });
  const spread = await tally(picker, 300);
  assert.deepEqual([...spread.keys()].sort(), ['10.0.0.1:443', '10.0.0.2:443', '10.0.0.3:4433']);
  for (const [key, count] of spread) assert.ok(count > 50, `${key} picked ${count} times of 300`);
  picker.markFailed('10.0.0.2:443');
  const without = await tally(picker, 100);
  assert.equal(without.get('10.0.0.2:443'), undefined, 'the failed hub was picked during its cooldown');
  now += HUB_FAILURE_COOLDOWN_MIN_MS;
  assert.ok((await tally(picker, 100)).get('10.0.0.2:443')! > 0, 'after its cooldown the hub is picked again');
});

test('the cooldown doubles per failure in a row, is capped, and a healthy session clears it', async () => {
  let now = 0;
  const picker = new HubPicker(three.slice(0, 2), { now: () => now, random: () => 0 });
  const key = '10.0.0.1:443';
  for (let i = 0; i < 3; i++) picker.markFailed(key);
  assert.equal(picker.failuresOf(key), 3);
  now += 4 * HUB_FAILURE_COOLDOWN_MIN_MS - 1;
  assert.equal((await picker.pick()).key, '10.0.0.2:443', 'third failure: four times the first cooldown');
  now += 1;
  assert.equal((await picker.pick()).key, key);
  for (let i = 0; i < 40; i++) picker.markFailed(key);
  now += HUB_FAILURE_COOLDOWN_MAX_MS;
  assert.equal((await picker.pick()).key, key, 'the cooldown never exceeds the cap');
  picker.markFailed(key);
  picker.markHealthy(key);
  assert.equal(picker.failuresOf(key), 0);
  assert.equal((await picker.pick()).key, key);
});

test('when every hub is failed, the least recently failed one is tried', async () => {
  let now = 0;
  const picker = new HubPicker(three, { now: () => now });
  picker.markFailed('10.0.0.3:4433');
  now += 10;
  picker.markFailed('10.0.0.1:443');
  now += 10;
  picker.markFailed('10.0.0.2:443');
  assert.deepEqual([...(await tally(picker, 20)).keys()], ['10.0.0.3:4433']);
});

test('pick(avoid) returns another hub when there is one, the same one when it is alone', async () => {
  const picker = new HubPicker(three);
  const counts = await tally(picker, 100, '10.0.0.1:443');
  assert.equal(counts.get('10.0.0.1:443'), undefined);
  assert.equal(counts.size, 2);
  const alone = new HubPicker([{ host: '10.0.0.9', port: 443 }]);
  assert.equal((await alone.pick('10.0.0.9:443')).key, '10.0.0.9:443');
});

test('a name is resolved at each pick (DNS changes are followed); IPv4 is preferred; IPv6 keys are bracketed', async () => {
  let answer = [{ address: '192.0.2.1', family: 4 }, { address: '2001:db8::1', family: 6 }];
  const resolve: HubResolver = async () => answer;
  const picker = new HubPicker([{ host: 'hubs.example.test', port: 443 }], { resolve });
  const first = await picker.pick();
  assert.deepEqual(first, { address: '192.0.2.1', port: 443, key: '192.0.2.1:443', entry: 'hubs.example.test:443' });
  answer = [{ address: '2001:db8::2', family: 6 }];
  assert.deepEqual(await picker.pick(), { address: '2001:db8::2', port: 443, key: '[2001:db8::2]:443', entry: 'hubs.example.test:443' });
  answer = [{ address: '192.0.2.7', family: 4 }, { address: '192.0.2.8', family: 4 }];
  assert.deepEqual([...(await tally(picker, 60)).keys()].sort(), ['192.0.2.7:443', '192.0.2.8:443']);
});

test('an entry that does not resolve is skipped; none resolving is ERR_UNAVAILABLE', async () => {
  const resolve: HubResolver = async (host) => {
    if (host === 'gone.example.test') throw Object.assign(new Error('getaddrinfo ENOTFOUND gone.example.test'), { code: 'ENOTFOUND' });
    return [{ address: '192.0.2.5', family: 4 }];
  };
  const picker = new HubPicker([{ host: 'gone.example.test', port: 443 }, { host: 'live.example.test', port: 443 }], { resolve });
  assert.equal((await picker.pick()).key, '192.0.2.5:443');
  const none = new HubPicker([{ host: 'gone.example.test', port: 443 }], { resolve });
  await assert.rejects(none.pick(), { code: 'ERR_UNAVAILABLE' });
});

test('the real resolver: localhost resolves through node:dns to a loopback address, IPv4 first', async () => {
  const picker = new HubPicker([{ host: 'localhost', port: 4433 }]);
  const hub = await picker.pick();
  assert.equal(hub.entry, 'localhost:4433');
  assert.equal(hub.key, '127.0.0.1:4433');
  assert.equal(hub.address, '127.0.0.1');
});
