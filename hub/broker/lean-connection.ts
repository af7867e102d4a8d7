/**
 * Trims what aedes and mqtt-packet keep per connection once a client is connected (issue 19: an idle
 * fob connection on an edge may cost at most 8 KB; `npm run bench -- --only idle`, docs/benchmarks.md
 * "Idle connections", has the measurement each step below was kept for).
 *
 * - mqtt-packet's parser keeps the whole CONNECT packet as its `settings` (it reads only
 *   `protocolVersion` from it afterwards, parser.js), so every connection held its password, its will
 *   and the socket chunk those buffers are slices of. The settings become `{ protocolVersion }`.
 * - The parser makes a new `bl` BufferListStream (a full Duplex stream: readable and writable state,
 *   an event emitter) for every packet, as its input buffer, and only ever uses its list methods
 *   (append, consume, length, readUInt*, slice, toString). It gets bl's plain BufferList instead,
 *   the same class without the stream, from the very copy of bl that mqtt-packet loads; and one whose
 *   consume() lets its chunk array go once it is empty: the parser keeps one list for the life of
 *   the connection, and an array that has held a chunk keeps its grown slots (about 100 bytes).
 *
 * - aedes watches every connection with stream.finished() (`client._eos`, lib/client.js) to close
 *   the client when it ends: seven closures and their context on the socket's 'close', 'error',
 *   'end', 'finish' and other events, and the third listener on three of them, which grows each
 *   listener array to V8's next size (176 bytes). For a guarded TCP or TLS socket the broker already
 *   has one 'close' listener, and a net.Socket always emits 'close' last, whether it ended, failed or
 *   was destroyed; there aedes's watch is removed and that listener closes the client instead
 *   (`closeWithSocket`, below; aedes's close() is idempotent). Taking a listener out of an array
 *   does not shrink it, so the socket's listener arrays are then rebuilt at their new length.
 *
 * - The will's payload is a slice of the socket chunk the CONNECT arrived in, so every connection
 *   kept that whole chunk (memory outside the V8 heap, 0.07 KB a connection in the bench's
 *   `external`) for as long as it stayed connected. It is copied into a buffer of its own once the
 *   client is connected (`ownWillPayload`), and the chunk goes with the packet. (Node reads into a
 *   64 KB buffer and shrinks it to what was read; whether a kept chunk also leaves the allocator a
 *   hole it cannot reuse was looked at and not established: the RSS figures moved within their
 *   noise.)
 *
 * They reach into the dependencies' internals (aedes 1.2 `client._parser` and `client._eos`,
 * mqtt-packet 9): when either is not what this expects, the trim is skipped and the connection
 * works as before.
 */
import { createRequire } from 'node:module';
import type { EventEmitter } from 'node:events';

interface ParserLike {
  settings?: { protocolVersion?: number };
  _resetState?: () => void;
  _list?: unknown;
  packet?: unknown;
  error?: unknown;
  _stateCounter?: number;
}

interface BufferListLike {
  length: number;
  _bufs: unknown[];
  consume(bytes: number): BufferListLike;
}

type BufferListCtor = new () => BufferListLike;

/** bl's BufferList whose chunk array starts afresh (no slots) whenever it has been consumed whole. */
function leanList(Base: BufferListCtor): BufferListCtor {
  return class LeanBufferList extends Base {
    override consume(bytes: number): BufferListLike {
      super.consume(bytes);
      if (this.length === 0 && Array.isArray(this._bufs) && this._bufs.length === 0) this._bufs = [];
      return this;
    }
  };
}

