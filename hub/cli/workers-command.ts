// `lonewatch workers add|list`: the people who carry fobs.
import { defineCommand, UsageError } from '../../bin/command.js';
import { CONFIG_OPTION, loadConfigOrExit, openStore } from './open-store.js';

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
    const store = await openStore(config);
    try {
      if (action === 'add') {
        if (!id || !/^[A-Za-z0-9_.-]{1,64}$/.test(id)) throw new UsageError('workers add needs an id of letters, digits, _ . -');
        if (!values.name) throw new UsageError('workers add needs --name');
        const td = values['training-date'];
        if (td && !/^\d{4}-\d{2}-\d{2}$/.test(td)) throw new UsageError('--training-date must be YYYY-MM-DD');
        await store.transaction(async (tx) => {
          const existing = await tx.getWorker(id);
          await tx.upsertWorker({
            id,
            name: values.name!,
            phone: values.phone ?? existing?.phone ?? null,
            homeAddress: existing?.homeAddress ?? null,
            medicalNotes: existing?.medicalNotes ?? null,
            car: existing?.car ?? null,
            emergencyContacts: existing?.emergencyContacts ?? null,
            buddyId: values.buddy ?? existing?.buddyId ?? null,
            lineManagerId: values['line-manager'] ?? existing?.lineManagerId ?? null,
            trainingDate: td ?? existing?.trainingDate ?? null,
            newStarter: values['new-starter'] ?? existing?.newStarter ?? false,
            description: existing?.description ?? null,
          });
        });
        process.stdout.write(`saved worker ${id}\n`);
        return 0;
      }
      if (action === 'list') {
        const workers = await store.read((tx) => tx.listWorkers());
        if (values.json) process.stdout.write(JSON.stringify(workers.map((w) => ({ id: w.id, name: w.name, buddyId: w.buddyId, lineManagerId: w.lineManagerId, trainingDate: w.trainingDate, newStarter: w.newStarter })), null, 2) + '\n');
        else for (const w of workers) process.stdout.write(`${w.id.padEnd(20)}${w.name.padEnd(28)}trained ${w.trainingDate ?? 'never'}${w.newStarter ? ', new starter' : ''}\n`);
        return 0;
      }
      throw new UsageError(action ? `unknown action "${action}"` : 'say what to do: add or list');
    } finally {
      await store.close();
    }
  },
});
