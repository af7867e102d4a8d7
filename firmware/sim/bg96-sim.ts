/**
 * A simulated Quectel BG96 on the board's Serial1, strict where the real modem is strict, so that a
 * driver that works against it has a chance on the real one. It answers the AT commands our driver
 * uses (echo until ATE0, +CPIN, +CEREG, +QICSGP, +QIDEACT, +QIACT, +QIOPEN with its URC, +QISEND
 * with the "> " prompt, +QICLOSE, direct-push +QIURC "recv" / "closed" / "pdpdeact") and opens TCP
 * connections through a Dial function: real sockets by default (realTcp), a scripted peer in unit
 * tests. Every delay goes through the injected schedule, so tests run on a virtual clock.
 *
 * Sources, cited at each rule: [AT] Quectel BG96 AT Commands Manual V2.3; [TCP] Quectel BG96 TCP/IP
 * Application Note V1.2 (§2.2.x the commands, §2.3 the URCs, chapter 4 the error codes); [V.250]
 * ITU-T V.250 (the command-line rules every AT modem follows); [SSL] Quectel BG96 SSL AT Commands
 * Manual V1.0 (§2.2.1 QSSLCFG, §2.2.2 QSSLOPEN, §2.2.3 QSSLSEND, §2.2.5 QSSLCLOSE, §2.3 +QSSLURC);
 * [FILE] Quectel BG96 FILE AT Commands Manual V1.0 (§2.2 QFLST, §2.3 QFDEL, §2.4 QFUPL, chapter 4
 * the error codes). docs/fob.md lists what is modelled and what is not.
 *
 * Over TLS (AT+QSSLOPEN) the modem terminates TLS itself: here a real node:tls client that verifies
 * the hub's certificate against the CA file the driver uploaded (QFUPL) and named (QSSLCFG "cacert").
 */
import { connect, isIP } from 'node:net';
import { checkServerIdentity, connect as tlsConnect } from 'node:tls';

/** Runs fn after ms on the caller's clock (the board's virtual clock in tests). */
export type Schedule = (fn: () => void, ms: number) => void;

/** What the simulated network did with a TCP connect, reported to the modem. */
export interface TcpEvents {
  connected(): void;
  /** The connect failed: refused (RST) or unreachable; over TLS also a failed handshake (why). */
  refused(why?: string): void;
  data(bytes: string): void;
  /** The peer closed an established connection (FIN or RST). */
  closed(): void;
}

/** The modem's end of one TCP connection. */
export interface TcpPeer {
  write(bytes: string): void;
  destroy(): void;
}

export type Dial = (host: string, port: number, ev: TcpEvents) => TcpPeer;

/** Real TCP through node:net; bytes are latin1 strings as on Espruino. */
export const realTcp: Dial = (host, port, ev) => {
  const s = connect(port, host);
  let up = false;
  s.setNoDelay(true);
  s.once('connect', () => {
    up = true;
    ev.connected();
  });
  s.on('data', (d) => ev.data(d.toString('latin1')));
  s.once('error', () => undefined);
  s.once('close', () => (up ? ev.closed() : ev.refused()));
  return { write: (b) => void s.write(Buffer.from(b, 'latin1')), destroy: () => void s.destroy() };
};

/** What the modem's SSL stack was configured with for the connection ([SSL] §2.2.1). */
export interface TlsSettings {
  /** The CA certificate(s), PEM, from the modem's file "cacert" names; null with seclevel 0. */
  ca: string | null;
  /** sslversion: 0 SSL 3.0, 1 TLS 1.0, 2 TLS 1.1, 3 TLS 1.2, 4 all (the BG96 has nothing newer than TLS 1.2). */
  version: number;
  /** The host the fob asked for: the hub's certificate must name it. */
  servername: string;
  /** Issue 17, seclevel 2: the client certificate and key (PEM) from the files "clientcert" and "clientkey" name; null: none presented. */
  cert?: string | null;
  key?: string | null;
}

export type TlsDial = (host: string, port: number, tls: TlsSettings, ev: TcpEvents) => TcpPeer;

