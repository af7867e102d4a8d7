/**
 * Our own driver for the Quectel BG96 (LTE-M) over its AT command set: one TCP connection in
 * "direct push" mode (incoming data arrives as +QIURC: "recv",0,<len> followed by the bytes).
 * Commands are queued and sent one at a time: the next goes only once the previous one's own
 * result has come (or its time limit passed), so no reply can complete the wrong command.
 *
 * Sources, cited at each rule: [AT] Quectel BG96 AT Commands Manual V2.3 (sections named by
 * their command where cited); [TCP] Quectel BG96 TCP/IP Application Note V1.2 (the former "TCP/IP
 * AT Commands Manual"): §2.2.x the commands, §2.3 the +QIURC URCs, chapter 4 the error codes;
 * [SSL] Quectel BG96 SSL AT Commands Manual V1.0 (§2.2.1 QSSLCFG, §2.2.2 QSSLOPEN, §2.2.3 QSSLSEND,
 * §2.2.5 QSSLCLOSE, §2.3 the +QSSLURC URCs); [FILE] Quectel BG96 FILE AT Commands Manual V1.0
 * (§2.2 QFLST, §2.3 QFDEL, §2.4 QFUPL).
 */
export interface Serial {
  write(data: string): void;
}

interface Pending {
  cmd: string;
  timeoutMs: number;
  /** err '' on success; info: the command's last information line (e.g. '+CEREG: 0,1'). */
  cb: (err: string, info: string) => void;
  /** AT+QISEND: the payload, written once the "> " prompt has come; AT+QFUPL: the file, after CONNECT. */
  data?: string;
  /** AT+QIOPEN: the URC that is the command's real result, after its OK (e.g. '+QIOPEN: 0,'). */
  _u?: string;
  /** A piece of a split payload that is not the last: its success is not reported on its own. */
  _m?: boolean;
}

/** [TCP] §2.2.7: <send_length> of AT+QISEND is at most 1460 bytes. */
const MAX_SEND = 1460;

/** The driver: what the board and the GNSS module use. */
export interface Bg96 {
  /** Feed every byte the modem sends. */
  input(data: string): void;
  /** Queues one command (see Pending); it goes once every command before it has its result. */
  at(cmd: string, timeoutMs: number, cb: (err: string, info: string) => void, data?: string, u?: string, more?: boolean): void;
  /**
   * Brings the link up and opens TCP to host:port; cb('') when open, cb('reg') when the network
   * did not register within 60 s, otherwise cb(the modem's failing line, or 'timeout <cmd>').
   * While the context stays active only registration is checked and the socket opened.
   * With ca (the CA certificate's file name on the modem) and pem (its content) the link is TLS
   * through the modem's SSL stack, verifying the hub's certificate against that CA; the file is
   * uploaded first when the modem lacks it (or holds a different size under that name). With cc
   * (issue 17) the modem also presents the client certificate `<cc>.crt` with its key `<cc>.key`,
   * which `lonewatch flash` uploaded to the modem (not this driver: the bundle is near its budget).
   */
  connect(host: string, port: number, apn: string, cb: (err: string) => void, ca?: string, pem?: string, cc?: string): void;
  /** Sends the bytes in pieces of at most 1460 (one QISEND each, queued together); cb once. */
  send(data: string, cb: (err: string) => void): void;
  close(): void;
  // Set by the board before the first byte comes.
  onData: (data: string) => void;
  onClosed: () => void;
}

/**
 * One closure, not a class (issue 20): its state is local variables the minifier shortens to one
 * letter, where a class's members were `this.<name>` at every use; the RAK5010 bundle needed the
 * bytes for GNSS. `new Bg96(serial, setTimeout, clearTimeout)` gives the driver, as before.
 */
