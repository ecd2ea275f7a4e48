/**
 * The DatagramLink plumbing both DTLS links share: the one datagram handler, the one close
 * handler, and a close that happens once and is reported once (also to a close handler set
 * after the link already closed).
 */
export class LinkEvents {
  private datagramHandler: ((datagram: Uint8Array) => void) | undefined;
  private closeHandler: ((err?: Error) => void) | undefined;
  private isClosed = false;
  private closeError: Error | undefined;
  private closeNotified = false;

  get closed(): boolean {
    return this.isClosed;
  }

  onDatagram(handler: (datagram: Uint8Array) => void): void {
    this.datagramHandler = handler;
  }

  onClose(handler: (err?: Error) => void): void {
    this.closeHandler = handler;
    if (this.isClosed && !this.closeNotified) queueMicrotask(() => this.notifyClose());
  }

  /** Hands a datagram to the handler; nothing after close. */
  deliver(datagram: Uint8Array): void {
    if (!this.isClosed) this.datagramHandler?.(datagram);
  }

  /** Marks the link closed; false if it already was (the caller then does nothing). */
  markClosed(err: Error | undefined): boolean {
    if (this.isClosed) return false;
    this.isClosed = true;
    this.closeError = err;
    this.datagramHandler = undefined;
    return true;
  }

  /** Calls the close handler once, with the error the link closed with. */
  notifyClose(): void {
    if (this.closeNotified || !this.closeHandler) return;
    this.closeNotified = true;
    this.closeHandler(this.closeError);
  }
}