/** sslversion to node's names; node has no SSL 3.0, so 0 is taken as TLS 1.0 (the lowest it has). */
const TLS_VERSIONS = ['TLSv1', 'TLSv1', 'TLSv1.1', 'TLSv1.2'] as const;

/**
 * Real TLS through node:tls, as the modem's SSL stack: the server's chain is verified against the
 * pinned CA and its certificate must name the host asked for; at most TLS 1.2. A failed handshake
 * is reported with node's reason (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE).
 */
export const realTls: TlsDial = (host, port, t, ev) => {
  const v = t.version;
  const s = tlsConnect({
    host,
    port,
    ...(t.ca ? { ca: t.ca } : {}),
    // seclevel 2: the modem presents the client certificate in the handshake, as the BG96 does.
    ...(t.cert && t.key ? { cert: t.cert, key: t.key } : {}),
    rejectUnauthorized: t.ca !== null,
    ...(isIP(t.servername) ? {} : { servername: t.servername }),
    checkServerIdentity: (_h, cert) => checkServerIdentity(t.servername, cert),
    minVersion: v === 4 ? 'TLSv1' : TLS_VERSIONS[v] ?? 'TLSv1.2',
    maxVersion: v === 4 ? 'TLSv1.2' : TLS_VERSIONS[v] ?? 'TLSv1.2',
  });
  let up = false;
  let why = '';
  s.setNoDelay(true);
  s.once('secureConnect', () => {
    up = true;
    ev.connected();
  });
  s.on('data', (d: Buffer) => ev.data(d.toString('latin1')));
  s.once('error', (e: NodeJS.ErrnoException) => (why = e.code ?? e.message));
  s.once('close', () => (up ? ev.closed() : ev.refused(why)));
  return { write: (b) => void s.write(Buffer.from(b, 'latin1')), destroy: () => void s.destroy() };
};

/** One SSL context's settings ([SSL] §2.2.1); unset ones keep the manual's defaults. */
interface SslContext {
  version: number;
  seclevel: number;
  cacert: string | null;
  clientcert: string | null;
  clientkey: string | null;
}

const newSslContext = (): SslContext => ({ version: 4, seclevel: 0, cacert: null, clientcert: null, clientkey: null });

/** [FILE] §2.4 note 2: a 16-bit XOR of the data taken two bytes at a time, an odd last byte as the high byte. */
export function qfuplChecksum(bytes: string): string {
  let x = 0;
  for (let i = 0; i < bytes.length; i += 2) x ^= (bytes.charCodeAt(i) << 8) | (i + 1 < bytes.length ? bytes.charCodeAt(i + 1) : 0);
  return x.toString(16);
}

/**
 * Delays in ms. The manual gives only maxima ([TCP] §2.2.2 QIACT 150 s, §2.2.3 QIDEACT 40 s,
 * §2.2.4 QIOPEN 150 s, §2.2.5 QICLOSE 10 s), all "determined by the network"; these defaults are
 * short, plausible figures for a good LTE-M cell, not measurements. Tests set their own.
 */
export interface Bg96Timings {
  /** Any answer's latency on the UART (115200 baud moves ~11 bytes per ms). */
  reply: number;
  qiact: number;
  qideact: number;
  /** From the TCP connect's outcome to the +QIOPEN URC. */
  qiopen: number;
  /** From coverage returning (restoreLink) to CEREG stat 1. */
  register: number;
  /** From coverage lost (dropLink) to the network's +QIURC: "pdpdeact". */
  pdpdeact: number;
  /** From the TLS handshake's outcome to the +QSSLOPEN URC. */
  qsslopen: number;
}

export const DEFAULT_BG96_TIMINGS: Bg96Timings = { reply: 5, qiact: 800, qideact: 200, qiopen: 50, register: 3000, pdpdeact: 1000, qsslopen: 50 };

/**
 * A walk for the GNSS receiver: where the worker is from `t` seconds on (since the track was
 * loaded), or indoors (no fix) from `t` on. Positions hold until the next point.
 */
export type TrackPoint = { t: number; lat: number; lon: number; hdop: number } | { t: number; indoors: true };

