/**
 * The device's registration and credentials, decided once the board has been probed.
 *
 * The hub keeps only a hash of a device's secret, so a secret is never read from the hub: it is
 *   - new: the device is not registered; it is registered now (addDevice) and its secret goes to
 *     the board, never to the screen (unless the flash fails before the board has it);
 *   - given with --secret, checked against the hub's hash;
 *   - on the board already (lw.json of this device, or lw.new of an interrupted flash), checked
 *     against the hub's hash: the board the engineer holds is where that secret lives.
 */
import type { AdminCommands } from '../../hub/commands/commands.js';
import { AdminError } from '../../hub/admin/admin-service.js';
import { FlashError } from './espruino-link.js';
import type { Identity, ProbeResult } from './wire.js';
import type { Wiring } from '../src/wiring.js';
import { isPasskey, newPasskey } from './ble-passkey.js';

export interface ProvisionOptions {
  /** The command service (issue 18): the running hub when one answers, else the database. */
  commands: AdminCommands;
  deviceId: string;
  board: 'puck' | 'rak5010';
  workerId: string | null;
  secret: string | null;
  force: boolean;
  hubHost: string;
  hubPort: number;
  /** Issue 19: every edge the fob may reach (lw.json hs), the first being hubHost:hubPort; null: one hub. */
  edges?: [string, number][] | null;
  /** The fob's wiring, written with the identity (issue 14: the RAK5010 has no BTN of its own). */
  wiring: Wiring;
  /** Puck.js: the BLE passkey given with --passkey; null: the board's own, else a new one (issue 17). */
  passkey?: string | null;
}

export interface Provisioned {
  identity: Identity;
  registration: 'new' | 'existing';
  secretFrom: 'new' | '--secret' | 'board' | 'interrupted flash';
  /** Puck.js: where the BLE passkey came from (issue 17); undefined for a RAK5010. */
  passkeyFrom?: 'new' | '--passkey' | 'board' | 'interrupted flash';
}

/**
 * The Puck.js's BLE passkey (issue 17): --passkey, else the one this device's identity on the board
 * already has (a re-flash keeps it: the worker's phone is paired with it), else the one of an
 * interrupted flash of this device, else a new one.
 */
export function choosePasskey(o: Pick<ProvisionOptions, 'board' | 'deviceId' | 'passkey'>, p: ProbeResult): { pk: string; from: NonNullable<Provisioned['passkeyFrom']> } | null {
  if (o.board !== 'puck') return null;
  if (o.passkey) return { pk: o.passkey, from: '--passkey' };
  if (p.id && p.id.id === o.deviceId && isPasskey(p.id.pk)) return { pk: p.id.pk, from: 'board' };
  if (p.nw && p.nw.id === o.deviceId && isPasskey(p.nw.pk)) return { pk: p.nw.pk, from: 'interrupted flash' };
  return { pk: newPasskey(), from: 'new' };
}

export async function provision(o: ProvisionOptions, p: ProbeResult): Promise<Provisioned> {
  const onBoard = p.id && typeof p.id.id === 'string' ? p.id.id : null;
  if (onBoard && onBoard !== o.deviceId && !o.force) {
    throw new FlashError(
      `this board is already provisioned as ${onBoard}, not ${o.deviceId}`,
      `check the label and the board; to turn it into ${o.deviceId} (its identity and outbox are replaced), run again with --force`,
      'flashed',
    );
  }
  const device = await o.commands.getDevice(o.deviceId);
  const passkey = choosePasskey(o, p);
  const make = (pw: string): Identity => ({ id: o.deviceId, pw, h: o.hubHost, p: o.hubPort, ...(o.edges ? { hs: o.edges } : {}), w: o.wiring, ...(passkey ? { pk: passkey.pk } : {}) });
  const pkFrom = passkey ? { passkeyFrom: passkey.from } : {};
  if (!device) {
    try {
      const created = await o.commands.addDevice({ deviceId: o.deviceId, workerId: o.workerId, board: o.board }, 'flash');
      return { identity: make(created.secret), registration: 'new', secretFrom: 'new', ...pkFrom };
    } catch (err) {
      if (err instanceof AdminError) throw new FlashError(`cannot register ${o.deviceId}: ${err.message}`, err.field === 'workerId' ? 'add the worker first (`lonewatch workers add`) or leave out --worker' : undefined, 'registered');
      throw err;
    }
  }
  if (device.revokedAt !== null) {
    throw new FlashError(`device ${o.deviceId} is revoked on the hub`, 'use a new device id for this board', 'registered');
  }
  if (onBoard === o.deviceId && !o.force) {
    throw new FlashError(
      `${o.deviceId} is already flashed: this board holds its identity and the hub has it registered`,
      'nothing to do; to flash it again (e.g. new firmware) run with --force: its identity and secret are kept',
      'flashed',
    );
  }
  const candidates: [string, Provisioned['secretFrom']][] = [];
  if (o.secret) candidates.push([o.secret, '--secret']);
  if (p.id && p.id.id === o.deviceId && typeof p.id.pw === 'string') candidates.push([p.id.pw, 'board']);
  if (p.nw && p.nw.id === o.deviceId && typeof p.nw.pw === 'string') candidates.push([p.nw.pw, 'interrupted flash']);
  for (const [pw, from] of candidates) {
    if (await o.commands.checkDeviceSecret(o.deviceId, pw)) return { identity: make(pw), registration: 'existing', secretFrom: from, ...pkFrom };
    if (from === '--secret') {
      throw new FlashError(`the --secret given does not match ${o.deviceId}'s registration on the hub`, 'check it (it was printed once by `lonewatch devices add` or a failed flash)', 'registered');
    }
  }
  throw new FlashError(
    `${o.deviceId} is already registered with the hub, which keeps only a hash of its secret, and this board does not hold it`,
    `pass the secret printed when ${o.deviceId} was registered with --secret, or flash this board under a new device id`,
    'registered',
  );
}
