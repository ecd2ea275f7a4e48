import fs from 'node:fs';

/**
 * Buffered lines are written at once, without waiting for the turn to end, when they pass this
 * many bytes (counted in UTF-16 units, each at least one byte of UTF-8): the size of a pipe's
 * buffer on Linux (pipe(7)), so that one burst never waits for more than the reader can take.
 */
export const FLUSH_AT_BYTES = 64 * 1024;

/**
 * Lines that a stalled reader has not taken, past this many bytes, are dropped and counted
 * (reported in one line once the reader takes lines again) rather than held without bound.
 */
export const MAX_PENDING_BYTES = 16 * 1024 * 1024;

/** A full pipe (EAGAIN) is tried again after this many ms, from a timer: the event loop goes on. */
export const FULL_PIPE_RETRY_MS = 10;

/** At exit (no event loop left) a full pipe is waited on for at most this many ms in all. */
export const EXIT_FLUSH_MAX_MS = 2_000;

/** At exit, the sleep between two tries of a full pipe, in ms. */
const EXIT_FLUSH_SLEEP_MS = 5;

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * A log destination on a file descriptor (stdout) that gathers the lines of one event-loop turn
 * and hands them to write(2) at once, at `setImmediate` (or as soon as they pass
 * `FLUSH_AT_BYTES`): one syscall per turn instead of one per line. A line written in a turn is
 * out by the end of that turn, in order and whole (a short write's tail goes first next time).
 * `flushSync` writes everything synchronously: pino calls it after a `fatal` line, and the
 * process's `exit` event (also reached by `process.exit` and an uncaught exception) calls it.
 *
 * A full non-blocking pipe (EAGAIN) keeps the lines and tries again after `FULL_PIPE_RETRY_MS`
 * (sonic-boom, pino's own destination, sleeps the thread instead: the event loop would stall
 * behind a slow reader). Any other error (EPIPE: the reader is gone) ends the writing.
 */
export class TurnBufferedDestination {
  /** Lines not yet handed to write(2). */
  private pending = '';
  /** The part of an earlier write the descriptor did not take (a full pipe): it goes out first. */
  private unwritten: Buffer | undefined;
  private flushScheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Lines dropped past MAX_PENDING_BYTES since the last report. */
  private dropped = 0;
  /** The descriptor failed for good (EPIPE, EBADF): lines are dropped from then on. */
  private broken = false;
  private readonly onTurnEnd = (): void => {
    this.flushScheduled = false;
    this.flush();
  };
  private readonly onRetry = (): void => {
    this.retryTimer = undefined;
    this.flush();
    if (this.retryTimer === undefined) for (const callback of this.flushCallbacks.splice(0)) callback();
  };
  /** `flush` callbacks waiting for a full pipe to take everything. */
  private readonly flushCallbacks: ((err?: Error) => void)[] = [];

  constructor(private readonly fd: number) {}

  /** pino calls this with one whole line (ending in a newline). */
  write(line: string): boolean {
    if (this.broken) return true;
    if (this.pending.length + (this.unwritten?.length ?? 0) > MAX_PENDING_BYTES) {
      this.dropped += 1;
      return true;
    }
    this.pending += line;
    if (this.pending.length >= FLUSH_AT_BYTES) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.onTurnEnd);
    }
    return true;
  }

  /**
   * Writes what is buffered as far as the descriptor takes it now; a full pipe's rest waits for
   * the retry timer. `callback` is called once everything buffered now is out (pino's `flush`).
   */
  flush(callback?: (err?: Error) => void): void {
    if (this.retryTimer === undefined && !this.writeOut()) {
      this.retryTimer = setTimeout(this.onRetry, FULL_PIPE_RETRY_MS);
      this.retryTimer.unref();
    }
    if (callback === undefined) return;
    if (this.retryTimer === undefined) callback();
    else this.flushCallbacks.push(callback);
  }

  /** Writes everything buffered before returning, waiting up to EXIT_FLUSH_MAX_MS for a full pipe. */
  flushSync(): void {
    const giveUpAt = Date.now() + EXIT_FLUSH_MAX_MS;
    while (!this.writeOut()) {
      if (Date.now() >= giveUpAt) return;
      Atomics.wait(sleepCell, 0, 0, EXIT_FLUSH_SLEEP_MS);
    }
  }

  /** One write(2) of the unwritten tail and the pending lines (more only after a short write); false when the pipe is full. */
  private writeOut(): boolean {
    if (this.broken) return true;
    if (this.dropped > 0 && this.unwritten === undefined) {
      this.pending = droppedLine(this.dropped) + this.pending;
      this.dropped = 0;
    }
    if (this.unwritten === undefined) {
      if (this.pending.length === 0) return true;
      const text = this.pending;
      this.pending = '';
      // The common case: the whole string in one write, no Buffer made for it.
      const written = this.writeString(text);
      if (written === undefined) return true;
      const bytes = Buffer.byteLength(text);
      if (written === bytes) return true;
      this.unwritten = Buffer.from(text).subarray(written);
    } else if (this.pending.length > 0) {
      this.unwritten = Buffer.concat([this.unwritten, Buffer.from(this.pending)]);
      this.pending = '';
    }
    let buf: Buffer = this.unwritten;
    while (buf.length > 0) {
      const written = this.writeBuffer(buf);
      if (written === undefined) return true;
      if (written < 0) {
        this.unwritten = buf;
        return false;
      }
      buf = buf.subarray(written);
    }
    this.unwritten = undefined;
    return true;
  }

  /** Bytes written; 0 for a full pipe; undefined when the descriptor failed for good. */
  private writeString(text: string): number | undefined {
    try {
      return fs.writeSync(this.fd, text);
    } catch (err) {
      return this.failed(err) ? undefined : 0;
    }
  }

  /** Bytes written; -1 for a full pipe; undefined when the descriptor failed for good. */
  private writeBuffer(buf: Buffer): number | undefined {
    try {
      return fs.writeSync(this.fd, buf, 0, buf.length);
    } catch (err) {
      return this.failed(err) ? undefined : -1;
    }
  }

  /** True when the error ends the writing (everything but a full pipe). */
  private failed(err: unknown): boolean {
    const code = (err as { code?: string }).code;
    if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return false;
    this.broken = true;
    this.pending = '';
    this.unwritten = undefined;
    return true;
  }
}

function droppedLine(dropped: number): string {
  return `${JSON.stringify({ level: 'warn', time: new Date().toISOString(), pid: process.pid, dropped_lines: dropped, msg: 'log lines dropped: stdout was not read' })}\n`;
}

let stdoutDestination: TurnBufferedDestination | undefined;

/**
 * The process's one stdout destination (fd 1 is one per process, and so is its exit hook).
 * Reading `process.stdout` first opens fd 1 as a libuv stream, which puts a pipe in
 * non-blocking mode (as pino's default destination did): a full pipe then answers EAGAIN
 * instead of stalling the event loop until the reader catches up.
 */
export function stdoutTurnDestination(): TurnBufferedDestination {
  if (stdoutDestination === undefined) {
    const fd = process.stdout.fd ?? 1;
    const destination = new TurnBufferedDestination(fd);
    process.on('exit', () => destination.flushSync());
    stdoutDestination = destination;
  }
  return stdoutDestination;
}
