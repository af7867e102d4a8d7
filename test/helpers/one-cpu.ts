/**
 * The real Espruino Linux build, run on one CPU.
 *
 * Why: Espruino's input queue (src/jsdevices.c) is written for a microcontroller, where bytes are
 * pushed from an interrupt while the main loop pops them, and jshInterruptOff() keeps the two apart
 * where they touch the same entries. The Linux build pushes from a thread of its own instead
 * (targets/linux/jshardware.c, jshInputThread: the console and any Serial device opened by path),
 * and there jshInterruptOff() does nothing. So on two cores the main loop and the input thread can
 * work on the queue at the same moment. (Read in Espruino's published source, not at the 2v29 tag
 * itself: the measurement below is what was checked.)
 *
 * Seen here (2026-12-02): a 9,978-byte RAK5010 upload to the interpreter's console, twenty request
 * lines of about 750 bytes each, failed in 4 of 18 runs. The interpreter stopped answering in the
 * middle of the upload, as if a line had lost bytes and was left unterminated; once it printed one
 * answer three times. Held to one CPU, the same flash passed 24 of 24 runs. A board's queue is fed
 * from its UART or USB interrupt, with no second core, so this makes the fixture behave as the board
 * does; it does not help the product: the flash tool's requests are unchanged.
 *
 * The CPU is taken in turn from those this process may use, so that interpreters started by
 * different test files do not all land on one core.
 */
import { readFileSync } from 'node:fs';

function allowedCpus(): number[] {
  const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  const cpus: number[] = [];
  for (const part of line.trim().split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let c = a!; c <= (b ?? a!); c++) cpus.push(c);
  }
  return cpus;
}

const cpus = allowedCpus();
let turn = process.pid;

/** `taskset -c <cpu> cmd args...` (taskset is in util-linux, which every Debian has). */
export function onOneCpu(cmd: string, args: string[]): [string, string[]] {
  const cpu = cpus[turn++ % cpus.length]!;
  return ['taskset', ['-c', String(cpu), cmd, ...args]];
}
