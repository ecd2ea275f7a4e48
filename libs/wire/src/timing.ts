/**
 * The agent's origin time as a response_head extension (ExtensionId.originMicros): u32
 * microseconds from the local request's start to its response head, capped at the u32 range
 * (71 minutes).
 */
import { ExtensionId, type Extension } from './messages.js';

/** Largest value of the u32 field, in microseconds. */
const MAX_ORIGIN_MICROS = 0xffffffff;

export function originTimingExtension(micros: number): Extension {
  const value = Buffer.allocUnsafe(4);
  value.writeUInt32BE(Math.max(0, Math.min(MAX_ORIGIN_MICROS, Math.round(micros))), 0);
  return { id: ExtensionId.originMicros, value };
}

/** The origin time in microseconds from a head's extensions, or undefined when absent or malformed. */
export function originMicrosOf(extensions: readonly Extension[] | undefined): number | undefined {
  const ext = extensions?.find((e) => e.id === ExtensionId.originMicros);
  if (!ext || ext.value.byteLength !== 4) return undefined;
  return Buffer.from(ext.value.buffer, ext.value.byteOffset, 4).readUInt32BE(0);
}
