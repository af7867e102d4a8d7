/**
 * Issue 17: a RAK5010's client certificate and key go straight onto its BG96's file system at
 * flashing time, through the board's console: the tool stages each file in a JavaScript variable on
 * the board (never in Espruino's Storage: the key is then only on the modem), and a small uploader
 * run at the console drives the modem over Serial1 with AT+QFDEL and AT+QFUPL, as the firmware's
 * driver does for the CA. The firmware itself only names the files (AT+QSSLCFG "clientcert" /
 * "clientkey", firmware/src/drivers/bg96.ts): the RAK5010 bundle is near its 12 KB budget, and
 * this code never runs on the fob again.
 *
 * Sources: [FILE] Quectel BG96 FILE AT Commands Manual V1.0: §2.3 AT+QFDEL="<name>" (OK, or an
 * error when there is no such file), §2.4 AT+QFUPL="<name>",<size>,<timeout>: CONNECT, exactly
 * <size> bytes, then +QFUPL: <upload_size>,<checksum> and OK; +CME ERROR: 407 when the file exists
 * (so QFDEL first); note 2 the checksum; §2.4 note 1 8.3 names. [AT] BG96 AT Commands Manual §1.3
 * (a command line ends with CR; responses are <CR><LF>line<CR><LF>).
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { UsageError } from '../../bin/command.js';
import { byteLiteral, crcOf } from './wire.js';

/** The staging variable on the board (its content is redacted from --verbose: espruino-link.ts). */
export const STAGE_VAR = '__lwf';
/** The uploader's state on the board, polled by the tool. */
export const STATE_VAR = '__lwu';

/** [FILE] §2.4 note 2: a 16-bit XOR of the data taken two bytes at a time, an odd last byte high; hex. */
export function qfuplChecksum(bytes: string): string {
  let x = 0;
  for (let i = 0; i < bytes.length; i += 2) x ^= (bytes.charCodeAt(i) << 8) | (i + 1 < bytes.length ? bytes.charCodeAt(i + 1) : 0);
  return x.toString(16);
}

