/**
 * Did the new firmware start? Judged from what the board printed on its console after load(), as
 * pure functions.
 *
 * The contract with the firmware (issue 14): once the hardware is set up and the core started, the
 * firmware prints exactly one line `LW:up <version> <board> <deviceId>` and sets LW.up = 1; on a
 * wiring fault it prints `LW:fault <reason>` and never LW:up. Espruino prints an exception nobody
 * caught as `Uncaught <Error>: <message>`, followed by where it was (` at ...`, the source line and
 * a `^`), and stops running that code: a bundle that throws while it sets up the hardware may have
 * set the LW global already (the firmware sets LW before the hardware), so LW alone proves nothing.
 */
import { CONSOLE_PORT } from './console-port.js';

export type BootVerdict =
  | { kind: 'up'; line: string; version: string; board: string; deviceId: string }
  /** LW:up, but not the firmware or the device this run wrote. */
  | { kind: 'mismatch'; line: string; version: string; board: string; deviceId: string }
  | { kind: 'fault'; line: string; reason: string }
  /** An exception at boot: the board's own lines (the Uncaught line and what Espruino printed after it). */
  | { kind: 'uncaught'; line: string; detail: string[] }
  /** Nothing decisive yet (or ever, if the time is up). */
  | { kind: 'pending' };

const UP = /^LW:up (\S+) (\S+) (\S+)\s*$/;
const FAULT = /^LW:fault\s*(.*)$/;
const UNCAUGHT = /^Uncaught\b.*$/;

/** The console's lines: CR/LF split, Espruino's `>`/`:` prompts and ANSI clear-line codes taken off. */
export function consoleLines(text: string): string[] {
  return text
    // eslint-disable-next-line no-control-regex -- ESC [ ... : the console's clear-line codes
    .replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')
    .split(/\r\n|\r|\n/)
    .map((l) => l.replace(/^[>:]+/, '').trimEnd())
    .filter((l) => l.trim() !== '');
}

/** text up to its last line end (what follows is a line still arriving). */
export function completeLines(text: string): string {
  const end = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'));
  return end < 0 ? '' : text.slice(0, end + 1);
}

/**
 * The verdict on the board's output since load(). The first decisive line wins: an Uncaught or an
 * LW:fault before LW:up fails the flash even if LW:up follows (the fob is not what was tested).
 */
export function judgeBoot(text: string, expect: { version: string; deviceId: string }): BootVerdict {
  // Only whole lines: the serial port hands text over in pieces, and "LW:up 0.1.0 PUCKJS f" is not
  // yet the line of device "fob-201" (seen on the real interpreter).
  const lines = consoleLines(completeLines(text));
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (UNCAUGHT.test(line)) {
      // Espruino follows it with " at ...", the source line and a caret: keep those for the engineer.
      const detail: string[] = [];
      for (let j = i + 1; j < lines.length && detail.length < 4; j++) {
        if (UP.test(lines[j].trim()) || FAULT.test(lines[j].trim()) || UNCAUGHT.test(lines[j].trim())) break;
        detail.push(lines[j]);
      }
      return { kind: 'uncaught', line, detail };
    }
    const f = FAULT.exec(line);
    if (f) return { kind: 'fault', line, reason: f[1] || '(no reason given)' };
    const u = UP.exec(line);
    if (u) {
      const [, version, board, deviceId] = u;
      const kind = version === expect.version && deviceId === expect.deviceId ? 'up' : 'mismatch';
      return { kind, line, version, board, deviceId };
    }
  }
  return { kind: 'pending' };
}

/** An Uncaught line is followed by Espruino's detail lines: wait for them a moment before judging. */
export function needsMoreDetail(v: BootVerdict): boolean {
  return v.kind === 'uncaught' && v.detail.length < 3;
}

/**
 * Why nothing decisive came after load(), in words an engineer can act on. `text` is everything the
 * board printed after load(); `answered` says whether the console still answered a request.
 */
export function explainSilence(text: string, answered: boolean, o: { board: 'puck' | 'rak5010'; port: string; seconds: number }): { message: string; hint: string } {
  const lines = consoleLines(text);
  const last = lines.length > 0 ? lines[lines.length - 1].trim() : '';
  const shown = last ? ` (the last line it printed: ${JSON.stringify(last.slice(0, 120))})` : ' (it printed nothing)';
  if (answered) {
    return {
      message: `the firmware did not report LW:up within ${o.seconds} s after the restart, though the console still answers${shown}`,
      hint: `the firmware on the board does not print the LW:up line (an older firmware?) or its start is stuck: open \`lonewatch console --port ${o.port}\` and look at \`LW\`, then flash again with --force`,
    };
  }
  // Espruino announces a console move with a `-> <device>` line when echo is on; with it off (the
  // tool's DLE lines) the output just stops: the board printed its start and then answered nothing.
  const setConsole = lines.some((l) => /^-> \S+/.test(l.trim())) || lines.length > 0;
  return {
    message: setConsole
      ? `the firmware moved the console off this port (${o.port}) after the restart, it seems: the board printed its start, then stopped answering${shown}`
      : `nothing answered on ${o.port} within ${o.seconds} s after the restart${shown}`,
    hint: setConsole
      ? `the console is now elsewhere: connect where the firmware put it, or power-cycle the board and look with \`lonewatch console\` (${CONSOLE_PORT[o.board]})`
      : `likely causes: the firmware moved the console off this port (E.setConsole), the board reset or lost power at start (watch its LED), or the cable came loose (${CONSOLE_PORT[o.board]}); open \`lonewatch console --port ${o.port}\` to see what it prints`,
  };
}
