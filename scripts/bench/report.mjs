// The bench's table: rows with a direct, an ssh -R + nginx and a HopGate figure, the two
// ratios HopGate/direct and HopGate/ssh -R, and the issue's targets printed met / NOT MET.
// A ratio is always HopGate's figure over the other one: above 1 is better for a rate (req/s,
// MB/s), worse for a time (ms), a CPU cost or a memory figure.

/**
 * Targets of issue 12, each on one ratio column ('ssh' or 'direct') or on HopGate's own
 * figure ('value'), with a lower (`min`) or upper (`max`) bound.
 */
export const TARGETS = {
  getHighVsSshMin: { against: 'ssh', min: 1.0 },
  c1P50VsSshMax: { against: 'ssh', max: 3 },
  transferVsSshMin: { against: 'ssh', min: 0.5 },
  pmtuVsSshMin: { against: 'ssh', min: 0.3 },
  sseFirstVsDirectMax: { against: 'direct', max: 1.5 },
  /** The lossy row's direct column is the lossless HopGate download. */
  lossVsLosslessMin: { against: 'direct', min: 0.5 },
  idleHeapKibMax: { against: 'value', max: 20 },
  transferRssDeltaMibMax: { against: 'value', max: 100 },
  /** WAN: HopGate download MB/s at the lossless settings. */
  wanLosslessDownloadMbMin: { against: 'value', min: 60 },
  /** WAN: HopGate download over ssh -R at 10 ms / 1% (1.5x) and 25 ms / 2% (2.5x). */
  wanLossyDownloadVsSshMin: { '10/1': { against: 'ssh', min: 1.5 }, '25/2': { against: 'ssh', min: 2.5 } },
  /** WAN: GET c=32 req/s over ssh -R at every setting with delay. */
  wanDelayedGetVsSshMin: { against: 'ssh', min: 1.5 },
};

const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b !== 0 ? +(a / b).toFixed(3) : null);

export function targetText(target) {
  const on = target.against === 'value' ? 'HopGate' : `HopGate/${target.against === 'ssh' ? 'ssh -R' : 'direct'}`;
  return target.min !== undefined ? `${on} >= ${target.min}` : `${on} <= ${target.max}`;
}

export function targetMet(target, row) {
  const x = target.against === 'value' ? row.hopgate : target.against === 'ssh' ? row.vs_ssh : row.vs_direct;
  if (typeof x !== 'number') return false;
  return target.min !== undefined ? x >= target.min : x <= target.max;
}

/** A row of figures; with a target, `met` says whether it holds and `also` (e.g. no cut transfer) is true. */
export function comparedRow(name, { direct, ssh, hopgate }, target, also = true) {
  const row = { name, direct: direct ?? null, ssh: ssh ?? null, hopgate: hopgate ?? null, vs_direct: ratio(hopgate, direct), vs_ssh: ratio(hopgate, ssh) };
  if (!target) return row;
  return { ...row, target: targetText(target), met: targetMet(target, row) && also };
}

const r2 = (n) => (Number.isFinite(n) ? +n.toFixed(2) : null);

/**
 * CPU rows of one run: per HopGate process (`hopgateMs`: name -> CPU ms), then the sum of
 * HopGate's processes against the ssh -R path's (sshd, ssh and nginx together). `scale`
 * turns ms into the unit (1000: us) and `units` is what one figure is per (requests, MiB).
 */
export function cpuRows(title, hopgateMs, sshMs, hopgateUnits, sshUnits, scale) {
  const per = (ms, units) => r2((ms * scale) / units);
  const rows = Object.entries(hopgateMs).map(([name, ms]) => comparedRow(`${title}: ${name}`, { hopgate: per(ms, hopgateUnits) }));
  const total = Object.values(hopgateMs).reduce((a, b) => a + b, 0);
  const sshTotal = Object.values(sshMs).reduce((a, b) => a + b, 0);
  rows.push(comparedRow(`${title}: all (ssh -R: sshd+ssh+nginx)`, { ssh: per(sshTotal, sshUnits), hopgate: per(total, hopgateUnits) }));
  return rows;
}

function print(cols, rows) {
  const cells = rows.map((r) => cols.map(([, get]) => String(get(r) ?? '-')));
  const widths = cols.map(([title], i) => Math.max(title.length, ...cells.map((c) => c[i].length)));
  const line = (values) => `| ${values.map((v, i) => v[cols[i][2]](widths[i])).join(' | ')} |`;
  console.log(line(cols.map(([title]) => title)));
  console.log(`|${widths.map((w, i) => (cols[i][2] === 'padStart' ? `${'-'.repeat(w + 1)}:` : `:${'-'.repeat(w + 1)}`)).join('|')}|`);
  for (const c of cells) console.log(line(c));
}

const metText = (r) => (r.met === undefined ? '' : r.met ? 'met' : 'NOT MET');

/** The main table, Markdown. */
export function printTable(rows) {
  console.log('');
  print(
    [
      ['row', (r) => r.name, 'padEnd'],
      ['direct', (r) => r.direct, 'padStart'],
      ['ssh -R + nginx', (r) => r.ssh, 'padStart'],
      ['HopGate', (r) => r.hopgate, 'padStart'],
      ['HopGate/direct', (r) => r.vs_direct, 'padStart'],
      ['HopGate/ssh -R', (r) => r.vs_ssh, 'padStart'],
      ['target', (r) => r.target ?? '', 'padEnd'],
      ['', metText, 'padEnd'],
    ],
    rows,
  );
}

/** The WAN table, Markdown: one line per row of `wan.rows`. */
export function wanTable(wan) {
  console.log('\nWAN runs (agent and origin in namespace b, the rest in a; one-way delay / loss each way, MTU 1500)');
  print(
    [
      ['link', (r) => r.link, 'padEnd'],
      ['row', (r) => r.name, 'padEnd'],
      ['direct TCP', (r) => r.direct, 'padStart'],
      ['ssh -R + nginx', (r) => r.ssh, 'padStart'],
      ['HopGate', (r) => r.hopgate, 'padStart'],
      ['HopGate/ssh -R', (r) => r.vs_ssh, 'padStart'],
      ['target', (r) => r.target ?? '', 'padEnd'],
      ['', metText, 'padEnd'],
    ],
    wan.rows,
  );
}
