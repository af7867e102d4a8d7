/**
 * Our own driver for the Quectel BG96 (LTE-M) over its AT command set: one TCP connection in
 * "direct push" mode (incoming data arrives as +QIURC: "recv",0,<len> followed by the bytes).
 * Commands are queued and answered one at a time; every one has a time limit.
 */
export interface Serial {
  write(data: string): void;
}

interface Pending {
  cmd: string;
  /** the line that ends the command: OK, or a URC such as +QIOPEN */
  done: RegExp;
  timeoutMs: number;
  cb: (err: string, lines: string[]) => void;
  data?: string;
}

export class Bg96 {
  private _queue: Pending[] = [];
  private _current: Pending | null = null;
  private _lines: string[] = [];
  private _buf = '';
  private _recvLeft = 0;
  private _recv = '';
  private _timer = -1;
  onData: (data: string) => void = function () {};
  onClosed: () => void = function () {};

  constructor(
    private readonly _serial: Serial,
    private readonly _setTimeout: (fn: () => void, ms: number) => number,
    private readonly _clearTimeout: (id: number) => void,
  ) {}

  /** Feed every byte the modem sends. */
  input(data: string): void {
    this._buf += data;
    for (;;) {
      if (this._recvLeft > 0) {
        const take = this._buf.substr(0, this._recvLeft);
        this._buf = this._buf.substr(take.length);
        this._recvLeft -= take.length;
        this._recv += take;
        if (this._recvLeft > 0) return;
        const got = this._recv;
        this._recv = '';
        this.onData(got);
        continue;
      }
      if (this._current && this._current.data !== undefined && this._buf.indexOf('>') >= 0) {
        // The send prompt: write the payload.
        this._buf = this._buf.substr(this._buf.indexOf('>') + 1);
        const d = this._current.data;
        this._current.data = undefined;
        this._serial.write(d);
        continue;
      }
      const nl = this._buf.indexOf('\n');
      if (nl < 0) return;
      const line = this._buf.substr(0, nl).replace('\r', '');
      this._buf = this._buf.substr(nl + 1);
      if (line) this._line(line);
    }
  }

  private _line(line: string): void {
    const recv = /^\+QIURC: "recv",0,(\d+)/.exec(line);
    if (recv) {
      this._recvLeft = parseInt(recv[1], 10);
      return;
    }
    if (line.indexOf('+QIURC: "closed"') === 0) {
      this.onClosed();
      return;
    }
    const c = this._current;
    if (!c) return;
    this._lines.push(line);
    if (c.done.test(line)) this._finish('');
    else if (line === 'ERROR' || line.indexOf('+CME ERROR') === 0 || line === 'SEND FAIL') this._finish(line);
  }

  private _finish(err: string): void {
    const c = this._current;
    if (!c) return;
    this._clearTimeout(this._timer);
    this._current = null;
    const lines = this._lines;
    this._lines = [];
    c.cb(err, lines);
    this._next();
  }

  private _next(): void {
    const self = this;
    if (this._current || this._queue.length === 0) return;
    const c = this._queue.shift()!;
    this._current = c;
    this._timer = this._setTimeout(function () {
      self._finish('timeout: ' + c.cmd);
    }, c.timeoutMs);
    this._serial.write(c.cmd + '\r\n');
  }

  at(cmd: string, done: RegExp, timeoutMs: number, cb: (err: string, lines: string[]) => void, data?: string): void {
    this._queue.push({ cmd: cmd, done: done, timeoutMs: timeoutMs, cb: cb, data: data });
    this._next();
  }

  /** Brings the link up and opens TCP to host:port; cb('') when open. */
  connect(host: string, port: number, apn: string, cb: (err: string) => void): void {
    const self = this;
    const steps: [string, RegExp, number][] = [
      ['AT', /^OK$/, 1000],
      ['ATE0', /^OK$/, 1000],
      ['AT+CPIN?', /^OK$/, 5000],
      ['AT+CEREG?', /^\+CEREG: \d,[15]$/, 5000],
      ['AT+QICSGP=1,1,"' + apn + '","","",1', /^OK$/, 5000],
      ['AT+QIACT=1', /^OK$/, 150000],
      ['AT+QIOPEN=1,0,"TCP","' + host + '",' + port + ',0,1', /^\+QIOPEN: 0,0$/, 150000],
    ];
    let i = 0;
    const step = function (): void {
      if (i >= steps.length) return cb('');
      const s = steps[i++];
      self.at(s[0], s[1], s[2], function (err) {
        // QIACT fails harmlessly when the context is already active.
        if (err && s[0] !== 'AT+QIACT=1') return cb(err);
        step();
      });
    };
    step();
  }

  send(data: string, cb: (err: string) => void): void {
    this.at('AT+QISEND=0,' + data.length, /^SEND OK$/, 10000, cb, data);
  }

  close(): void {
    this.at('AT+QICLOSE=0', /^OK$/, 10000, function () {});
  }
}
