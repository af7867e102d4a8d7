/**
 * The real Espruino Linux build, run on one CPU.
 *
 * Why: Espruino's input queue (src/jsdevices.c, ioBuffer with ioHead/ioTail) is written for a
 * microcontroller, where bytes are pushed from an interrupt and popped by the main loop: the push
 * may add a byte to the last queued event, and the code says it can because "we only read in main
 * loop, and we're in an interrupt here". The Linux build pushes from a thread of its own instead
 * (targets/linux/jshardware.c, jshInputThread: the console and any opened Serial device), and
 * jshInterruptOff/On do nothing there. On two cores the main loop can pop an event while the input
 * thread is still adding to it, and console bytes are lost or repeated.
 *
 * Seen here (2026-12-02): a 9,978-byte RAK5010 upload to the interpreter's console, twenty request
 * lines of about 750 bytes each, failed in 4 of 18 runs: the interpreter stopped answering in the
 * middle of the upload, one line left unterminated, and once it printed one answer three times. With
 * the interpreter held to one CPU, the same flash passed 24 of 24 runs. A board's own queue is fed
 * from its UART or USB interrupt and does not have this race, so this is the fixture being made as
 * faithful as the board, not the product being helped: the flash tool's requests are unchanged.
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