/**
 * Reads a track: one point a line, `<seconds> <lat> <lon> <hdop>` or `<seconds> indoors`; `#`
 * comments and blank lines are skipped. Times must not go back. A bad line is an error naming it.
 */
export function parseTrack(text: string): TrackPoint[] {
  const out: TrackPoint[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const f = line.split(/\s+/);
    const t = Number(f[0]);
    const bad = (why: string): Error => new Error(`track line ${i + 1} "${raw}": ${why} (expected "<seconds> <lat> <lon> <hdop>" or "<seconds> indoors")`);
    if (!Number.isFinite(t) || t < 0) throw bad('the time is not a number of seconds');
    if (out.length && t < out[out.length - 1].t) throw bad('time goes back');
    if (f.length === 2 && f[1] === 'indoors') return void out.push({ t, indoors: true });
    const [lat, lon, hdop] = f.slice(1).map(Number);
    if (f.length !== 4 || !(Math.abs(lat) <= 90) || !(Math.abs(lon) <= 180) || !(hdop > 0 && hdop < 100)) throw bad('latitude -90..90, longitude -180..180 and HDOP 0-99.9 needed');
    out.push({ t, lat, lon, hdop });
  });
  return out;
}

/** [TCP] §2.2.7: <send_length> range 0-1460. */
export const BG96_MAX_SEND = 1460;

/** [TCP] §2.2.6 <socket_state>: 0 Initial, 1 Opening, 2 Connected, 4 Closing. */
type SocketState = 'initial' | 'opening' | 'connected' | 'closing';

export class SimulatedBg96 {
  /** Radio coverage: down means CEREG is not registered, QIACT fails and connects do not go out. */
  linkUp = true;
  /** Every command line the modem executed, in order. */
  commands: string[] = [];
  /** What the modem did not execute, and why (for tests): 'busy: AT', 'no <CR>: AT', 'send over 1460'. */
  refused: string[] = [];
  /** Counts traffic in either direction (the simulator gives the network time when it moves). */
  activity = 0;
  /** The modem's file system (UFS): name to content, what AT+QFUPL wrote ([FILE] §2.4). */
  files: Record<string, string> = {};
  /** Why each failed AT+QSSLOPEN failed (node's TLS reason, 'no cacert file', ...), for tests. */
  sslFailures: string[] = [];
  /** Every payload the board sent over TCP (raw MQTT packets), for observers. */
  onSend: ((bytes: string) => void) | null = null;
  /** Every command line as the modem executes it, for observers that need the moment (the board's clock). */
  onCommand: ((cmd: string) => void) | null = null;
  readonly timings: Bg96Timings;
  private echo = true;
  private line = '';
  /** Executing a command: from its <CR> until its final result code has gone out. */
  private busy = false;
  private sendLeft = 0;
  private sendBuf = '';
  /** AT+QFUPL in data mode: the file the bytes go to (null: the data is a QISEND/QSSLSEND payload). */
  private upload: string | null = null;
  /** [SSL] §2.2.1: each SSL context's settings (contexts 0-5); unset ones keep the manual's defaults. */
  private sslCtx: SslContext[] = [];
  /** Socket 0 was opened by AT+QSSLOPEN (its data goes through QSSLSEND and +QSSLURC). */
  private ssl = false;
  private registered = true;
  private context: 'inactive' | 'active' | 'deactivated' = 'inactive';
  private state: SocketState = 'initial';
  private peer: TcpPeer | null = null;
  /** Bumped whenever the socket is reset, so the events of an old connection are ignored. */
  private generation = 0;
  private hostOverride: string | null = null;
  /** A silent dead link: the socket looks open, but nothing gets through either way and no URC comes. */
  private silent = false;
  /** GNSS (issue 20): the walk played to the receiver (setTrack); empty: no sky at all. */
  private track: TrackPoint[] = [];
  private trackStart = 0;
  /** The receiver is on since this time (ms, `now()`); null when off. */
  private gnssSince: number | null = null;
  /** Time to first fix after AT+QGPS=1, ms (a real cold start is tens of seconds; tests set their own). */
  ttffMs = 2000;
  /** The modem's clock for GNSS (ms): wall time by default; tests on a virtual clock give theirs. */
  now: () => number = () => Date.now();

