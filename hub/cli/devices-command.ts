// `lonewatch devices add|list|revoke|assign`: fob registrations.
import { defineCommand, UsageError } from '../../bin/command.js';
import { AdminError, addDevice, assignDevice, revokeDevice } from '../admin/admin-service.js';
import { CONFIG_OPTION, loadConfigOrExit, openStore } from './open-store.js';

export const devicesCommand = defineCommand({
  name: 'devices',
  summary: 'register, list, assign and revoke fobs',
  usage: 'devices <add|list|revoke|assign> [id] [options]',
  details: [
    'add <id> [--worker W] [--board puck|rak5010]   register a fob; prints its secret ONCE',
    'list                                           every fob with its worker, state and battery',
    'revoke <id>                                    refuse the fob from now on',
    'assign <id> --worker W                         give the fob to a worker',
  ].join('\n'),
  allowPositionals: true,
  options: {
    ...CONFIG_OPTION,
    worker: { type: 'string', placeholder: 'id', description: 'worker the fob belongs to' },
    board: { type: 'string', placeholder: 'board', description: 'puck or rak5010' },
    json: { type: 'boolean', description: 'machine-readable output' },
  },
  async run(values, positionals) {
    const [action, id] = positionals;
    if (!action) throw new UsageError('say what to do: add, list, revoke or assign');
    const config = loadConfigOrExit(values.config);
    const store = await openStore(config);
    try {
      switch (action) {
        case 'add': {
          if (!id) throw new UsageError('devices add needs a device id');
          const created = await addDevice(store, id, { workerId: values.worker ?? null, board: values.board ?? null, now: Date.now() });
          if (values.json) process.stdout.write(JSON.stringify(created) + '\n');
          else process.stdout.write(`registered ${created.deviceId}\nsecret: ${created.secret}\n(shown once: write it to the fob now, e.g. with \`lonewatch flash\`)\n`);
          return 0;
        }
        case 'list': {
          const devices = await store.read((tx) => tx.listDevices());
          if (values.json) {
            process.stdout.write(JSON.stringify(devices.map(({ secretHash: _s, ...d }) => d), null, 2) + '\n');
          } else {
            process.stdout.write('id                               worker           board    state     battery  last seen\n');
            for (const d of devices) {
              const state = d.revokedAt ? 'revoked' : d.online ? 'online' : 'offline';
              process.stdout.write(
                `${d.id.padEnd(33)}${(d.workerId ?? '-').padEnd(17)}${(d.board ?? '-').padEnd(9)}${state.padEnd(10)}${(d.battery === null ? '-' : `${d.battery}%`).padEnd(9)}${d.lastSeenAt ? new Date(d.lastSeenAt).toISOString() : 'never'}\n`,
              );
            }
          }
          return 0;
        }
        case 'revoke':
          if (!id) throw new UsageError('devices revoke needs a device id');
          await revokeDevice(store, id, Date.now());
          process.stdout.write(`revoked ${id}\n`);
          return 0;
        case 'assign':
          if (!id || !values.worker) throw new UsageError('devices assign needs a device id and --worker');
          await assignDevice(store, id, values.worker);
          process.stdout.write(`${id} now belongs to ${values.worker}\n`);
          return 0;
        default:
          throw new UsageError(`unknown action "${action}"`);
      }
    } catch (err) {
      if (err instanceof AdminError) {
        process.stderr.write(`lonewatch devices: ${err.message}\n`);
        return 1;
      }
      throw err;
    } finally {
      await store.close();
    }
  },
});
