import http from 'node:http';
import { waitFor, type ManagedProcess } from '@hopgate/testkit';

/** The port of a service's ops listener, from its `ops listening` log line (HOPGATE_OPS_LISTEN=127.0.0.1:0). */
export async function opsPortOf(proc: ManagedProcess): Promise<number> {
  const record = await proc.waitForLog('ops listening', (r) => r.msg === 'ops listening');
  return Number(String(record['listen']).split(':').pop());
}

export interface ProbeAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** GET of an ops path (no keep-alive: a probe per connection, as kubelet does). */
export function probe(port: number, path: string): Promise<ProbeAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 5_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`ops ${path}: no answer in 5 s`)));
    req.on('error', reject);
  });
}

/** Waits until `path` answers `status` (and, when given, the reason); returns the answer. */
export function waitProbe(port: number, path: string, status: number, reason?: string, timeoutMs = 15_000): Promise<ProbeAnswer> {
  return waitFor(`ops ${path} ${status}${reason ? ` (${reason})` : ''}`, async () => {
    const answer = await probe(port, path);
    return answer.status === status && (reason === undefined || answer.body['reason'] === reason) ? answer : undefined;
  }, timeoutMs, 50);
}

/** Resolves with the exit code once `proc` exited and its whole log was read (its output closed). */
export function exitCodeOf(proc: ManagedProcess): Promise<number | null> {
  if (proc.exited && proc.child.stdout?.closed !== false) return Promise.resolve(proc.child.exitCode);
  return new Promise((resolve) => proc.child.once('close', (code) => resolve(code)));
}