  constructor(
    private readonly toBoard: (data: string) => void,
    private readonly schedule: Schedule = (fn, ms) => void setTimeout(fn, ms),
    timings: Partial<Bg96Timings> = {},
    private readonly dial: Dial = realTcp,
    private readonly dialTls: TlsDial = realTls,
  ) {
    this.timings = { ...DEFAULT_BG96_TIMINGS, ...timings };
  }

  /** Plays a walk to the receiver from now on (parseTrack's points, or its text). */
  setTrack(track: TrackPoint[] | string): void {
    this.track = typeof track === 'string' ? parseTrack(track) : track;
    this.trackStart = this.now();
  }

  /** Where the receiver would put the worker now: null indoors, before the first point, or with no track. */
  private position(): { lat: number; lon: number; hdop: number } | null {
    const s = (this.now() - this.trackStart) / 1000;
    let at: TrackPoint | null = null;
    for (const p of this.track) if (p.t <= s) at = p;
    return at && !('indoors' in at) ? at : null;
  }

  /**
   * [GNSS] Quectel BG96 GNSS AT Commands Manual V1.1: AT+QGPS=1 turns the receiver on (+CME ERROR:
   * 504 "session is ongoing" when it is on already); AT+QGPSLOC=2 answers +QGPSLOC: <UTC>,<lat>,
   * <lon>,<hdop>,<altitude>,<fix>,<COG>,<spkm>,<spkn>,<date>,<nsat> (degrees, 5 decimals, in mode
   * 2), or +CME ERROR: 516 "not fixed now" (before the first fix, and indoors), or 505 "session not
   * active" when the receiver is off; AT+QGPSEND turns it off (505 when it was off). Only the
   * standalone session (QGPS=1, no other parameters) is modelled.
   */
  private gnssCommand(cmd: string): void {
    const on = this.gnssSince !== null;
    if (cmd === 'AT+QGPS=1') {
      if (on) return this.final('+CME ERROR: 504');
      this.gnssSince = this.now();
      return this.final('OK');
    }
    if (cmd === 'AT+QGPSEND') {
      if (!on) return this.final('+CME ERROR: 505');
      this.gnssSince = null;
      return this.final('OK');
    }
    if (cmd === 'AT+QGPSLOC=2') {
      if (!on) return this.final('+CME ERROR: 505');
      const p = this.position();
      if (!p || this.now() - this.gnssSince! < this.ttffMs) return this.final('+CME ERROR: 516');
      const d = new Date(this.now());
      const two = (n: number): string => String(n).padStart(2, '0');
      const utc = `${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}.0`;
      const date = `${two(d.getUTCDate())}${two(d.getUTCMonth() + 1)}${two(d.getUTCFullYear() % 100)}`;
      return this.info(`+QGPSLOC: ${utc},${p.lat.toFixed(5)},${p.lon.toFixed(5)},${p.hdop.toFixed(1)},35.0,3,0.00,0.0,0.0,${date},08`);
    }
    this.final('ERROR');
  }

  /** Tests and the simulator may redirect the fob's configured host (e.g. a name) to loopback. */
  redirect(host: string): void {
    this.hostOverride = host;
  }

  /** Text to the board after `ms` (plus the UART latency); URCs and intermediate answers. */
  private emit(text: string, ms = 0): void {
    this.schedule(() => {
      this.activity++;
      this.toBoard(text);
    }, ms + this.timings.reply);
  }

  /** The final result code: the command line processor is free again once it has gone out. */
  private final(text: string, ms = 0): void {
    this.schedule(() => {
      this.busy = false;
      this.activity++;
      this.toBoard(`\r\n${text}\r\n`);
    }, ms + this.timings.reply);
  }

