// The bench's reference tunnel, the way sish-style tunnels work: OpenSSH's sshd on a random
// port with throwaway keys, `ssh -N -R` forwarding a port on the sshd side to the origin, and
// nginx (HTTPS, the stack's dev CA) in front of the forwarded port with keep-alive upstreams
// and no buffering. All in a temporary folder, run as the current user.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freeTcpPort } from '../../libs/testkit/dist/src/index.js';
import { startLogged, stopChild, processTree } from './processes.mjs';

/** How long sshd, the forward and nginx each get to come up, in ms. */
const READY_TIMEOUT_MS = 15_000;
/** Poll period while waiting for a port to accept, in ms. */
const READY_POLL_MS = 50;
/** Idle keep-alive connections nginx keeps to the forwarded port (the `keepalive` directive). */
export const NGINX_UPSTREAM_KEEPALIVE = 64;
/** Requests per keep-alive connection, client side and upstream side (far above a bench run). */
const NGINX_KEEPALIVE_REQUESTS = 1_000_000;
/** nginx's proxy read/send timeouts, in s (above the bench's longest transfer). */
const NGINX_PROXY_TIMEOUT_S = 300;
/** sshd's keep-alive probes of the client (ClientAliveInterval), in s. */
const SSHD_CLIENT_ALIVE_S = 30;

/** Resolves once `host:port` accepts a TCP connection; rejects after READY_TIMEOUT_MS or when `child` exits. */
async function waitForPort(what, host, port, child) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before ${host}:${port} accepted`);
    const open = await new Promise((resolve) => {
      const socket = net.connect(port, host);
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`${what}: ${host}:${port} did not accept within ${READY_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, READY_POLL_MS));
  }
}

function sshdConfig({ port, listenHost, dir, hostKey, authorizedKeys }) {
  return [
    `Port ${port}`,
    `ListenAddress ${listenHost}`,
    `HostKey ${hostKey}`,
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    // The temp folder is not the user's home: skip the ownership checks of ~/.ssh.
    'StrictModes no',
    'UsePAM no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    'AllowTcpForwarding remote',
    'GatewayPorts no',
    'X11Forwarding no',
    'PrintMotd no',
    'UseDNS no',
    `ClientAliveInterval ${SSHD_CLIENT_ALIVE_S}`,
    'LogLevel ERROR',
    '',
  ].join('\n');
}

function nginxConfig({ dir, listenHost, port, upstreamPort, certFile, keyFile, workers }) {
  const temp = (name) => path.join(dir, `nginx-${name}`);
  return `# bench: nginx in front of the ssh -R forwarded port (see scripts/bench/ssh-tunnel.mjs)
daemon off;
worker_processes ${workers};
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'nginx-error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${temp('body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
  keepalive_requests ${NGINX_KEEPALIVE_REQUESTS};
  upstream ssh_r {
    server 127.0.0.1:${upstreamPort};
    keepalive ${NGINX_UPSTREAM_KEEPALIVE};
    keepalive_requests ${NGINX_KEEPALIVE_REQUESTS};
  }
  server {
    listen ${listenHost}:${port} ssl;
    ssl_certificate ${certFile};
    ssl_certificate_key ${keyFile};
    client_max_body_size 0;
    location / {
      proxy_pass http://ssh_r;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout ${NGINX_PROXY_TIMEOUT_S}s;
      proxy_send_timeout ${NGINX_PROXY_TIMEOUT_S}s;
    }
  }
}
`;
}

/**
 * Starts sshd (on `sshdHost`), `ssh -N -R` (through `clientPrefix`, e.g. `ip netns exec hgwan-b`,
 * dialing `sshdHost`) forwarding 127.0.0.1:<port> on the sshd side to `originHost:originPort`
 * as the client sees it, and nginx on `listenHost` with `certFile`/`keyFile` in front of the
 * forwarded port. Returns `{ httpsPort, pids(), stop() }`.
 */
export async function startSshTunnel({ originHost, originPort, certFile, keyFile, sshdHost = '127.0.0.1', listenHost = '127.0.0.1', clientPrefix = [], nginxWorkers = 1 }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hopgate-bench-ssh-'));
  const children = [];
  const stop = async () => {
    for (const child of children.reverse()) await stopChild(child);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const hostKey = path.join(dir, 'host_ed25519');
    const userKey = path.join(dir, 'user_ed25519');
    for (const key of [hostKey, userKey]) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const authorizedKeys = path.join(dir, 'authorized_keys');
    fs.copyFileSync(`${userKey}.pub`, authorizedKeys);
    // sshd refuses to start without its privilege-separation folder (Debian: /run/sshd).
    fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    const sshdPort = await freeTcpPort();
    const configFile = path.join(dir, 'sshd_config');
    fs.writeFileSync(configFile, sshdConfig({ port: sshdPort, listenHost: sshdHost, dir, hostKey, authorizedKeys }));
    const sshd = startLogged('/usr/sbin/sshd', ['-D', '-e', '-f', configFile], path.join(dir, 'sshd.log'));
    children.push(sshd);
    await waitForPort('sshd', sshdHost, sshdPort, sshd);

    const forwardPort = await freeTcpPort();
    const ssh = startLogged(
      'ssh',
      [
        '-N',
        '-i', userKey,
        '-p', String(sshdPort),
        '-o', 'BatchMode=yes',
        '-o', 'ExitOnForwardFailure=yes',
        '-o', 'StrictHostKeyChecking=no',
        '-o', 'UserKnownHostsFile=/dev/null',
        '-o', 'LogLevel=ERROR',
        '-o', `ServerAliveInterval=${SSHD_CLIENT_ALIVE_S}`,
        '-R', `127.0.0.1:${forwardPort}:${originHost}:${originPort}`,
        `${os.userInfo().username}@${sshdHost}`,
      ],
      path.join(dir, 'ssh.log'),
      { prefix: clientPrefix },
    );
    children.push(ssh);
    await waitForPort('ssh -R', '127.0.0.1', forwardPort, ssh);

    for (const name of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(dir, `nginx-${name}`), { mode: 0o777 });
    const httpsPort = await freeTcpPort();
    const nginxFile = path.join(dir, 'nginx.conf');
    fs.writeFileSync(nginxFile, nginxConfig({ dir, listenHost, port: httpsPort, upstreamPort: forwardPort, certFile, keyFile, workers: nginxWorkers }));
    const nginx = startLogged('/usr/sbin/nginx', ['-p', dir, '-c', nginxFile, '-e', path.join(dir, 'nginx-error.log')], path.join(dir, 'nginx.log'));
    children.push(nginx);
    await waitForPort('nginx', listenHost, httpsPort, nginx);
    return {
      httpsPort,
      /** PIDs of the path's processes: sshd and its per-connection children, ssh, nginx and its workers. */
      pids: () => [...processTree(sshd.pid), ...processTree(ssh.pid), ...processTree(nginx.pid)],
      stop,
    };
  } catch (err) {
    const logs = ['sshd.log', 'ssh.log', 'nginx-error.log'].map((f) => {
      try {
        return `${f}: ${fs.readFileSync(path.join(dir, f), 'utf8').slice(-500)}`;
      } catch {
        return '';
      }
    });
    await stop();
    throw new Error(`${err.message}\n${logs.filter(Boolean).join('\n')}`);
  }
}