export interface ClientCert {
  /** PEM, as it goes to the modem. */
  cert: string;
  key: string;
  /** The base name on the modem (identity c): files `<base>.crt` and `<base>.key`, 8.3. */
  base: string;
  subject: string;
  notAfter: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\s*/;

/**
 * Reads and checks a fob's client certificate and key before anything is written: one PEM
 * certificate, valid now, for this device (CN or a subjectAltName is the device id, as the hub
 * binds it: hub/tls/client-cert.ts), with the key that matches it, signed by the hub's client CA
 * when that file is readable here.
 */
export function loadClientCert(certPath: string, keyPath: string, deviceId: string, clientCaFile: string | undefined, now = new Date()): ClientCert {
  const read = (path: string, what: string): string => {
    try {
      return readFileSync(path, 'latin1');
    } catch (e) {
      throw new UsageError(`cannot read the ${what} ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  };
  const certText = read(certPath, 'client certificate');
  const keyText = read(keyPath, 'client key');
  const m = PEM_CERT.exec(certText);
  if (!m) throw new UsageError(`${certPath} holds no PEM certificate ("-----BEGIN CERTIFICATE-----"): give the fob's client certificate`);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(m[0]);
  } catch (e) {
    throw new UsageError(`${certPath}: the certificate cannot be read (${(e as Error).message})`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyText);
  } catch (e) {
    throw new UsageError(`${keyPath} holds no unencrypted PEM private key (${(e as Error).message}); the BG96 takes the key without a passphrase`);
  }
  if (!cert.checkPrivateKey(key)) throw new UsageError(`${keyPath} is not the key of the certificate in ${certPath}`);
  const names = [...(cert.subject.match(/(?:^|\n)CN=([^\n]+)/g) ?? []).map((l) => l.replace(/^\n?CN=/, '')), ...(cert.subjectAltName ?? '').split(',').map((p) => p.trim().replace(/^(DNS|URI|email):/, ''))];
  if (!names.includes(deviceId)) {
    throw new UsageError(`the client certificate in ${certPath} is for ${names.filter(Boolean).map((n) => `"${n}"`).join(', ') || 'no name'}, not for ${deviceId}: the hub refuses a fob whose certificate does not name its device id (CN or subjectAltName)`);
  }
  if (new Date(cert.validTo) <= now || new Date(cert.validFrom) > now) {
    throw new UsageError(`the client certificate in ${certPath} is not valid now (valid ${cert.validFrom} to ${cert.validTo})`);
  }
  if (clientCaFile) {
    let ca: X509Certificate | null = null;
    try {
      ca = new X509Certificate(readFileSync(clientCaFile));
    } catch {
      // Flashing on another machine than the hub's: not checked (the summary says so).
    }
    if (ca && !(cert.checkIssued(ca) && cert.verify(ca.publicKey))) {
      throw new UsageError(`the client certificate in ${certPath} was not signed by the hub's client CA (${clientCaFile}, ${ca.subject.replace(/\n/g, ', ')}): the hub would refuse it`);
    }
  }
  const pemCert = m[0].trimEnd() + '\n';
  const pemKey = keyText.trimEnd() + '\n';
  // [FILE] §2.4 note 1: 8.3 names. A new certificate or key is a new name, as for the CA.
  const base = `lw${crcOf(pemCert + pemKey).toString(16).padStart(8, '0').slice(0, 6)}`;
  return { cert: pemCert, key: pemKey, base, subject: cert.subject.replace(/\n/g, ', '), notAfter: cert.validTo };
}

/** Staging expressions: the file's bytes into STAGE_VAR[index] in pieces (a request line stays short). */
export function stageExprs(index: number, content: string, size = 256): string[] {
  const out = [`(function(){global.${STAGE_VAR}=global.${STAGE_VAR}||[];${STAGE_VAR}[${index}]="";return 0})()`];
  for (let o = 0; o < content.length; o += size) out.push(`(function(){${STAGE_VAR}[${index}]+=${byteLiteral(content.substr(o, size))};return ${STAGE_VAR}[${index}].length})()`);
  return out;
}

/**
 * The uploader, one expression (ES5, Espruino 2v29): Serial1 on the RAK5010's modem pins (tx D6,
 * rx D8 at 115200, as firmware/src/boards/rak5010.ts), then for each staged file in turn ATE0,
 * AT+QFDEL (any answer), AT+QFUPL; the bytes go after CONNECT. Its progress is STATE_VAR:
 * {s: 'run'|'done'|'fail', r: the modem's lines, e: the failing line}.
 */
export function uploaderExpr(names: string[]): string {
  // Each step: [command, 1 when an error answer is fine (ATE0; QFDEL of a file that is not there), the bytes after CONNECT].
  return (
    `(function(){var n=${JSON.stringify(names)},st={s:"run",r:[],e:""},b="",i=0,q=[],w=null;global.${STATE_VAR}=st;` +
    `function go(){if(!q.length){if(i>=n.length){st.s="done";return}var f=${STAGE_VAR}[i];` +
    `q=[["ATE0",1],["AT+QFDEL=\\""+n[i]+"\\"",1],["AT+QFUPL=\\""+n[i]+"\\","+f.length+",10",0,f]];i++}` +
    `w=q.shift();Serial1.write(w[0]+"\\r")}` +
    `function line(l){if(l==="CONNECT"&&w[2]!==undefined){Serial1.write(w[2]);w[2]=undefined;return}` +
    `var er=/^(ERROR|\\+CME ERROR: \\d+)$/.test(l);if(er&&!w[1]){st.s="fail";st.e=l;return}if(er||l==="OK")go()}` +
    `Serial1.setup(115200,{tx:D6,rx:D8});Serial1.removeAllListeners("data");` +
    `Serial1.on("data",function(d){b+=d;var k;while((k=b.indexOf("\\n"))>=0){var l=b.substr(0,k).trim();b=b.substr(k+1);` +
    `if(l&&w&&st.s==="run"){st.r.push(l);line(l)}}});` +
    `go();return 1})()`
  );
}

/** The uploader's state, for polling. */
export const STATE_EXPR = `(function(){var s=global.${STATE_VAR};return s?{s:s.s,r:s.r,e:s.e}:null})()`;

/** After the upload: the staged bytes (the key) are dropped from the board's RAM and Serial1 freed. */
export const CLEANUP_EXPR = `(function(){delete global.${STAGE_VAR};delete global.${STATE_VAR};Serial1.removeAllListeners("data");return 1})()`;

/**
 * Checks the modem's answers: each file's +QFUPL: <size>,<checksum> must give its whole size and
 * the checksum of its bytes ([FILE] §2.4); null when both files arrived whole, else why not.
 */
export function checkUpload(lines: string[], files: { name: string; content: string }[]): string | null {
  const ups = lines.filter((l) => l.startsWith('+QFUPL:'));
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    const want = `+QFUPL: ${f.content.length},${qfuplChecksum(f.content)}`;
    if (ups[i] !== want) return `${f.name}: the modem answered ${ups[i] ? JSON.stringify(ups[i]) : 'no +QFUPL'} where ${JSON.stringify(want)} was due (a short or damaged upload)`;
  }
  return null;
}
