/**
 * flashBoard over a link that fails in one chosen way, with no pty and no board (the dry-run link,
 * with one request made to fail as a serial link fails): the words of an interrupted upload are
 * chosen from what the link saw (R18).
 */
import { describe, expect, it } from 'vitest';
import { DryRunLink, FlashError, PortClosedError } from '../../firmware/flash/espruino-link.js';
import { flashBoard } from '../../firmware/flash/flash-session.js';
import { answerProblem, findAnswer } from '../../firmware/flash/wire.js';

class FailingLink extends DryRunLink {
  private writes = 0;
  closed = false;
  constructor(private readonly failAt: number, private readonly make: () => FlashError) {
    super();
  }
  override async send(raw: string): Promise<void> {
    if (this.closed) throw new FlashError('the serial port (dry run) was closed (cable unplugged?)', 'plug it back in', 'interrupted');
    return super.send(raw);
  }
  override async request<T>(expr: string, opts: { fresh?: T } = {}): Promise<T> {
    if (expr.includes('s.write("lw.up"') && ++this.writes === this.failAt) {
      const err = this.make();
      if (err instanceof PortClosedError) this.closed = true;
      throw err;
    }
    return super.request(expr, opts);
  }
}

const run = (link: DryRunLink) =>
  flashBoard(link, {
    board: 'puck',
    deviceId: 'fob-1',
    code: 'x'.repeat(2000),
    timeoutS: 6,
    identity: async () => ({ id: 'fob-1', pw: 'p', h: 'hub.example', p: 1883 }),
  });

describe('an interrupted upload says what the link saw', () => {
  it('R18: the port closed under chunk 3: says the serial port closed, with no Ctrl-C or read-back tried on it', async () => {
    const link = new FailingLink(3, () => new PortClosedError('the serial port /dev/ttyACM0 closed while waiting for the board', undefined, 'silent'));
    const err = await run(link).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlashError);
    expect((err as FlashError).code).toBe('interrupted');
    expect((err as FlashError).message).toBe('upload interrupted at byte 1024 of 2000 (chunk 3 of 4): the serial port closed (the serial port /dev/ttyACM0 closed while waiting for the board)');
    expect(link.bytes.split('\x03')).toHaveLength(2); // the probe's Ctrl-C only
  });

  it('R18: a board silent under chunk 3 and after: says the board stopped answering, after one Ctrl-C and one read-back', async () => {
    const silent = () => new FlashError('the board on /dev/ttyACM0 did not answer within 5.0 s; it printed nothing since the request', undefined, 'silent');
    const link = new FailingLink(3, silent);
    // The read-back after the Ctrl-C goes unanswered too.
    const request = link.request.bind(link);
    link.request = async <T>(expr: string, opts: { fresh?: T } = {}): Promise<T> => {
      if (expr.includes('s.read("lw.up",1024,512)') && !expr.includes('s.write')) throw silent();
      return request(expr, opts);
    };
    const err = await run(link).catch((e: unknown) => e);
    expect((err as FlashError).code).toBe('interrupted');
    expect((err as FlashError).message).toBe('upload interrupted at byte 1024 of 2000 (chunk 3 of 4): the board stopped answering (the board on /dev/ttyACM0 did not answer within 5.0 s; it printed nothing since the request)');
    expect(link.bytes.split('\x03')).toHaveLength(3); // the probe's Ctrl-C, and the one that cleared the line
  });
});

describe('an answer that is not a value', () => {
  it('an exception on the board is its refusal; a garbled answer is not (the mixed line seen on the Linux interpreter)', () => {
    const refused = findAnswer('<LW7! "Error: File already written with different data" LW7>', 7);
    expect(refused).toEqual({ ok: false, error: 'Error: File already written with different data' });
    expect(answerProblem(refused as { error: string })).toBe('the board refused a command: Error: File already written with different data');
    const garbled = findAnswer('<LW5 2959800886 LW4>\r\n<LW5 1993214034 LW5>', 5);
    expect(garbled).toMatchObject({ ok: false, unreadable: true });
    expect(answerProblem(garbled as { error: string; unreadable: true })).toBe(`the board's answer to a command could not be read (unreadable answer "2959800886 LW4>\\r\\n<LW5 1993214034")`);
  });
});
