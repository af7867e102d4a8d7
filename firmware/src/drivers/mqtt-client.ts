/**
 * Our own small MQTT 3.1.1 client for the fob (Espruino's MQTT module has no QoS 1 retry and no
 * last will): CONNECT with a will, QoS 0 and QoS 1 publish with retry until PUBACK, one
 * subscription, and a keep-alive that notices a dead link (no PINGRESP in time: the link is closed).
 * Bytes travel as JS strings of char codes 0-255, as Espruino's serial and network APIs use.
 */
// One name for the five uses (bytes of the RAK5010 bundle, issue 14/17); Espruino 2v29's
// String.fromCharCode needs no `this` (checked on the real interpreter: shared/espruino).
const chr = String.fromCharCode;

// Function expressions, not declarations: terser writes them as arrows (board-common.ts says why).

const str = function (s: string): string {
  return chr(s.length >> 8, s.length & 255) + s;
};

const packet = function (type: number, body: string): string {
  let len = body.length;
  let header = chr(type);
  do {
    let b = len & 127;
    len = len >> 7;
    if (len > 0) b = b | 128;
    header += chr(b);
  } while (len > 0);
  return header + body;
};

export interface MqttOptions {
  clientId: string;
  username: string;
  password: string;
  keepaliveS: number;
  willTopic: string;
  willPayload: string;
}

/** The client: what the board (and the simulator's wire fobs) use. */
export interface MqttClient {
  connected: boolean;
  /** Sends CONNECT on a freshly opened byte stream; no CONNACK within 30 s closes the session. */
  start(): void;
  publish(topic: string, payload: string, qos: number): void;
  /** Re-sends QoS 1 publishes not acknowledged (with DUP), e.g. every keep-alive tick. */
  retry(): void;
  subscribe(topic: string): void;
  /** Feed bytes from the network. */
  input(data: string): void;
  /**
   * The link is dead or closed: forget the session (clean session: the outbox, not this client,
   * owns the retries of unacknowledged events) and tell the owner, once per session.
   */
  close(): void;
  // The owner sets all three before start() (boards/rak5010.ts); no no-op defaults, to fit the
  // bundle's size budget.
  onMessage: (topic: string, payload: string) => void;
  onConnected: () => void;
  onClosed: () => void;
}

/**
 * One closure, not a class (issue 20): local variables minify to one letter where `this.<name>`
 * did not, and the RAK5010 bundle needed the bytes for GNSS. `new MqttClient(...)` works as before.
 */
export function mqttClient(write: (data: string) => void, setT: (fn: () => void, ms: number) => number, clearT: (id: number) => void, o: MqttOptions): MqttClient {
  let buf = '';
  let nextId = 1;
  let inflight: { [id: string]: string } = {};
  let pingTimer = -1;
  let awaitingPong = false;
  /** A session is under way (CONNECT sent, not yet closed): close() reports only once per session. */
  let on = false;

  const ping = function (): void {
    clearT(pingTimer);
    pingTimer = setT(function () {
      if (awaitingPong) return c.close();
      awaitingPong = true;
      write(packet(0xc0, ''));
      c.retry();
      ping();
    }, (o.keepaliveS * 1000) / 2);
  };

  const onPacket = function (type: number, body: string): void {
    const kind = type >> 4;
    if (kind === 2) {
      if (body.charCodeAt(1) !== 0) return c.close();
      c.connected = true;
      ping();
      c.onConnected();
    } else if (kind === 3) {
      const tl = (body.charCodeAt(0) << 8) | body.charCodeAt(1);
      const topic = body.substr(2, tl);
      let rest = body.substr(2 + tl);
      if (type & 0x06) {
        write(packet(0x40, rest.substr(0, 2)));
        rest = rest.substr(2);
      }
      c.onMessage(topic, rest);
    } else if (kind === 4) {
      delete inflight[(body.charCodeAt(0) << 8) | body.charCodeAt(1)];
    } else if (kind === 13) {
      awaitingPong = false;
    }
  };

  const c = {
    connected: false,
    start: function (): void {
      buf = '';
      on = true;
      clearT(pingTimer);
      pingTimer = setT(function () {
        c.close();
      }, 30000);
      const flags = 0x80 | 0x40 | 0x04 | 0x08 | 0x02; // username, password, will, will QoS 1, clean session
      const body =
        str('MQTT') + chr(4, flags, o.keepaliveS >> 8, o.keepaliveS & 255) + str(o.clientId) + str(o.willTopic) + str(o.willPayload) + str(o.username) + str(o.password);
      write(packet(0x10, body));
    },

    publish: function (topic: string, payload: string, qos: number): void {
      if (!c.connected) return;
      if (qos === 0) {
        write(packet(0x30, str(topic) + payload));
        return;
      }
      const id = nextId;
      nextId = (nextId % 65535) + 1;
      const p = str(topic) + chr(id >> 8, id & 255) + payload;
      inflight[id] = p;
      write(packet(0x32, p));
    },

    retry: function (): void {
      for (const id in inflight) write(packet(0x3a, inflight[id]));
    },

    subscribe: function (topic: string): void {
      write(packet(0x82, chr(0, 1) + str(topic) + chr(1)));
    },

    input: function (data: string): void {
      buf += data;
      for (;;) {
        if (buf.length < 2) return;
        let len = 0;
        let mul = 1;
        let i = 1;
        let b = 0;
        do {
          if (i >= buf.length) return;
          b = buf.charCodeAt(i++);
          len += (b & 127) * mul;
          mul *= 128;
        } while (b & 128);
        if (buf.length < i + len) return;
        const type = buf.charCodeAt(0);
        const body = buf.substr(i, len);
        buf = buf.substr(i + len);
        onPacket(type, body);
      }
    },

    close: function (): void {
      clearT(pingTimer);
      pingTimer = -1;
      awaitingPong = false;
      c.connected = false;
      buf = '';
      inflight = {};
      if (!on) return;
      on = false;
      c.onClosed();
    },
  } as MqttClient;
  return c;
}

/** `new MqttClient(write, setTimeout, clearTimeout, options)`: a function returning an object gives that object to `new`. */
export const MqttClient = mqttClient as unknown as new (
  write: (data: string) => void,
  setT: (fn: () => void, ms: number) => number,
  clearT: (id: number) => void,
  o: MqttOptions,
) => MqttClient;
