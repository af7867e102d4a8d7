// `lonewatch hub`: runs the hub until SIGINT/SIGTERM, then stops cleanly.
import { defineCommand } from '../../bin/command.js';
import { Hub } from '../hub.js';
import { CONFIG_OPTION, loadConfigOrExit } from './open-store.js';

export const hubCommand = defineCommand({
  name: 'hub',
  summary: 'run the hub: MQTT broker, rules, store and HTTP (what `npm start` runs)',
  details: [
    'Reads ./lonewatch.toml (or --config); see lonewatch.example.toml for every key.',
    'Environment: LONEWATCH_MQTT_PORT, LONEWATCH_HTTP_PORT, LONEWATCH_DATA_DIR override the ports and data folder.',
  ].join('\n'),
  options: {
    ...CONFIG_OPTION,
    drill: { type: 'boolean', description: 'drill mode: every alarm is marked as a drill' },
  },
  async run(values) {
    const config = loadConfigOrExit(values.config);
    if (values.drill) config.hub.drill = true;
    // Signals are caught from the start: a stop asked for while the hub is starting waits for it.
    let stopRequested: string | null = null;
    let hub: Hub | null = null;
    const stop = (signal: string) => {
      stopRequested = signal;
      if (!hub) return;
      hub.log.info({ signal }, 'stopping');
      hub.stop().then(
        () => process.exit(0),
        (err) => {
          hub?.log.error({ err }, 'unclean stop');
          process.exit(1);
        },
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    hub = await Hub.start({ config });
    if (stopRequested) stop(stopRequested);
    await new Promise(() => undefined);
    return 0;
  },
});
