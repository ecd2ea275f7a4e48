/**
 * Every window, limit and timer of the relay, with its unit in its name. Options default to these.
 */

/**
 * Largest DATA payload a sender puts in one frame; larger writes are split. Measured (bench/cpu.ts,
 * 100 MiB each way): 30 KiB frames in messages of at most 32 KiB cost ~10% less CPU per MiB across
 * the processes than 60 KiB in 64 KiB, nats-server ~20% less: a message within one 64 KiB socket
 * read is parsed by nats.js without growing a buffer for it. 15 KiB measured the same as 30.
 */
export const DEFAULT_CHUNK_BYTES = 30 * 1024;

/** Receive window, in chunks of DEFAULT_CHUNK_BYTES (960 KiB, as before chunks were halved). */
export const DEFAULT_WINDOW_CHUNKS = 32;

/** Bytes a receiver lets its peer have outstanding (sent but not yet returned by CREDIT). */
export const DEFAULT_WINDOW_BYTES = DEFAULT_WINDOW_CHUNKS * DEFAULT_CHUNK_BYTES;

/** How long the ingress waits for ACCEPT or REJECT after OPEN before failing with ERR_TIMEOUT. */
export const DEFAULT_OPEN_TIMEOUT_MS = 5_000;

/** A stream with no frame in either direction for this long is reset on that side (a dead peer). */
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 5 * 60_000;

/** Streams a hub holds at once; further OPENs are rejected with ERR_BUSY. */
export const DEFAULT_MAX_STREAMS = 10_000;

/**
 * A receiver returns credit once the bytes consumed but not yet granted reach
 * window / CREDIT_UPDATE_WINDOW_DIVISOR: half the window, as RFC 9000 §4.2 suggests for
 * MAX_STREAM_DATA (one CREDIT per 8 DATA frames by default, not one per chunk).
 */
export const CREDIT_UPDATE_WINDOW_DIVISOR = 2;

/** Largest chunk allowed: stays under nats-server's default max_payload of 1 MiB with room for the header. */
export const MAX_CHUNK_BYTES = 1024 * 1024 - 4096;

/** Largest window allowed: window and credit travel as unsigned 32-bit integers. */
export const MAX_WINDOW_BYTES = 0xffff_ffff;

/** Largest request or response head (opaque bytes in OPEN / RESPONSE). */
export const MAX_HEAD_BYTES = 64 * 1024;

/** Error messages in REJECT / RESET are cut to this many UTF-8 bytes. */
export const MAX_ERROR_MESSAGE_BYTES = 1024;

/** Stream ids and reply subjects are length-prefixed with one byte. */
export const MAX_STREAM_ID_BYTES = 255;
export const MAX_SUBJECT_BYTES = 255;

/**
 * Frames that reach an ingress stream before its ACCEPT has been processed (the ACCEPT travels as a
 * reply on its own subject, the rest on the ingress subject) are queued; beyond this many the stream is reset.
 */
export const MAX_EARLY_FRAMES = 1024;

/** RESETs held back while NATS is disconnected (sent after the reconnect); beyond this they are dropped. */
export const MAX_DEFERRED_RESETS = 100_000;

/**
 * Peer liveness: while a node has streams with a peer node, it sends that peer one PING (a NATS
 * request) this often, whatever the number of streams. A peer whose subscription is gone answers
 * "no responders" at once; see docs/nats.md "Peer liveness".
 */
export const DEFAULT_PEER_PROBE_INTERVAL_MS = 2_000;

/** A PING with no PONG within this long is a miss. */
export const DEFAULT_PEER_PROBE_TIMEOUT_MS = 2_000;

/** After this many misses in a row the peer is gone: every stream with it is destroyed. */
export const MAX_PEER_PROBE_MISSES = 2;

/** A node's instance id (in PONG) is this many random bytes, hex: a new one per RelayClient / RelayServer. */
export const PEER_INSTANCE_ID_BYTES = 8;

/** Largest instance id a PONG may carry. */
export const MAX_INSTANCE_ID_BYTES = 64;

/**
 * `noAsyncTraces` for the NATS connections of the relay nodes: otherwise nats.js builds an Error
 * (a stack capture) for every request() and its timer (the peer PINGs; OPEN is no request()),
 * only to have a nicer stack if it fails. The errors themselves (timeout, no responders) are unchanged.
 */
export const NATS_NO_ASYNC_TRACES = true;

/**
 * nats.js `pendingLimit` for the relay nodes, in bytes: what it gathers before writing inline
 * (default 32 KiB, about one relay message). Whatever is pending is written at the end of the turn
 * anyway (a microtask), so a small message waits no longer; a turn's bulk messages leave in one
 * writev (see patches/@nats-io+nats-core) instead of one each. Measured (download 300 MiB): the
 * hub's writes to nats-server 9,385 -> 1,260.
 */
export const NATS_PENDING_LIMIT_BYTES = 256 * 1024;

/** nats-server's default max_payload, in bytes: a message's size limit when the server does not tell (its INFO does). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/**
 * Frames are encoded one after another into a slab of this many bytes (a new one when it is
 * used up): room for a whole message of max_payload with a slab to spare, so a turn's message
 * is usually one contiguous run.
 */
export const PUBLISH_SLAB_BYTES = 2 * 1024 * 1024;

/** A new message starts in a fresh slab when less than this many bytes are left in the current one. */
export const SLAB_FRESH_BATCH_MIN_BYTES = 64 * 1024;

/**
 * Frames are batched into one message up to this many bytes (a single larger frame goes alone).
 * Measured: messages of up to 1 MiB made transfers cost more CPU per MiB in every process
 * (18-23 ms against 12-13 across the processes: nats.js grows and copies a buffer for a message
 * that spans socket reads, nats-server copies more; 128 and 256 KiB were worse than 64 too),
 * while small frames (heads, END, CREDIT) gain the most from sharing a message.
 */
export const MAX_BATCH_BYTES = 32 * 1024;
