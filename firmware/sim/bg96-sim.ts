/**
 * A simulated Quectel BG96 on the board's Serial1: it answers the AT commands our driver uses as
 * the BG96 TCP/IP AT manual describes (echo until ATE0, +CPIN, +CEREG, +QICSGP, +QIACT, +QIOPEN
 * with its URC, +QISEND with the "> " prompt and SEND OK, direct-push +QIURC "recv" and "closed",
 * +QICLOSE) and opens REAL TCP sockets to the host and port the firmware asks for.
 */
import { connect, type Socket } from 'node:net';

export class SimulatedBg96 {
  /** The cellular link: down means not registered and no sockets. */
  linkUp = true;
  commands: string[] = [];
  /** Counts traffic in either direction (the simulator gives the network time when it moves). */
  activity = 0;
  /** Every payload the board sent over TCP (raw MQTT packets), for observers. */
  onSend: ((bytes: string) => void) | null = null;
  private echo = true;
  private line = '';
  private sendLeft = 0;
  private sendBuf = '';
  private socket: Socket | null = null;
  private hostOverride: string | null = null;
  /** A silent dead link: the socket looks open, but nothing gets through either way and no URC comes. */
  private silent = false;

  constructor(private readonly toBoard: (data: string) => void) {}

  /** Tests and the simulator may redirect the fob's configured host (e.g. a name) to loopback. */
  redirect(host: string): void {
    this.hostOverride = host;
  }

  private reply(text: string): void {
    this.activity++;
    setImmediate(() => this.toBoard(text));
  }

  /** Bytes the board writes to Serial1. */
  input(data: string): void {
    this.activity++;
    for (let i = 0; i < data.length; i++) {
      if (this.sendLeft > 0) {
        const take = data.substr(i, this.sendLeft);
        this.sendBuf += take;
        this.sendLeft -= take.length;
        i += take.length - 1;
        if (this.sendLeft === 0) this.flushSend();
        continue;
      }
      const c = data[i];
      if (this.echo) this.reply(c);
      if (c === '\n') {
        const cmd = this.line.replace(/\r$/, '');
        this.line = '';
        if (cmd) this.command(cmd);
      } else this.line += c;
    }
  }

  private flushSend(): void {
    const payload = this.sendBuf;
    this.sendBuf = '';
    if (!this.socket || this.socket.destroyed) return this.reply('\r\nSEND FAIL\r\n');
    // The modem accepts the data into its buffer; on a silent dead link it never leaves.
    if (this.silent) return this.reply('\r\nSEND OK\r\n');
    this.socket.write(Buffer.from(payload, 'latin1'));
    this.onSend?.(payload);
    this.reply('\r\nSEND OK\r\n');
  }

  private command(cmd: string): void {
    this.commands.push(cmd);
    const ok = (): void => this.reply('\r\nOK\r\n');
    if (cmd === 'AT') return ok();
    if (cmd === 'ATE0') {
      this.echo = false;
      return ok();
    }
    if (cmd === 'AT+CPIN?') return this.reply('\r\n+CPIN: READY\r\n\r\nOK\r\n');
    if (cmd === 'AT+CEREG?') return this.reply(`\r\n+CEREG: 0,${this.linkUp ? 1 : 2}\r\n\r\nOK\r\n`);
    if (cmd.startsWith('AT+QICSGP=')) return ok();
    if (cmd === 'AT+QIACT=1') return this.linkUp ? ok() : this.reply('\r\nERROR\r\n');
    let m = /^AT\+QIOPEN=1,0,"TCP","([^"]*)",(\d+),0,1$/.exec(cmd);
    if (m) {
      ok();
      if (!this.linkUp) return this.reply('\r\n+QIOPEN: 0,566\r\n');
      const socket = connect(Number(m[2]), this.hostOverride ?? m[1]);
      socket.setNoDelay(true);
      this.socket = socket;
      socket.once('connect', () => this.reply('\r\n+QIOPEN: 0,0\r\n'));
      socket.on('data', (d) => {
        if (this.socket !== socket || this.silent) return;
        const s = d.toString('latin1');
        this.reply(`\r\n+QIURC: "recv",0,${s.length}\r\n${s}`);
      });
      socket.once('error', () => undefined);
      socket.once('close', () => {
        if (this.socket === socket) {
          this.socket = null;
          this.reply('\r\n+QIURC: "closed",0\r\n');
        }
      });
      return;
    }
    m = /^AT\+QISEND=0,(\d+)$/.exec(cmd);
    if (m) {
      if (!this.socket) return this.reply('\r\nERROR\r\n');
      this.sendLeft = Number(m[1]);
      return this.reply('\r\n> ');
    }
    if (cmd === 'AT+QICLOSE=0') {
      this.silent = false;
      const s = this.socket;
      this.socket = null;
      s?.destroy();
      return ok();
    }
    this.reply('\r\nERROR\r\n');
  }

  /** The network drops the link (the socket dies without a goodbye). */
  dropLink(): void {
    this.linkUp = false;
    const s = this.socket;
    if (s) {
      s.destroy();
    }
  }

  restoreLink(): void {
    this.linkUp = true;
    this.silent = false;
  }

  /**
   * The link dies silently (a cell handover gone wrong, a NAT that forgot the flow): no URC, sends
   * "succeed", nothing arrives. Only the MQTT keep-alive can notice. restoreLink() ends it.
   */
  silentDrop(): void {
    this.silent = true;
    this.linkUp = false;
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }
}
