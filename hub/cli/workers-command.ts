// `lonewatch workers add|list`: the people who carry fobs, through the command service (the running
// hub when one answers, else the database).
import { defineCommand, UsageError } from '../../bin/command.js';
import { AdminError } from '../admin/admin-service.js';
import { CONFIG_OPTION, loadConfigOrExit, openCommands } from './open-store.js';

export const workersCommand = defineCommand({
  name: 'workers',
  summary: 'add and list lone workers',
  usage: 'workers <add|list> [id] [options]',
  details: 'add <id> --name "Sam Carter" [--phone ..] [--buddy ID] [--line-manager ID] [--training-date YYYY-MM-DD] [--new-starter]',
  allowPositionals: true,
  options: {
    ...CONFIG_OPTION,
    name: { type: 'string', placeholder: 'name', description: "worker's name" },
    phone: { type: 'string', placeholder: 'number', description: 'phone number (private)' },
    buddy: { type: 'string', placeholder: 'id', description: 'buddy (worker or contact id) who expects the end-of-day call' },
    'line-manager': { type: 'string', placeholder: 'id', description: 'line manager (contact id)' },
    'training-date': { type: 'string', placeholder: 'date', description: 'date of the last lone-working training' },
    'new-starter': { type: 'boolean', description: 'new starter: not primary worker on high-risk visits' },
    json: { type: 'boolean', description: 'machine-readable output' },
  },
  async run(values, positionals) {
    const [action, id] = positionals;
    const config = loadConfigOrExit(values.config);
    const { commands, close } = await openCommands(config);
    try {
      if (action === 'add') {
        if (!id || !/^[A-Za-z0-9_.-]{1,64}$/.test(id)) throw new UsageError('workers add needs an id of letters, digits, _ . -');
        if (!values.name) throw new UsageError('workers add needs --name');
        const td = values['training-date'];
        if (td && !/^\d{4}-\d{2}-\d{2}$/.test(td)) throw new UsageError('--training-date must be YYYY-MM-DD');
        await commands.saveWorker(
          {
            id,
            name: values.name,
            ...(values.phone !== undefined ? { phone: values.phone } : {}),
            ...(values.buddy !== undefined ? { buddyId: values.buddy } : {}),
            ...(values['line-manager'] !== undefined ? { lineManagerId: values['line-manager'] } : {}),
            ...(td !== undefined ? { trainingDate: td } : {}),
            ...(values['new-starter'] !== undefined ? { newStarter: values['new-starter'] } : {}),
          },
          'admin',
        );
        process.stdout.write(`saved worker ${id}\n`);
        return 0;
      }
      if (action === 'list') {
        const workers = await commands.listWorkers();
        if (values.json) process.stdout.write(JSON.stringify(workers.map((w) => ({ id: w.id, name: w.name, buddyId: w.buddyId, lineManagerId: w.lineManagerId, trainingDate: w.trainingDate, newStarter: w.newStarter })), null, 2) + '\n');
        else for (const w of workers) process.stdout.write(`${w.id.padEnd(20)}${w.name.padEnd(28)}trained ${w.trainingDate ?? 'never'}${w.newStarter ? ', new starter' : ''}\n`);
        return 0;
      }
      throw new UsageError(action ? `unknown action "${action}"` : 'say what to do: add or list');
    } catch (err) {
      if (err instanceof AdminError) {
        process.stderr.write(`lonewatch workers: ${err.message}\n`);
        return 1;
      }
      throw err;
    } finally {
      await close();
    }
  },
});
