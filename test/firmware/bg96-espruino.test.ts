/**
 * The BG96 driver compiled as the build compiles it (esbuild, then TypeScript to ES5) and run by the
 * REAL Espruino 2v29 interpreter (../shared/espruino, see its README) against a byte-exact scripted
 * modem written in the same script. Espruino's regular expressions and string functions differ from
 * Node's (no '?' quantifier, for one), so what passes on Node is checked here where the fob runs it.
 * Skipped, with a note, where the interpreter is not present (LONEWATCH_ESPRUINO overrides the path).
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import ts from 'typescript';

const ESPRUINO = process.env.LONEWATCH_ESPRUINO ?? fileURLToPath(new URL('../../../shared/espruino/espruino', import.meta.url));
const DRIVER = fileURLToPath(new URL('../../firmware/src/drivers/bg96.ts', import.meta.url));

async function driverEs5(): Promise<string> {
  const out = await build({
    stdin: { contents: `import { Bg96 } from ${JSON.stringify(DRIVER)}; (globalThis as any).Bg96 = Bg96;`, loader: 'ts', resolveDir: '.' },
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'neutral',
    target: 'es2017',
    tsconfigRaw: { compilerOptions: { useDefineForClassFields: false } },
    logLevel: 'silent',
  });
  const code = out.outputFiles[0].text.replace('globalThis', 'global');
  return ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget.ES5, module: ts.ModuleKind.None, removeComments: true } }).outputText;
}

/**
 * The scripted modem, in ES5 for Espruino: answers each command the driver writes (looked up by the
 * command line; a payload write gets SEND OK unless it has its own answer, e.g. an uploaded file), byte by byte on timers, and prints what happened as
 * `R <json>` lines.
 */
const SCENARIOS = String.raw`
var OPEN = 'AT+QIOPEN=1,0,"TCP","hub",1883,0,1';
var BASE = {
  'AT': 'AT\r\r\nOK\r\n', 'ATE0': 'ATE0\r\r\nOK\r\n', 'AT+CPIN?': '\r\n+CPIN: READY\r\n\r\nOK\r\n',
  'AT+CEREG?': '\r\n+CEREG: 0,5\r\n\r\nOK\r\n', 'AT+QICSGP=1,1,"iot","","",1': '\r\nOK\r\n',
  'AT+QIDEACT=1': '\r\nOK\r\n', 'AT+QIACT=1': '\r\nOK\r\n', 'AT+QICLOSE=0': '\r\nOK\r\n',
  'AT+QISEND=0,1460': '\r\n> ', 'AT+QISEND=0,80': '\r\n> ',
  // Data with '>' in it lands between the QISEND and its prompt.
  'AT+QISEND=0,5': '\r\n+QIURC: "recv",0,6\r\n>\r\n> >\r\n> '
};
function rig(open) {
  var answers = {};
  for (var k in BASE) answers[k] = BASE[k];
  answers[OPEN] = open;
  var r = { written: [], data: '', closed: 0, answers: answers };
  var queue = '';
  var drv;
  function pump() {
    if (!queue) return;
    var c = queue.charAt(0);
    queue = queue.substr(1);
    drv.input(c);
    setTimeout(pump, 0);
  }
  r.feed = function (s) { queue += s; setTimeout(pump, 0); };
  drv = new Bg96({ write: function (d) {
    r.written.push(d);
    var cmd = d.charAt(d.length - 1) === '\r';
    // A payload (or an uploaded file) is answered by its own entry when it has one, else SEND OK.
    var a = answers[cmd ? d.substr(0, d.length - 1) : d];
    if (a === undefined && !cmd) a = '\r\nSEND OK\r\n';
    if (a !== undefined) r.feed(a);
  } }, setTimeout, clearTimeout);
  drv.onData = function (d) { r.data += d; };
  drv.onClosed = function () { r.closed++; };
  r.drv = drv;
  return r;
}
function report(name, value) { print('R ' + JSON.stringify({ name: name, value: value })); }
function sizes(ws) { return ws.map(function (w) { return w.length > 40 ? w.length : w; }); }

// 1. The whole connect, byte by byte; a 3000-byte send; data with '>' before a prompt; pdpdeact.
var ok = rig('\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n');
ok.drv.connect('hub', 1883, 'iot', function (err) {
  report('connect', { err: err, written: ok.written.slice() });
  ok.written = [];
  var payload = '';
  for (var i = 0; i < 3000; i++) payload += String.fromCharCode(32 + (i % 90));
  ok.drv.send(payload, function (e) {
    var pieces = ok.written.filter(function (w) { return w.length > 40; }).join('');
    report('send', { err: e, written: sizes(ok.written), joined: pieces === payload });
    ok.written = [];
    ok.drv.send('hello', function (e2) {
      report('prompt', { err: e2, written: ok.written.slice(), data: ok.data });
      ok.feed('\r\n+QIURC: "pdpdeact",1\r\n');
      setTimeout(function () {
        ok.written = [];
        ok.drv.connect('hub', 1883, 'iot', function (e3) {
          report('after-pdpdeact', { closed: ok.closed, err: e3, first: ok.written[0], deact: ok.written.indexOf('AT+QIDEACT=1\r') >= 0 });
        });
      }, 50);
    });
  });
});

// 2. A refused open fails at once, and the socket is closed.
var ref = rig('\r\nOK\r\n\r\n+QIOPEN: 0,566\r\n');
ref.drv.connect('hub', 1883, 'iot', function (err) {
  setTimeout(function () { report('refused', { err: err, last: ref.written[ref.written.length - 1] }); }, 20);
});

// 3. Issue 17, TLS: the CA uploaded after CONNECT (QFLST says the modem lacks it), the SSL context,
// QSSLOPEN, a QSSLSEND, +QSSLURC "recv" data and "closed".
var PEM = '-----BEGIN CERTIFICATE-----\r\nMIIB\r\n-----END CERTIFICATE-----\r\n';
var tls = rig('');
tls.answers['AT+QFLST="ca.pem"'] = '\r\n+CME ERROR: 405\r\n';
tls.answers['AT+QFDEL="ca.pem"'] = '\r\n+CME ERROR: 405\r\n';
tls.answers['AT+QFUPL="ca.pem",' + PEM.length + ',10'] = '\r\nCONNECT\r\n';
tls.answers[PEM] = '\r\n+QFUPL: ' + PEM.length + ',1f2e\r\n\r\nOK\r\n';
tls.answers['AT+QSSLCFG="seclevel",1,1'] = '\r\nOK\r\n';
tls.answers['AT+QSSLCFG="cacert",1,"ca.pem"'] = '\r\nOK\r\n';
tls.answers['AT+QSSLOPEN=1,1,0,"hub",8883,1'] = '\r\nOK\r\n\r\n+QSSLOPEN: 0,0\r\n';
tls.answers['AT+QSSLSEND=0,5'] = '\r\n> ';
tls.drv.connect('hub', 8883, 'iot', function (err) {
  report('tls-connect', { err: err, written: tls.written.map(function (w) { return w === PEM ? 'PEM' : w; }) });
  tls.written = [];
  tls.drv.send('hello', function (e) {
    tls.feed('\r\n+QSSLURC: "recv",0,3\r\nabc\r\n+QSSLURC: "closed",0\r\n');
    setTimeout(function () { report('tls-data', { err: e, written: tls.written.slice(), data: tls.data, closed: tls.closed }); }, 100);
  });
}, 'ca.pem', PEM);
`;

