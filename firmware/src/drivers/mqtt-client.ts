/**
 * Our own small MQTT 3.1.1 client for the fob (Espruino's MQTT module has no QoS 1 retry and no
 * last will): CONNECT with a will, QoS 0 and QoS 1 publish with retry until PUBACK, one
 * subscription, and a keep-alive that notices a dead link (no PINGRESP in time: the link is closed).
 * Bytes travel as JS strings of char codes 0-255, as Espruino's serial and network APIs use.
 */
// One name for the five uses (bytes of the RAK5010 bundle, issue 14/17); Espruino 2v29's
// String.fromCharCode needs no `this` (checked on the real interpreter: shared/espruino).
const chr = String.fromCharCode;

function str(s: string): string {
  return chr(s.length >> 8, s.length & 255) + s;
}

function packet(type: number, body: string): string {
  let len = body.length;
  let header = chr(type);
  do {
    let b = len & 127;
    len = len >> 7;
    if (len > 0) b = b | 128;
    header += chr(b);
  } while (len > 0);
  return header + body;
}

export interface MqttOptions {
  clientId: string;
  username: string;
  password: string;
  keepaliveS: number;
  willTopic: string;
  willPayload: string;
}

export class MqttClient {
  connected = false;
  private _buf = '';
  private _nextId = 1;
  private _inflight: { [id: string]: { p: string; t: number } } = {};
  private _pingTimer = -1;
  private _awaitingPong = false;
  /** A session is under way (CONNECT sent, not yet closed): close() reports only once per session. */
  private _on = false;
  // The owner sets all three before start() (boards/rak5010.ts); no no-op defaults, to fit the
  // bundle's size budget.
  onMessage!: (topic: string, payload: string) => void;
  onConnected!: () => void;
  onClosed!: () => void;

  constructor(
    private readonly _write: (data: string) => void,
    private readonly _setTimeout: (fn: () => void, ms: number) => number,
    private readonly _clearTimeout: (id: number) => void,
    private readonly _opts: MqttOptions,
  ) {}

  /** Sends CONNECT on a freshly opened byte stream; no CONNACK within 30 s closes the session. */
  start(): void {
    const self = this;
    const o = this._opts;
    this._buf = '';
    this._on = true;
    this._clearTimeout(this._pingTimer);
    this._pingTimer = this._setTimeout(function () {
      self.close();
    }, 30000);
    const flags = 0x80 | 0x40 | 0x04 | 0x08 | 0x02; // username, password, will, will QoS 1, clean session
    const body =
      str('MQTT') + chr(4, flags, o.keepaliveS >> 8, o.keepaliveS & 255) + str(o.clientId) + str(o.willTopic) + str(o.willPayload) + str(o.username) + str(o.password);
    this._write(packet(0x10, body));
  }

  publish(topic: string, payload: string, qos: number): void {
    if (!this.connected) return;
    if (qos === 0) {
      this._write(packet(0x30, str(topic) + payload));
      return;
    }
    const id = this._nextId;
    this._nextId = (this._nextId % 65535) + 1;
    const p = str(topic) + chr(id >> 8, id & 255) + payload;
    this._inflight[id] = { p: p, t: 0 };
    this._write(packet(0x32, p));
  }

  /** Re-sends QoS 1 publishes not acknowledged (with DUP), e.g. every keep-alive tick. */
  retry(): void {
    for (const id in this._inflight) this._write(packet(0x3a, this._inflight[id].p));
  }

  subscribe(topic: string): void {
    this._write(packet(0x82, chr(0, 1) + str(topic) + chr(1)));
  }

  /** Feed bytes from the network. */
  input(data: string): void {
    this._buf += data;
    for (;;) {
      if (this._buf.length < 2) return;
      let len = 0;
      let mul = 1;
      let i = 1;
      let b = 0;
      do {
        if (i >= this._buf.length) return;
        b = this._buf.charCodeAt(i++);
        len += (b & 127) * mul;
        mul *= 128;
      } while (b & 128);
      if (this._buf.length < i + len) return;
      const type = this._buf.charCodeAt(0);
      const body = this._buf.substr(i, len);
      this._buf = this._buf.substr(i + len);
      this._packet(type, body);
    }
  }

  private _packet(type: number, body: string): void {
    const kind = type >> 4;
    if (kind === 2) {
      if (body.charCodeAt(1) !== 0) return this.close();
      this.connected = true;
      this._ping();
      this.onConnected();
    } else if (kind === 3) {
      const tl = (body.charCodeAt(0) << 8) | body.charCodeAt(1);
      const topic = body.substr(2, tl);
      let rest = body.substr(2 + tl);
      if (type & 0x06) {
        this._write(packet(0x40, rest.substr(0, 2)));
        rest = rest.substr(2);
      }
      this.onMessage(topic, rest);
    } else if (kind === 4) {
      delete this._inflight[(body.charCodeAt(0) << 8) | body.charCodeAt(1)];
    } else if (kind === 13) {
      this._awaitingPong = false;
    }
  }

  private _ping(): void {
    const self = this;
    this._clearTimeout(this._pingTimer);
    this._pingTimer = this._setTimeout(function () {
      if (self._awaitingPong) return self.close();
      self._awaitingPong = true;
      self._write(packet(0xc0, ''));
      self.retry();
      self._ping();
    }, (this._opts.keepaliveS * 1000) / 2);
  }

  /**
   * The link is dead or closed: forget the session (clean session: the outbox, not this client,
   * owns the retries of unacknowledged events) and tell the owner, once per session.
   */
  close(): void {
    this._clearTimeout(this._pingTimer);
    this._pingTimer = -1;
    this._awaitingPong = false;
    this.connected = false;
    this._buf = '';
    this._inflight = {};
    if (!this._on) return;
    this._on = false;
    this.onClosed();
  }
}