export function bg96(serial: Serial, setT: (fn: () => void, ms: number) => number, clearT: (id: number) => void): Bg96 {
  const queue: Pending[] = [];
  let current: Pending | null = null;
  let info = '';
  let buf = '';
  let recvLeft = 0;
  let timer = -1;
  /** PDP context 1 was activated by us and the network has not deactivated it since. */
  let act = false;
  /** 'SSL' while the link is TLS through the modem's own SSL stack, else 'I' (AT+QI... commands). */
  let sx = 'I';

  const line = function (l: string): void {
    // [TCP] §2.3: +QIURC: "recv",0,<len> (§2.3.2, direct push: the bytes follow), "closed",0
    // (§2.3.1: the peer or the network closed the socket), "pdpdeact",1 (the network deactivated
    // the context: every socket is gone, and the host must AT+QIDEACT before activating it again).
    // (Espruino 2v29's regular expressions have no '?' quantifier: ',*' stands in for it.)
    // [SSL] §2.3: over TLS the same two arrive as +QSSLURC: "recv",0,<len> (direct push) / "closed",0.
    const u = /^\+Q\w*URC: "([rcp])\w+",\d,*(\d*)/.exec(l);
    if (u) {
      if (u[1] === 'r') recvLeft = +u[2];
      else {
        if (u[1] === 'p') act = false;
        d.onClosed();
      }
      return;
    }
    const c = current;
    // A line with no command waiting for it (a late answer) is nobody's result.
    if (!c) return;
    // [FILE] §2.4: after AT+QFUPL's CONNECT the module takes exactly <file_size> bytes of data.
    if (l === 'CONNECT' && c.data !== undefined) {
      serial.write(c.data);
      c.data = undefined;
    } else if (l === 'OK' || l === 'SEND OK') {
      // [TCP] §2.2.4: QIOPEN's OK only says the command was accepted; its URC is the result.
      if (!c._u) finish('');
    } else if (/^(ERROR|SEND FAIL|\+CME ERROR:)/.test(l)) {
      // [AT] §1.3 final result codes; [TCP] §2.2.7: SEND FAIL is a full send buffer.
      finish(l);
    } else if (c._u && l.indexOf(c._u) === 0) {
      // [TCP] §2.2.4 and chapter 4: +QIOPEN: 0,<err>, 0 is success, anything else (566 connect
      // failed, 563 socket in use, ...) a failure now, not 150 s later.
      finish(l === c._u + '0' ? '' : l);
    } else info = l;
  };

  const finish = function (err: string): void {
    const c = current;
    if (!c) return;
    clearT(timer);
    current = null;
    const i = info;
    info = '';
    // A failed piece of a split payload: the pieces after it (queued right behind, same callback)
    // must not go, the stream would be torn. Other commands keep their place and their callbacks.
    while (err && queue.length && queue[0].cb === c.cb) queue.shift();
    if (err || !c._m) c.cb(err, i);
    next();
  };

  const next = function (): void {
    if (current || queue.length === 0) return;
    const c = queue.shift()!;
    current = c;
    timer = setT(function () {
      finish('timeout ' + c.cmd);
    }, c.timeoutMs);
    // [AT] §1.3: a command line ends with <CR> (S3 = 13); the modem does not execute it before.
    serial.write(c.cmd + '\r');
  };

  const d = {
    input: function (data: string): void {
      buf += data;
      for (;;) {
        if (recvLeft > 0) {
          // [TCP] §2.3.2, direct push: exactly <len> bytes follow the URC, whatever they contain.
          // They go on as they come (the MQTT client reassembles its packets).
          const take = buf.substr(0, recvLeft);
          if (!take) return;
          buf = buf.substr(take.length);
          recvLeft -= take.length;
          d.onData(take);
          continue;
        }
        const c = current;
        // [TCP] §2.2.7: the modem answers AT+QISEND with "> " at the start of a line (after <CR><LF>);
        // only then may the bytes go. A '>' anywhere else, or while no QISEND waits for it, is not one.
        if (c && c.data !== undefined && buf.charAt(0) === '>') {
          buf = buf.substr(1);
          serial.write(c.data);
          c.data = undefined;
          continue;
        }
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        // [AT] §1.3: every response is <CR><LF><response><CR><LF>.
        const l = buf.substr(0, nl).trim();
        buf = buf.substr(nl + 1);
        if (l) line(l);
      }
    },

    at: function (cmd: string, timeoutMs: number, cb: (err: string, info: string) => void, data?: string, u?: string, more?: boolean): void {
      queue.push({ cmd: cmd, timeoutMs: timeoutMs, cb: cb, data: data, _u: u, _m: more });
      next();
    },

    connect: function (host: string, port: number, apn: string, cb: (err: string) => void, ca?: string, pem?: string, cc?: string): void {
      const up = act;
      sx = ca ? 'SSL' : 'I';
      // [SSL] §2.2.2: AT+QSSLOPEN=<pdpctx>,<sslctx>,<clientID>,"<host>",<port>,1: direct push, as QIOPEN.
      const open = ca ? 'AT+QSSLOPEN=1,1,0,"' + host + '",' + port + ',1' : 'AT+QIOPEN=1,0,"TCP","' + host + '",' + port + ',0,1';
      // [SSL] §2.2.1 on SSL context 1: seclevel 1 = the server is authenticated against "cacert" (the
      // CA pinned at flashing); "sslversion" and "ciphersuite" keep their defaults, 4 (all: up to TLS
      // 1.2, the newest the BG96 has; the hub picks the highest) and 0xFFFF (all it has). Issue 17,
      // with cc: seclevel 2 = server and client are authenticated, the client by "clientcert" and
      // "clientkey" (files the flashing tool put on the modem); only then is the string longer.
      // [FILE] §2.2: AT+QFLST="<name>" lists the file with its size when the modem has it.
      const q = '|AT+QSSLCFG="';
      const tls = ca ? '|AT+QFLST="' + ca + '"' + q + 'seclevel",1,' + (cc ? '2' + q + 'clientcert",1,"' + cc + '.crt"' + q + 'clientkey",1,"' + cc + '.key"' : 1) + q + 'cacert",1,"' + ca + '"' : '';
      // [TCP] §2.2.3: QIDEACT first, so QIACT never meets a context left active (it would answer
      // ERROR) or one the network dropped (§2.3, "pdpdeact").
      const steps = ((up ? '' : 'AT|ATE0|AT+CPIN?' + tls + '|') + 'AT+CEREG?' + (up ? '' : '|AT+QICSGP=1,1,"' + apn + '","","",1|AT+QIDEACT=1|AT+QIACT=1')).split('|');
      steps.push(open);
      let i = 0;
      let polls = 0;
      const step = function (): void {
        const s = steps[i];
        const o = s === open;
        const a = /^AT\+QIAC/.test(s);
        const f = /^AT\+QF(.)/.exec(s);
        d.at(
          s,
          // [TCP] §2.2.2 / §2.2.4: QIACT and QIOPEN may take 150 s (network), §2.2.3 QIDEACT 40 s
          // (given 150 s too: a limit, not a wait); [SSL] §2.2.2 QSSLOPEN: 150 s as well (its
          // negotiation time), QFUPL given as long (the bytes and the modem's flash write); [AT]
          // AT+CPIN? 5 s, the rest 300 ms (given 5 s).
          /^AT\+Q(I[ADO]|SSLO|FU)/.test(s) ? 150000 : 5000,
          function (err, info) {
            if (f) {
              // No such file (an error, or no line) or one of another size: [FILE] §2.4 QFUPL does not
              // overwrite (+CME ERROR: 407, file exists), so §2.3 AT+QFDEL (whose error, no such file,
              // does not matter) and the upload go next; its answer +QFUPL: <upload_size>,<checksum>
              // must give the whole size.
              if (f[1] === 'L' && info !== '+QFLST: "' + ca + '",' + pem!.length) steps.splice(i + 1, 0, 'AT+QFDEL="' + ca + '"', 'AT+QFUPL="' + ca + '",' + pem!.length + ',10');
              if (f[1] !== 'U') err = '';
              else if (info.indexOf('+QFUPL: ' + pem!.length + ',')) err = err || 'upload';
            }
            // [AT] AT+CEREG: <stat> 1 is registered at home, 5 roaming; 0, 2 (searching), 3
            // (denied), 4 are not registered: ask again every 2 s, for at most 60 s.
            if (!err && /^AT\+CEREG/.test(s) && !/^\+CEREG: \d,[15]/.test(info)) {
              if (++polls >= 30) return cb('reg');
              setT(step, 2000);
              return;
            }
            if (err) {
              if (o) {
                // [TCP] §2.2.4: a socket whose open failed or never answered is closed before the next.
                d.close();
                // Chapter 4: 566 (connect failed) is the hub's side; any other failure (561 PDP context,
                // 570 context broken, a modem that stopped answering) sets the context up again.
                if (err.indexOf('566') < 0) act = false;
              }
              return cb(err);
            }
            if (a) act = true;
            i++;
            if (o) cb('');
            else step();
          },
          // [FILE] §2.4: the file's bytes go after CONNECT.
          f && f[1] === 'U' ? pem : undefined,
          // [TCP] §2.2.4 / [SSL] §2.2.2: OK, then the result: +QIOPEN: 0,<err> / +QSSLOPEN: 0,<err>.
          o ? '+Q' + sx + 'OPEN: 0,' : undefined,
        );
      };
      step();
    },

    send: function (data: string, cb: (err: string) => void): void {
      let i = 0;
      for (; i < data.length; i += MAX_SEND) {
        const p = data.substr(i, MAX_SEND);
        // [TCP] §2.2.7: SEND OK means the bytes are in the modem's send buffer, not at the peer.
        // [SSL] §2.2.3: AT+QSSLSEND=0,<len> the same way (prompt, bytes, SEND OK), at most 1460 too.
        d.at('AT+Q' + sx + 'SEND=0,' + p.length, 10000, cb, p, undefined, i + MAX_SEND < data.length);
      }
    },

    close: function (): void {
      // [TCP] §2.2.5 / [SSL] §2.2.5: AT+QICLOSE / AT+QSSLCLOSE answer within 10 s (default timeout).
      d.at('AT+Q' + sx + 'CLOSE=0', 10000, function () {});
    },
  } as Bg96;
  return d;
}

/** `new Bg96(serial, setTimeout, clearTimeout)`: a function that returns an object gives that object to `new`. */
export const Bg96 = bg96 as unknown as new (serial: Serial, setT: (fn: () => void, ms: number) => number, clearT: (id: number) => void) => Bg96;