function runEspruino(code: string): Promise<{ stdout: string; results: Record<string, unknown> }> {
  const dir = mkdtempSync(join(tmpdir(), 'lw-espruino-'));
  const file = join(dir, 'test.js');
  writeFileSync(file, code);
  return new Promise((resolve, reject) => {
    execFile(ESPRUINO, [file], { cwd: dir, timeout: 20_000 }, (err, stdout) => {
      rmSync(dir, { recursive: true, force: true });
      if (err && !stdout) return reject(err);
      const results: Record<string, unknown> = {};
      for (const line of stdout.split('\n')) {
        // The console's prompt and escape codes may precede a line.
        const at = line.indexOf('R {"name"');
        if (at < 0) continue;
        const r = JSON.parse(line.slice(at + 2)) as { name: string; value: unknown };
        results[r.name] = r.value;
      }
      resolve({ stdout, results });
    });
  });
}

describe.skipIf(!existsSync(ESPRUINO))('BG96 driver on the real Espruino 2v29 interpreter', () => {
  it('connects, splits a 3000-byte send, ignores ">" in data, handles pdpdeact, fails a refused open at once, and does the TLS path (CA upload, QSSLOPEN, QSSLSEND, +QSSLURC)', async () => {
    const { stdout, results } = await runEspruino(`${await driverEs5()}\n${SCENARIOS}`);
    if (process.env.BG96_DEBUG) console.log(stdout);
    expect(stdout).not.toMatch(/Uncaught|ERROR:/);
    expect(results.connect).toEqual({
      err: '',
      written: ['AT\r', 'ATE0\r', 'AT+CPIN?\r', 'AT+CEREG?\r', 'AT+QICSGP=1,1,"iot","","",1\r', 'AT+QIDEACT=1\r', 'AT+QIACT=1\r', 'AT+QIOPEN=1,0,"TCP","hub",1883,0,1\r'],
    });
    expect(results.send).toEqual({ err: '', written: ['AT+QISEND=0,1460\r', 1460, 'AT+QISEND=0,1460\r', 1460, 'AT+QISEND=0,80\r', 80], joined: true });
    expect(results.prompt).toEqual({ err: '', written: ['AT+QISEND=0,5\r', 'hello'], data: '>\r\n> >' });
    expect(results['after-pdpdeact']).toEqual({ closed: 1, err: '', first: 'AT\r', deact: true });
    expect(results.refused).toEqual({ err: '+QIOPEN: 0,566', last: 'AT+QICLOSE=0\r' });
    expect(results['tls-connect']).toEqual({
      err: '',
      written: [
        'AT\r', 'ATE0\r', 'AT+CPIN?\r', 'AT+QFLST="ca.pem"\r', 'AT+QFDEL="ca.pem"\r', 'AT+QFUPL="ca.pem",62,10\r', 'PEM',
        'AT+QSSLCFG="seclevel",1,1\r', 'AT+QSSLCFG="cacert",1,"ca.pem"\r', 'AT+CEREG?\r', 'AT+QICSGP=1,1,"iot","","",1\r', 'AT+QIDEACT=1\r', 'AT+QIACT=1\r',
        'AT+QSSLOPEN=1,1,0,"hub",8883,1\r',
      ],
    });
    expect(results['tls-data']).toEqual({ err: '', written: ['AT+QSSLSEND=0,5\r', 'hello'], data: 'abc', closed: 1 });
  }, 120_000);
});
