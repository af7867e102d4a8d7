// `lonewatch protocol`: what this build speaks, for engineers checking a fob or an integration.
import { defineCommand } from './command.js';
import { COMMAND_KINDS, EVENT_KINDS, PROTOCOL_VERSION, TOPIC, ALERTS_PREFIX, TOPIC_ROOT } from '../shared/protocol-core.js';

export const protocolCommand = defineCommand({
  name: 'protocol',
  summary: 'print the protocol version, topics and message kinds',
  options: { json: { type: 'boolean', description: 'print as JSON' } },
  async run(values) {
    const info = {
      version: PROTOCOL_VERSION,
      topics: Object.fromEntries(Object.entries(TOPIC).map(([k, leaf]) => [k, `${TOPIC_ROOT}/<deviceId>/${leaf}`])),
      alerts: `${ALERTS_PREFIX}/<alarmId>`,
      events: EVENT_KINDS,
      commands: COMMAND_KINDS,
    };
    if (values.json) {
      process.stdout.write(JSON.stringify(info, null, 2) + '\n');
    } else {
      process.stdout.write(`Lonewatch protocol v${info.version}\n`);
      for (const [k, t] of Object.entries(info.topics)) process.stdout.write(`  ${k.padEnd(10)} ${t}\n`);
      process.stdout.write(`  ${'alerts'.padEnd(10)} ${info.alerts}\n`);
      process.stdout.write(`  events:   ${info.events.join(' ')}\n  commands: ${info.commands.join(' ')}\n`);
    }
    return 0;
  },
});