  /** Bytes the board writes to Serial1. */
  input(data: string): void {
    this.activity++;
    for (let i = 0; i < data.length; i++) {
      if (this.sendLeft > 0) {
        // [TCP] §2.2.7: after "> " exactly <send_length> bytes are data, whatever they contain.
        const take = data.substr(i, this.sendLeft);
        this.sendBuf += take;
        this.sendLeft -= take.length;
        i += take.length - 1;
        if (this.sendLeft === 0) this.flushSend();
        continue;
      }
      const c = data[i];
      if (this.busy) {
        // [V.250] §5.5 (issuing commands): the DTE does not send a new command line before the
        // previous one's result code. What comes before it is not executed: dropped (our model; the
        // manuals say only to wait).
        this.refused.push(`busy: ${JSON.stringify(c)}`);
        continue;
      }
      // [AT] §1.3, [V.250] §6.2.1-6.2.2: <LF> (S4) formats responses; it does not end a command
      // line, and is not taken as part of one.
      if (c === '\n') continue;
      if (this.echo) this.emit(c);
      if (c === '\r') {
        // [AT] §1.3, [V.250] §6.2.1: <CR> (S3 = 13) ends the command line; the modem executes it then.
        const cmd = this.line;
        this.line = '';
        if (cmd) {
          this.busy = true;
          this.command(cmd);
        }
      } else this.line += c;
    }
  }

  /** A line the modem has received but not executed (no <CR> yet): what an LF-only driver leaves. */
  get unterminated(): string {
    return this.line;
  }

  private flushSend(): void {
    const payload = this.sendBuf;
    this.sendBuf = '';
    if (this.upload !== null) {
      // [FILE] §2.4: the whole <file_size> has come: back to command mode, +QFUPL: <size>,<checksum>.
      this.files[this.upload] = payload;
      this.upload = null;
      this.emit(`\r\n+QFUPL: ${payload.length},${qfuplChecksum(payload)}\r\n`);
      return this.final('OK');
    }
    if (this.state !== 'connected' || !this.peer) return this.final('SEND FAIL');
    // The modem accepts the data into its buffer; on a silent dead link it never leaves.
    if (this.silent) return this.final('SEND OK');
    this.peer.write(payload);
    this.onSend?.(payload);
    this.final('SEND OK');
  }