/** bl's BufferList, as loaded by mqtt-packet (null when the layout is not the expected one). */
function loadBufferList(): { BufferList: BufferListCtor; Packet: new () => unknown } | null {
  try {
    const req = createRequire(import.meta.url);
    const fromPacket = createRequire(req.resolve('mqtt-packet'));
    const BufferList = (fromPacket('bl') as { BufferList?: BufferListCtor }).BufferList;
    const Packet = fromPacket('./packet') as new () => unknown;
    if (typeof BufferList !== 'function' || typeof Packet !== 'function') return null;
    // The layout this expects of bl 6 (BufferList.js): a `_bufs` array and a `length`.
    const probe = new BufferList();
    if (!Array.isArray(probe._bufs) || probe.length !== 0 || typeof probe.consume !== 'function') return null;
    return { BufferList: leanList(BufferList), Packet };
  } catch {
    return null;
  }
}

const lib = loadBufferList();

/**
 * The same four fields mqtt-packet's own _resetState sets (parser.js), with the plain list. One
 * function for every parser: a closure per connection would cost its own object and context.
 */
function resetState(this: ParserLike): void {
  this.packet = new lib!.Packet();
  this.error = null;
  this._list = new lib!.BufferList();
  this._stateCounter = 0;
}

/** Gives a new connection's parser the plain BufferList (call before its first byte is parsed). */
export function leanParser(client: unknown): void {
  const parser = (client as { _parser?: ParserLike } | null)?._parser;
  if (!lib || !parser || typeof parser._resetState !== 'function' || parser._list === undefined) return;
  parser._resetState = resetState;
  parser._list = new lib.BufferList();
}

/** Drops the CONNECT packet the parser keeps once the client is connected (call on clientReady). */
export function forgetConnectPacket(client: unknown): void {
  const parser = (client as { _parser?: ParserLike } | null)?._parser;
  const version = parser?.settings?.protocolVersion;
  if (parser && typeof version === 'number') parser.settings = { protocolVersion: version };
}

const noop = (): void => undefined;

/**
 * Removes aedes's stream.finished() watch from a client whose connection is a net.Socket the caller
 * listens to 'close' on and closes the client from (see the module comment). aedes's close() calls
 * `_eos()` and replaces it with a no-op; this does the same ahead of it. False (nothing changed)
 * when the client is not laid out as aedes 1.2's.
 */
export function closeWithSocket(client: unknown, socket: EventEmitter): boolean {
  const c = client as { _eos?: unknown; close?: unknown } | null;
  if (!c || typeof c._eos !== 'function' || typeof c.close !== 'function') return false;
  (c._eos as () => void)();
  c._eos = noop;
  for (const event of COMPACTED) compactListeners(socket, event);
  return true;
}

/** The events finished() listened to that keep other listeners (Node's own, aedes's, the broker's). */
const COMPACTED = ['close', 'end', 'error'] as const;

/**
 * Re-adds an event's listeners, in their order, so they sit in an array of their own length: V8
 * grows a listener array from 2 to 19 slots at the third listener and never shrinks it when one is
 * taken out (176 bytes instead of 24, per event, per connection). Public EventEmitter calls only;
 * once-listeners stay once (rawListeners gives their wrappers).
 */
function compactListeners(emitter: EventEmitter, event: string): void {
  const listeners = emitter.rawListeners(event) as ((...args: unknown[]) => void)[];
  if (listeners.length < 2) return;
  emitter.removeAllListeners(event);
  for (const l of listeners) emitter.on(event, l);
}

/**
 * Gives the client's will a payload of its own, not a slice of the chunk its CONNECT was read in
 * (see the module comment; call on clientReady). The will object itself stays the one aedes and its
 * persistence hold, so the will published when the link dies is unchanged.
 */
export function ownWillPayload(client: unknown): void {
  const will = (client as { will?: { payload?: unknown } | null } | null)?.will;
  const payload = will?.payload;
  if (!will || !Buffer.isBuffer(payload) || payload.buffer.byteLength === payload.length) return;
  // Not Buffer.from: a copy from Node's shared 8 KB pool would keep that whole pool alive for as
  // long as the fob stays connected (and the next fob's will, the next pool).
  const own = Buffer.allocUnsafeSlow(payload.length);
  payload.copy(own);
  will.payload = own;
}