  private command(cmd: string): void {
    this.commands.push(cmd);
    this.onCommand?.(cmd);
    const t = this.timings;
    if (cmd === 'AT') return this.final('OK');
    if (cmd === 'ATE0' || cmd === 'ATE1') {
      this.echo = cmd === 'ATE1';
      return this.final('OK');
    }
    // [AT] AT+CPIN?: the SIM is always ready here.
    if (cmd === 'AT+CPIN?') return this.info('+CPIN: READY');
    // [AT] AT+CEREG?: +CEREG: <n>,<stat>; stat 1 registered (home), 2 not registered, searching.
    if (cmd === 'AT+CEREG?') return this.info(`+CEREG: 0,${this.registered ? 1 : 2}`);
    // [TCP] §2.2.1: AT+QICSGP=<contextID>,<context_type>,"<APN>","<user>","<pwd>",<auth>.
    if (cmd.startsWith('AT+QICSGP=')) return this.final(/^AT\+QICSGP=1,[123],"[^"]*","[^"]*","[^"]*",[0-3]$/.test(cmd) ? 'OK' : 'ERROR');
    if (cmd === 'AT+QIDEACT=1') {
      // [TCP] §2.2.3: deactivates the context and closes every socket on it.
      this.resetSocket();
      this.context = 'inactive';
      return this.final('OK', t.qideact);
    }
    if (cmd === 'AT+QIACT=1') {
      // [TCP] §2.2.2: OK once the network has activated the context (up to 150 s). ERROR when it is
      // already active, when the network deactivated it and QIDEACT has not been run (§2.3
      // "pdpdeact": the host must deactivate first), or when not registered.
      if (this.context !== 'inactive' || !this.registered) return this.final('ERROR', t.qiact);
      this.schedule(() => {
        if (this.registered) this.context = 'active';
      }, t.qiact);
      return this.final(this.registered ? 'OK' : 'ERROR', t.qiact);
    }
    const open = /^AT\+QIOPEN=1,0,"TCP","([^"]*)",(\d+),0,([012])$/.exec(cmd);
    if (open) return this.open(open[1], Number(open[2]));
    if (cmd.startsWith('AT+QF')) return this.fileCommand(cmd);
    if (cmd.startsWith('AT+QGPS')) return this.gnssCommand(cmd);
    if (cmd.startsWith('AT+QSSLCFG=')) return this.sslConfig(cmd);
    // [SSL] §2.2.2: AT+QSSLOPEN=<pdpctxID>,<sslctxID>,<clientID>,"<serveraddr>",<server_port>[,<access_mode>];
    // only access mode 1 (direct push) is modelled, on clientID 0.
    const sslOpen = /^AT\+QSSLOPEN=1,([0-5]),0,"([^"]*)",(\d+),1$/.exec(cmd);
    if (sslOpen) return this.open(sslOpen[2], Number(sslOpen[3]), Number(sslOpen[1]));
    const send = /^AT\+Q(I|SSL)SEND=0,(\d+)$/.exec(cmd);
    if (send) {
      const n = Number(send[2]);
      // [TCP] §2.2.7, [SSL] §2.2.3: <send_length> over 1460, or a socket that is not connected:
      // ERROR, no prompt. QISEND on a socket QSSLOPEN opened (or QSSLSEND on a TCP one) is another
      // client's command: ERROR too.
      if (n > BG96_MAX_SEND || n === 0) {
        this.refused.push(`send over ${BG96_MAX_SEND}: ${n}`);
        return this.final('ERROR');
      }
      if (this.state !== 'connected' || this.ssl !== (send[1] === 'SSL')) return this.final('ERROR');
      // The prompt "> " at the start of a line; data mode begins when it has gone out.
      this.schedule(() => {
        this.sendLeft = n;
        this.activity++;
        this.toBoard('\r\n> ');
      }, t.reply);
      return;
    }
    if (cmd === 'AT+QICLOSE=0' || /^AT\+QSSLCLOSE=0(,\d+)?$/.test(cmd)) {
      // [TCP] §2.2.5, [SSL] §2.2.5: closes the socket whatever its state; OK.
      this.silent = false;
      this.resetSocket();
      return this.final('OK');
    }
    this.final('ERROR');
  }

  /** [AT] §1.3: an information response, then the final result code OK. */
  private info(text: string): void {
    this.emit(`\r\n${text}\r\n`);
    this.final('OK');
  }

  /** AT+QIOPEN, or AT+QSSLOPEN on SSL context sslCtx. */
  private open(host: string, port: number, sslCtx?: number): void {
    const t = this.timings;
    const ssl = sslCtx !== undefined;
    // [TCP] §2.2.4, [SSL] §2.2.2: OK at once (the command is accepted), the outcome later as
    // +QIOPEN: 0,<err> / +QSSLOPEN: 0,<err>.
    this.final('OK');
    const result = (err: number, ms = ssl ? t.qsslopen : t.qiopen): void => this.emit(`\r\n+Q${ssl ? 'SSL' : 'I'}OPEN: 0,${err}\r\n`, ms);
    // Chapter 4: 563 socket identity has been used (connectID 0 not closed since: §2.3.1 leaves a
    // closed socket "Closing" until AT+QICLOSE).
    if (this.state !== 'initial') return result(563);
    // No active context (not activated, or dropped by the network): 561 "open PDP context failed"
    // is our reading of chapter 4; the manual does not say which code this case gives.
    if (this.context !== 'active' || !this.linkUp) return result(561);
    const cfg = ssl ? (this.sslCtx[sslCtx] ?? newSslContext()) : null;
    const ca = cfg && cfg.seclevel > 0 ? (cfg.cacert !== null ? this.files[cfg.cacert] : undefined) : null;
    if (ca === undefined) {
      // seclevel 1 with no "cacert" set, or naming a file the modem does not have: the handshake
      // cannot verify anything. The manual names no code for it; 566 is our reading (as a failed
      // handshake below).
      this.sslFailures.push(`no cacert file: ${JSON.stringify(cfg!.cacert)}`);
      return result(566);
    }
    // Issue 17, seclevel 2 ([SSL] §2.2.1: server and client authentication): the modem must hold
    // the client certificate and key it was told to present (a file deleted since the QSSLCFG).
    const mine2 = cfg && cfg.seclevel === 2;
    const cert = mine2 && cfg.clientcert !== null ? this.files[cfg.clientcert] : null;
    const key = mine2 && cfg.clientkey !== null ? this.files[cfg.clientkey] : null;
    if (mine2 && (!cert || !key)) {
      this.sslFailures.push(`seclevel 2 without a client certificate and key on the modem: clientcert ${JSON.stringify(cfg.clientcert)}, clientkey ${JSON.stringify(cfg.clientkey)}`);
      return result(566);
    }
    this.ssl = ssl;
    this.state = 'opening';
    const gen = ++this.generation;
    const mine = (): boolean => gen === this.generation;
    const target = this.hostOverride ?? host;
    const urc = ssl ? 'QSSLURC' : 'QIURC';
    const ev: TcpEvents = {
      connected: () => {
        if (!mine()) return;
        this.state = 'connected';
        result(0);
      },
      // Chapter 4: 566 socket connect failed (refused or unreachable). Over TLS a handshake that
      // failed (the hub's certificate not signed by the pinned CA, not naming the host, expired)
      // gives 566 too: the SSL manual's error table is the TCP one and names no handshake code,
      // so this is our reading (modems in the field are also reported answering -1).
      refused: (why) => {
        if (!mine()) return;
        this.state = 'initial';
        this.peer = null;
        if (ssl) this.sslFailures.push(why ?? 'refused');
        result(566);
      },
      data: (bytes) => {
        if (!mine() || this.silent || this.state !== 'connected') return;
        // [TCP] §2.3.2, [SSL] §2.3, direct push: the URC, then exactly that many bytes.
        this.emit(`\r\n+${urc}: "recv",0,${bytes.length}\r\n${bytes}`);
      },
      closed: () => {
        if (!mine() || this.state !== 'connected') return;
        // [TCP] §2.3.1, [SSL] §2.3: the socket stays "Closing" until AT+QICLOSE / AT+QSSLCLOSE.
        this.state = 'closing';
        this.peer = null;
        this.emit(`\r\n+${urc}: "closed",0\r\n`);
      },
    };
    this.peer = ssl ? this.dialTls(target, port, { ca, version: cfg!.version, servername: host, ...(cert && key ? { cert, key } : {}) }, ev) : this.dial(target, port, ev);
  }

  /**
   * [SSL] §2.2.1: AT+QSSLCFG="sslversion",<ctx>,<0-4> / "ciphersuite",<ctx>,<0x....> /
   * "seclevel",<ctx>,<0-2> / "cacert",<ctx>,"<file>" / "clientcert",<ctx>,"<file>" /
   * "clientkey",<ctx>,"<file>"; contexts 0-5. Anything else: ERROR. Cipher suites are checked for
   * form only (node's own list is offered). With seclevel 2 the client certificate and key are
   * presented in the real handshake (realTls).
   *
   * "clientcert" / "clientkey" naming a file the modem does not have (never uploaded with QFUPL) is
   * refused with +CME ERROR: 405, [FILE] chapter 4 "file not found". That the BG96 checks the file
   * here, not at QSSLOPEN, is our reading: [SSL] §2.2.1 only says the parameter is the file's path.
   */
  private sslConfig(cmd: string): void {
    const m = /^AT\+QSSLCFG="(sslversion|ciphersuite|seclevel|cacert|clientcert|clientkey)",([0-5]),(.+)$/.exec(cmd);
    const file = /^"[^"]+"$/;
    const ok = m && { sslversion: /^[0-4]$/, ciphersuite: /^0[xX][0-9A-Fa-f]{4}$/, seclevel: /^[0-2]$/, cacert: file, clientcert: file, clientkey: file }[m[1]]!.test(m[3]);
    if (!m || !ok) return this.final('ERROR');
    const name = m[3].slice(1, -1);
    if ((m[1] === 'clientcert' || m[1] === 'clientkey') && !(name in this.files)) return this.final('+CME ERROR: 405');
    const ctx = (this.sslCtx[Number(m[2])] ??= newSslContext());
    if (m[1] === 'sslversion') ctx.version = Number(m[3]);
    if (m[1] === 'seclevel') ctx.seclevel = Number(m[3]);
    if (m[1] === 'cacert') ctx.cacert = name;
    if (m[1] === 'clientcert') ctx.clientcert = name;
    if (m[1] === 'clientkey') ctx.clientkey = name;
    this.final('OK');
  }

  /**
   * [FILE] §2.2 AT+QFLST="<name>" (a name or "*"): +QFLST: "<name>",<size> per file, OK; no match:
   * +CME ERROR: 405 (file not found; our reading). §2.3 AT+QFDEL="<name>": OK, or 405. §2.4
   * AT+QFUPL="<name>",<file_size>[,<timeout>[,<ackmode>]]: +CME ERROR: 407 when the file exists,
   * else CONNECT, then exactly <file_size> bytes, then +QFUPL: <size>,<checksum> and OK. The
   * <timeout> for data that stops coming and the ACK mode are not modelled.
   */
  private fileCommand(cmd: string): void {
    const lst = /^AT\+QFLST(?:="([^"*]+|\*)")?$/.exec(cmd);
    if (lst) {
      const names = Object.keys(this.files).filter((n) => lst[1] === undefined || lst[1] === '*' || n === lst[1]);
      if (names.length === 0 && lst[1] !== undefined && lst[1] !== '*') return this.final('+CME ERROR: 405');
      for (const n of names) this.emit(`\r\n+QFLST: "${n}",${this.files[n].length}\r\n`);
      return this.final('OK');
    }
    const del = /^AT\+QFDEL="([^"*]+)"$/.exec(cmd);
    if (del) {
      if (!(del[1] in this.files)) return this.final('+CME ERROR: 405');
      delete this.files[del[1]];
      return this.final('OK');
    }
    const up = /^AT\+QFUPL="([^"*]+)",(\d+)(?:,\d+(?:,[01])?)?$/.exec(cmd);
    if (!up || Number(up[2]) === 0) return this.final('ERROR');
    if (up[1] in this.files) return this.final('+CME ERROR: 407');
    this.schedule(() => {
      this.upload = up[1];
      this.sendLeft = Number(up[2]);
      this.activity++;
      this.toBoard('\r\nCONNECT\r\n');
    }, this.timings.reply);
  }

  private resetSocket(): void {
    this.generation++;
    const p = this.peer;
    this.peer = null;
    this.state = 'initial';
    this.ssl = false;
    p?.destroy();
  }

  /**
   * Coverage is lost: CEREG goes to 2 (searching), the socket dies without a goodbye, and after
   * timings.pdpdeact the network deactivates the context: +QIURC: "pdpdeact",1 ([TCP] §2.3).
   */
  dropLink(): void {
    this.linkUp = false;
    this.registered = false;
    this.generation++;
    this.peer?.destroy();
    this.peer = null;
    if (this.state !== 'initial') this.state = 'closing';
    this.schedule(() => {
      if (this.linkUp || this.context !== 'active') return;
      this.context = 'deactivated';
      this.emit('\r\n+QIURC: "pdpdeact",1\r\n');
    }, this.timings.pdpdeact);
  }

  /** Coverage is back: the modem registers again after timings.register. */
  restoreLink(): void {
    this.linkUp = true;
    this.silent = false;
    this.schedule(() => {
      if (this.linkUp) this.registered = true;
    }, this.timings.register);
  }

  /**
   * The link dies silently (a cell handover gone wrong, a NAT that forgot the flow): no URC, sends
   * "succeed", nothing arrives. Only the MQTT keep-alive can notice. restoreLink() ends it.
   */
  silentDrop(): void {
    this.silent = true;
    this.linkUp = false;
    this.registered = false;
  }

  /**
   * Power is cut (the board reboots with it): sockets, context, SSL settings, echo and any half-read
   * line reset. The file system (UFS, flash) keeps its files.
   */
  close(): void {
    this.sslCtx = [];
    this.upload = null;
    this.gnssSince = null;
    this.resetSocket();
    this.context = 'inactive';
    this.echo = true;
    this.busy = false;
    this.line = '';
    this.sendLeft = 0;
    this.sendBuf = '';
  }
}
